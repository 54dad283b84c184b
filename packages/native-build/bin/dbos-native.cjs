#!/usr/bin/env node
'use strict';
// dbos-native: what a package compiles, and its guest images, from the command line.
//
//   dbos-native sources|includes [--runtime host|guest|core] [dir]
//   dbos-native guest-image [--name N] [--out DIR] [--allow-pvm-forbidden FN]... [--force]
//                           <packageDir> <entry.c...>
//
// guest-image builds with buildGuestImage (guest-image.cjs) and prints the image's path on
// stdout, so a script can write IMAGE=$(dbos-native guest-image . src/guest/engine.c).
const path = require('node:path');
const nativeBuild = require('../index.cjs');

const USAGE = [
  'usage: dbos-native sources|includes [--runtime host|guest|core] [dir]',
  '       dbos-native guest-image [--name N] [--out DIR] [--allow-pvm-forbidden FN]... [--force] <packageDir> <entry.c...>',
].join('\n');

class UsageError extends Error {}

/** Split argv into flags (with their values) and positional arguments. */
function parse(args, flagsWithValue, flagsAlone) {
  const flags = {};
  const positional = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (flagsWithValue.includes(arg)) {
      if (i + 1 >= args.length) throw new UsageError(`${arg} needs a value`);
      flags[arg] ??= [];
      flags[arg].push(args[++i]);
    } else if (flagsAlone.includes(arg)) {
      flags[arg] = [true];
    } else if (arg.startsWith('--')) {
      throw new UsageError(`unknown option ${arg}`);
    } else {
      positional.push(arg);
    }
  }
  return { flags, positional };
}

function listCommand(command, args) {
  const { flags, positional } = parse(args, ['--runtime'], []);
  const dir = positional[0] || '.';
  if (command === 'sources') console.log(nativeBuild.sources(dir, flags['--runtime']?.[0] || 'host').join('\n'));
  else console.log(nativeBuild.includeDirs(dir).join('\n'));
}

function guestImageCommand(args) {
  const { flags, positional } = parse(args, ['--name', '--out', '--allow-pvm-forbidden'], ['--force']);
  const [packageDir, ...entries] = positional;
  if (!packageDir || entries.length === 0) throw new UsageError('guest-image needs a package directory and at least one entry file');
  const result = nativeBuild.buildGuestImage(packageDir, {
    name: flags['--name']?.[0],
    // Entries and --out are relative to where the command runs, as a shell user expects.
    entries: entries.map((file) => path.resolve(file)),
    outDir: flags['--out'] ? path.resolve(flags['--out'][0]) : undefined,
    allowPvmForbiddenIn: (flags['--allow-pvm-forbidden'] || []).flatMap((list) => list.split(',')).filter(Boolean),
    force: Boolean(flags['--force']),
  });
  console.error(`dbos-native: guest image ${result.built ? 'built' : 'up to date'} (${result.sources.length} sources)`);
  console.log(result.image);
}

function main(argv) {
  const [command, ...args] = argv;
  if (command === 'sources' || command === 'includes') return listCommand(command, args);
  if (command === 'guest-image') return guestImageCommand(args);
  throw new UsageError(command ? `unknown command ${command}` : 'no command');
}

try {
  main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`dbos-native: ${error.message}\n${USAGE}`);
    process.exit(2);
  }
  console.error(`dbos-native: ${error.message}`);
  process.exit(1);
}

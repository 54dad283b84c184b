#!/usr/bin/env node
'use strict';
// dbos-native sources|includes [--runtime host|guest|core] [dir]: print what a package compiles.
const nativeBuild = require('../index.cjs');
const args = process.argv.slice(2);
const command = args[0];
const runtimeFlag = args.indexOf('--runtime');
const runtime = runtimeFlag >= 0 ? args[runtimeFlag + 1] : 'host';
const dir = args.filter((a, i) => i > 0 && a !== '--runtime' && i !== runtimeFlag + 1)[0] || '.';
if (command === 'sources') console.log(nativeBuild.sources(dir, runtime).join('\n'));
else if (command === 'includes') console.log(nativeBuild.includeDirs(dir).join('\n'));
else {
  console.error('usage: dbos-native sources|includes [--runtime host|guest|core] [dir]');
  process.exit(2);
}

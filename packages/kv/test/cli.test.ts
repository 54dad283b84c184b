// dbos-kv: every command, its output (human and --json) and its exit code. Most run in this
// process through main(); two run the real bin (src/cli.ts under tsx) for the process exit code.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { EXIT_NOT_FOUND, EXIT_OK, EXIT_STORE, EXIT_USAGE, main } from '../src/cli.js';
import { csvFields } from '../src/cli-bulk.js';
import { open } from '../src/index.js';
import { scratch } from './helpers.js';

let space: ReturnType<typeof scratch>;

beforeEach(() => {
  space = scratch('cli');
});

afterEach(() => {
  space.remove();
});

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io = {
    out: (text: string) => {
      out += text;
    },
    err: (text: string) => {
      err += text;
    },
    tty: false,
  };
  const code = await main(argv, io);
  return { code, out, err };
}

test('put, get, del, scan with exit codes and --json', async () => {
  const dir = space.dir;
  expect(await cli('put', dir, 'b', 'two')).toEqual({ code: EXIT_OK, out: '', err: '' });
  expect((await cli('put', dir, 'a', 'one', '--json')).out).toBe('{"ok":true}\n');
  await cli('put', dir, 'c', 'three');
  expect(await cli('get', dir, 'a')).toEqual({ code: EXIT_OK, out: 'one\n', err: '' });
  expect((await cli('get', dir, 'a', '--json')).out).toBe('{"key":"a","value":"one"}\n');
  const missing = await cli('get', dir, 'zz');
  expect(missing.code).toBe(EXIT_NOT_FOUND);
  expect(missing.err).toContain("no key 'zz'");
  expect(await cli('get', dir, 'zz', '--json')).toMatchObject({ code: EXIT_NOT_FOUND, out: '{"key":"zz","found":false}\n' });
  expect((await cli('scan', dir)).out).toBe('a\tone\nb\ttwo\nc\tthree\n');
  expect((await cli('scan', dir, '--gte', 'b', '--json')).out).toBe('{"key":"b","value":"two"}\n{"key":"c","value":"three"}\n');
  expect((await cli('scan', dir, '--lt', 'c', '--reverse', '--limit', '1')).out).toBe('b\ttwo\n');
  expect((await cli('del', dir, 'b')).code).toBe(EXIT_OK);
  expect((await cli('get', dir, 'b')).code).toBe(EXIT_NOT_FOUND);
});

test('usage errors exit 2, store errors exit 3 with the code', async () => {
  for (const argv of [[], ['frobnicate', space.dir], ['get', space.dir], ['put', space.dir, 'k'], ['scan', space.dir, '--bogus']]) {
    const result = await cli(...argv);
    expect(result.code, argv.join(' ')).toBe(EXIT_USAGE);
    expect(result.err).toContain('usage: dbos-kv');
  }
  expect((await cli('scan', space.dir, '--limit', 'many')).code).toBe(EXIT_USAGE);
  expect((await cli('put', space.dir, '', 'v')).code).toBe(EXIT_USAGE);
  // No store there: get does not create one.
  const absent = await cli('get', space.path('nothing'), 'k');
  expect(absent.code).toBe(EXIT_STORE);
  expect(absent.err).toContain('(DBOS_ENOENT)');
  expect(fs.existsSync(space.path('nothing'))).toBe(false);
});

test('load JSON lines and CSV, then info, check and backup', async () => {
  const jsonl = space.path('data.jsonl');
  fs.writeFileSync(
    jsonl,
    Array.from({ length: 2500 }, (_, i) =>
      JSON.stringify({ key: `j${String(i).padStart(5, '0')}`, value: i % 2 ? `v${i}` : { n: i } }),
    ).join('\n'),
  );
  expect(await cli('load', space.dir, jsonl)).toEqual({ code: EXIT_OK, out: 'loaded 2500 entries\n', err: '' });
  const csv = space.path('data.csv');
  fs.writeFileSync(csv, 'key,value\nc1,plain\n"c,2","say ""hi"""\r\nc3,\n');
  expect((await cli('load', space.dir, csv, '--json')).out).toBe('{"loaded":3}\n');
  expect((await cli('get', space.dir, 'c,2')).out).toBe('say "hi"\n');
  expect((await cli('get', space.dir, 'j00002')).out).toBe('{"n":2}\n');
  const info = JSON.parse((await cli('info', space.dir, '--json')).out);
  expect(info.entries).toBe(2503);
  expect(typeof info.mechanism).toBe('string');
  expect((await cli('check', space.dir, '--json')).out).toBe(`${JSON.stringify({ ok: true, entries: 2503, pages: info.pages })}\n`);
  const dest = space.path('copy');
  expect((await cli('backup', space.dir, dest)).code).toBe(EXIT_OK);
  const copy = open(dest, { create: false });
  expect(copy.stats().entries).toBe(2503);
  await copy.close();
  const bad = space.path('bad.jsonl');
  fs.writeFileSync(bad, '{"key":"x","value":"1"}\nnot json\n');
  expect((await cli('load', space.dir, bad)).code).toBe(EXIT_USAGE);
});

test('bench times puts and gets', async () => {
  const result = await cli('bench', space.dir, '--count', '500', '--json');
  expect(result.code).toBe(EXIT_OK);
  expect(JSON.parse(result.out)).toMatchObject({ count: 500 });
});

test('CSV fields follow RFC 4180 quoting', () => {
  expect(csvFields('a,b')).toEqual(['a', 'b']);
  expect(csvFields('"a,1","b ""q"""')).toEqual(['a,1', 'b "q"']);
  expect(csvFields('a,')).toEqual(['a', '']);
  expect(() => csvFields('"open')).toThrow(TypeError);
});

test('the bin exits with the codes (a real process)', () => {
  const bin = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
  const tsx = import.meta.resolve('tsx');
  const run = (...argv: string[]) => spawnSync(process.execPath, ['--import', tsx, bin, ...argv], { encoding: 'utf8', timeout: 30_000 });
  expect(run('put', space.dir, 'k', 'v').status).toBe(EXIT_OK);
  const found = run('get', space.dir, 'k');
  expect([found.status, found.stdout]).toEqual([EXIT_OK, 'v\n']);
  expect(run('get', space.dir, 'nope').status).toBe(EXIT_NOT_FOUND);
  expect(run('nope').status).toBe(EXIT_USAGE);
});

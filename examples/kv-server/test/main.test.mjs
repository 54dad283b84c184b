// The example runs to the end with the real redis-cli: replies as Redis gives them, a dump
// redis-check-rdb accepts, exit 0 on SIGTERM, and the data back after the restart.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const example = fileURLToPath(new URL('../main.mjs', import.meta.url));
const haveRedisTools = !spawnSync('redis-cli', ['--version']).error && !spawnSync('redis-check-rdb', ['--version']).error;
if (!haveRedisTools) console.log('kv-server example skipped: redis-cli / redis-check-rdb are not installed (Debian: redis-tools)');

test.skipIf(!haveRedisTools)('redis-cli drives dbos-kv serve; the dump checks out and the data survives a restart', () => {
  const run = spawnSync(process.execPath, [example], { encoding: 'utf8', timeout: 120_000 });
  const output = `${run.stdout}${run.stderr}`;
  expect(run.status, output).toBe(0);
  expect(output).toContain('> GET greeting\nhello from dbos\n');
  expect(output).toContain('> INCR visits\n42\n');
  expect(output).toMatch(/> TTL session:42\n(3600|3599)\n/);
  expect(output).toContain('> DBSIZE\n6\n');
  expect(output).toContain('> INCR greeting\nERR value is not an integer or out of range\n');
  expect(output).toContain('> SELECT 1\nERR DB index is out of range\n');
  expect(output).toContain('INFO persistence: rdb_last_bgsave_status:ok');
  expect(output).toContain('redis-check-rdb dump.rdb: RDB looks OK');
  expect(output.match(/SIGTERM: exit 0/g)?.length).toBe(2);
  expect(output).toMatch(/serving on[^\n]*\n> GET greeting\nhello from dbos!\n> GET visits\n42\n> DBSIZE\n6\n/);
  expect(output).toContain('kv-server example finished');
});

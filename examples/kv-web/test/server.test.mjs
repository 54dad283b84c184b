// The service answers its API, refuses bad requests with a reason, and after SIGTERM in the middle
// of a burst of writes every note it acknowledged (204) is there when it starts again.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, test } from 'vitest';

const serverFile = fileURLToPath(new URL('../server.mjs', import.meta.url));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbos-kv-web-test-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Start the service on an ephemeral port; resolves with its base URL and a stop() that awaits exit. */
function start() {
  const child = spawn(process.execPath, [serverFile, path.join(dir, 'notes'), '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, output })));
  let signalled = false;
  const stop = () => {
    if (!signalled) child.kill('SIGTERM');
    signalled = true;
    return exited;
  };
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const address = /notes on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (address) resolve({ base: address[1], stop });
    });
    child.on('error', reject);
    exited.then(({ code }) => reject(new Error(`the service exited (${code}) before listening: ${output}`)));
  });
}

test('the notes API: put, get, list by range, delete, and errors with reasons', async () => {
  const { base, stop } = await start();
  try {
    for (const id of ['c', 'a', 'b', 'd']) {
      const put = await fetch(`${base}/notes/${id}`, { method: 'PUT', body: JSON.stringify({ text: `note ${id}` }) });
      expect(put.status).toBe(204);
    }
    expect(await (await fetch(`${base}/notes/b`)).json()).toEqual({ text: 'note b' });
    const page = await (await fetch(`${base}/notes?after=a&limit=2`)).json();
    expect(page).toEqual([
      { id: 'b', note: { text: 'note b' } },
      { id: 'c', note: { text: 'note c' } },
    ]);
    expect((await fetch(`${base}/notes/c`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${base}/notes/c`)).status).toBe(404);
    const bad = await fetch(`${base}/notes/x`, { method: 'PUT', body: '{oops' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatch(/not JSON/);
    expect((await fetch(`${base}/notes/${'x'.repeat(300)}`)).status).toBe(400);
    expect((await fetch(`${base}/notes?limit=0`)).status).toBe(400);
    expect((await fetch(`${base}/notes/a`, { method: 'POST', body: '1' })).status).toBe(405);
    const huge = await fetch(`${base}/notes/big`, { method: 'PUT', body: 'x'.repeat(2 << 20) }).catch((error) => error);
    if (!(huge instanceof Error)) expect(huge.status).toBe(413);
    expect((await (await fetch(`${base}/stats`)).json()).groupCommits).toBeGreaterThan(0);
  } finally {
    const { code } = await stop();
    expect(code).toBe(0);
  }
});

test('SIGTERM during a burst of writes loses none that were acknowledged', async () => {
  const first = await start();
  const acknowledged = [];
  const burst = Array.from({ length: 300 }, async (_, i) => {
    const id = `burst-${String(i).padStart(3, '0')}`;
    try {
      const response = await fetch(`${first.base}/notes/${id}`, { method: 'PUT', body: JSON.stringify({ i }) });
      if (response.status === 204) acknowledged.push(id);
      if (acknowledged.length === 100) first.stop();
    } catch {
      // Refused or reset after the signal: never acknowledged, so nothing is promised.
    }
  });
  await Promise.all(burst);
  const { code } = await first.stop();
  expect(code).toBe(0);
  expect(acknowledged.length).toBeGreaterThanOrEqual(100);

  const second = await start();
  try {
    for (const id of acknowledged) {
      const response = await fetch(`${second.base}/notes/${id}`);
      expect(response.status, id).toBe(200);
      expect((await response.json()).i).toBe(Number(id.slice(6)));
    }
  } finally {
    await second.stop();
  }
});

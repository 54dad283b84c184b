// kill -9 from TypeScript: a child writes batches and prints each one whose durability promise
// resolved; after SIGKILL every acknowledged batch must be in the reopened store, and every batch
// there must be whole (a batch is one log record: all of it or none).
import { afterEach, beforeEach, expect, test } from 'vitest';
import { open } from '../src/index.js';
import { scratch, startChild } from './helpers.js';

let space: ReturnType<typeof scratch>;

beforeEach(() => {
  space = scratch('crash');
});

afterEach(() => {
  space.remove();
});

/** Run the writer until it acknowledged `acks` batches, then SIGKILL it; resolves to the acknowledged rounds. */
function writeAndKill(dir: string, start: number, acks: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = startChild('crash-writer', [dir, String(start)]);
    const acked: number[] = [];
    let buffered = '';
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const match = /^ack (\d+) /.exec(line);
        if (match) acked.push(Number(match[1]));
      }
      if (acked.length >= acks && !child.killed) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(acked);
      else reject(new Error(`the writer exited with ${code} before it was killed: ${stderr}`));
    });
  });
}

test('acknowledged writes survive kill -9, and batches stay whole', async () => {
  let next = 0;
  for (let cycle = 0; cycle < 3; cycle++) {
    const acked = await writeAndKill(space.dir, next, 15 + cycle * 10);
    expect(acked.length).toBeGreaterThan(0);
    const store = open(space.dir, { create: false });
    try {
      const rounds = new Map<number, number>();
      for (const { key, value } of store.range()) {
        const round = Number(key.slice(1, 7));
        expect(value).toBe(String(round));
        rounds.set(round, (rounds.get(round) ?? 0) + 1);
      }
      for (const round of acked) expect(rounds.get(round), `acknowledged round ${round}`).toBe(20);
      for (const [round, count] of rounds) expect(count, `round ${round} is whole`).toBe(20);
      next = Math.max(...rounds.keys()) + 1;
      await store.check();
    } finally {
      await store.close();
    }
  }
});

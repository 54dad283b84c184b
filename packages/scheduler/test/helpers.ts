// What the pool tests share: the fixture module, gates over shared memory, waiting for a state.

/** The task functions (plain JavaScript, loaded by pool workers). */
export const TASKS = new URL('./fixtures/tasks.mjs', import.meta.url);

/** A gate a `block` task waits on: word 0 opens it, word 1 counts tasks that arrived. */
export class Gate {
  readonly buffer = new SharedArrayBuffer(8);
  readonly #words = new Int32Array(this.buffer);

  get arrived(): number {
    return Atomics.load(this.#words, 1);
  }

  open(): void {
    Atomics.store(this.#words, 0, 1);
    Atomics.notify(this.#words, 0);
  }
}

/** A log tasks append tags to (fixture `stamp`): word 0 counts, words 1.. hold the tags. */
export class Log {
  readonly buffer = new SharedArrayBuffer(4 * 1024);
  readonly #words = new Int32Array(this.buffer);

  tags(): number[] {
    const count = Atomics.load(this.#words, 0);
    return Array.from(this.#words.subarray(1, 1 + count));
  }
}

/** Poll `condition` every few ms; fails after `timeoutMs` (a generous bound, never a target). */
export async function waitFor(condition: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** The rejection of a promise that must reject. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

export function codeOf(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}

// The child process of one hostile case: `node --import tsx runner.ts <cases module> <case> <seed> <runs>`.
// Exit 0: every call held the contract. Exit 1: a call broke it (the message says how, with the
// seed and the shrunk arguments). Any signal or abort is the harness's finding too: before each
// call the runner writes the call to the file DBOS_HOSTILE_TRACE names, so the parent can name
// the call that crashed.
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { type CaseTable, describeError, isCodedError } from './cases.js';

const [modulePath, caseName, seedText, runsText] = process.argv.slice(2);
if (!modulePath || !caseName || !seedText || !runsText) {
  process.stderr.write('usage: runner.ts <cases module> <case> <seed> <runs>\n');
  process.exit(2);
}
const seed = Number(seedText);
const runs = Number(runsText);

/** fast-check's rendering of arguments, which a hostile value's own traps may refuse. */
function printable(args: unknown[]): string {
  try {
    return fc.stringify(args);
  } catch {
    return args
      .map((arg) => {
        try {
          return fc.stringify(arg);
        } catch {
          return '<a value whose traps refuse printing>';
        }
      })
      .join(', ');
  }
}

// The call about to run, in a file the parent reads if this process dies (a pipe could be full).
const traceFile = process.env.DBOS_HOSTILE_TRACE;
function trace(line: string): void {
  if (traceFile) fs.writeFileSync(traceFile, line);
}

let lateFailure: string | null = null;
process.on('unhandledRejection', (reason) => {
  lateFailure = `an unhandled promise rejection: ${describeError(reason)}`;
});
process.on('uncaughtException', (error) => {
  lateFailure = `an uncaught exception: ${describeError(error)}`;
});

async function settle(value: unknown): Promise<void> {
  try {
    if (value && typeof (value as Promise<unknown>).then === 'function') await value;
  } catch (error) {
    if (!isCodedError(error)) throw new Error(`rejected with ${describeError(error)}`);
  }
}

async function main(): Promise<void> {
  const table = (await import(pathToFileURL(modulePath!).href)).default as CaseTable;
  const entry = table[caseName!];
  if (!entry) throw new Error(`no case '${caseName}' in ${modulePath}`);
  if (entry.kind === 'scenario') {
    const random = fc.sample(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { seed, numRuns: 10_000 });
    let next = 0;
    for (let i = 0; i < runs; i++) {
      trace(`scenario ${caseName} iteration ${i} seed ${seed}`);
      try {
        await settle(entry.run(() => random[next++ % random.length]!, i));
      } catch (error) {
        if (!isCodedError(error)) throw new Error(`iteration ${i} threw ${describeError(error)}`);
      }
    }
  } else {
    const target = entry.setup ? await entry.setup() : undefined;
    await fc.assert(
      fc.asyncProperty(fc.tuple(...(entry.args as fc.Arbitrary<unknown>[])), async (args) => {
        trace(`${caseName}(${printable(args)})`);
        let result: unknown;
        try {
          result = entry.call(target, ...args);
        } catch (error) {
          if (!isCodedError(error)) throw new Error(`threw ${describeError(error)}`);
          return;
        }
        await settle(result);
      }),
      { seed, numRuns: runs, endOnFailure: false, includeErrorInReport: true },
    );
    if (entry.teardown) await settle(entry.teardown(target));
  }
  // Let late completions (finalizers, async work) run into the contract too.
  await new Promise((resolve) => setTimeout(resolve, 20));
  if (globalThis.gc) globalThis.gc();
  await new Promise((resolve) => setTimeout(resolve, 20));
  if (lateFailure) throw new Error(lateFailure);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`hostile-failure: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);

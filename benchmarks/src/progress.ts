// Progress of a long benchmark run. On a terminal: one bar (@clack/prompts) whose message is the
// latest log line, so a run of many minutes shows how far it is without scrolling. Anywhere else
// (CI, a file): no bar and no redrawing, just the log lines, each once.
//
//   const run = runProgress('bufferpool: 4 systems', steps);
//   run.log('writing the page file');   // a line of the run's log
//   run.advance('hashpool: oom uniform 2t b32 …');  // one step done
//   run.stop('bufferpool: done in 312 s');
import { progress } from '@clack/prompts';

export interface RunProgress {
  /** A log line: printed as is off a terminal, shown as the bar's message on one. */
  log(line: string): void;
  /** One of the run's steps is done (with what it measured, as a log line). */
  advance(line?: string): void;
  /** The run is over: the bar ends with `summary` (printed as a line off a terminal). */
  stop(summary: string): void;
}

/** A run of `total` steps; a bar only where `output` is a terminal. */
export function runProgress(title: string, total: number, output: NodeJS.WriteStream = process.stderr): RunProgress {
  if (!output.isTTY) {
    const print = (line: string) => console.log(line);
    return { log: print, advance: (line) => line !== undefined && print(line), stop: print };
  }
  const bar = progress({ max: Math.max(1, total), output });
  bar.start(title);
  return {
    log: (line) => bar.message(line),
    advance: (line) => bar.advance(1, line),
    stop: (summary) => bar.stop(summary),
  };
}

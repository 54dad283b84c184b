// The JavaScript half of the scheduler benchmark: the package's worker_threads pool against
// piscina (a FIFO worker pool) on the same workload shape done in JavaScript.
import fs from 'node:fs';
import path from 'node:path';
import type { BenchCase } from '@dbos/benchmarks/report';

export interface JavaScriptResult {
  cases: BenchCase[];
  notes: string[];
}

export function runJavaScript(packageDir: string, profile: 'quick' | 'full'): JavaScriptResult {
  if (!fs.existsSync(path.join(packageDir, 'src', 'index.ts')))
    return { cases: [], notes: [`JavaScript tasks (${profile}): not run — the package has no JavaScript task pool in src/ yet.`] };
  return { cases: [], notes: ['JavaScript tasks: not run — the benchmark does not drive the JavaScript pool yet.'] };
}

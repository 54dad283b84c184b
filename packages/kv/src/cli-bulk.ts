// The CLI's bulk commands: load a JSON-lines or CSV file in batches, and a quick put/get timing.
import fs from 'node:fs';
import readline from 'node:readline';
import { typeError } from '@dbos/platform';
import type { KvStore } from './store.js';

/** Entries per batch while loading: one log record each, so a crash keeps whole batches. */
export const LOAD_BATCH = 1000;

/** One CSV row's fields (RFC 4180 quoting: "a ""quoted"" field"); a record never spans lines here. */
export function csvFields(line: string): string[] {
  const fields: string[] = [];
  let at = 0;
  for (;;) {
    if (line[at] === '"') {
      let text = '';
      at++;
      for (;;) {
        const close = line.indexOf('"', at);
        if (close < 0) throw typeError(`an unterminated quoted field in CSV line: ${line.slice(0, 60)}`);
        text += line.slice(at, close);
        at = close + 1;
        if (line[at] !== '"') break;
        text += '"';
        at++;
      }
      fields.push(text);
    } else {
      const comma = line.indexOf(',', at);
      fields.push(line.slice(at, comma < 0 ? line.length : comma));
      at = comma < 0 ? line.length : comma;
    }
    if (at >= line.length) return fields;
    if (line[at] !== ',') throw typeError(`a quoted CSV field must end at a comma: ${line.slice(0, 60)}`);
    at++;
  }
}

/** The key and value of one line of `format`; null for a line to skip (blank, or the CSV header). */
function entryOf(line: string, format: 'jsonl' | 'csv', number: number): [string, string] | null {
  if (line.trim() === '') return null;
  if (format === 'csv') {
    const fields = csvFields(line);
    if (fields.length !== 2) throw typeError(`line ${number}: a CSV row needs 2 fields, key and value (got ${fields.length})`);
    if (number === 1 && fields[0] === 'key' && fields[1] === 'value') return null;
    return fields as [string, string];
  }
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch (error) {
    throw typeError(`line ${number}: not JSON (${(error as Error).message})`);
  }
  const { key, value } = (record ?? {}) as { key?: unknown; value?: unknown };
  if (typeof key !== 'string') throw typeError(`line ${number}: "key" must be a string`);
  if (value === undefined) throw typeError(`line ${number}: no "value"`);
  // A value that is not a string is stored as its JSON text.
  return [key, typeof value === 'string' ? value : JSON.stringify(value)];
}

/** Load `file` (.csv: key,value rows; anything else: JSON lines) in batches; resolves to the entry count. */
export async function load(store: KvStore, file: string, progress?: (done: number, total: number) => undefined): Promise<number> {
  const format = file.toLowerCase().endsWith('.csv') ? 'csv' : 'jsonl';
  const total = fs.statSync(file).size;
  const input = fs.createReadStream(file, { encoding: 'utf8' });
  const lines = readline.createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let batch: { type: 'put'; key: string; value: string }[] = [];
  let durable: Promise<void>[] = [];
  let count = 0;
  let number = 0;
  try {
    for await (const line of lines) {
      const entry = entryOf(line, format, ++number);
      if (entry === null) continue;
      batch.push({ type: 'put', key: entry[0], value: entry[1] });
      if (batch.length === LOAD_BATCH) {
        durable.push(store.batch(batch, { sync: false }));
        count += batch.length;
        batch = [];
        progress?.(input.bytesRead, total);
        // Keep the number of waiting promises bounded on a long file.
        if (durable.length >= 64) {
          await Promise.all(durable);
          durable = [];
        }
      }
    }
  } finally {
    lines.close();
    input.destroy();
  }
  if (batch.length > 0) durable.push(store.batch(batch, { sync: true }));
  count += batch.length;
  await Promise.all(durable);
  progress?.(total, total);
  return count;
}

export interface BenchResult {
  count: number;
  putMs: number;
  getMs: number;
  putPerSecond: number;
  getPerSecond: number;
}

/** `count` puts (one write each, not synced, all awaited at the end) then `count` gets of the same keys. */
export async function bench(store: KvStore, count: number): Promise<BenchResult> {
  const key = (i: number) => `bench:${String(i).padStart(10, '0')}`;
  const value = 'v'.repeat(100);
  const putStart = performance.now();
  const durable: Promise<void>[] = [];
  for (let i = 0; i < count; i++) durable.push(store.put(key(i), value, { sync: false }));
  await Promise.all(durable);
  const putMs = performance.now() - putStart;
  const getStart = performance.now();
  let found = 0;
  for (let i = 0; i < count; i++) if (store.get(key(i)) !== undefined) found++;
  const getMs = performance.now() - getStart;
  if (found !== count) throw new Error(`bench: ${count - found} of ${count} keys just written were not found`);
  const perSecond = (ms: number) => (ms > 0 ? (count * 1000) / ms : 0);
  return { count, putMs, getMs, putPerSecond: perSecond(putMs), getPerSecond: perSecond(getMs) };
}

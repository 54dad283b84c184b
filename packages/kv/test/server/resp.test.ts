// The RESP parser and encoder on their own: frames whole and cut at every byte, inline requests,
// the limits and their errors, and every reply type in RESP2 and RESP3.
import { describe, expect, it } from 'vitest';
import type { Reply } from '../../src/server/reply.js';
import { type ProtocolError, RequestParser, encodeReply, formatDouble, splitInline } from '../../src/server/resp.js';

const frame = (...words: string[]): string =>
  `*${words.length}\r\n${words.map((word) => `$${Buffer.byteLength(word)}\r\n${word}\r\n`).join('')}`;

/** Every request (as strings) and the protocol error, if any, of `chunks` fed in order. */
function parseAll(chunks: (string | Buffer)[], limits = {}): { requests: string[][]; error: string | null } {
  const parser = new RequestParser(limits);
  const requests: string[][] = [];
  for (const chunk of chunks) {
    parser.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, 'latin1'));
    for (;;) {
      const next = parser.next();
      if (next === null) break;
      if (!Array.isArray(next)) return { requests, error: (next as ProtocolError).error };
      requests.push(next.map((word) => word.toString('latin1')));
    }
  }
  return { requests, error: null };
}

describe('RequestParser', () => {
  it('parses pipelined multibulk requests from one chunk', () => {
    const { requests, error } = parseAll([frame('SET', 'k', 'v') + frame('GET', 'k') + frame('PING')]);
    expect(error).toBeNull();
    expect(requests).toEqual([['SET', 'k', 'v'], ['GET', 'k'], ['PING']]);
  });

  it('gives the same requests when the bytes arrive one at a time', () => {
    const text = `${frame('SET', 'key', 'a\r\nb')}PING\r\n${frame('ECHO', '')}echo "x y"\n`;
    const whole = parseAll([text]);
    const bytewise = parseAll([...text].map((char) => char));
    expect(bytewise).toEqual(whole);
    expect(whole.requests).toEqual([['SET', 'key', 'a\r\nb'], ['PING'], ['ECHO', ''], ['echo', 'x y']]);
  });

  it('assembles a large bulk argument sent in many chunks', () => {
    const value = Buffer.alloc(300_000, 7);
    const head = Buffer.from(`*2\r\n$4\r\nECHO\r\n$${value.length}\r\n`);
    const bytes = Buffer.concat([head, value, Buffer.from('\r\n')]);
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 1000) chunks.push(bytes.subarray(i, i + 1000));
    const parser = new RequestParser();
    let request: Buffer[] | null = null;
    for (const chunk of chunks) {
      parser.push(chunk);
      const next = parser.next();
      if (next !== null) request = next as Buffer[];
    }
    expect(request?.[0]?.toString()).toBe('ECHO');
    expect(request?.[1]?.equals(value)).toBe(true);
    expect(parser.buffered).toBe(0);
  });

  it('skips empty inline lines and empty multibulk requests', () => {
    expect(parseAll(['\r\n\n*0\r\n*-1\r\nPING\r\n']).requests).toEqual([['PING']]);
  });

  it('splits inline requests with quotes and escapes as Redis does', () => {
    const words = (line: string): string[] | null =>
      splitInline(Buffer.from(line, 'latin1'))?.map((word) => word.toString('latin1')) ?? null;
    expect(words('set a  "b c"')).toEqual(['set', 'a', 'b c']);
    expect(words('"\\x41\\n\\t\\\\"')).toEqual(['A\n\t\\']);
    expect(words("'it\\'s'")).toEqual(["it's"]);
    expect(words('"open')).toBeNull();
    expect(words('"a"b')).toBeNull();
    expect(words('   ')).toEqual([]);
  });

  it('refuses what breaks the protocol, with Redis 7.0 errors', () => {
    expect(parseAll(['*1\r\n$x\r\n']).error).toBe('ERR Protocol error: invalid bulk length');
    expect(parseAll(['*1\r\n$-5\r\n']).error).toBe('ERR Protocol error: invalid bulk length');
    expect(parseAll(['*x\r\n']).error).toBe('ERR Protocol error: invalid multibulk length');
    expect(parseAll(['*1\r\n+PING\r\n']).error).toBe("ERR Protocol error: expected '$', got '+'");
    expect(parseAll(['GET "a\r\n']).error).toBe('ERR Protocol error: unbalanced quotes in request');
  });

  it('enforces the limits: bulk length, argument count, inline and count-line size', () => {
    expect(parseAll([`*1\r\n$${2 * 1024 * 1024}\r\n`], { maxBulkBytes: 1024 * 1024 }).error).toBe(
      'ERR Protocol error: invalid bulk length',
    );
    expect(parseAll([`*1\r\n$${1024 * 1024}\r\n`], { maxBulkBytes: 1024 * 1024 }).error).toBeNull();
    expect(parseAll(['*1048577\r\n']).error).toBe('ERR Protocol error: invalid multibulk length');
    expect(parseAll(['*1048576\r\n']).error).toBeNull();
    expect(parseAll(['*99999999999999999999\r\n']).error).toBe('ERR Protocol error: invalid multibulk length');
    const long = 'a'.repeat(64 * 1024 + 1);
    expect(parseAll([long]).error).toBe('ERR Protocol error: too big inline request');
    expect(parseAll([`*${long}`]).error).toBe('ERR Protocol error: too big mbulk count string');
    expect(parseAll([`*1\r\n$${long}`]).error).toBe('ERR Protocol error: too big bulk count string');
    expect(parseAll(['a'.repeat(64 * 1024)]).error).toBeNull(); // at the limit it still waits for the newline
  });

  it('stays failed after an error and drops what it held', () => {
    const parser = new RequestParser();
    parser.push(Buffer.from('*1\r\n$x\r\n'));
    const first = parser.next();
    parser.push(Buffer.from(frame('PING')));
    expect(parser.next()).toBe(first);
    expect(parser.buffered).toBe(0);
  });
});

const resp2 = (reply: Reply): string => encodeReply(reply, 2).toString('latin1');
const resp3 = (reply: Reply): string => encodeReply(reply, 3).toString('latin1');

describe('encodeReply', () => {
  it('encodes the types both protocols share', () => {
    expect(resp2({ type: 'simple', value: 'OK' })).toBe('+OK\r\n');
    expect(resp2({ type: 'error', message: 'ERR bad\r\nthing' })).toBe('-ERR bad  thing\r\n');
    expect(resp2({ type: 'integer', value: -12 })).toBe(':-12\r\n');
    expect(resp2({ type: 'integer', value: 2n ** 63n - 1n })).toBe(':9223372036854775807\r\n');
    expect(resp2({ type: 'bulk', value: 'héllo' })).toBe('$6\r\nh\xc3\xa9llo\r\n');
    expect(resp2({ type: 'bulk', value: new Uint8Array([0, 255]) })).toBe('$2\r\n\x00\xff\r\n');
    expect(
      resp2({
        type: 'array',
        items: [
          { type: 'integer', value: 1 },
          { type: 'bulk', value: Buffer.from('x') },
        ],
      }),
    ).toBe('*2\r\n:1\r\n$1\r\nx\r\n');
  });

  it('uses RESP2 fallbacks and RESP3 types', () => {
    const map: Reply = {
      type: 'map',
      entries: [
        [
          { type: 'bulk', value: 'a' },
          { type: 'integer', value: 1 },
        ],
      ],
    };
    expect(resp2(map)).toBe('*2\r\n$1\r\na\r\n:1\r\n');
    expect(resp3(map)).toBe('%1\r\n$1\r\na\r\n:1\r\n');
    const set: Reply = { type: 'set', items: [{ type: 'simple', value: 'x' }] };
    expect(resp2(set)).toBe('*1\r\n+x\r\n');
    expect(resp3(set)).toBe('~1\r\n+x\r\n');
    expect(resp2({ type: 'bulk', value: null })).toBe('$-1\r\n');
    expect(resp3({ type: 'bulk', value: null })).toBe('_\r\n');
    expect(resp2({ type: 'array', items: null })).toBe('*-1\r\n');
    expect(resp3({ type: 'array', items: null })).toBe('_\r\n');
    expect(resp2({ type: 'null' })).toBe('$-1\r\n');
    expect(resp3({ type: 'null' })).toBe('_\r\n');
    expect(resp2({ type: 'double', value: 1.5 })).toBe('$3\r\n1.5\r\n');
    expect(resp3({ type: 'double', value: 1.5 })).toBe(',1.5\r\n');
    expect(resp3({ type: 'double', value: Number.NEGATIVE_INFINITY })).toBe(',-inf\r\n');
    expect(resp2({ type: 'verbatim', value: 'a:1\r\n' })).toBe('$5\r\na:1\r\n\r\n');
    expect(resp3({ type: 'verbatim', value: 'a:1\r\n' })).toBe('=9\r\ntxt:a:1\r\n\r\n');
  });

  it('formats doubles as C printf %.17g does', () => {
    const cases: [number, string][] = [
      [1.5, '1.5'],
      [0.1, '0.10000000000000001'],
      [1e20, '1e+20'],
      [3, '3'],
      [123456789012345680, '1.2345678901234568e+17'],
      [0.0001, '0.0001'],
      [1e-5, '1.0000000000000001e-05'],
      [1e16, '10000000000000000'],
      [1e17, '1e+17'],
      [Number.NaN, 'nan'],
    ];
    for (const [value, text] of cases) expect(formatDouble(value), String(value)).toBe(text);
  });
});

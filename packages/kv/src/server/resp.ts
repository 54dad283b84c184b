// RESP, the Redis wire protocol: an incremental parser of requests (multibulk frames and
// inline commands typed by hand, as Redis accepts both) and the encoder of replies as RESP2 or
// RESP3. The parser never holds more than one incomplete line in its buffer: the bytes of a bulk
// argument move into that argument's own parts as they arrive, so a large argument sent in many
// small chunks is copied once, not once per chunk.
import type { Reply } from './reply.js';

/** What bounds a request. The defaults are Redis's. */
export interface RequestLimits {
  /** The largest bulk argument in bytes (`proto-max-bulk-len`). Default 512 MiB. */
  maxBulkBytes: number;
  /** The most arguments in one multibulk request. Default 1024 * 1024. */
  maxArguments: number;
  /** The longest inline request, and the longest count line, in bytes. Default 64 KiB. */
  maxInlineBytes: number;
}

export const DEFAULT_LIMITS: RequestLimits = {
  maxBulkBytes: 512 * 1024 * 1024,
  maxArguments: 1024 * 1024,
  maxInlineBytes: 64 * 1024,
};

/** A request the client can never complete; the connection replies with `message` and closes. */
export interface ProtocolError {
  readonly error: string;
}

const CR = 13;
const LF = 10;
const EMPTY = Buffer.alloc(0);

/** Parses the requests of one connection from the chunks it receives, in order. */
export class RequestParser {
  readonly limits: RequestLimits;
  #buffer: Buffer = EMPTY;
  #offset = 0;
  // The multibulk request being read: its declared count and the arguments read so far.
  #argumentsLeft = 0;
  #arguments: Buffer[] = [];
  // The bulk argument being read: bytes still expected (-1 when between arguments) and its parts.
  #bulkLeft = -1;
  #bulkParts: Buffer[] = [];
  #bulkLength = 0;
  #failed: ProtocolError | null = null;

  constructor(limits: Partial<RequestLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** Bytes received and not yet part of a complete request (for CLIENT LIST's qbuf). */
  get buffered(): number {
    return this.#buffer.length - this.#offset + this.#bulkLength - Math.max(this.#bulkLeft, 0);
  }

  push(chunk: Buffer): void {
    if (this.#failed) return;
    if (this.#offset >= this.#buffer.length) this.#buffer = chunk;
    else this.#buffer = Buffer.concat([this.#buffer.subarray(this.#offset), chunk]);
    this.#offset = 0;
  }

  /** The next complete request (its words), a protocol error (final), or null when more bytes are needed. */
  next(): Buffer[] | ProtocolError | null {
    if (this.#failed) return this.#failed;
    for (;;) {
      if (this.#argumentsLeft === 0) {
        if (this.#offset >= this.#buffer.length) return null;
        const request = this.#buffer[this.#offset] === 0x2a /* '*' */ ? this.#startMultibulk() : this.#inline();
        if (request === null) return null;
        if ('error' in request) return this.#fail(request.error);
        if (request.length > 0) return request;
        continue; // an empty line or `*0`: Redis ignores it
      }
      const done = this.#readArgument();
      if (done === null) return null;
      if (done !== true) return this.#fail(done.error);
      if (this.#argumentsLeft === 0) {
        const request = this.#arguments;
        this.#arguments = [];
        return request;
      }
    }
  }

  #fail(message: string): ProtocolError {
    this.#failed = { error: message };
    this.#buffer = EMPTY;
    this.#offset = 0;
    this.#arguments = [];
    this.#bulkParts = [];
    return this.#failed;
  }

  /** The line at the offset without its CRLF, advancing past it; null when it is not complete. */
  #line(tooLong: string): Buffer | ProtocolError | null {
    const end = this.#buffer.indexOf(LF, this.#offset);
    if (end < 0) {
      return this.#buffer.length - this.#offset > this.limits.maxInlineBytes ? { error: tooLong } : null;
    }
    if (end - this.#offset > this.limits.maxInlineBytes) return { error: tooLong };
    const stop = end > this.#offset && this.#buffer[end - 1] === CR ? end - 1 : end;
    const line = this.#buffer.subarray(this.#offset, stop);
    this.#offset = end + 1;
    return line;
  }

  /**
   * The decimal integer of the count line at the offset (after its one type byte), advancing past
   * the line: NaN when it is not an integer of at most 18 digits, null when the line is incomplete.
   * Digits are read from the bytes: this runs for every argument of every request.
   */
  #count(tooLong: string): number | ProtocolError | null {
    const buffer = this.#buffer;
    const start = this.#offset;
    const end = buffer.indexOf(LF, start);
    if (end < 0) return buffer.length - start > this.limits.maxInlineBytes ? { error: tooLong } : null;
    if (end - start > this.limits.maxInlineBytes) return { error: tooLong };
    this.#offset = end + 1;
    const stop = end > start && buffer[end - 1] === CR ? end - 1 : end;
    let i = start + 1;
    const negative = buffer[i] === 0x2d; /* '-' */
    if (negative) i++;
    if (stop - i < 1 || stop - i > 18) return Number.NaN;
    let value = 0;
    for (; i < stop; i++) {
      const digit = (buffer[i] as number) - 0x30;
      if (digit < 0 || digit > 9) return Number.NaN;
      value = value * 10 + digit;
    }
    return negative ? -value : value;
  }

  #startMultibulk(): Buffer[] | ProtocolError | null {
    const count = this.#count('ERR Protocol error: too big mbulk count string');
    if (count === null || typeof count !== 'number') return count;
    if (Number.isNaN(count) || count > this.limits.maxArguments) return { error: 'ERR Protocol error: invalid multibulk length' };
    if (count <= 0) return [];
    this.#argumentsLeft = count;
    this.#arguments = [];
    return this.next() as Buffer[] | ProtocolError | null;
  }

  /** Reads (part of) the next bulk argument: true when it is complete. */
  #readArgument(): true | ProtocolError | null {
    if (this.#bulkLeft < 0) {
      if (this.#offset >= this.#buffer.length) return null;
      const first = this.#buffer[this.#offset] as number;
      if (first !== 0x24 /* '$' */) {
        return { error: `ERR Protocol error: expected '$', got '${String.fromCharCode(first)}'` };
      }
      const length = this.#count('ERR Protocol error: too big bulk count string');
      if (length === null || typeof length !== 'number') return length;
      if (Number.isNaN(length) || length < 0 || length > this.limits.maxBulkBytes)
        return { error: 'ERR Protocol error: invalid bulk length' };
      // The bulk's bytes and its CRLF are read together; the CRLF is skipped unchecked, as Redis does.
      if (this.#buffer.length - this.#offset >= length + 2) {
        // All there (the common case): the argument is a view of the chunk, no copy.
        this.#arguments.push(this.#buffer.subarray(this.#offset, this.#offset + length));
        this.#offset += length + 2;
        this.#argumentsLeft--;
        return true;
      }
      this.#bulkLeft = length + 2;
      this.#bulkLength = length + 2;
      this.#bulkParts = [];
    }
    const available = this.#buffer.length - this.#offset;
    const take = Math.min(available, this.#bulkLeft);
    if (take > 0) {
      this.#bulkParts.push(this.#buffer.subarray(this.#offset, this.#offset + take));
      this.#offset += take;
      this.#bulkLeft -= take;
    }
    if (this.#bulkLeft > 0) {
      // Keep the parts, not the buffer: the next push starts a fresh buffer.
      if (this.#offset >= this.#buffer.length) {
        this.#buffer = EMPTY;
        this.#offset = 0;
      }
      return null;
    }
    const whole = this.#bulkParts.length === 1 ? (this.#bulkParts[0] as Buffer) : Buffer.concat(this.#bulkParts);
    this.#arguments.push(whole.subarray(0, this.#bulkLength - 2));
    this.#bulkParts = [];
    this.#bulkLeft = -1;
    this.#bulkLength = 0;
    this.#argumentsLeft--;
    return true;
  }

  #inline(): Buffer[] | ProtocolError | null {
    const line = this.#line('ERR Protocol error: too big inline request');
    if (line === null || !Buffer.isBuffer(line)) return line as ProtocolError | null;
    const words = splitInline(line);
    if (words === null) return { error: 'ERR Protocol error: unbalanced quotes in request' };
    return words;
  }
}

const ESCAPES: Record<string, number> = { n: 10, r: 13, t: 9, b: 8, a: 7 };

/**
 * The words of an inline request: separated by spaces or tabs; "double quotes" take the escapes
 * \n \r \t \b \a \xHH and \<any>; 'single quotes' take \'. A closing quote must be followed by a
 * space or the end. Null when the quotes are unbalanced.
 */
export function splitInline(line: Buffer): Buffer[] | null {
  const words: Buffer[] = [];
  let i = 0;
  const n = line.length;
  const isSpace = (byte: number | undefined): boolean =>
    byte === 0x20 || byte === 9 || byte === 10 || byte === 13 || byte === 11 || byte === 12;
  while (i < n) {
    while (i < n && isSpace(line[i])) i++;
    if (i >= n) break;
    const bytes: number[] = [];
    const quote = line[i] === 0x22 ? 0x22 : line[i] === 0x27 ? 0x27 : 0;
    if (quote === 0) {
      while (i < n && !isSpace(line[i])) bytes.push(line[i++] as number);
      words.push(Buffer.from(bytes));
      continue;
    }
    i++;
    for (;;) {
      if (i >= n) return null;
      const byte = line[i] as number;
      if (byte === quote) {
        i++;
        if (i < n && !isSpace(line[i])) return null;
        break;
      }
      if (byte === 0x5c /* '\' */ && i + 1 < n) {
        const next = line[i + 1] as number;
        if (quote === 0x22) {
          const hex = next === 0x78 && i + 3 < n ? line.toString('latin1', i + 2, i + 4) : '';
          if (/^[0-9a-fA-F]{2}$/.test(hex)) {
            bytes.push(Number.parseInt(hex, 16));
            i += 4;
            continue;
          }
          bytes.push(ESCAPES[String.fromCharCode(next)] ?? next);
          i += 2;
          continue;
        }
        if (next === 0x27) {
          bytes.push(0x27);
          i += 2;
          continue;
        }
      }
      bytes.push(byte);
      i++;
    }
    words.push(Buffer.from(bytes));
  }
  return words;
}

/** Formats a double as Redis 7.0 does (C's %.17g; inf, -inf, nan). */
export function formatDouble(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Number.POSITIVE_INFINITY) return 'inf';
  if (value === Number.NEGATIVE_INFINITY) return '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  const precise = value.toExponential(16); // 17 significant digits
  const [mantissa, exp] = precise.split('e') as [string, string];
  const e = Number(exp);
  // %g uses the exponent form when the exponent is < -4 or >= the precision.
  if (e < -4 || e >= 17) {
    const trimmed = mantissa.includes('.') ? mantissa.replace(/0+$/, '').replace(/\.$/, '') : mantissa;
    return `${trimmed}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  const fixed = value.toFixed(Math.max(0, 16 - e));
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
}

/**
 * Collects the bytes of replies: text runs are joined as one string, binary bulk values kept as
 * buffers, so a pipeline's replies become one buffer with one conversion, not one per reply.
 */
export class ReplyWriter {
  parts: Buffer[] = [];
  text = '';

  write(reply: Reply, protocol: 2 | 3): void {
    write(this, reply, protocol);
  }

  /** Everything written since the last take, as one buffer; null when nothing was. */
  take(): Buffer | null {
    if (this.parts.length === 0 && this.text.length === 0) return null;
    const bytes = this.finish();
    this.parts = [];
    return bytes;
  }

  bytes(value: Uint8Array): void {
    if (this.text.length > 0) {
      this.parts.push(Buffer.from(this.text, 'utf8'));
      this.text = '';
    }
    this.parts.push(Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }

  finish(): Buffer {
    if (this.text.length > 0) this.parts.push(Buffer.from(this.text, 'utf8'));
    this.text = '';
    return this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts);
  }
}

/** Status and error lines may not hold CR or LF: they would end the line early. */
function oneLine(text: string): string {
  return /[\r\n]/.test(text) ? text.replace(/[\r\n]/g, ' ') : text;
}

function bulkText(out: ReplyWriter, value: string): void {
  out.text += `$${Buffer.byteLength(value, 'utf8')}\r\n${value}\r\n`;
}

function write(out: ReplyWriter, reply: Reply, protocol: 2 | 3): void {
  switch (reply.type) {
    case 'simple':
      out.text += `+${oneLine(reply.value)}\r\n`;
      return;
    case 'error':
      if (reply.latin1) {
        out.text += '-';
        out.bytes(Buffer.from(oneLine(reply.message), 'latin1'));
        out.text += '\r\n';
      } else out.text += `-${oneLine(reply.message)}\r\n`;
      return;
    case 'integer':
      out.text += `:${reply.value}\r\n`;
      return;
    case 'bulk': {
      const value = reply.value;
      if (value === null) out.text += protocol === 3 ? '_\r\n' : '$-1\r\n';
      else if (typeof value === 'string') bulkText(out, value);
      else {
        out.text += `$${value.byteLength}\r\n`;
        out.bytes(value);
        out.text += '\r\n';
      }
      return;
    }
    case 'array':
      if (reply.items === null) {
        out.text += protocol === 3 ? '_\r\n' : '*-1\r\n';
        return;
      }
      out.text += `*${reply.items.length}\r\n`;
      for (const item of reply.items) write(out, item, protocol);
      return;
    case 'double':
      if (protocol === 3) out.text += `,${formatDouble(reply.value)}\r\n`;
      else bulkText(out, formatDouble(reply.value));
      return;
    case 'map':
      out.text += protocol === 3 ? `%${reply.entries.length}\r\n` : `*${reply.entries.length * 2}\r\n`;
      for (const [key, value] of reply.entries) {
        write(out, key, protocol);
        write(out, value, protocol);
      }
      return;
    case 'set':
      out.text += protocol === 3 ? `~${reply.items.length}\r\n` : `*${reply.items.length}\r\n`;
      for (const item of reply.items) write(out, item, protocol);
      return;
    case 'verbatim':
      if (protocol === 3) out.text += `=${Buffer.byteLength(reply.value, 'utf8') + 4}\r\ntxt:${reply.value}\r\n`;
      else bulkText(out, reply.value);
      return;
    case 'null':
      out.text += protocol === 3 ? '_\r\n' : '$-1\r\n';
      return;
  }
}

/** The bytes of `reply` in RESP2 or RESP3. */
export function encodeReply(reply: Reply, protocol: 2 | 3): Buffer {
  const out = new ReplyWriter();
  write(out, reply, protocol);
  return out.finish();
}

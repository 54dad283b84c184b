// The replies a command produces, independent of the protocol version. The connection encodes
// them as RESP2 or RESP3 (after HELLO 3); where RESP3 has a type RESP2 lacks, the encoder uses
// Redis's own RESP2 fallback (a map becomes a flat array, a double a bulk string, null a nil
// bulk string or nil array).

export type Reply =
  /** `+OK`: a status line (no CR or LF inside). */
  | { readonly type: 'simple'; readonly value: string }
  /** `-ERR …`: the whole line after the dash, including its prefix (ERR, WRONGTYPE, NOAUTH, …). */
  | {
      readonly type: 'error';
      readonly message: string;
      /** The message's characters are bytes (0-255), sent as they are: Redis echoes a client's raw bytes in some errors. */
      readonly latin1?: true;
    }
  | { readonly type: 'integer'; readonly value: number | bigint }
  /** A bulk string; `null` is the nil reply (`$-1` in RESP2, `_` in RESP3). */
  | { readonly type: 'bulk'; readonly value: Uint8Array | string | null }
  /** An array; `null` is the nil array (`*-1` in RESP2, `_` in RESP3). */
  | { readonly type: 'array'; readonly items: readonly Reply[] | null }
  /** RESP3 `,`; RESP2 sends it as a bulk string formatted as Redis formats doubles. */
  | { readonly type: 'double'; readonly value: number }
  /** RESP3 `%`; RESP2 sends a flat array key, value, key, value. */
  | { readonly type: 'map'; readonly entries: readonly (readonly [Reply, Reply])[] }
  /** RESP3 `~`; RESP2 sends an array. */
  | { readonly type: 'set'; readonly items: readonly Reply[] }
  /** RESP3 `=txt:`; RESP2 sends a bulk string (INFO, CLIENT INFO use it). */
  | { readonly type: 'verbatim'; readonly value: string }
  /** RESP3 `_`; RESP2 sends the nil bulk string. */
  | { readonly type: 'null' };

export const OK: Reply = { type: 'simple', value: 'OK' };
export const NIL: Reply = { type: 'bulk', value: null };

export function simple(value: string): Reply {
  return { type: 'simple', value };
}

/** An error reply; `message` starts with its code word, as Redis's do ("ERR syntax error"). */
export function error(message: string): Reply {
  return { type: 'error', message };
}

/**
 * A client's word as Redis quotes it in an error line (a C string printed, with a precision when `room` is given): the
 * raw bytes up to the first NUL, at most `room` of them, with CR and LF made spaces (a CR or LF
 * would end the error line).
 */
export function quotedBytes(word: Buffer, room = word.length): Buffer {
  const nul = word.indexOf(0);
  const end = Math.min(nul === -1 ? word.length : nul, Math.max(0, room));
  const out = Buffer.from(word.subarray(0, end));
  for (let i = 0; i < out.length; i++) if (out[i] === 0x0d || out[i] === 0x0a) out[i] = 0x20;
  return out;
}

/** An error reply whose line is raw bytes (a client's words quoted back byte for byte). */
export function bytesError(line: Buffer): Reply {
  return { type: 'error', message: line.toString('latin1'), latin1: true };
}

export function integer(value: number | bigint): Reply {
  return { type: 'integer', value };
}

export function bulk(value: Uint8Array | string | null): Reply {
  return { type: 'bulk', value };
}

export function array(items: readonly Reply[] | null): Reply {
  return { type: 'array', items };
}

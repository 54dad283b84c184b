// Seeded command sequences for the differential test: string and key commands over a small key
// set (so commands collide), with edge cases and errors mixed in: bad and overflowing numbers,
// negative ranges, unknown and conflicting options, NX/XX/GT/LT combinations, expiry in the past.
//
// Replies that depend on the moment a command runs are avoided or marked for a tolerant
// comparison: every expiry that is set in the future is unique and at least a second from any
// other (so GT/LT decide the same way on both servers), and far away (nothing expires during a
// run); TTL-like replies compare within a tolerance; KEYS, SCAN and RANDOMKEY compare as sets or
// by property; DBSIZE is preceded by EXISTS over every key, which deletes due keys on both sides
// (Redis counts a key past its time until something deletes it).
import { seeded } from '../helpers.js';

/** How the runner compares the two replies of a step. */
export type Comparison =
  /** Identical replies. */
  | 'exact'
  /** Integers within a second (TTL, EXPIRETIME) or 250 ms (PTTL, PEXPIRETIME); negative ones exactly. */
  | 'seconds'
  | 'milliseconds'
  /** An array compared as a sorted list (KEYS). */
  | 'sorted'
  /** `words` are SCAN's options: the runner iterates from cursor 0 to 0 and compares the key sets. */
  | 'scan'
  /** Both nil or both a key. */
  | 'randomkey'
  /** EXISTS over every key first (compared exactly), then the command itself. */
  | 'settled';

export interface Step {
  readonly words: readonly string[];
  readonly compare: Comparison;
}

/** The keys commands draw from: few, so they collide; with a space, a tag, a glob character and non-ASCII bytes. */
export const KEYS = ['a', 'b', 'c', 'n1', 'n2', 'f', 'key:1', 'key:2', 'key 3', '{t}x', 'a*b', '\u00ff\u0001'];

const PATTERNS = [
  '*',
  'a*',
  'key:*',
  'key:?',
  'n[12]',
  'n[^1]',
  '[a-c]',
  '[c-a]',
  'a\\*b',
  'a*b',
  '*\\',
  '[',
  'key[',
  '?',
  '*3',
  'k*y*',
  '\u00ff*',
  'x',
];

const INTEGERS = [
  '0',
  '1',
  '-1',
  '42',
  '-42',
  '9223372036854775807',
  '-9223372036854775808',
  '9223372036854775806',
  '9223372036854775808',
  '01',
  ' 1',
  '1 ',
  '+1',
  '1.5',
  '',
  'abc',
  '-0',
  '1e3',
];

const FLOATS = [
  '1.5',
  '-0.1',
  '0.1',
  '3',
  '1e3',
  '2.5e-3',
  '-7',
  '1e308',
  'inf',
  '-inf',
  'nan',
  'abc',
  '',
  ' 1',
  '0x10',
  '5.',
  '.5',
  '1e',
  '10.00000000000000001',
];

const VALUES = ['v', 'hello', 'world', '', '12', '-5', '9223372036854775807', '3.0', 'ohmytext', 'mynewtext', 'abcabcabc', '01', '1e2'];

export function generate(seed: number, count: number, nowMs: number): Step[] {
  const random = seeded(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const chance = (p: number) => random() < p;
  const integerBetween = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
  const key = () => pick(KEYS);
  const keys = (most: number) => Array.from({ length: integerBetween(1, most) }, key);
  const value = () => (chance(0.85) ? pick(VALUES) : `${pick(VALUES)}${integerBetween(0, 999)}`);
  let unique = 0;
  // Future expiries: relative ones about 28 hours ahead, absolute ones about 12 days ahead, each
  // at least one second from every other.
  const relativeSeconds = () => String(100_000 + ++unique);
  const relativeMs = () => String((100_000 + ++unique) * 1000);
  const absoluteSeconds = () => String(Math.floor(nowMs / 1000) + 1_000_000 + ++unique);
  const absoluteMs = () => String((Math.floor(nowMs / 1000) + 1_000_000 + ++unique) * 1000);
  const pastSeconds = () => pick(['1', String(Math.floor(nowMs / 1000) - 100), '-5', '0']);
  const pastMs = () => pick(['1', String(nowMs - 100_000), '-5', '0']);
  const badNumber = () => pick(['abc', '1.5', '', '9223372036854775807', '9223372036854775', '-9223372036854775808', '0', '-1', ' 1']);

  const setOption = (): string[] => {
    const roll = random();
    if (roll < 0.12) return ['NX'];
    if (roll < 0.24) return ['XX'];
    if (roll < 0.36) return ['GET'];
    if (roll < 0.46) return ['KEEPTTL'];
    if (roll < 0.56) return ['EX', chance(0.85) ? relativeSeconds() : badNumber()];
    if (roll < 0.66) return ['PX', chance(0.85) ? relativeMs() : badNumber()];
    if (roll < 0.74) return ['EXAT', chance(0.7) ? absoluteSeconds() : pastSeconds()];
    if (roll < 0.82) return ['PXAT', chance(0.7) ? absoluteMs() : pastMs()];
    if (roll < 0.86) return ['EX'];
    if (roll < 0.9) return [pick(['nx', 'get', 'KeepTtl', 'ex', 'px'])].concat(roll < 0.88 ? [relativeSeconds()] : []);
    return [pick(['PERSIST', 'BOGUS', 'EXPIRE', 'NXX'])];
  };
  const options = (make: () => string[]) => {
    const out: string[] = [];
    for (let i = integerBetween(0, 3); i > 0; i--) out.push(...make());
    return out;
  };
  const getexOption = (): string[] => {
    const roll = random();
    if (roll < 0.2) return ['PERSIST'];
    if (roll < 0.35) return ['EX', chance(0.85) ? relativeSeconds() : badNumber()];
    if (roll < 0.5) return ['PX', chance(0.85) ? relativeMs() : badNumber()];
    if (roll < 0.62) return ['EXAT', chance(0.6) ? absoluteSeconds() : pastSeconds()];
    if (roll < 0.74) return ['PXAT', chance(0.6) ? absoluteMs() : pastMs()];
    if (roll < 0.8) return ['PX'];
    return [pick(['NX', 'KEEPTTL', 'GET', 'persist', 'bogus'])];
  };
  const expireFlags = (): string[] => {
    const out: string[] = [];
    for (let i = integerBetween(0, 2); i > 0; i--) out.push(pick(['NX', 'XX', 'GT', 'LT', 'nx', 'gt', 'Xx', 'lt', 'BOGUS']));
    return out;
  };
  const expireValue = (command: string): string => {
    const roll = random();
    const seconds = command === 'EXPIRE' || command === 'EXPIREAT';
    const absolute = command.endsWith('AT');
    if (roll < 0.7) {
      if (absolute) return seconds ? absoluteSeconds() : absoluteMs();
      return seconds ? relativeSeconds() : relativeMs();
    }
    if (roll < 0.85) return absolute ? (seconds ? pastSeconds() : pastMs()) : pick(['-1', '0', '-100']);
    return pick(['abc', '1.5', '', '9223372036854775807', '9223372036854775', '-9223372036854775808', ' 5']);
  };

  const makers: [weight: number, make: () => Step][] = [
    [8, () => exact('SET', key(), value(), ...options(setOption))],
    [6, () => exact('GET', key())],
    [2, () => exact('SETNX', key(), value())],
    [2, () => exact('SETEX', key(), chance(0.8) ? relativeSeconds() : badNumber(), value())],
    [2, () => exact('PSETEX', key(), chance(0.8) ? relativeMs() : badNumber(), value())],
    [2, () => exact('GETSET', key(), value())],
    [2, () => exact('GETDEL', key())],
    [3, () => exact('GETEX', key(), ...options(getexOption))],
    [2, () => exact('MGET', ...keys(4))],
    [2, () => exact('MSET', ...keys(3).flatMap((name) => [name, value()]), ...(chance(0.1) ? ['dangling'] : []))],
    [2, () => exact('MSETNX', ...keys(3).flatMap((name) => [name, value()]), ...(chance(0.1) ? ['dangling'] : []))],
    [3, () => exact(pick(['INCR', 'DECR']), key())],
    [3, () => exact(pick(['INCRBY', 'DECRBY']), key(), pick(INTEGERS))],
    [1, () => exact('SET', pick(['n1', 'n2']), pick(INTEGERS))],
    [3, () => exact('INCRBYFLOAT', key(), pick(FLOATS))],
    [1, () => exact('SET', 'f', pick(FLOATS))],
    [2, () => exact('APPEND', key(), value())],
    [2, () => exact('STRLEN', key())],
    [3, () => exact('GETRANGE', key(), rangeIndex(), rangeIndex())],
    [
      2,
      () =>
        exact(
          'SETRANGE',
          key(),
          chance(0.85) ? String(integerBetween(0, 24)) : pick(['-1', 'abc', '536870912', '9223372036854775807', '']),
          value(),
        ),
    ],
    [2, () => exact('LCS', key(), key(), ...lcsOptions())],
    [3, () => exact(pick(['DEL', 'UNLINK', 'EXISTS', 'TOUCH']), ...keys(4))],
    [2, () => exact('TYPE', key())],
    [2, () => exact(pick(['RENAME', 'RENAMENX']), key(), key())],
    [2, () => exact('COPY', key(), key(), ...copyOptions())],
    [2, () => ({ words: ['KEYS', pick(PATTERNS)], compare: 'sorted' })],
    [2, () => ({ words: scanOptions(), compare: 'scan' })],
    [1, () => exact('SCAN', pick(['abc', '-', ' 1', '1.5', '+']))],
    [1, () => ({ words: ['RANDOMKEY'], compare: 'randomkey' })],
    [2, () => ({ words: ['DBSIZE'], compare: 'settled' })],
    [
      0.4,
      () => ({
        words: [pick(['FLUSHDB', 'FLUSHALL']), ...pick([[], ['SYNC'], ['ASYNC'], ['async'], ['BOGUS'], ['SYNC', 'ASYNC']])],
        compare: 'settled',
      }),
    ],
    [
      5,
      () => {
        const command = pick(['EXPIRE', 'PEXPIRE', 'EXPIREAT', 'PEXPIREAT']);
        return exact(command, key(), expireValue(command), ...expireFlags());
      },
    ],
    [3, () => ({ words: [pick(['TTL', 'EXPIRETIME']), key()], compare: 'seconds' })],
    [3, () => ({ words: [pick(['PTTL', 'PEXPIRETIME']), key()], compare: 'milliseconds' })],
    [2, () => exact('PERSIST', key())],
    // Wrong arity and unknown commands: the dispatcher's errors, which must match too.
    [0.5, () => exact(pick(['GET', 'SET', 'INCRBY', 'GETRANGE', 'EXPIRE', 'TTL', 'RENAME', 'LCS', 'DBSIZE']))],
    [0.3, () => exact('GETX', pick(['a', 'key:1', 'key 3']))],
  ];
  const rangeIndex = () =>
    chance(0.85) ? String(integerBetween(-20, 20)) : pick(['9223372036854775807', '-9223372036854775808', 'abc', '1.5']);
  const lcsOptions = () => {
    const out: string[] = [];
    for (let i = integerBetween(0, 3); i > 0; i--) {
      const roll = random();
      if (roll < 0.25) out.push('IDX');
      else if (roll < 0.4) out.push('LEN');
      else if (roll < 0.6) out.push('WITHMATCHLEN');
      else if (roll < 0.85) out.push('MINMATCHLEN', pick(['0', '1', '2', '4', '-3', 'abc']));
      else out.push(pick(['MINMATCHLEN', 'BOGUS']));
    }
    return out;
  };
  const copyOptions = () => {
    const out: string[] = [];
    for (let i = integerBetween(0, 2); i > 0; i--) {
      const roll = random();
      if (roll < 0.5) out.push('REPLACE');
      else if (roll < 0.8) out.push('DB', pick(['0', '16', '-1', 'abc', '99999999999']));
      else out.push(pick(['DB', 'BOGUS']));
    }
    return out;
  };
  const scanOptions = () => {
    const out = ['SCAN'];
    for (let i = integerBetween(0, 2); i > 0; i--) {
      const roll = random();
      if (roll < 0.4) out.push('MATCH', pick(PATTERNS));
      else if (roll < 0.7) out.push('COUNT', pick(['1', '3', '10', '1000', '0', '-1', 'abc']));
      else if (roll < 0.9) out.push('TYPE', pick(['string', 'STRING', 'list', 'none']));
      else out.push(pick(['MATCH', 'COUNT', 'BOGUS']));
    }
    return out;
  };

  const total = makers.reduce((sum, [weight]) => sum + weight, 0);
  const steps: Step[] = [];
  for (let i = 0; i < count; i++) {
    let roll = random() * total;
    for (const [weight, make] of makers) {
      roll -= weight;
      if (roll < 0) {
        steps.push(make());
        break;
      }
    }
  }
  return steps;
}

function exact(...words: string[]): Step {
  return { words, compare: 'exact' };
}

/** Keys and patterns over a small alphabet of glob's special characters, for KEYS (compared as sets). */
export function globCases(seed: number, keyCount: number, patternCount: number): { keys: string[]; patterns: string[] } {
  const random = seeded(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const keyAlphabet = ['a', 'b', 'c', 'z', '*', '?', '[', ']', '^', '-', '\\', '\u00ff', '\u0080', ' '];
  const patternAlphabet = [...keyAlphabet, '*', '*', '?', '[', ']', '\\', '[a-c]', '[^a]', '[z-a]', '[\\]]', '[a-\u00ff]'];
  const word = (alphabet: readonly string[], most: number) =>
    Array.from({ length: 1 + Math.floor(random() * most) }, () => pick(alphabet)).join('');
  const keys = new Set<string>();
  while (keys.size < keyCount) keys.add(word(keyAlphabet, 6));
  return { keys: [...keys], patterns: Array.from({ length: patternCount }, () => word(patternAlphabet, 5)) };
}

/** Decimal, exponent and hexadecimal numbers for chains of INCRBYFLOAT (long double arithmetic and printing). */
export function floatCases(seed: number, count: number): string[] {
  const random = seeded(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const digits = (most: number) =>
    Array.from({ length: 1 + Math.floor(random() * most) }, () => String(Math.floor(random() * 10))).join('');
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const sign = pick(['', '', '-', '+']);
    const roll = random();
    if (roll < 0.4) out.push(`${sign}${digits(6)}.${digits(8)}`);
    else if (roll < 0.6) out.push(`${sign}${digits(3)}e${pick(['', '-', '+'])}${Math.floor(random() * 30)}`);
    else if (roll < 0.75) out.push(`${sign}0.${'0'.repeat(Math.floor(random() * 20))}${digits(4)}`);
    else if (roll < 0.85) out.push(`${sign}${digits(20)}`);
    else if (roll < 0.92) out.push(`${sign}0x${pick(['1', 'a', 'ff', '1.8', '.4'])}${pick(['', 'p3', 'p-2'])}`);
    else out.push(pick(['1e4000', '1e-4000', '1e300', '-1e300', '1.18973149535723176502e+4932', 'infinity', '--1', '1..2', '1e+']));
  }
  return out;
}

/** Pairs of strings over a small alphabet (so they share long subsequences) for LCS. */
export function lcsCases(seed: number, count: number): [string, string][] {
  const random = seeded(seed);
  const text = () => Array.from({ length: Math.floor(random() * 24) }, () => 'abcd'[Math.floor(random() * 4)]).join('');
  return Array.from({ length: count }, () => [text(), text()]);
}

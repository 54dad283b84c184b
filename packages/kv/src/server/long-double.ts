// INCRBYFLOAT's arithmetic: Redis computes it in C `long double`, which on x86-64 is the x87
// 80-bit format (a 64-bit significand), and prints the sum with "%.17Lf" less trailing zeros.
// JavaScript's doubles would give other digits ("4.1" + 1e20 - 1e20 is "8" in Redis), so this
// file does the same arithmetic exactly: values are significand × 2^exponent in BigInt, every
// result is rounded to 64 significant bits (ties to even), as the FPU does.

/** A finite extended-precision value: `significand × 2^exponent`, or ±infinity. */
export type Extended =
  | { readonly kind: 'finite'; readonly negative: boolean; readonly significand: bigint; readonly exponent: number }
  | { readonly kind: 'infinite'; readonly negative: boolean };

const SIGNIFICAND_BITS = 64;
/** The exponent of a significand's last bit for the smallest normal value, 2^-16382 (subnormals share it). */
const EXPONENT_MIN = -16382 - (SIGNIFICAND_BITS - 1);
/** Values at or above 2^16384 overflow. */
const MAGNITUDE_LIMIT_LOG2 = 16384;
/** Redis reads at most this many characters of a float (MAX_LONG_DOUBLE_CHARS). */
const TEXT_CHARS_LIMIT = 5 * 1024;
/** Decimal magnitudes beyond these overflow or underflow whatever the digits (log10 of the limits, padded). */
const DECIMAL_MAGNITUDE_MAX = 4934;
const DECIMAL_MAGNITUDE_MIN = -4952;

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
const HEX = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?$/;
const INFINITY = /^([+-]?)(?:inf|infinity)$/i;

function bitLength(value: bigint): number {
  return value.toString(2).length;
}

/** numerator / denominator (both > 0) × 2^shift, rounded to 64 significant bits, ties to even. */
function round(negative: boolean, numerator: bigint, denominator: bigint, shift: number): Extended | null {
  // Find exponent e with 2^63 ≤ value / 2^e < 2^64, then clamp it for subnormals.
  let exponent = bitLength(numerator) - bitLength(denominator) + shift - SIGNIFICAND_BITS;
  let scaled = scale(numerator, denominator, shift - exponent);
  if (scaled.quotient >= 1n << 64n) {
    exponent++;
    scaled = scale(numerator, denominator, shift - exponent);
  } else if (scaled.quotient < 1n << 63n) {
    exponent--;
    scaled = scale(numerator, denominator, shift - exponent);
  }
  if (exponent < EXPONENT_MIN) {
    exponent = EXPONENT_MIN;
    scaled = scale(numerator, denominator, shift - exponent);
  }
  let significand = scaled.quotient;
  const twice = scaled.remainder * 2n;
  if (twice > scaled.denominator || (twice === scaled.denominator && (significand & 1n) === 1n)) significand++;
  if (significand === 1n << 64n) {
    significand = 1n << 63n;
    exponent++;
  }
  if (significand === 0n) return null;
  if (exponent + SIGNIFICAND_BITS > MAGNITUDE_LIMIT_LOG2) return { kind: 'infinite', negative };
  return { kind: 'finite', negative, significand, exponent };
}

/** numerator / denominator × 2^shift as a quotient and remainder over a common denominator. */
function scale(numerator: bigint, denominator: bigint, shift: number): { quotient: bigint; remainder: bigint; denominator: bigint } {
  const top = shift >= 0 ? numerator << BigInt(shift) : numerator;
  const bottom = shift >= 0 ? denominator : denominator << BigInt(-shift);
  return { quotient: top / bottom, remainder: top % bottom, denominator: bottom };
}

const ZERO_POSITIVE: Extended = { kind: 'finite', negative: false, significand: 0n, exponent: 0 };

function zero(negative: boolean): Extended {
  return negative ? { kind: 'finite', negative, significand: 0n, exponent: 0 } : ZERO_POSITIVE;
}

/**
 * Redis's string2ld: the value of `text` as strtold reads it, or null when Redis refuses it
 * (empty, leading space, trailing characters, NaN, overflow, or underflow to zero). The words
 * "inf" and "infinity" are accepted, as strtold accepts them.
 */
export function parseExtended(text: Uint8Array): Extended | null {
  if (text.length === 0 || text.length >= TEXT_CHARS_LIMIT) return null;
  // strtold would stop at a NUL byte; Redis refuses a number that does not use every byte.
  if (text.indexOf(0) !== -1) return null;
  const source = Buffer.from(text.buffer, text.byteOffset, text.length).toString('latin1');
  const infinite = INFINITY.exec(source);
  if (infinite) return { kind: 'infinite', negative: infinite[1] === '-' };
  const hex = HEX.exec(source);
  if (hex) return parseDigits(hex[1] === '-', hex[2] ?? '', hex[3] ?? '', hex[4], 16);
  const decimal = DECIMAL.exec(source);
  if (decimal) return parseDigits(decimal[1] === '-', decimal[2] ?? '', decimal[3] ?? '', decimal[4], 10);
  return null;
}

function parseDigits(
  negative: boolean,
  whole: string,
  fraction: string,
  exponentText: string | undefined,
  radix: 10 | 16,
): Extended | null {
  if (whole.length + fraction.length === 0) return null;
  const digits = (whole + fraction).replace(/^0+/, '');
  if (digits.length === 0) return zero(negative);
  const mantissa = BigInt(radix === 16 ? `0x${digits}` : digits);
  const exponent = exponentText === undefined ? 0 : Number(exponentText);
  if (radix === 16) {
    // Hex: the exponent counts binary digits; each fraction digit is 4 bits.
    const shift = exponent - 4 * fraction.length;
    if (shift + 4 * digits.length > MAGNITUDE_LIMIT_LOG2 + 4) return null;
    if (shift + 4 * digits.length < EXPONENT_MIN - 4) return null;
    return finiteOnly(round(negative, mantissa, 1n, shift));
  }
  const power = exponent - fraction.length;
  const magnitude = power + digits.length;
  if (magnitude > DECIMAL_MAGNITUDE_MAX || magnitude < DECIMAL_MAGNITUDE_MIN) return null;
  if (power >= 0) return finiteOnly(round(negative, mantissa * 10n ** BigInt(power), 1n, 0));
  return finiteOnly(round(negative, mantissa, 10n ** BigInt(-power), 0));
}

/** strtold's ERANGE cases that string2ld refuses: overflow to infinity, underflow to zero (null). */
function finiteOnly(value: Extended | null): Extended | null {
  return value === null || value.kind === 'infinite' ? null : value;
}

/** a + b rounded as the FPU rounds it; null for NaN (infinity minus infinity). */
export function addExtended(a: Extended, b: Extended): Extended | null {
  if (a.kind === 'infinite' || b.kind === 'infinite') {
    if (a.kind === 'infinite' && b.kind === 'infinite' && a.negative !== b.negative) return null;
    return a.kind === 'infinite' ? a : b;
  }
  if (a.significand === 0n && b.significand === 0n) return zero(a.negative && b.negative);
  if (a.significand === 0n) return b;
  if (b.significand === 0n) return a;
  const low = Math.min(a.exponent, b.exponent);
  const signedA = (a.negative ? -a.significand : a.significand) << BigInt(a.exponent - low);
  const signedB = (b.negative ? -b.significand : b.significand) << BigInt(b.exponent - low);
  const sum = signedA + signedB;
  if (sum === 0n) return ZERO_POSITIVE; // round-to-nearest gives +0 for x + (-x)
  const rounded = round(sum < 0n, sum < 0n ? -sum : sum, 1n, low);
  return rounded ?? zero(sum < 0n);
}

/** Redis's human-friendly long double text: "%.17Lf", trailing zeros and a bare '.' removed, "-0" as "0". */
export function formatExtended(value: Extended): string {
  if (value.kind === 'infinite') return value.negative ? '-inf' : 'inf';
  const FRACTION_DIGITS = 17;
  let text: string;
  if (value.exponent >= 0) {
    text = (value.significand << BigInt(value.exponent)).toString();
  } else {
    const denominator = 1n << BigInt(-value.exponent);
    const numerator = value.significand * 10n ** BigInt(FRACTION_DIGITS);
    let scaled = numerator / denominator;
    const twice = (numerator % denominator) * 2n;
    if (twice > denominator || (twice === denominator && (scaled & 1n) === 1n)) scaled++;
    const digits = scaled.toString().padStart(FRACTION_DIGITS + 1, '0');
    const whole = digits.slice(0, -FRACTION_DIGITS);
    const fraction = digits.slice(-FRACTION_DIGITS).replace(/0+$/, '');
    text = fraction.length === 0 ? whole : `${whole}.${fraction}`;
  }
  if (value.negative && text !== '0') return `-${text}`;
  return text;
}

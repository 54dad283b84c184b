// Redis's glob patterns (KEYS, SCAN MATCH): `*` any run of bytes, `?` one byte, `[abc]`, `[^abc]`,
// `[a-z]` (a reversed range is swapped) classes, and `\x` for a literal x. Bytes compare as C's
// signed char does on x86-64, so a range such as `[a-\xff]` behaves as it does in Redis. An
// unterminated class runs to the end of the pattern.

/** A pattern byte at `at`, as a signed char; past the end reads as C's NUL terminator. */
function at(bytes: Uint8Array, index: number): number {
  const value = index < bytes.length ? (bytes[index] as number) : 0;
  return value >= 0x80 ? value - 0x100 : value;
}

const STAR = 0x2a;
const QUESTION = 0x3f;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const BACKSLASH = 0x5c;
const CARET = 0x5e;
const DASH = 0x2d;

/** True when `subject` matches `pattern` (case-sensitive, as KEYS and SCAN use it). */
export function globMatch(pattern: Uint8Array, subject: Uint8Array): boolean {
  // A `*` that found no match for the rest of the pattern anywhere means no earlier `*` can
  // either: the flag stops the backtracking (it keeps patterns like "a*a*a*a*b" linear).
  const state = { giveUp: false };
  return matchFrom(pattern, 0, subject, 0, state);
}

function matchFrom(pattern: Uint8Array, p: number, subject: Uint8Array, s: number, state: { giveUp: boolean }): boolean {
  let patternLeft = pattern.length - p;
  let subjectLeft = subject.length - s;
  while (patternLeft > 0 && subjectLeft > 0) {
    const c = at(pattern, p);
    if (c === STAR) {
      while (patternLeft > 0 && at(pattern, p + 1) === STAR) {
        p++;
        patternLeft--;
      }
      if (patternLeft === 1) return true;
      while (subjectLeft > 0) {
        if (matchFrom(pattern, p + 1, subject, s, state)) return true;
        if (state.giveUp) return false;
        s++;
        subjectLeft--;
      }
      state.giveUp = true;
      return false;
    } else if (c === QUESTION) {
      s++;
      subjectLeft--;
    } else if (c === OPEN) {
      p++;
      patternLeft--;
      const negate = at(pattern, p) === CARET;
      if (negate) {
        p++;
        patternLeft--;
      }
      let matched = false;
      const target = at(subject, s);
      for (;;) {
        const here = at(pattern, p);
        if (here === BACKSLASH && patternLeft >= 2) {
          p++;
          patternLeft--;
          if (at(pattern, p) === target) matched = true;
        } else if (here === CLOSE) {
          break;
        } else if (patternLeft === 0) {
          p--;
          patternLeft++;
          break;
        } else if (patternLeft >= 3 && at(pattern, p + 1) === DASH) {
          let low = here;
          let high = at(pattern, p + 2);
          if (low > high) [low, high] = [high, low];
          p += 2;
          patternLeft -= 2;
          if (target >= low && target <= high) matched = true;
        } else if (here === target) {
          matched = true;
        }
        p++;
        patternLeft--;
      }
      if (negate) matched = !matched;
      if (!matched) return false;
      s++;
      subjectLeft--;
    } else {
      if (c === BACKSLASH && patternLeft >= 2) {
        p++;
        patternLeft--;
      }
      if (at(pattern, p) !== at(subject, s)) return false;
      s++;
      subjectLeft--;
    }
    p++;
    patternLeft--;
    if (subjectLeft === 0) {
      while (at(pattern, p) === STAR) {
        p++;
        patternLeft--;
      }
      break;
    }
  }
  return patternLeft === 0 && subjectLeft === 0;
}

// Hostile values: what a careless or malicious caller passes where an API expects something sane.
// Each arbitrary is a fast-check generator; a case picks the ones that fit an argument slot and
// usually mixes them with valid values, so the call reaches deep code with one bad argument.
import fc from 'fast-check';

/** Numbers that break naive conversions: NaN, ±Infinity, -0, fractions, negatives, and values
 * at and beyond 2^31, 2^32 and 2^53 that truncate or lose precision in C. */
export function hostileNumber(): fc.Arbitrary<number> {
  return fc.oneof(
    fc.constantFrom(
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      -0,
      -1,
      0.5,
      -0.5,
      1.5,
      2 ** 31 - 1,
      2 ** 31,
      2 ** 32 - 1,
      2 ** 32,
      2 ** 32 + 1,
      2 ** 53 - 1,
      2 ** 53,
      2 ** 53 + 2,
      2 ** 63,
      2 ** 64,
      -(2 ** 31),
      -(2 ** 53),
      Number.MAX_VALUE,
      Number.MIN_VALUE,
    ),
    fc.double(),
    fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
  );
}

/** BigInts around the 64-bit edges. */
export function hostileBigInt(): fc.Arbitrary<bigint> {
  return fc.oneof(
    fc.constantFrom(-1n, 0n, 2n ** 31n, 2n ** 32n + 1n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 64n, -(2n ** 63n) - 1n),
    fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
  );
}

/** Marks errors thrown by a hostile value's own traps: the caller's own error may pass through. */
export const TRAP_ERROR = Symbol.for('@dbos/hostile:trap-error');

function trapError(message: string): Error {
  return Object.assign(new Error(message), { [TRAP_ERROR]: true });
}

/** An object whose conversion to a primitive or whose property reads throw or lie. */
function trapObjects(): fc.Arbitrary<unknown> {
  return fc
    .constantFrom<() => unknown>(
      () => ({
        valueOf() {
          throw trapError('valueOf trap');
        },
      }),
      () => ({ [Symbol.toPrimitive]: () => 2 ** 32 + 1 }),
      () =>
        new Proxy(
          {},
          {
            get() {
              throw trapError('proxy get trap');
            },
          },
        ),
      () =>
        Object.defineProperty({}, 'length', {
          get() {
            throw trapError('length getter trap');
          },
        }),
      () => ({ length: 2 ** 32 + 1 }),
      () => ({ byteLength: 2 ** 53 }),
      () => Object.create(null),
      // biome-ignore lint/suspicious/noThenProperty: a thenable where a plain value is expected is the point
      () => ({ then: (resolve: (v: unknown) => void) => resolve(1) }),
    )
    .map((make) => make());
}

/** Any hostile value of any type: primitives of every kind, trap objects, functions, symbols. */
export function hostileValue(): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.constantFrom(undefined, null, true, false, '', '0', '-1', '4096', 'NaN', Symbol('hostile'), () => 0, [], {}, new Date(0)),
    hostileNumber(),
    hostileBigInt(),
    fc.string({ maxLength: 16 }),
    fc.constant('x'.repeat(1 << 16)),
    trapObjects(),
    hostileBuffer(),
  );
}

/** How a buffer can be made hostile after it was made. */
export type BufferState = 'plain' | 'detached' | 'transferred' | 'resizable' | 'shrunk' | 'shared' | 'empty' | 'offset-view';

/** Give a hostile value a name fast-check prints (its own printing may throw on detached views). */
function named<T extends object>(value: T, name: string): T {
  Object.defineProperty(value, fc.toStringMethod, { value: () => name, configurable: true });
  return value;
}

/** A byte view in one of the hostile states, `size` bytes before the damage. */
export function makeBuffer(state: BufferState, size: number): Uint8Array {
  return named(makeBufferUnnamed(state, size), `Uint8Array(${state}, ${size})`);
}

function makeBufferUnnamed(state: BufferState, size: number): Uint8Array {
  switch (state) {
    case 'plain':
      return new Uint8Array(size);
    case 'empty':
      return new Uint8Array(0);
    case 'offset-view':
      return new Uint8Array(new ArrayBuffer(size + 7), 7, size);
    case 'shared':
      return new Uint8Array(new SharedArrayBuffer(size));
    case 'detached': {
      const view = new Uint8Array(size);
      structuredClone(view.buffer, { transfer: [view.buffer] });
      return view;
    }
    case 'transferred': {
      const view = new Uint8Array(size);
      const transfer = (view.buffer as ArrayBuffer & { transfer?: () => ArrayBuffer }).transfer;
      if (transfer) transfer.call(view.buffer);
      else structuredClone(view.buffer, { transfer: [view.buffer] });
      return view;
    }
    case 'resizable':
    case 'shrunk': {
      const Resizable = ArrayBuffer as unknown as new (
        length: number,
        options: { maxByteLength: number },
      ) => ArrayBuffer & { resize?: (n: number) => void };
      const backing = new Resizable(size, { maxByteLength: size * 2 + 4096 });
      const view = new Uint8Array(backing);
      if (state === 'shrunk' && backing.resize) backing.resize(Math.floor(size / 3));
      return view;
    }
  }
}

/** Byte views in every hostile state (and other typed arrays and DataViews over them). */
export function hostileBuffer(size = 4096): fc.Arbitrary<ArrayBufferView> {
  const states: BufferState[] = ['plain', 'detached', 'transferred', 'resizable', 'shrunk', 'shared', 'empty', 'offset-view'];
  return fc.tuple(fc.constantFrom(...states), fc.constantFrom('u8', 'f64', 'dataview', 'u32-misaligned')).map(([state, kind]) => {
    const bytes = makeBuffer(state, size);
    if (kind === 'u8') return bytes;
    return named(otherView(bytes, kind), `${kind}(${state}, ${size})`);
  });
}

/** Another kind of view over the same bytes (a detached buffer has no other view: keep the bytes). */
function otherView(bytes: Uint8Array, kind: string): ArrayBufferView {
  if (bytes.byteLength === 0 && bytes.buffer.byteLength === 0) return bytes;
  try {
    if (kind === 'f64') return new Float64Array(bytes.buffer, bytes.byteOffset - (bytes.byteOffset % 8), Math.floor(bytes.byteLength / 8));
    if (kind === 'dataview') return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return new Uint8Array(bytes.buffer, bytes.byteOffset + 1, Math.max(0, bytes.byteLength - 1));
  } catch {
    return bytes;
  }
}

/** Mostly `valid`, sometimes any hostile value: one bad slot at a time reaches deep code. */
export function mostly<T>(valid: fc.Arbitrary<T>, weight = 3): fc.Arbitrary<T | unknown> {
  return fc.oneof({ arbitrary: valid, weight }, { arbitrary: hostileValue(), weight: 1 });
}

/** A plausible size or offset: small, page-sized, page multiples, or hostile numbers. */
export function sizeLike(): fc.Arbitrary<number> {
  return fc.oneof(
    { arbitrary: fc.constantFrom(0, 1, 7, 8, 4095, 4096, 4097, 8192, 65536, 2 ** 20, 2 ** 30, 2 ** 40), weight: 3 },
    { arbitrary: fc.integer({ min: 0, max: 1 << 20 }), weight: 2 },
    { arbitrary: hostileNumber(), weight: 2 },
  );
}

/** Options objects with hostile field values for the given keys (and unknown keys). */
export function hostileOptions(keys: readonly string[]): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.constantFrom(undefined, null, 0, 'options', []),
    fc.dictionary(fc.constantFrom(...keys, 'unknownKey', '__proto__'), hostileValue(), { maxKeys: Math.max(1, keys.length) }),
  );
}

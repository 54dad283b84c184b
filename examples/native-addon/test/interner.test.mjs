// The addon through its JavaScript API: values round trip, bad arguments and a closed interner
// give coded errors, and the pool's limit bounds the memory with DBOS_ENOMEM, nothing added.
import { expect, test } from 'vitest';
import { Interner, LENGTH_MAX } from '../index.js';

test('strings and bytes get dense ids that map back', () => {
  const interner = new Interner({ limitBytes: 4 << 20 });
  expect(interner.intern('apple')).toBe(0);
  expect(interner.intern('pear')).toBe(1);
  expect(interner.intern('apple')).toBe(0);
  expect(interner.intern('grüße ✓')).toBe(2);
  expect(interner.intern(new Uint8Array([0, 255, 0]))).toBe(3);
  expect(interner.find('pear')).toBe(1);
  expect(interner.find('plum')).toBeUndefined();
  expect(interner.string(2)).toBe('grüße ✓');
  expect([...(interner.bytes(3) ?? [])]).toEqual([0, 255, 0]);
  expect(interner.bytes(4)).toBeUndefined();
  expect(interner.size).toBe(4);
  expect(interner.stats().bytesInUse).toBeGreaterThan(0);
  interner.close();
  interner.close();
});

test('bad arguments are TypeErrors with DBOS_EINVAL; a closed interner says DBOS_ECLOSED', () => {
  const interner = new Interner({ limitBytes: 4 << 20 });
  for (const bad of [undefined, null, 42, {}, [1, 2]]) {
    expect(() => interner.intern(bad)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'DBOS_EINVAL' }));
  }
  expect(() => interner.string(-1)).toThrow(expect.objectContaining({ code: 'DBOS_EINVAL' }));
  expect(() => interner.intern(new Uint8Array(LENGTH_MAX + 1))).toThrow(expect.objectContaining({ code: 'DBOS_EINVAL' }));
  expect(() => new Interner({ limitBytes: -1 })).toThrow(expect.objectContaining({ code: 'DBOS_EINVAL' }));
  expect(() => new Interner({ limitBytes: 4096 })).toThrow(expect.objectContaining({ code: 'DBOS_EINVAL' }));
  interner.close();
  expect(() => interner.intern('x')).toThrow(expect.objectContaining({ code: 'DBOS_ECLOSED' }));
  expect(() => interner.size).toThrow(expect.objectContaining({ code: 'DBOS_ECLOSED' }));
});

test("the pool's limit bounds the interner: DBOS_ENOMEM, and nothing is lost", () => {
  const interner = new Interner({ limitBytes: 2 << 20 });
  const value = (i) => `${String(i).padStart(8, '0')}${'v'.repeat(4000)}`;
  let count = 0;
  let failure;
  for (; count < 10_000; count++) {
    try {
      interner.intern(value(count));
    } catch (error) {
      failure = error;
      break;
    }
  }
  expect(failure).toMatchObject({ code: 'DBOS_ENOMEM' });
  expect(interner.size).toBe(count);
  expect(interner.find(value(0))).toBe(0);
  expect(interner.string(count - 1)).toBe(value(count - 1));
  expect(interner.stats().residentBytes).toBeLessThanOrEqual(2 << 20);
  interner.close();
});

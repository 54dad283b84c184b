// Every public function of @dbos/platform under hostile arguments.
import fc from 'fast-check';
import { call, hostileNumber, hostileValue, mostly, type CaseTable } from '@dbos/hostile';
import { errnoName } from '../../src/errno.js';
import { callNative, fromNative, hasCode, rangeError, registerNativeError, settleNative, typeError } from '../../src/errors.js';
import { loadAddon } from '../../src/load-addon.js';
import { CAPABILITIES, registerMechanism } from '../../src/mechanisms.js';
import { probe } from '../../src/probe.js';

const capability = mostly(fc.constantFrom(...CAPABILITIES));

export default {
  probe: call([hostileValue()], (_t, options) => probe(options as never)),
  'probe({ refresh })': call([hostileValue()], (_t, refresh) => probe({ refresh } as never)),
  errnoName: call([fc.oneof(hostileNumber(), hostileValue())], (_t, errno) => errnoName(errno as never)),
  registerMechanism: call(
    [
      capability,
      fc.oneof(
        hostileValue(),
        fc.constant(() => ({ host: 'h', guest: 'g' })),
      ),
    ],
    (_t, name, report) => {
      registerMechanism(name as never, report as never);
      return probe();
    },
  ),
  'registerMechanism with a report that throws or lies': call(
    [
      capability,
      fc.constantFrom(
        () => {
          throw new Error('report failed');
        },
        () => null,
        () => ({ host: 1, guest: {} }),
        () => 'text',
      ),
    ],
    (_t, name, report) => {
      registerMechanism(name as never, report as never);
      return probe();
    },
  ),
  registerNativeError: call([hostileValue(), hostileValue()], (_t, code, upgrade) => registerNativeError(code as never, upgrade as never)),
  fromNative: call([hostileValue(), hostileValue()], (_t, error, context) => {
    const converted = fromNative(error, context as never);
    if (converted instanceof Error && !hasCode(converted, (converted as { code?: string }).code ?? '')) return;
  }),
  callNative: call([hostileValue(), hostileValue()], (_t, fn, context) => callNative(fn as never, context as never)),
  settleNative: call([hostileValue(), hostileValue()], (_t, promise, context) => settleNative(promise as never, context as never)),
  'typeError / rangeError': call([hostileValue(), hostileValue()], (_t, message, code) => [
    typeError(message as never, code as never),
    rangeError(message as never, code as never),
  ]),
  hasCode: call([hostileValue(), hostileValue()], (_t, error, code) => hasCode(error, code as never)),
  loadAddon: call([hostileValue()], (_t, url) => loadAddon(url as never)),
} satisfies CaseTable;

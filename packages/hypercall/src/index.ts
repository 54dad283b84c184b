// @dbos/hypercall: the boundary to the host kernel.
export { DbosError, STATUS_CODES, hasCode, rangeError, typeError } from './errors.js';
export type { DbosStatusCode } from './errors.js';
export { loadAddon } from './load-addon.js';

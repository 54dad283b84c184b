// @dbos/alloc
export { addon as nativeAddon } from './native.js';

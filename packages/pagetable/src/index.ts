// @dbos/pagetable
export { addon as nativeAddon } from './native.js';

// @dbos/snapshot
export { addon as nativeAddon } from './native.js';

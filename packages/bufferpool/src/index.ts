// @dbos/bufferpool: a virtual-memory-assisted buffer manager over one page file.
import './mechanism.js';

export type { BufferPoolOptions } from './options.js';
export { Page } from './page.js';
export type { FixMode, UnfixOptions } from './page.js';
export type { PageId, PageIdList } from './page-id.js';
export { BufferPool } from './pool.js';
export type { BufferPoolStats } from './pool.js';

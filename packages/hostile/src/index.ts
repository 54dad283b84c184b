// @dbos/hostile: the hostile-call harness shared by every package's tests.
export { call, describeError, isCodedError, scenario } from './cases.js';
export type { CallCase, CaseTable, HostileCase, ScenarioCase } from './cases.js';
export { caseSeed, defineHostileSuite, hostileRuns, runHostileCase } from './suite.js';
export type { HostileSuiteOptions } from './suite.js';
export {
  TRAP_ERROR,
  hostileBigInt,
  hostileBuffer,
  hostileNumber,
  hostileOptions,
  hostileValue,
  makeBuffer,
  mostly,
  sizeLike,
} from './values.js';
export type { BufferState } from './values.js';

// @dbos/hostile: the hostile-call harness shared by every package's tests.
export { call, describeError, isCodedError, scenario } from './cases.ts';
export type { CallCase, CaseTable, HostileCase, ScenarioCase } from './cases.ts';
export { caseSeed, defineHostileSuite, hostileRuns, runHostileCase } from './suite.ts';
export type { HostileSuiteOptions } from './suite.ts';
export { hostileBigInt, hostileBuffer, hostileNumber, hostileOptions, hostileValue, makeBuffer, mostly, sizeLike } from './values.ts';
export type { BufferState } from './values.ts';

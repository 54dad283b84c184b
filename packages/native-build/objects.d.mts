/** One source's place in a compile plan: its cached object and the dependency list beside it. */
export interface ObjectPlanItem {
  source: string;
  object: string;
  deps: string;
  args: string[];
}
/** Where each source compiles to under `flags`, in `packageDir`/.ctest/obj-<flags hash>/. */
export function objectPlan(packageDir: string, sources: string[], flags: string[]): ObjectPlanItem[];
/** Whether the object is missing, or older than a file the compiler read for it. */
export function isStale(item: ObjectPlanItem): boolean;
/** Compile the stale items one at a time; returns every object path in plan order. */
export function compileObjectsSync(plan: ObjectPlanItem[]): string[];
/** Compile the stale items, one compiler per core; returns every object path in plan order. */
export function compileObjects(plan: ObjectPlanItem[]): Promise<string[]>;

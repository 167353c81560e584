import type { WriteCondition } from '../model.js';

/** Whether a record's current etag (undefined: no record) satisfies a write condition. */
export function conditionHolds(current: string | null | undefined, condition: WriteCondition | undefined): boolean {
  if (!condition) return true;
  const exists = current !== undefined;
  if (condition.ifMatch) {
    if (!exists) return false;
    if (!condition.ifMatch.includes('*') && (current === null || !condition.ifMatch.includes(current))) return false;
  }
  if (condition.ifNoneMatch && exists) {
    if (condition.ifNoneMatch.includes('*')) return false;
    if (current !== null && condition.ifNoneMatch.includes(current)) return false;
  }
  return true;
}

import { InvalidValueError } from '../../errors.js';

/** One parsed dataset item (always a JSON object). */
export type JsonObject = Record<string, unknown>;

/** A query parameter as it arrives: one string, a repeated parameter, or a flag already parsed. */
export type QueryValue = string | readonly string[] | boolean | undefined;

/** The item transformations of `GET /v2/datasets/{id}/items`, as raw query values. */
export interface ItemQuery {
  fields?: QueryValue;
  outputFields?: QueryValue;
  omit?: QueryValue;
  unwind?: QueryValue;
  flatten?: QueryValue;
  clean?: QueryValue;
  skipHidden?: QueryValue;
  skipEmpty?: QueryValue;
  simplified?: QueryValue;
  skipFailedPages?: QueryValue;
}

/** What a dataset read does to each stored item before it is written out. */
export interface ItemTransform {
  /** True when every item comes out unchanged: the stored texts can be sent as they are. */
  readonly identity: boolean;
  /** The output objects of one item: none (skipped), one, or more (unwound). */
  apply(item: JsonObject): JsonObject[];
}

/** The fields and unwinding `simplified=1` stands for (the legacy Apify Crawler's results). */
const SIMPLIFIED_FIELDS = ['url', 'pageFunctionResult', 'errorInfo'];
const SIMPLIFIED_UNWIND = ['pageFunctionResult'];

/**
 * Parses the transformation parameters. Lists are comma-separated (apify-client joins arrays with
 * commas); names are trimmed and empty names dropped. Flags are `1`/`true` (any case) or a boolean.
 * `simplified` replaces fields and unwind.
 *
 * Order of application, per item:
 * 1. skipFailedPages: an item with an `errorInfo` field is dropped.
 * 2. skipHidden (or clean): top-level fields starting with `#` are dropped.
 * 3. fields (renamed by outputFields), then omit.
 * 4. unwind, field by field in the order given.
 * 5. flatten.
 * 6. skipEmpty (or clean): outputs with no field left are dropped.
 * fields come before unwind because the docs define `simplified` as `fields=url,pageFunctionResult,
 * errorInfo` plus `unwind=pageFunctionResult`: with unwind first, fields would drop what it unwound.
 * skipEmpty comes last so that an item emptied by the other steps is skipped too.
 */
export function parseItemTransform(query: ItemQuery): ItemTransform {
  const simplified = flag(query.simplified);
  const clean = flag(query.clean);
  const fields = simplified ? SIMPLIFIED_FIELDS : list(query.fields);
  const outputFields = list(query.outputFields);
  if (outputFields.length > 0) {
    if (fields.length === 0) throw new InvalidValueError('The outputFields parameter requires the fields parameter.');
    if (outputFields.length !== fields.length)
      throw new InvalidValueError(
        `The outputFields parameter must list as many names as the fields parameter (${fields.length}), not ${outputFields.length}.`,
      );
  }
  const steps: Step[] = [];
  if (flag(query.skipFailedPages)) steps.push((item) => (Object.hasOwn(item, 'errorInfo') ? [] : [item]));
  if (clean || flag(query.skipHidden)) steps.push((item) => [withoutHidden(item)]);
  if (fields.length > 0) {
    const names = outputFields.length > 0 ? outputFields : fields;
    steps.push((item) => [pick(item, fields, names)]);
  }
  const omit = list(query.omit);
  if (omit.length > 0) steps.push((item) => [without(item, omit)]);
  for (const field of simplified ? SIMPLIFIED_UNWIND : list(query.unwind)) steps.push((item) => unwind(item, field));
  const flatten = list(query.flatten);
  if (flatten.length > 0) steps.push((item) => [flattenFields(item, flatten)]);
  if (clean || flag(query.skipEmpty)) steps.push((item) => (isEmpty(item) ? [] : [item]));
  return { identity: steps.length === 0, apply: (item) => run(steps, item) };
}

type Step = (item: JsonObject) => JsonObject[];

function run(steps: readonly Step[], item: JsonObject): JsonObject[] {
  let items = [item];
  for (const step of steps) items = items.length === 1 ? step(items[0]!) : items.flatMap(step);
  return items;
}

function flag(value: QueryValue): boolean {
  if (typeof value === 'boolean') return value;
  const text = typeof value === 'string' ? value : value?.at(-1);
  return text === '1' || text?.toLowerCase() === 'true';
}

function list(value: QueryValue): string[] {
  if (value === undefined || typeof value === 'boolean') return [];
  const text = typeof value === 'string' ? value : value.join(',');
  return text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isEmpty(item: JsonObject): boolean {
  for (const _ in item) return false;
  return true;
}

/** Sets a field, also one named `__proto__` (plain assignment would change the prototype). */
function put(target: JsonObject, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

function withoutHidden(item: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const key of Object.keys(item)) if (!key.startsWith('#')) put(out, key, item[key]);
  return out;
}

function pick(item: JsonObject, fields: readonly string[], names: readonly string[]): JsonObject {
  const out: JsonObject = {};
  fields.forEach((field, i) => {
    if (Object.hasOwn(item, field)) put(out, names[i]!, item[field]);
  });
  return out;
}

function without(item: JsonObject, omit: readonly string[]): JsonObject {
  const out: JsonObject = {};
  for (const key of Object.keys(item)) if (!omit.includes(key)) put(out, key, item[key]);
  return out;
}

/** The parent's other fields first, then the unwound object's (which win over the parent's). */
function merge(parent: JsonObject, field: string, child: JsonObject): JsonObject {
  const out = without(parent, [field]);
  for (const key of Object.keys(child)) put(out, key, child[key]);
  return out;
}

/**
 * An object is merged into its parent; an array gives one output per element (an object element
 * merged, any other element kept as the field's value), so an empty array gives none, as the docs
 * read ("every element of the array will become a separate record"). Anything else is kept as is.
 */
function unwind(item: JsonObject, field: string): JsonObject[] {
  if (!Object.hasOwn(item, field)) return [item];
  const value = item[field];
  if (isObject(value)) return [merge(item, field, value)];
  if (!Array.isArray(value)) return [item];
  return value.map((element) => {
    if (isObject(element)) return merge(item, field, element);
    const out = { ...item };
    put(out, field, element);
    return out;
  });
}

/**
 * Replaces each listed field holding an object by its leaves, named by their path joined with `.`,
 * where the field stood. Arrays and empty objects are leaves: nothing would be left of `{}`.
 */
function flattenFields(item: JsonObject, fields: readonly string[]): JsonObject {
  if (!fields.some((field) => Object.hasOwn(item, field) && isObject(item[field]))) return item;
  const out: JsonObject = {};
  for (const key of Object.keys(item)) {
    const value = item[key];
    if (fields.includes(key) && isObject(value)) addLeaves(out, key, value);
    else put(out, key, value);
  }
  return out;
}

function addLeaves(out: JsonObject, path: string, value: unknown): void {
  if (!isObject(value) || isEmpty(value)) {
    put(out, path, value);
    return;
  }
  for (const key of Object.keys(value)) addLeaves(out, `${path}.${key}`, value[key]);
}

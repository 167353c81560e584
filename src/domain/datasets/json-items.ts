import { InvalidValueError } from '../../errors.js';
import { MAX_JSON_DEPTH } from '../validation.js';

/** The items of one `POST /v2/datasets/{id}/items` body, each as the exact JSON text it had there. */
export interface SplitItems {
  /** One JSON object text per item, in body order, without the whitespace around it. */
  items: string[];
  /** How many items have at least one top-level field whose name does not start with `#`. */
  clean: number;
}

const BOM = 0xfeff;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/**
 * Splits a push body (one JSON object, or an array of JSON objects) into the raw texts of its items.
 * JSON.parse decides validity; a scanner then cuts each element out of the text, so that key order,
 * number spelling (`1.0`, `1e5`, big integers) and escapes read back exactly as pushed. Throws
 * InvalidValueError (400) for anything else, naming the first offending item.
 */
export function splitItems(text: string): SplitItems {
  const body = text.charCodeAt(0) === BOM ? text.slice(1) : text;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    throw new InvalidValueError(`The request body is not valid JSON: ${(err as Error).message}`);
  }
  if (Array.isArray(value)) {
    value.forEach((item, index) => {
      if (!isObject(item))
        throw new InvalidValueError(
          `Invalid item at index ${index}: a dataset item must be a JSON object, not ${describe(item)}.`,
        );
    });
    return { items: cutElements(body, true), clean: countClean(value as Record<string, unknown>[]) };
  }
  if (!isObject(value))
    throw new InvalidValueError(`The request body must be a JSON object or an array of JSON objects, not ${describe(value)}.`);
  cutElements(body, false);
  return { items: [body.trim()], clean: countClean([value]) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function countClean(items: Record<string, unknown>[]): number {
  let clean = 0;
  for (const item of items) {
    for (const key in item) {
      if (!key.startsWith('#')) {
        clean++;
        break;
      }
    }
  }
  return clean;
}

/**
 * Scans a valid JSON text (one object, or an array of objects) for nesting past MAX_JSON_DEPTH and,
 * in an array, cuts each element from its `{` at depth 2 to the matching `}`, so the whitespace and
 * commas between elements fall away.
 */
function cutElements(text: string, inArray: boolean): string[] {
  const items: string[] = [];
  const base = inArray ? 1 : 0;
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) i = stringEnd(text, i);
    else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      depth++;
      if (depth - base > MAX_JSON_DEPTH) throw tooDeep(items.length);
      if (inArray && depth === 2) start = i;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (inArray && depth === 2) items.push(text.slice(start, i + 1));
      depth--;
    }
  }
  return items;
}

// Deeper items could not be transformed or exported (XML, flatten) without running out of stack.
const tooDeep = (index: number): InvalidValueError =>
  new InvalidValueError(`Invalid item at index ${index}: JSON nested deeper than ${MAX_JSON_DEPTH} levels.`);

/** The index of the quote that closes the string opening at `open` (the text is valid JSON). */
function stringEnd(text: string, open: number): number {
  let from = open + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
    from = quote + 1;
  }
}

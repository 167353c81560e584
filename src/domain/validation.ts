import { GENERAL_ACCESS, type GeneralAccess } from '../model.js';

/** apify-shared KEY_VALUE_STORE_KEY_REGEX. */
export const RECORD_KEY_REGEX = /^[a-zA-Z0-9!\-_.'()]{1,256}$/;
/** DNS-safe store names, at most 63 characters. */
export const STORE_NAME_REGEX = /^([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
export const STORE_NAME_MAX = 63;
/** apify-shared APIFY_ID_REGEX. */
export const ID_REGEX = /^[a-zA-Z0-9]{17}$/;
/** Usernames follow the store-name rules (they appear in `username~name`). */
export const USERNAME_REGEX = STORE_NAME_REGEX;
export const TITLE_MAX = 1024;

export const STORE_NAME_RULE =
  "name can only contain letters 'a' through 'z', the digits '0' through '9', and the hyphen ('-') but only in the middle of the string (e.g. 'my-value-1'), at most 63 characters";

export function isValidRecordKey(key: string): boolean {
  return RECORD_KEY_REGEX.test(key);
}

export function isValidStoreName(name: string): boolean {
  return name.length <= STORE_NAME_MAX && STORE_NAME_REGEX.test(name);
}

export function isGeneralAccess(value: unknown): value is GeneralAccess {
  return typeof value === 'string' && (GENERAL_ACCESS as readonly string[]).includes(value);
}

/**
 * Text either driver stores faithfully: no NUL (PostgreSQL's `text` refuses it) and no unpaired
 * UTF-16 surrogate (UTF-8 cannot encode one: both drivers would store U+FFFD instead). A JSON
 * Schema pattern (Ajv compiles patterns with the `u` flag, where a lone surrogate is a code point).
 */
export const STORABLE_TEXT_PATTERN = '^[^\\u0000\\ud800-\\udfff]*$';
const STORABLE_TEXT = new RegExp(STORABLE_TEXT_PATTERN, 'u');
export const UNSTORABLE_TEXT_RULE =
  'it contains a NUL character or an unpaired UTF-16 surrogate, which no name, key or stored text can hold';

export function isStorableText(s: string): boolean {
  return STORABLE_TEXT.test(s);
}

/** JSON bodies nest at most this deep (serde_json's default): deeper values could not be written back out. */
export const MAX_JSON_DEPTH = 128;

/**
 * The first place in a parsed JSON body that would not read back as sent, as `where: why`, or
 * undefined: unstorable text in a string or a property name, a number out of range (`1e400`
 * parses as Infinity, written back as `null`), or nesting past `MAX_JSON_DEPTH`. Iterative: the
 * body may nest far deeper than the stack would allow.
 */
export function unstorableJson(body: unknown): string | undefined {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value: body, path: '', depth: 0 }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { value, path, depth } = item;
    const where = path === '' ? 'the body' : `"${path.length > 100 ? `${path.slice(0, 100)}…` : path}"`;
    if (typeof value === 'string') {
      if (!isStorableText(value)) return `${where}: ${UNSTORABLE_TEXT_RULE}`;
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) return `${where}: the number is out of range`;
    } else if (typeof value === 'object' && value !== null) {
      if (depth >= MAX_JSON_DEPTH) return `${where}: JSON nested deeper than ${MAX_JSON_DEPTH} levels`;
      const entries = Array.isArray(value) ? value.entries() : Object.entries(value);
      for (const [name, child] of entries) {
        const childPath = path === '' ? String(name) : `${path}.${String(name)}`;
        if (typeof name === 'string' && !isStorableText(name)) return `property name in ${where}: ${UNSTORABLE_TEXT_RULE}`;
        stack.push({ value: child, path: childPath, depth: depth + 1 });
      }
    }
  }
  return undefined;
}

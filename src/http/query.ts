/** JSON schemas of query parameters, and their conversion from strings. */
import { STORABLE_TEXT_PATTERN } from '../domain/validation.js';

/** A boolean flag: `1`/`0` (JS client) or `true`/`false` (Python client); empty means absent. */
export const boolParam = { type: 'string', pattern: '^(?:[01]|[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])?$' } as const;
/** A non-negative integer (any number of digits: values past the maximum are clamped). */
export const uintParam = { type: 'string', pattern: '^[0-9]*$', maxLength: 4096 } as const;
/** Any text a name or key could hold (400 `invalid-parameter` otherwise, the same on every driver). */
export const stringParam = { type: 'string', maxLength: 4096, pattern: STORABLE_TEXT_PATTERN } as const;

export function toBool(value: string | undefined, fallback = false): boolean {
  if (value === undefined || value === '') return fallback;
  return value === '1' || value.toLowerCase() === 'true';
}

/** Parses a validated integer parameter and clamps it into [min, max]. */
export function toInt(value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  return Math.min(Math.max(n, min), max);
}

/** A string parameter; empty counts as absent. */
export function toOptional(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/**
 * Whether a request's path (its URL without the query) ends in `/`. The router ignores a trailing
 * slash, so `…/records/k/` would otherwise reach the handler as the key `k`.
 */
export function pathEndsWithSlash(url: string): boolean {
  const query = url.indexOf('?');
  return url.charCodeAt((query === -1 ? url.length : query) - 1) === 0x2f;
}

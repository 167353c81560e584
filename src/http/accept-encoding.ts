import type { ContentEncoding } from '../storage/driver.js';

/**
 * Whether an `Accept-Encoding` header allows `encoding` (RFC 9110 §12.5.3, with q-values and `*`).
 * A request without the header gets identity: a compressed record is decoded for it.
 */
export function acceptsEncoding(header: string | undefined, encoding: ContentEncoding): boolean {
  if (!header) return false;
  let wildcard: number | undefined;
  for (const part of header.split(',')) {
    const [rawName, ...params] = part.split(';');
    const name = rawName?.trim().toLowerCase();
    if (!name) continue;
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p);
      if (m) q = Number(m[1]);
    }
    if (name === encoding || (encoding === 'gzip' && name === 'x-gzip')) return q > 0;
    if (name === '*') wildcard = q;
  }
  return wildcard !== undefined && wildcard > 0;
}

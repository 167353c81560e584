import type { IncomingHttpHeaders } from 'node:http';
import Negotiator from 'negotiator';
import type { ContentEncoding } from '../model.js';

/**
 * Whether a request's `Accept-Encoding` allows `encoding` (RFC 9110 §12.5.3, with q-values and `*`).
 * A request without the header gets identity: a compressed record is decoded for it.
 */
export function acceptsEncoding(headers: IncomingHttpHeaders, encoding: ContentEncoding): boolean {
  return new Negotiator({ headers }).encodings([encoding]).length > 0;
}

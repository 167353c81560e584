import { Transform } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import rangeParser from 'range-parser';
import type { RecordMeta, WriteCondition } from '../model.js';

/** Suffix of the ETag of a compressed record served decoded: another representation, another tag. */
const DECODED_SUFFIX = '-identity';

/** The strong ETag of a record as it will be served; undefined for records stored without a hash. */
export function recordEtag(meta: RecordMeta, asStored: boolean): string | undefined {
  if (meta.etag === null) return undefined;
  return `"${meta.etag}${asStored || meta.contentEncoding === null ? '' : DECODED_SUFFIX}"`;
}

interface EntityTag {
  weak: boolean;
  opaque: string;
}

/** Parses an `If-Match` / `If-None-Match` value: `*` or a list of entity tags. */
function parseTags(header: string): EntityTag[] | '*' {
  if (header.trim() === '*') return '*';
  const tags: EntityTag[] = [];
  for (const m of header.matchAll(/(W\/)?"([^"]*)"/g)) tags.push({ weak: m[1] !== undefined, opaque: m[2] ?? '' });
  return tags;
}

/**
 * The precondition of a conditional write. `If-Match` compares strongly (weak tags never match);
 * either representation's tag names the record.
 */
export function writeCondition(req: FastifyRequest): WriteCondition | undefined {
  const ifMatch = req.headers['if-match'];
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifMatch === undefined && ifNoneMatch === undefined) return undefined;
  const condition: WriteCondition = {};
  const base = (t: EntityTag) => (t.opaque.endsWith(DECODED_SUFFIX) ? t.opaque.slice(0, -DECODED_SUFFIX.length) : t.opaque);
  if (ifMatch !== undefined) {
    const tags = parseTags(ifMatch);
    condition.ifMatch = tags === '*' ? ['*'] : tags.filter((t) => !t.weak).map(base);
  }
  if (ifNoneMatch !== undefined) {
    const tags = parseTags(ifNoneMatch);
    condition.ifNoneMatch = tags === '*' ? ['*'] : tags.map(base);
  }
  return condition;
}

/** Whether a GET or HEAD may answer 304: `If-None-Match` (weak comparison) or else `If-Modified-Since`. */
export function isNotModified(req: FastifyRequest, etag: string | undefined, modifiedAt: number): boolean {
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    const tags = parseTags(ifNoneMatch);
    if (tags === '*') return true;
    const current = etag?.slice(1, -1);
    return current !== undefined && tags.some((t) => t.opaque === current);
  }
  const since = req.headers['if-modified-since'];
  if (since === undefined) return false;
  const date = Date.parse(since);
  return !Number.isNaN(date) && Math.floor(modifiedAt / 1000) * 1000 <= date;
}

export type RangeRequest = { start: number; end: number } | 'unsatisfiable' | undefined;

/**
 * One byte range of a representation of `size` bytes (RFC 9110 §14). Several ranges, other units
 * or a syntax error mean the whole representation is served; `If-Range` that does not match too.
 */
export function parseRange(req: FastifyRequest, size: number, etag: string | undefined): RangeRequest {
  const header = req.headers.range;
  if (header === undefined || !header.startsWith('bytes=') || header.includes(',')) return undefined;
  const ifRange = req.headers['if-range'];
  if (ifRange !== undefined && (etag === undefined || String(ifRange).trim() !== etag)) return undefined;
  const ranges = rangeParser(size, header);
  if (ranges === -2) return undefined;
  if (ranges !== -1) return ranges[0];
  // range-parser 1.x also says -1 for a reversed range, which RFC 9110 §14.1.1 makes invalid
  // (ignored), and for a suffix longer than the representation, which §14.1.3 makes all of it.
  const [first = '', last = ''] = header
    .slice('bytes='.length)
    .split('-')
    .map((s) => s.trim());
  if (first !== '' && last !== '' && Number(last) < Number(first)) return undefined;
  if (first === '' && Number(last) > 0 && size > 0) return { start: 0, end: size - 1 };
  return 'unsatisfiable';
}

/** Passes on bytes `start..end` (inclusive) of a stream and discards the rest. */
export function sliceStream(start: number, end: number): Transform {
  let offset = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      const from = Math.max(start - offset, 0);
      const to = Math.min(end + 1 - offset, chunk.length);
      offset += chunk.length;
      if (to > from) this.push(chunk.subarray(from, to));
      done();
    },
  });
}

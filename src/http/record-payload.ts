import { pipeline, Readable } from 'node:stream';
import type { StoredRecord } from '../storage/driver.js';
import { createDecoder } from './body.js';

/** A media type Fastify keeps as set; it replaces others on Buffer payloads, but never on streams. */
const PLAIN_MEDIA_TYPE = /^[\w!#$%&'*+.^`|~-]+\/[\w!#$%&'*+.^`|~-]+(\s*;.*)?$/;

/** A record's bytes for a response: as stored, or decoded when `asStored` is false. */
export function recordPayload(record: StoredRecord, asStored: boolean): Buffer | Readable {
  const { value, contentEncoding } = record;
  if (asStored || contentEncoding === null) {
    if (value.kind === 'stream') return value.stream;
    return PLAIN_MEDIA_TYPE.test(record.contentType) ? value.data : Readable.from([value.data]);
  }
  const source = value.kind === 'buffer' ? Readable.from([value.data]) : value.stream;
  return pipeline(source, createDecoder(contentEncoding), () => undefined);
}

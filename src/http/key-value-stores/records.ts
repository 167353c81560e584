import { pipeline, type Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseStoreRef } from '../../domain/access.js';
import type { Kvs } from '../../domain/index.js';
import type { RecordUpload } from '../../domain/key-value-stores/records.js';
import { isValidRecordKey } from '../../domain/validation.js';
import { InvalidContentTypeError, InvalidRecordKeyError, RangeNotSatisfiableError, RecordTooLargeError } from '../../errors.js';
import type { RecordMeta } from '../../model.js';
import type { StoredRecord } from '../../storage/driver.js';
import { acceptsEncoding } from '../accept-encoding.js';
import { declaredDigests, declaredLength, parseContentEncoding, recordBody } from '../body.js';
import { requestToken } from '../caller.js';
import { isNotModified, parseRange, recordEtag, sliceStream, writeCondition } from '../conditional.js';
import { declaredContentType } from '../content-type.js';
import { pathEndsWithSlash, toBool, toOptional } from '../query.js';
import { recordPayload } from '../record-payload.js';
import { sendPositional } from '../send-positional.js';
import { deleteRecordSchema, getRecordSchema, headRecordSchema, putRecordSchema } from './record-schemas.js';

const RECORD_PATH = '/v2/key-value-stores/:storeId/records/*';
const MAX_CONTENT_TYPE_LENGTH = 1024;
const HEADER_TEXT = /^[\t\x20-\x7e\x80-\xff]*$/;

type RecordRequest = FastifyRequest<{
  Params: { storeId: string; '*': string };
  Querystring: { attachment?: string; signature?: string; disableRedirect?: string };
}>;

/**
 * The key is checked before anything else: an invalid key is 400 whatever else is wrong. `.` and
 * `..` match the key pattern but no URL can carry them: clients remove them as dot segments (even
 * percent-encoded), so a record under either could never be read, changed or deleted again.
 * A callback hook, not an async one: no promise and no extra microtask on every record request.
 */
function checkKey(req: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void {
  const key = (req.params as { '*': string })['*'];
  // `…/records/k/` names the key `k/` (a "/" is no key character), not `k`.
  if (pathEndsWithSlash(req.url)) done(new InvalidRecordKeyError());
  else if (key === '.' || key === '..')
    done(new InvalidRecordKeyError(`Record key "${key}" cannot be used: URLs remove "." and ".." path segments.`));
  else if (!isValidRecordKey(key)) done(new InvalidRecordKeyError());
  else done();
}

/** How a record is answered: as stored or decoded, whole, a byte range, or not at all (304). */
interface RecordAnswer {
  asStored: boolean;
  notModified: boolean;
  range?: { start: number; end: number };
}

/** A record version as served one way (as stored, or decoded): its tag, size and fixed headers. */
interface ServedForm {
  etag: string | undefined;
  size: number;
  headers: Record<string, string | number>;
}

/**
 * The fixed headers of a record version, built on its first answer and kept with it (the storage
 * hands out the same metadata object until the record changes, so a hot record builds them once).
 */
const servedForms = new WeakMap<RecordMeta, { stored?: ServedForm; decoded?: ServedForm }>();

function servedForm(meta: RecordMeta, asStored: boolean): ServedForm {
  let forms = servedForms.get(meta);
  if (!forms) {
    forms = {};
    servedForms.set(meta, forms);
  }
  const cached = asStored ? forms.stored : forms.decoded;
  if (cached) return cached;
  const etag = recordEtag(meta, asStored);
  const headers: Record<string, string | number> = { 'content-type': meta.contentType };
  if (meta.contentEncoding !== null) {
    headers.vary = 'Accept-Encoding';
    if (asStored) headers['content-encoding'] = meta.contentEncoding;
  }
  if (etag) headers.etag = etag;
  headers['last-modified'] = new Date(meta.modifiedAt).toUTCString();
  headers['accept-ranges'] = 'bytes';
  headers['x-content-type-options'] = 'nosniff';
  // Records are never modified; a sandbox keeps stored HTML from running with this origin's rights.
  headers['content-security-policy'] = 'sandbox';
  const form = { etag, size: asStored ? meta.size : meta.decodedSize, headers };
  if (asStored) forms.stored = form;
  else forms.decoded = form;
  return form;
}

/**
 * Sets the headers of a record response (GET and HEAD alike) and decides its form: the stored
 * bytes when the client accepts their encoding, else decoded; 304 on a matching precondition;
 * 206 for one satisfiable byte range (of the bytes as served), 416 for an unsatisfiable one.
 */
function answerRecord(
  req: FastifyRequest,
  reply: FastifyReply,
  meta: RecordMeta,
  attachment: boolean,
  ranged: boolean,
): RecordAnswer {
  const encoding = meta.contentEncoding;
  const asStored = encoding === null || acceptsEncoding(req.headers, encoding);
  const { etag, size, headers } = servedForm(meta, asStored);
  const notModified = isNotModified(req, etag, meta.modifiedAt);
  // Range applies to GET only (RFC 9110 §14.2); a 416 is decided before any header of the record is set.
  const range = notModified || !ranged ? undefined : parseRange(req, size, etag);
  if (range === 'unsatisfiable') throw new RangeNotSatisfiableError(size);
  reply.headers(headers);
  if (attachment) reply.header('content-disposition', `attachment; filename="${meta.key}"`);
  if (notModified) {
    reply.code(304);
    return { asStored, notModified: true };
  }
  if (range) {
    reply.code(206);
    reply.header('content-range', `bytes ${range.start}-${range.end}/${size}`);
    reply.header('content-length', range.end - range.start + 1);
    return { asStored, notModified: false, range };
  }
  reply.header('content-length', size);
  return { asStored, notModified: false };
}

/** The body of a GET answer, or nothing (and the stored stream released) for a 304. */
function answerBody(record: StoredRecord, answer: RecordAnswer): Buffer | Readable | undefined {
  if (answer.notModified) {
    if (record.value.kind === 'stream') record.value.stream.destroy();
    return undefined;
  }
  const payload = recordPayload(record, answer.asStored);
  const range = answer.range;
  if (!range) return payload;
  if (Buffer.isBuffer(payload)) return payload.subarray(range.start, range.end + 1);
  return pipeline(payload, sliceStream(range.start, range.end), () => undefined);
}

/** The upload a PUT carries, once its headers are checked; the body is read as the upload is stored. */
function recordUpload(req: RecordRequest, length: number | undefined, maxRecordBytes: number): RecordUpload {
  const encoding = parseContentEncoding(req.headers['content-encoding']);
  const contentType = declaredContentType(req.raw) || 'application/octet-stream';
  if (contentType.length > MAX_CONTENT_TYPE_LENGTH) {
    throw new InvalidContentTypeError(`The Content-Type header is longer than ${MAX_CONTENT_TYPE_LENGTH} characters.`);
  }
  // What Node would refuse to send back in a header (in-process callers bypass its parser's check).
  if (!HEADER_TEXT.test(contentType)) throw new InvalidContentTypeError('The Content-Type header holds control characters.');
  const digests = declaredDigests(req.raw);
  if (length !== undefined && length > maxRecordBytes) throw new RecordTooLargeError(maxRecordBytes, length);
  const { body, decodedSize, etag } = recordBody(req.raw, encoding, maxRecordBytes, digests);
  return {
    contentType,
    contentEncoding: encoding,
    body,
    sizeHint: length,
    decodedSize,
    etag,
    condition: writeCondition(req),
  };
}

/** `/v2/key-value-stores/{storeId}/records/{recordKey}`: GET, HEAD, PUT, POST, DELETE. */
export function recordRoutes(app: FastifyInstance, kvs: Kvs, publicUrl: () => string, maxRecordBytes: number): void {
  /** Answers a GET with the record: a callback, not an async handler, so a record held in memory is answered without a promise. */
  function sendRecord(req: RecordRequest, reply: FastifyReply, record: StoredRecord): FastifyReply | Promise<FastifyReply> {
    let answer: RecordAnswer;
    try {
      answer = answerRecord(req, reply, record, toBool(req.query.attachment), true);
    } catch (err) {
      if (record.value.kind === 'stream') record.value.stream.destroy();
      throw err;
    }
    const body = answerBody(record, answer);
    const value = record.value;
    // The stored stream itself (whole, as stored) of a value readable in place: read into reused
    // buffers instead (send-positional.ts).
    if (value.kind === 'stream' && value.positional && body === value.stream) {
      return sendPositional(reply, { stream: value.stream, positional: value.positional }, record.size).then(() => reply);
    }
    return reply.send(body);
  }

  app.get(RECORD_PATH, { schema: getRecordSchema, exposeHeadRoute: false, preValidation: checkKey }, (request, reply) => {
    const req = request as RecordRequest;
    const found = kvs.records.get(
      requestToken(req),
      parseStoreRef(req.params.storeId, 'kvs'),
      req.params['*'],
      toOptional(req.query.signature),
    );
    if (found instanceof Promise) return found.then((record) => sendRecord(req, reply, record));
    const sent = sendRecord(req, reply, found);
    // Sent already: nothing for Fastify to send.
    return sent instanceof Promise ? sent : undefined;
  });

  const head = { schema: headRecordSchema, preValidation: checkKey, config: { swagger: { exposeHeadRoute: true } } };
  app.head(RECORD_PATH, head, (request, reply) => {
    const req = request as RecordRequest;
    const send = (meta: RecordMeta) => {
      answerRecord(req, reply, meta, toBool(req.query.attachment), false);
      return reply.send();
    };
    const found = kvs.records.head(
      requestToken(req),
      parseStoreRef(req.params.storeId, 'kvs'),
      req.params['*'],
      toOptional(req.query.signature),
    );
    if (found instanceof Promise) return found.then(send);
    send(found);
    return undefined;
  });

  const put = async (request: FastifyRequest, reply: FastifyReply) => {
    const req = request as RecordRequest;
    const key = req.params['*'];
    const token = requestToken(req);
    const ref = parseStoreRef(req.params.storeId, 'kvs');
    const length = declaredLength(req.raw);
    // Who may write is settled before anything about the body: refusals cost nothing. But a small
    // body (declared, not compressed) is read first and its check travels with the write: one
    // round trip to the storage instead of two, with the same answers in the same order.
    const smallMax = Math.min(maxRecordBytes, kvs.records.smallPutMaxBytes);
    const small = smallMax > 0 && length !== undefined && length <= smallMax && req.headers['content-encoding'] === undefined;
    const store = small ? undefined : await kvs.records.storeForWrite(token, ref);
    let upload: RecordUpload;
    try {
      upload = recordUpload(req, length, maxRecordBytes);
    } catch (err) {
      // A refusal comes first, as when the lookup goes before.
      if (small) await kvs.records.storeForWrite(token, ref);
      throw err;
    }
    let storeId: string;
    if (store) {
      await kvs.records.put(store, key, upload);
      storeId = store.id;
    } else storeId = (await kvs.records.putSmall(token, ref, key, upload)).id;
    reply.code(201).header('location', `${publicUrl()}/v2/key-value-stores/${storeId}/records/${key}`);
    reply.header('etag', `"${upload.etag()}"`);
    return reply.send({});
  };
  app.put(RECORD_PATH, { schema: putRecordSchema('put'), preValidation: checkKey }, put);
  app.post(RECORD_PATH, { schema: putRecordSchema('post'), preValidation: checkKey }, put);

  app.delete(RECORD_PATH, { schema: deleteRecordSchema, preValidation: checkKey }, async (request, reply) => {
    const req = request as RecordRequest;
    await kvs.records.delete(requestToken(req), parseStoreRef(req.params.storeId, 'kvs'), req.params['*'], writeCondition(req));
    return reply.code(204).send();
  });
}

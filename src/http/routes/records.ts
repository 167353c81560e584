import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseStoreRef } from '../../domain/access.js';
import type { Kvs } from '../../domain/index.js';
import { isValidRecordKey } from '../../domain/validation.js';
import { InvalidContentTypeError, InvalidRecordKeyError, RecordTooLargeError, TokenNotProvidedError } from '../../errors.js';
import type { RecordMeta } from '../../storage/driver.js';
import { acceptsEncoding } from '../accept-encoding.js';
import { declaredLength, parseContentEncoding, recordBody } from '../body.js';
import { resolveCaller } from '../caller.js';
import { declaredContentType } from '../content-type.js';
import { boolParam, stringParam, toBool, toOptional } from '../query.js';
import { recordPayload } from '../record-payload.js';

const RECORD_PATH = '/v2/key-value-stores/:storeId/records/*';
const MAX_CONTENT_TYPE_LENGTH = 1024;

type RecordRequest = FastifyRequest<{
  Params: { storeId: string; '*': string };
  Querystring: { attachment?: string; signature?: string; disableRedirect?: string };
}>;

const readQuery = {
  type: 'object',
  properties: { attachment: boolParam, signature: stringParam, disableRedirect: stringParam },
} as const;

/** The key is checked before anything else: an invalid key is 400 whatever else is wrong. */
async function checkKey(req: FastifyRequest): Promise<void> {
  const key = (req.params as { '*': string })['*'];
  if (!isValidRecordKey(key)) throw new InvalidRecordKeyError();
}

/** Headers of a record response; the body is served as stored when the client accepts its encoding. */
function recordHeaders(req: FastifyRequest, reply: FastifyReply, meta: RecordMeta, attachment: boolean): boolean {
  const encoding = meta.contentEncoding;
  const asStored = encoding === null || acceptsEncoding(req.headers['accept-encoding'], encoding);
  reply.header('content-type', meta.contentType);
  reply.header('content-length', asStored ? meta.size : meta.decodedSize);
  if (encoding !== null) {
    reply.header('vary', 'Accept-Encoding');
    if (asStored) reply.header('content-encoding', encoding);
  }
  reply.header('last-modified', new Date(meta.modifiedAt).toUTCString());
  reply.header('x-content-type-options', 'nosniff');
  // Records are never modified; a sandbox keeps stored HTML from running with this origin's rights.
  reply.header('content-security-policy', 'sandbox');
  if (attachment) reply.header('content-disposition', `attachment; filename="${meta.key}"`);
  return asStored;
}

/** `/v2/key-value-stores/{storeId}/records/{recordKey}`: GET, HEAD, PUT, POST, DELETE. */
export function recordRoutes(app: FastifyInstance, kvs: Kvs, publicUrl: () => string, maxRecordBytes: number): void {
  app.get(
    RECORD_PATH,
    { schema: { querystring: readQuery }, exposeHeadRoute: false, preValidation: checkKey },
    async (request, reply) => {
      const req = request as RecordRequest;
      const caller = await resolveCaller(kvs, req);
      const key = req.params['*'];
      const record = await kvs.records.get(caller, parseStoreRef(req.params.storeId), key, toOptional(req.query.signature));
      const asStored = recordHeaders(req, reply, record, toBool(req.query.attachment));
      return reply.send(recordPayload(record, asStored));
    },
  );

  app.head(RECORD_PATH, { schema: { querystring: readQuery }, preValidation: checkKey }, async (request, reply) => {
    const req = request as RecordRequest;
    const caller = await resolveCaller(kvs, req);
    const key = req.params['*'];
    const meta = await kvs.records.head(caller, parseStoreRef(req.params.storeId), key, toOptional(req.query.signature));
    recordHeaders(req, reply, meta, toBool(req.query.attachment));
    return reply.send();
  });

  const put = async (request: FastifyRequest, reply: FastifyReply) => {
    const req = request as RecordRequest;
    const key = req.params['*'];
    const caller = await resolveCaller(kvs, req);
    if (!caller.user) throw new TokenNotProvidedError();
    const encoding = parseContentEncoding(req.headers['content-encoding']);
    const contentType = declaredContentType(req.raw) || 'application/octet-stream';
    if (contentType.length > MAX_CONTENT_TYPE_LENGTH) {
      throw new InvalidContentTypeError(`The Content-Type header is longer than ${MAX_CONTENT_TYPE_LENGTH} characters.`);
    }
    const length = declaredLength(req.raw);
    if (length !== undefined && length > maxRecordBytes) throw new RecordTooLargeError(maxRecordBytes, length);
    const store = await kvs.records.storeForWrite(caller, parseStoreRef(req.params.storeId));
    const { body, decodedSize } = recordBody(req.raw, encoding, maxRecordBytes);
    await kvs.records.put(store, key, { contentType, contentEncoding: encoding, body, sizeHint: length, decodedSize });
    reply.code(201).header('location', `${publicUrl()}/v2/key-value-stores/${store.id}/records/${key}`);
    return reply.send({});
  };
  app.put(RECORD_PATH, { preValidation: checkKey }, put);
  app.post(RECORD_PATH, { preValidation: checkKey }, put);

  app.delete(RECORD_PATH, { preValidation: checkKey }, async (request, reply) => {
    const req = request as RecordRequest;
    const caller = await resolveCaller(kvs, req);
    if (!caller.user) throw new TokenNotProvidedError();
    await kvs.records.delete(caller, parseStoreRef(req.params.storeId), req.params['*']);
    return reply.code(204).send();
  });
}

/** Schemas of the record endpoints (`/v2/key-value-stores/{storeId}/records/{recordKey}`). */
import { RECORD_KEY_REGEX } from '../../domain/validation.js';
import { boolParam, stringParam } from '../query.js';
import { binary, errorResponses, header, noBody, storeIdParam } from '../schemas.js';

const TAGS = ['Records'];

/**
 * The key is the wildcard `*` of the route (keys may contain what a path segment may not); the
 * OpenAPI document calls it `recordKey`. An invalid key never reaches this check: the route's
 * preValidation hook answers it with 400 `invalid-record-key` first.
 */
const params = {
  type: 'object',
  required: ['storeId', '*'],
  properties: {
    storeId: storeIdParam,
    '*': {
      type: 'string',
      pattern: RECORD_KEY_REGEX.source,
      description: "The record key: 1 to 256 characters of `a-z A-Z 0-9 ! - _ . ' ( )`.",
    },
  },
} as const;

const query = {
  type: 'object',
  properties: {
    attachment: { ...boolParam, description: 'Answer with `Content-Disposition: attachment`.' },
    signature: { ...stringParam, description: 'A record signature (`recordPublicUrl`): read without a token.' },
    disableRedirect: { ...stringParam, description: 'Accepted for compatibility; openkvs never redirects.' },
  },
} as const;

/** Request headers, as Fastify sees them (lower case); every one is optional and any string. */
const readHeaders = {
  type: 'object',
  properties: {
    'accept-encoding': { type: 'string', description: 'Without the stored encoding, the record is served decoded.' },
    'if-none-match': { type: 'string', description: 'ETags (or `*`): 304 when one matches.' },
    'if-modified-since': { type: 'string', description: 'An HTTP date: 304 when not modified since (without `If-None-Match`).' },
    range: { type: 'string', description: 'One range `bytes=a-b`, `bytes=a-` or `bytes=-n` (GET only): 206.' },
    'if-range': { type: 'string', description: 'An ETag: the range only while the record has it.' },
  },
} as const;

const writeCondition = {
  'if-match': { type: 'string', description: 'ETags (or `*`): write only when the record has one of them (else 412).' },
  'if-none-match': {
    type: 'string',
    description: '`*` (or ETags): write only when the record does not exist (or has none of them), else 412.',
  },
} as const;

const recordHeaders = {
  ETag: header('`"<base64url SHA-256 of the stored bytes>"` (`-identity` suffixed when served decoded).'),
  'Last-Modified': header('When the record was last written.'),
  'Content-Encoding': header('The stored encoding, when served as stored.'),
  'Content-Disposition': header('With `attachment=1`.'),
  'Accept-Ranges': header('`bytes`.'),
} as const;

export const getRecordSchema = {
  operationId: 'keyValueStore_record_get',
  summary: 'Get a record',
  description: 'The bytes as stored, with their Content-Type; decoded when the client does not accept the stored encoding.',
  tags: TAGS,
  params,
  querystring: query,
  headers: readHeaders,
  response: {
    200: binary('The record.', '*/*', recordHeaders),
    206: binary('A byte range of the record.', '*/*', {
      ...recordHeaders,
      'Content-Range': header('`bytes a-b/size`.'),
    }),
    304: noBody('Not modified (`If-None-Match` / `If-Modified-Since`).'),
    ...errorResponses(400, 401, 403, 404, 416, 429),
  },
};

export const headRecordSchema = {
  operationId: 'keyValueStore_record_head',
  summary: 'Check a record',
  description: "GET's status and headers without a body.",
  tags: TAGS,
  params,
  querystring: query,
  headers: readHeaders,
  response: {
    200: { ...noBody('The record exists.'), headers: recordHeaders },
    304: noBody('Not modified.'),
    ...errorResponses(400, 401, 403, 404, 429),
  },
};

const writeErrors = errorResponses(400, 401, 403, 404, 412, 413, 415, 429);

/** PUT and POST alike (the Apify API offers both). */
export function putRecordSchema(method: 'put' | 'post') {
  return {
    operationId: `keyValueStore_record_${method}`,
    summary: method === 'put' ? 'Store a record' : 'Store a record (POST)',
    description: 'Stores the body byte for byte with its Content-Type (default `application/octet-stream`) and Content-Encoding.',
    tags: TAGS,
    params,
    headers: {
      type: 'object',
      properties: {
        'content-encoding': { type: 'string', description: '`gzip`, `deflate` or `br`: stored as sent, checked to decode.' },
        'content-md5': { type: 'string', description: 'Base64 MD5 of the body as sent (400 on mismatch).' },
        'x-content-sha256': { type: 'string', description: 'Hex or base64 SHA-256 of the body as sent (400 on mismatch).' },
        ...writeCondition,
      },
    },
    requestBody: {
      required: true,
      description: 'The record, any bytes, up to `--max-record-bytes`.',
      content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
    },
    response: {
      201: {
        description: 'Stored (committed).',
        type: 'object',
        headers: { Location: header('URL of the record.'), ETag: header('The new ETag.') },
      },
      ...writeErrors,
    },
  };
}

export const deleteRecordSchema = {
  operationId: 'keyValueStore_record_delete',
  summary: 'Delete a record',
  tags: TAGS,
  params,
  headers: { type: 'object', properties: writeCondition },
  response: { 204: noBody('Deleted, or there was no such record.'), ...errorResponses(400, 401, 403, 404, 412, 429) },
};

/**
 * JSON schemas shared by the routes. They validate path parameters, shape JSON responses (Fastify
 * serializes a response with the schema of its status, dropping properties the schema does not
 * name) and are the source of the OpenAPI document.
 */
import { STORABLE_TEXT_PATTERN } from '../domain/validation.js';
import { GENERAL_ACCESS } from '../model.js';

/** The Apify error envelope, for every error status. */
export const ERROR_SCHEMA = {
  $id: 'Error',
  type: 'object',
  description: 'The Apify error envelope.',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['type', 'message'],
      properties: {
        type: { type: 'string', description: 'Apify error type, such as `record-not-found` or `invalid-parameter`.' },
        message: { type: 'string' },
      },
    },
  },
} as const;

const counter = { type: 'integer', minimum: 0 } as const;
const timestamp = { type: 'string', format: 'date-time' } as const;
const url = { type: 'string', format: 'uri' } as const;

/** What every storage object has, whatever its kind (`commonFields` in the domain). */
const COMMON_REQUIRED = ['id', 'name', 'title', 'userId', 'username', 'createdAt', 'modifiedAt', 'accessedAt'] as const;
const COMMON_PROPERTIES = {
  id: { type: 'string', description: '17 characters `[a-zA-Z0-9]`.' },
  name: { type: ['string', 'null'], description: 'Null when unnamed.' },
  title: { type: ['string', 'null'] },
  userId: { type: 'string' },
  username: { type: ['string', 'null'] },
  createdAt: timestamp,
  modifiedAt: timestamp,
  accessedAt: timestamp,
} as const;

/** The store object (`KeyValueStore`), every field that `KVS_SPEC.present` sets. */
export const STORE_SCHEMA = {
  $id: 'Store',
  type: 'object',
  description: 'A key-value store.',
  required: [
    ...COMMON_REQUIRED,
    'actId',
    'actRunId',
    'consoleUrl',
    'keysPublicUrl',
    'recordsPublicUrl',
    'schema',
    'generalAccess',
    'urlSigningSecretKey',
    'stats',
  ],
  properties: {
    ...COMMON_PROPERTIES,
    actId: { type: 'null' },
    actRunId: { type: 'null' },
    consoleUrl: url,
    keysPublicUrl: { ...url, description: 'Signed key-list URL, valid for 14 days, readable without a token.' },
    recordsPublicUrl: { ...url, description: 'Signed URL of the records as a ZIP, readable without a token.' },
    schema: {
      type: ['object', 'null'],
      additionalProperties: true,
      description: 'The store schema; its `collections` name a `key` or a `keyPrefix` each.',
    },
    generalAccess: { type: 'string', enum: [...GENERAL_ACCESS] },
    urlSigningSecretKey: { type: ['string', 'null'], description: "Shown only to the store's owner." },
    stats: {
      type: 'object',
      required: ['readCount', 'writeCount', 'deleteCount', 'listCount', 's3StorageBytes', 'storageBytes'],
      properties: {
        readCount: counter,
        writeCount: counter,
        deleteCount: counter,
        listCount: counter,
        s3StorageBytes: counter,
        storageBytes: counter,
      },
    },
  },
} as const;

/** A page of keys, as `Records.listKeys` returns it (`nextExclusiveStartKey` is null on the last page). */
export const KEY_LIST_SCHEMA = {
  $id: 'KeyList',
  type: 'object',
  required: ['items', 'count', 'limit', 'exclusiveStartKey', 'isTruncated', 'nextExclusiveStartKey'],
  properties: {
    items: {
      type: 'array',
      items: {
        type: 'object',
        required: ['key', 'size', 'recordPublicUrl'],
        properties: {
          key: { type: 'string' },
          size: { ...counter, description: 'Bytes as stored.' },
          recordPublicUrl: { ...url, description: 'Signed URL of the record, readable without a token.' },
        },
      },
    },
    count: counter,
    limit: counter,
    exclusiveStartKey: { type: ['string', 'null'] },
    isTruncated: { type: 'boolean' },
    nextExclusiveStartKey: { type: ['string', 'null'], description: 'Where the next page starts; null on the last page.' },
  },
} as const;

/** The dataset object (`Dataset`), every field that `DATASET_SPEC.present` sets. */
export const DATASET_SCHEMA = {
  $id: 'Dataset',
  type: 'object',
  description: 'A dataset.',
  required: [
    ...COMMON_REQUIRED,
    'itemCount',
    'cleanItemCount',
    'actId',
    'actRunId',
    'fields',
    'schema',
    'consoleUrl',
    'itemsPublicUrl',
    'generalAccess',
    'urlSigningSecretKey',
    'stats',
  ],
  properties: {
    ...COMMON_PROPERTIES,
    itemCount: { ...counter, description: 'Items pushed.' },
    cleanItemCount: { ...counter, description: 'Items with at least one field not hidden (not starting with `#`).' },
    actId: { type: 'null' },
    actRunId: { type: 'null' },
    fields: { type: 'null' },
    schema: { type: ['object', 'null'], additionalProperties: true, description: 'The dataset schema given at creation.' },
    consoleUrl: url,
    itemsPublicUrl: { ...url, description: 'Signed URL of the items, valid for 14 days, readable without a token.' },
    generalAccess: { type: 'string', enum: [...GENERAL_ACCESS] },
    urlSigningSecretKey: { type: ['string', 'null'], description: "Shown only to the dataset's owner." },
    stats: {
      type: 'object',
      required: ['readCount', 'writeCount', 'storageBytes'],
      properties: {
        readCount: { ...counter, description: 'Items read.' },
        writeCount: { ...counter, description: 'Items written.' },
        storageBytes: { ...counter, description: 'Bytes of the items as JSON text.' },
      },
    },
  },
} as const;

/** The request queue object (`RequestQueue`), every field that `QUEUE_SPEC.present` sets. */
export const QUEUE_SCHEMA = {
  $id: 'RequestQueue',
  type: 'object',
  description: 'A request queue.',
  required: [
    ...COMMON_REQUIRED,
    'actId',
    'actRunId',
    'totalRequestCount',
    'handledRequestCount',
    'pendingRequestCount',
    'hadMultipleClients',
    'consoleUrl',
    'generalAccess',
    'stats',
  ],
  properties: {
    ...COMMON_PROPERTIES,
    actId: { type: 'null' },
    actRunId: { type: 'null' },
    totalRequestCount: { ...counter, description: 'Requests in the queue.' },
    handledRequestCount: { ...counter, description: 'Requests handled.' },
    pendingRequestCount: { ...counter, description: 'Requests not handled yet.' },
    hadMultipleClients: { type: 'boolean', description: 'Whether more than one clientKey has written to or locked in it.' },
    consoleUrl: url,
    generalAccess: { type: 'string', enum: [...GENERAL_ACCESS] },
    stats: {
      type: 'object',
      required: ['readCount', 'writeCount', 'deleteCount', 'headItemReadCount', 'storageBytes'],
      properties: {
        readCount: counter,
        writeCount: counter,
        deleteCount: counter,
        headItemReadCount: counter,
        storageBytes: { ...counter, description: 'Bytes of the requests as JSON text.' },
      },
    },
  },
} as const;

/** Shared schemas, added to the app once; routes refer to them as `{ $ref: 'Name#' }`. */
export const SHARED_SCHEMAS = [ERROR_SCHEMA, STORE_SCHEMA, KEY_LIST_SCHEMA, DATASET_SCHEMA, QUEUE_SCHEMA] as const;

/** `{ data: … }`, the wrapper of every JSON answer of the API. */
export function dataOf(schema: object, description: string) {
  return { description, type: 'object', required: ['data'], properties: { data: schema } } as const;
}

const ERROR_DESCRIPTIONS: Readonly<Record<number, string>> = {
  400: 'Invalid request: `invalid-parameter`, `invalid-record-key`, `invalid-value`, `invalid-request`, …',
  401: '`token-not-provided`, or `user-or-token-not-found` for a bad or revoked token.',
  403: '`insufficient-permissions`: the token may not do this.',
  404: '`record-not-found`, or `record-or-token-not-found` for a store a token-less caller may not read.',
  412: '`precondition-failed`: `If-Match` / `If-None-Match` did not hold; nothing changed.',
  413: '`record-too-large` or `request-too-large`.',
  415: '`unsupported-content-encoding` or `invalid-content-type-header`.',
  416: '`range-not-satisfiable`, with `Content-Range: bytes */<size>`.',
  429: '`rate-limit-exceeded` (with `--rate-limit on`), with `X-RateLimit-Limit`.',
  500: '`internal-server-error`; the detail is only in the log.',
  503: '`service-unavailable`: the storage cannot be reached; retry after `Retry-After` seconds.',
};

/** The error responses of a route: the listed statuses plus 500 and 503, each the error envelope. */
export function errorResponses(...statuses: (keyof typeof ERROR_DESCRIPTIONS)[]) {
  const out: Record<number, { description: string; $ref: string }> = {};
  for (const status of [...statuses, 500, 503]) {
    out[status] = { description: ERROR_DESCRIPTIONS[status] ?? 'Error.', $ref: 'Error#' };
  }
  return out;
}

/** The `{storeId}` / `{datasetId}` path parameter. */
export const storeIdParam = {
  type: 'string',
  pattern: STORABLE_TEXT_PATTERN,
  description: "An id, `~name` (the caller's of that name) or `username~name`.",
} as const;

/** A response without a body (204, 304, HEAD). */
export const noBody = (description: string) => ({ description, type: 'null' }) as const;

/** A response header of the document; not checked at run time. */
export const header = (description: string) => ({ type: 'string', description }) as const;

/** A response of raw bytes (never serialized: its payload is a buffer or a stream). */
export function binary(
  description: string,
  mediaType: string,
  headers?: Record<string, { type: 'string'; description: string }>,
) {
  return {
    description,
    ...(headers ? { headers } : {}),
    content: { [mediaType]: { schema: { type: 'string', format: 'binary' } } },
  };
}

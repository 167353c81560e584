import type { FastifyInstance } from 'fastify';
import { parseStoreRef } from '../../domain/access.js';
import type { Kvs } from '../../domain/index.js';
import { requestToken } from '../caller.js';
import { stringParam, toInt, toOptional, uintParam } from '../query.js';
import { dataOf, errorResponses, storeIdParam } from '../schemas.js';

const MAX_KEYS_LIMIT = 1000;

interface KeysQuery {
  exclusiveStartKey?: string;
  limit?: string;
  prefix?: string;
  collection?: string;
  signature?: string;
}

/** `GET /v2/key-value-stores/{storeId}/keys`. */
export function keyRoutes(app: FastifyInstance, kvs: Kvs): void {
  app.get<{ Params: { storeId: string }; Querystring: KeysQuery }>(
    '/v2/key-value-stores/:storeId/keys',
    {
      schema: {
        operationId: 'keyValueStore_keys_get',
        summary: 'List keys',
        description: 'Keys in UTF-8 byte order, one page at a time.',
        tags: ['Records'],
        params: { type: 'object', properties: { storeId: storeIdParam }, required: ['storeId'] },
        querystring: {
          type: 'object',
          properties: {
            exclusiveStartKey: { ...stringParam, description: 'List the keys after this one.' },
            limit: { ...uintParam, description: 'At most this many keys (default and maximum 1000).' },
            prefix: { ...stringParam, description: 'Only keys that start with this.' },
            collection: { ...stringParam, description: "Only the keys of this collection of the store's schema." },
            signature: { ...stringParam, description: 'A storage-content signature (`keysPublicUrl`): read without a token.' },
          },
        },
        response: { 200: dataOf({ $ref: 'KeyList#' }, 'A page of keys.'), ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const data = await kvs.records.listKeys(requestToken(req), parseStoreRef(req.params.storeId, 'kvs'), {
        exclusiveStartKey: toOptional(q.exclusiveStartKey),
        limit: toInt(q.limit, MAX_KEYS_LIMIT, 1, MAX_KEYS_LIMIT),
        prefix: toOptional(q.prefix),
        collection: toOptional(q.collection),
        signature: toOptional(q.signature),
      });
      return reply.type('application/json; charset=utf-8').send(keyListJson(data));
    },
  );
}

/** A page of keys as the domain gives it: each record's URL in parts. */
export interface KeyPage {
  recordUrlBase: string;
  items: { key: string; size: number; signature: string }[];
  count: number;
  limit: number;
  exclusiveStartKey: string | null;
  isTruncated: boolean;
  nextExclusiveStartKey: string | null;
}

/** Strings that are JSON as they are between quotes: printable ASCII but the quote and the backslash. */
const JSON_PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** `s` as it is written between the quotes of a JSON string. */
function jsonChars(s: string): string {
  return JSON_PLAIN.test(s) ? s : JSON.stringify(s).slice(1, -1);
}

/**
 * `{"data": KeyList}` written directly: record keys are plain ASCII by their rules, so most parts
 * need no escaping (each is still checked, and escaped when it needs it). Kept over the schema
 * serializer for bench row `keys` (docs/performance.md).
 */
export function keyListJson(page: KeyPage): string {
  const base = jsonChars(page.recordUrlBase);
  let items = '';
  for (const item of page.items) {
    const key = jsonChars(item.key);
    items +=
      `${items === '' ? '' : ','}{"key":"${key}","size":${Number(item.size)},` +
      `"recordPublicUrl":"${base}${key}?signature=${jsonChars(item.signature)}"}`;
  }
  const start = page.exclusiveStartKey === null ? 'null' : `"${jsonChars(page.exclusiveStartKey)}"`;
  const next = page.nextExclusiveStartKey === null ? 'null' : `"${jsonChars(page.nextExclusiveStartKey)}"`;
  return (
    `{"data":{"items":[${items}],"count":${page.count},"limit":${page.limit},"exclusiveStartKey":${start},` +
    `"isTruncated":${page.isTruncated},"nextExclusiveStartKey":${next}}}`
  );
}

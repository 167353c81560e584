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
    async (req) => {
      const q = req.query;
      const data = await kvs.records.listKeys(requestToken(req), parseStoreRef(req.params.storeId), {
        exclusiveStartKey: toOptional(q.exclusiveStartKey),
        limit: toInt(q.limit, MAX_KEYS_LIMIT, 1, MAX_KEYS_LIMIT),
        prefix: toOptional(q.prefix),
        collection: toOptional(q.collection),
        signature: toOptional(q.signature),
      });
      return { data };
    },
  );
}

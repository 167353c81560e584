import type { FastifyInstance } from 'fastify';
import { parseStoreRef } from '../../domain/access.js';
import type { Kvs } from '../../domain/index.js';
import { resolveCaller } from '../caller.js';
import { stringParam, toInt, toOptional, uintParam } from '../query.js';

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
        querystring: {
          type: 'object',
          properties: {
            exclusiveStartKey: stringParam,
            limit: uintParam,
            prefix: stringParam,
            collection: stringParam,
            signature: stringParam,
          },
        },
      },
    },
    async (req) => {
      const caller = await resolveCaller(kvs, req);
      const q = req.query;
      const data = await kvs.records.listKeys(caller, parseStoreRef(req.params.storeId), {
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

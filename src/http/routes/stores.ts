import type { FastifyInstance } from 'fastify';
import { parseStoreRef } from '../../domain/access.js';
import type { Kvs } from '../../domain/index.js';
import { parseStorePatch } from '../../domain/stores.js';
import { InvalidRequestError } from '../../errors.js';
import { readJsonBody } from '../body.js';
import { requireUser, resolveCaller } from '../caller.js';
import { boolParam, toBool, toInt, toOptional, uintParam } from '../query.js';

const MAX_LIST_LIMIT = 1000;

interface ListQuery {
  offset?: string;
  limit?: string;
  desc?: string;
  unnamed?: string;
  ownership?: string;
}

/** `/v2/key-value-stores` and `/v2/key-value-stores/{storeId}`. */
export function storeRoutes(app: FastifyInstance, kvs: Kvs, publicUrl: () => string): void {
  app.get<{ Querystring: ListQuery }>(
    '/v2/key-value-stores',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            offset: uintParam,
            limit: uintParam,
            desc: boolParam,
            unnamed: boolParam,
            ownership: { type: 'string', enum: ['ownedByMe', 'sharedWithMe', ''] },
          },
        },
      },
    },
    async (req) => {
      const user = await requireUser(kvs, req);
      const q = req.query;
      const ownership = toOptional(q.ownership) as 'ownedByMe' | 'sharedWithMe' | undefined;
      const data = await kvs.stores.list(user, {
        offset: toInt(q.offset, 0, 0, Number.MAX_SAFE_INTEGER),
        limit: toInt(q.limit, MAX_LIST_LIMIT, 1, MAX_LIST_LIMIT),
        desc: toBool(q.desc),
        unnamed: toBool(q.unnamed),
        ownership,
      });
      return { data };
    },
  );

  app.post<{ Querystring: { name?: string } }>(
    '/v2/key-value-stores',
    { schema: { querystring: { type: 'object', properties: { name: { type: 'string' } } } } },
    async (req, reply) => {
      const user = await requireUser(kvs, req);
      const body = await readJsonBody(req.raw);
      if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))) {
        throw new InvalidRequestError('POST data must be a JSON object.');
      }
      const b = (body ?? {}) as { name?: unknown; schema?: unknown };
      const name = toOptional(req.query.name) ?? (typeof b.name === 'string' && b.name !== '' ? b.name : undefined);
      const { store, created } = await kvs.stores.getOrCreate(user, name, b.schema);
      if (created) reply.code(201).header('location', `${publicUrl()}/v2/key-value-stores/${store.id}`);
      return { data: store };
    },
  );

  app.get<{ Params: { storeId: string } }>('/v2/key-value-stores/:storeId', async (req) => {
    const caller = await resolveCaller(kvs, req);
    return { data: await kvs.stores.get(caller, parseStoreRef(req.params.storeId)) };
  });

  app.put<{ Params: { storeId: string } }>('/v2/key-value-stores/:storeId', async (req) => {
    const user = await requireUser(kvs, req);
    const patch = parseStorePatch(await readJsonBody(req.raw));
    return { data: await kvs.stores.update({ user }, parseStoreRef(req.params.storeId), patch) };
  });

  app.delete<{ Params: { storeId: string } }>('/v2/key-value-stores/:storeId', async (req, reply) => {
    const user = await requireUser(kvs, req);
    await kvs.stores.delete({ user }, parseStoreRef(req.params.storeId));
    return reply.code(204).send();
  });
}

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseStoreRef } from '../../domain/access.js';
import type { Kvs } from '../../domain/index.js';
import { parseStorePatch } from '../../domain/stores.js';
import { STORE_NAME_MAX, STORE_NAME_REGEX, TITLE_MAX } from '../../domain/validation.js';
import { InvalidRequestError } from '../../errors.js';
import { GENERAL_ACCESS } from '../../model.js';
import { readJsonBody } from '../body.js';
import { requestToken, requireUser } from '../caller.js';
import { boolParam, pathEndsWithSlash, toBool, toInt, toOptional, uintParam } from '../query.js';
import { dataOf, errorResponses, header, noBody, storeIdParam } from '../schemas.js';

const MAX_LIST_LIMIT = 1000;

interface ListQuery {
  offset?: string;
  limit?: string;
  desc?: string;
  unnamed?: string;
  ownership?: string;
}

const TAGS = ['Key-value stores'];
/** These endpoints need a token (anonymous access is not an option). */
const TOKEN_ONLY: { [scheme: string]: string[] }[] = [{ bearerAuth: [] }, { tokenQuery: [] }];
const storeParams = { type: 'object', properties: { storeId: storeIdParam }, required: ['storeId'] } as const;
const store = { $ref: 'Store#' };

const listResponse = dataOf(
  {
    type: 'object',
    required: ['total', 'offset', 'limit', 'desc', 'count', 'unnamed', 'items'],
    properties: {
      total: { type: 'integer' },
      offset: { type: 'integer' },
      limit: { type: 'integer' },
      desc: { type: 'boolean' },
      count: { type: 'integer' },
      unnamed: { type: 'boolean' },
      items: { type: 'array', items: store },
    },
  },
  "The caller's stores, oldest first (or newest first with `desc`).",
);

/** Documents the rule; the domain checks it (400 `invalid-value`). */
const storeName = { type: 'string', pattern: STORE_NAME_REGEX.source, maxLength: STORE_NAME_MAX } as const;

const storeBody = (description: string, properties: Record<string, object>) => ({
  description,
  content: { 'application/json': { schema: { type: 'object', properties } } },
});

/** `/v2/key-value-stores` and `/v2/key-value-stores/{storeId}`. */
/**
 * A store is not changed or deleted through a path ending in `/`. Real clients never send one, but
 * a record key `..` becomes one: `…/records/..` is `…/{storeId}/` once the client has removed the
 * dot segments, so `deleteRecord('..')` would delete the whole store and `setValue('..', …)` would
 * rename it. Refused before anything else.
 */
async function refuseTrailingSlash(req: FastifyRequest): Promise<void> {
  if (pathEndsWithSlash(req.raw.url ?? ''))
    throw new InvalidRequestError(
      'A store is not updated or deleted through a path ending in "/" (a record key ".." in a URL turns into one): send the path without it.',
    );
}

export function storeRoutes(app: FastifyInstance, kvs: Kvs, publicUrl: () => string): void {
  app.get<{ Querystring: ListQuery }>(
    '/v2/key-value-stores',
    {
      schema: {
        operationId: 'keyValueStores_get',
        summary: 'List stores',
        tags: TAGS,
        security: TOKEN_ONLY,
        querystring: {
          type: 'object',
          properties: {
            offset: { ...uintParam, description: 'Stores to skip (default 0).' },
            limit: { ...uintParam, description: 'At most this many stores (default and maximum 1000).' },
            desc: { ...boolParam, description: 'Newest first.' },
            unnamed: { ...boolParam, description: 'Include unnamed stores.' },
            ownership: { type: 'string', enum: ['ownedByMe', 'sharedWithMe', ''] },
          },
        },
        response: { 200: listResponse, ...errorResponses(400, 401, 429) },
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
    {
      schema: {
        operationId: 'keyValueStores_post',
        summary: 'Get or create a store',
        description: 'With a name the caller already uses, answers 200 with that store; otherwise creates one (201).',
        tags: TAGS,
        security: TOKEN_ONLY,
        querystring: {
          type: 'object',
          properties: { name: { type: 'string', description: 'The store name; without one, a new unnamed store.' } },
        },
        requestBody: {
          required: false,
          ...storeBody('Optional; the query `name` wins over the body `name`.', {
            name: storeName,
            schema: { type: 'object', description: 'The store schema.' },
          }),
        },
        response: {
          200: dataOf(store, 'The existing store of that name.'),
          201: { ...dataOf(store, 'A new store.'), headers: { Location: header('URL of the new store.') } },
          ...errorResponses(400, 401, 413, 415, 429),
        },
      },
    },
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

  app.get<{ Params: { storeId: string } }>(
    '/v2/key-value-stores/:storeId',
    {
      schema: {
        operationId: 'keyValueStore_get',
        summary: 'Get a store',
        tags: TAGS,
        params: storeParams,
        response: { 200: dataOf(store, 'The store.'), ...errorResponses(401, 403, 404, 429) },
      },
    },
    async (req) => {
      return { data: await kvs.stores.get(requestToken(req), parseStoreRef(req.params.storeId)) };
    },
  );

  app.put<{ Params: { storeId: string } }>(
    '/v2/key-value-stores/:storeId',
    {
      schema: {
        operationId: 'keyValueStore_put',
        summary: 'Update a store',
        tags: TAGS,
        security: TOKEN_ONLY,
        params: storeParams,
        requestBody: {
          required: true,
          ...storeBody('The fields to change; the others stay.', {
            name: { ...storeName, type: ['string', 'null'], description: 'Null makes the store unnamed.' },
            title: { type: ['string', 'null'], maxLength: TITLE_MAX },
            generalAccess: { type: 'string', enum: [...GENERAL_ACCESS] },
          }),
        },
        response: { 200: dataOf(store, 'The updated store.'), ...errorResponses(400, 401, 403, 404, 413, 415, 429) },
      },
      preValidation: refuseTrailingSlash,
    },
    async (req) => {
      const user = await requireUser(kvs, req);
      const patch = parseStorePatch(await readJsonBody(req.raw));
      return { data: await kvs.stores.update({ user }, parseStoreRef(req.params.storeId), patch) };
    },
  );

  app.delete<{ Params: { storeId: string } }>(
    '/v2/key-value-stores/:storeId',
    {
      schema: {
        operationId: 'keyValueStore_delete',
        summary: 'Delete a store',
        tags: TAGS,
        security: TOKEN_ONLY,
        params: storeParams,
        response: { 204: noBody('Deleted, with all its records.'), ...errorResponses(400, 401, 403, 404, 429) },
      },
      preValidation: refuseTrailingSlash,
    },
    async (req, reply) => {
      const user = await requireUser(kvs, req);
      await kvs.stores.delete({ user }, parseStoreRef(req.params.storeId));
      return reply.code(204).send();
    },
  );
}

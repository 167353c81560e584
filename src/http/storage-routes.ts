import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseStoreRef } from '../domain/access.js';
import type { Kvs } from '../domain/index.js';
import { parseStorePatch, type Stores } from '../domain/stores.js';
import { STORE_NAME_MAX, STORE_NAME_REGEX, TITLE_MAX } from '../domain/validation.js';
import { InvalidRequestError } from '../errors.js';
import { GENERAL_ACCESS } from '../model.js';
import { readJsonBody } from './body.js';
import { requestToken, requireUser } from './caller.js';
import { boolParam, pathEndsWithSlash, toBool, toInt, toOptional, uintParam } from './query.js';
import { dataOf, errorResponses, header, noBody, storeIdParam } from './schemas.js';

const MAX_LIST_LIMIT = 1000;

interface ListQuery {
  offset?: string;
  limit?: string;
  desc?: string;
  unnamed?: string;
  ownership?: string;
}

/** These endpoints need a token (anonymous access is not an option). */
export const TOKEN_ONLY: { [scheme: string]: string[] }[] = [{ bearerAuth: [] }, { tokenQuery: [] }];

/** What the storage-level routes of one kind are called: its path, id parameter, schema and words. */
export interface StorageRoutesSpec {
  /** `/v2/key-value-stores`, `/v2/datasets`. */
  path: string;
  /** The path parameter: `storeId`, `datasetId`. */
  param: string;
  /** OpenAPI tag. */
  tag: string;
  /** The shared schema of the object (`Store`, `Dataset`). */
  schemaRef: string;
  /** Operation id stems as the Apify OpenAPI document has them: `keyValueStores`/`keyValueStore`, `datasets`/`dataset`. */
  operations: { collection: string; item: string };
  /** `store`, `dataset`. */
  noun: string;
  /** What deleting removes with it. */
  contents: string;
}

/** Documents the rule; the domain checks it (400 `invalid-value`). */
const storeName = { type: 'string', pattern: STORE_NAME_REGEX.source, maxLength: STORE_NAME_MAX } as const;

const jsonBody = (description: string, properties: Record<string, object>) => ({
  description,
  content: { 'application/json': { schema: { type: 'object', properties } } },
});

/**
 * A storage is not changed or deleted through a path ending in `/`. Real clients never send one, but
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

/** The path parameter of a storage route. */
export const storageParam = (req: FastifyRequest, spec: { param: string }): string =>
  (req.params as Record<string, string>)[spec.param] ?? '';

/** List, get-or-create, get, update and delete of the storages of one kind, the same for every kind. */
export function storageRoutes<Api>(
  app: FastifyInstance,
  kvs: Kvs,
  stores: Stores<Api>,
  spec: StorageRoutesSpec,
  publicUrl: () => string,
): void {
  const { noun, path } = spec;
  const kind = stores.kind;
  const tags = [spec.tag];
  const object = { $ref: `${spec.schemaRef}#` };
  const params = { type: 'object', properties: { [spec.param]: storeIdParam }, required: [spec.param] } as const;
  const itemPath = `${path}/:${spec.param}`;
  const ref = (req: FastifyRequest) => parseStoreRef(storageParam(req, spec), kind);

  app.get<{ Querystring: ListQuery }>(
    path,
    {
      schema: {
        operationId: `${spec.operations.collection}_get`,
        summary: `List ${noun}s`,
        tags,
        security: TOKEN_ONLY,
        querystring: {
          type: 'object',
          properties: {
            offset: { ...uintParam, description: `${noun[0]?.toUpperCase()}${noun.slice(1)}s to skip (default 0).` },
            limit: { ...uintParam, description: `At most this many ${noun}s (default and maximum 1000).` },
            desc: { ...boolParam, description: 'Newest first.' },
            unnamed: { ...boolParam, description: `Include unnamed ${noun}s.` },
            ownership: { type: 'string', enum: ['ownedByMe', 'sharedWithMe', ''] },
          },
        },
        response: {
          200: dataOf(
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
                items: { type: 'array', items: object },
              },
            },
            `The caller's ${noun}s, oldest first (or newest first with \`desc\`).`,
          ),
          ...errorResponses(400, 401, 429),
        },
      },
    },
    async (req) => {
      const user = await requireUser(kvs, req);
      const q = req.query;
      const ownership = toOptional(q.ownership) as 'ownedByMe' | 'sharedWithMe' | undefined;
      const data = await stores.list(user, {
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
    path,
    {
      schema: {
        operationId: `${spec.operations.collection}_post`,
        summary: `Get or create a ${noun}`,
        description: `With a name the caller already uses for a ${noun}, answers 200 with that ${noun}; otherwise creates one (201).`,
        tags,
        security: TOKEN_ONLY,
        querystring: {
          type: 'object',
          properties: { name: { type: 'string', description: `The ${noun} name; without one, a new unnamed ${noun}.` } },
        },
        requestBody: {
          required: false,
          ...jsonBody('Optional; the query `name` wins over the body `name`.', {
            name: storeName,
            schema: { type: 'object', description: `The ${noun} schema.` },
          }),
        },
        response: {
          200: dataOf(object, `The existing ${noun} of that name.`),
          201: { ...dataOf(object, `A new ${noun}.`), headers: { Location: header(`URL of the new ${noun}.`) } },
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
      const { store, created } = await stores.getOrCreate(user, name, b.schema);
      if (created) reply.code(201).header('location', `${publicUrl()}${path}/${(store as { id: string }).id}`);
      return { data: store };
    },
  );

  app.get(
    itemPath,
    {
      schema: {
        operationId: `${spec.operations.item}_get`,
        summary: `Get a ${noun}`,
        tags,
        params,
        response: { 200: dataOf(object, `The ${noun}.`), ...errorResponses(401, 403, 404, 429) },
      },
    },
    async (req) => {
      return { data: await stores.get(requestToken(req), ref(req)) };
    },
  );

  app.put(
    itemPath,
    {
      schema: {
        operationId: `${spec.operations.item}_put`,
        summary: `Update a ${noun}`,
        tags,
        security: TOKEN_ONLY,
        params,
        requestBody: {
          required: true,
          ...jsonBody('The fields to change; the others stay.', {
            name: { ...storeName, type: ['string', 'null'], description: `Null makes the ${noun} unnamed.` },
            title: { type: ['string', 'null'], maxLength: TITLE_MAX },
            generalAccess: { type: 'string', enum: [...GENERAL_ACCESS] },
          }),
        },
        response: { 200: dataOf(object, `The updated ${noun}.`), ...errorResponses(400, 401, 403, 404, 413, 415, 429) },
      },
      preValidation: refuseTrailingSlash,
    },
    async (req) => {
      const user = await requireUser(kvs, req);
      const patch = parseStorePatch(await readJsonBody(req.raw));
      return { data: await stores.update({ user }, ref(req), patch) };
    },
  );

  app.delete(
    itemPath,
    {
      schema: {
        operationId: `${spec.operations.item}_delete`,
        summary: `Delete a ${noun}`,
        tags,
        security: TOKEN_ONLY,
        params,
        response: { 204: noBody(`Deleted, with ${spec.contents}.`), ...errorResponses(400, 401, 403, 404, 429) },
      },
      preValidation: refuseTrailingSlash,
    },
    async (req, reply) => {
      const user = await requireUser(kvs, req);
      await stores.delete({ user }, ref(req));
      return reply.code(204).send();
    },
  );
}

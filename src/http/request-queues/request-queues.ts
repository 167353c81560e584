import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseStoreRef } from '../../domain/access.js';
import type { Kvs } from '../../domain/index.js';
import {
  HEAD_MAX,
  LIST_MAX,
  LOCK_HEAD_MAX,
  parseClientKey,
  parseLockSecs,
  type QueueCall,
} from '../../domain/queues/requests.js';
import { InvalidParameterError } from '../../errors.js';
import { readJsonBody } from '../body.js';
import { requestToken } from '../caller.js';
import { boolParam, stringParam, toBool, toInt, toOptional, uintParam } from '../query.js';
import { dataOf, errorResponses, noBody, storeIdParam } from '../schemas.js';
import { storageRoutes, TOKEN_ONLY } from '../storage-routes.js';

const TAGS = ['Request queues'];
const BASE = '/v2/request-queues/:queueId';

const requestIdParam = { ...stringParam, description: "The request's id (Crawlee's id of its uniqueKey)." };
const params = { type: 'object', properties: { queueId: storeIdParam }, required: ['queueId'] } as const;
const requestParams = {
  type: 'object',
  properties: { queueId: storeIdParam, requestId: requestIdParam },
  required: ['queueId', 'requestId'],
} as const;

const clientKey = { ...stringParam, description: 'The client (1 to 32 characters): who holds a lock, and hadMultipleClients.' };
const forefront = { ...boolParam, description: 'To the front of the queue.' };
const lockSecs = { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?$', description: 'How long the lock lasts, in seconds.' };

interface Query {
  clientKey?: string;
  forefront?: string;
  lockSecs?: string;
  limit?: string;
  exclusiveStartId?: string;
  cursor?: string;
  filter?: string;
}
type Req = FastifyRequest<{ Params: { queueId: string; requestId?: string }; Querystring: Query }>;

const call = (req: Req): QueueCall => ({
  token: requestToken(req),
  ref: parseStoreRef(req.params.queueId, 'queue'),
  clientKey: parseClientKey(req.query.clientKey),
});

const object = (description: string) => ({ type: 'object', additionalProperties: true, description }) as const;
const requestBody = (description: string, schema: object) => ({
  required: true,
  description,
  content: { 'application/json': { schema } },
});
const REQUEST = object('A request: `uniqueKey` and `url` required, any other field kept.');
const OUTCOME = {
  type: 'object',
  required: ['requestId', 'wasAlreadyPresent', 'wasAlreadyHandled'],
  properties: { requestId: { type: 'string' }, wasAlreadyPresent: { type: 'boolean' }, wasAlreadyHandled: { type: 'boolean' } },
} as const;

/** The `filter` of a request list: `locked`, `pending` or both (their union, the pending ones). */
function parseFilter(value: string | undefined): 'locked' | 'pending' | undefined {
  if (value === undefined || value === '') return undefined;
  const names = new Set(value.split(',').map((s) => s.trim()));
  for (const n of names)
    if (n !== 'locked' && n !== 'pending')
      throw new InvalidParameterError('filter takes locked, pending or both, comma-separated.');
  return names.has('pending') ? 'pending' : 'locked';
}

/** `/v2/request-queues…`: the queues, their requests, head and locks. */
export function requestQueueRoutes(app: FastifyInstance, kvs: Kvs, publicUrl: () => string): void {
  storageRoutes(
    app,
    kvs,
    kvs.queues,
    {
      path: '/v2/request-queues',
      param: 'queueId',
      tag: 'Request queues',
      schemaRef: 'RequestQueue',
      operations: { collection: 'requestQueues', item: 'requestQueue' },
      noun: 'request queue',
      contents: 'all its requests',
    },
    publicUrl,
  );
  const q = kvs.requests;

  app.post<{ Params: { queueId: string }; Querystring: Query }>(
    `${BASE}/requests`,
    {
      schema: {
        operationId: 'requestQueue_requests_post',
        summary: 'Add a request',
        description: 'A uniqueKey already in the queue is not added again; the answer says whether it was handled.',
        tags: TAGS,
        security: TOKEN_ONLY,
        params,
        querystring: { type: 'object', properties: { clientKey, forefront } },
        requestBody: requestBody('The request.', REQUEST),
        response: { 201: dataOf(OUTCOME, 'Added, or found.'), ...errorResponses(400, 401, 403, 404, 413, 415, 429) },
      },
    },
    async (req, reply) => {
      const data = await q.add(call(req), () => readJsonBody(req.raw), toBool(req.query.forefront));
      return reply.code(201).send({ data });
    },
  );

  app.get<{ Params: { queueId: string }; Querystring: Query }>(
    `${BASE}/requests`,
    {
      schema: {
        operationId: 'requestQueue_requests_get',
        summary: 'List requests',
        description: 'In id order, paged by `cursor` (or the older `exclusiveStartId`).',
        tags: TAGS,
        params,
        querystring: {
          type: 'object',
          properties: {
            limit: { ...uintParam, description: `At most this many (default 100, at most ${LIST_MAX}).` },
            exclusiveStartId: { ...stringParam, description: 'Start after this id.' },
            cursor: { ...stringParam, description: 'The `nextCursor` of the previous page.' },
            filter: { ...stringParam, description: '`locked`, `pending`, or both comma-separated.' },
            clientKey,
          },
        },
        response: {
          200: dataOf(
            {
              type: 'object',
              required: ['items', 'count', 'limit'],
              properties: {
                items: { type: 'array', items: REQUEST },
                count: { type: 'integer' },
                limit: { type: 'integer' },
                exclusiveStartId: { type: 'string' },
                cursor: { type: 'string' },
                nextCursor: { type: ['string', 'null'] },
              },
            },
            'A page of requests.',
          ),
          ...errorResponses(400, 401, 403, 404, 429),
        },
      },
    },
    async (req) => {
      const { query } = req;
      const data = await q.list(call(req), {
        limit: toInt(query.limit, 100, 1, LIST_MAX),
        exclusiveStartId: toOptional(query.exclusiveStartId),
        cursor: toOptional(query.cursor),
        filter: parseFilter(query.filter),
      });
      return { data };
    },
  );

  app.post<{ Params: { queueId: string }; Querystring: Query }>(
    `${BASE}/requests/batch`,
    {
      schema: {
        operationId: 'requestQueue_requests_batch_post',
        summary: 'Add requests',
        description: 'At most 25 are added; the others come back in `unprocessedRequests`.',
        tags: TAGS,
        security: TOKEN_ONLY,
        params,
        querystring: { type: 'object', properties: { clientKey, forefront } },
        requestBody: requestBody('The requests.', { type: 'array', items: REQUEST }),
        response: {
          201: dataOf(
            {
              type: 'object',
              required: ['processedRequests', 'unprocessedRequests'],
              properties: {
                processedRequests: {
                  type: 'array',
                  items: { ...OUTCOME, properties: { ...OUTCOME.properties, uniqueKey: { type: 'string' } } },
                },
                unprocessedRequests: { type: 'array', items: object('uniqueKey, url and method of a request not added.') },
              },
            },
            'What was added.',
          ),
          ...errorResponses(400, 401, 403, 404, 413, 415, 429),
        },
      },
    },
    async (req, reply) => {
      const data = await q.batchAdd(call(req), () => readJsonBody(req.raw), toBool(req.query.forefront));
      return reply.code(201).send({ data });
    },
  );

  app.delete<{ Params: { queueId: string }; Querystring: Query }>(
    `${BASE}/requests/batch`,
    {
      schema: {
        operationId: 'requestQueue_requests_batch_delete',
        summary: 'Delete requests',
        tags: TAGS,
        security: TOKEN_ONLY,
        params,
        querystring: { type: 'object', properties: { clientKey } },
        requestBody: requestBody('`{id}` or `{uniqueKey}` of each.', { type: 'array', items: object('{id} or {uniqueKey}') }),
        response: {
          200: dataOf(
            {
              type: 'object',
              required: ['processedRequests', 'unprocessedRequests'],
              properties: {
                processedRequests: { type: 'array', items: object('id and uniqueKey of a deleted request.') },
                unprocessedRequests: { type: 'array', items: object('A request not deleted.') },
              },
            },
            'What was deleted.',
          ),
          ...errorResponses(400, 401, 403, 404, 413, 415, 429),
        },
      },
    },
    async (req) => ({ data: await q.batchDelete(call(req), () => readJsonBody(req.raw)) }),
  );

  app.post<{ Params: { queueId: string }; Querystring: Query }>(
    `${BASE}/requests/unlock`,
    {
      schema: {
        operationId: 'requestQueue_requests_unlock_post',
        summary: "Unlock a client's requests",
        tags: TAGS,
        security: TOKEN_ONLY,
        params,
        querystring: { type: 'object', properties: { clientKey } },
        response: {
          200: dataOf(
            { type: 'object', required: ['unlockedCount'], properties: { unlockedCount: { type: 'integer' } } },
            'Unlocked.',
          ),
          ...errorResponses(400, 401, 403, 404, 429),
        },
      },
    },
    async (req) => ({ data: await q.unlock(call(req)) }),
  );

  app.get<{ Params: { queueId: string; requestId: string }; Querystring: Query }>(
    `${BASE}/requests/:requestId`,
    {
      schema: {
        operationId: 'requestQueue_request_get',
        summary: 'Get a request',
        tags: TAGS,
        params: requestParams,
        querystring: { type: 'object', properties: { clientKey } },
        response: { 200: dataOf(REQUEST, 'The request.'), ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (req) => ({ data: await q.get(call(req), req.params.requestId) }),
  );

  app.put<{ Params: { queueId: string; requestId: string }; Querystring: Query }>(
    `${BASE}/requests/:requestId`,
    {
      schema: {
        operationId: 'requestQueue_request_put',
        summary: 'Update a request',
        description: 'A `handledAt` marks it handled (and ends its lock). Refused while another client holds its lock.',
        tags: TAGS,
        security: TOKEN_ONLY,
        params: requestParams,
        querystring: { type: 'object', properties: { clientKey, forefront } },
        requestBody: requestBody('The request.', REQUEST),
        response: { 200: dataOf(OUTCOME, 'Updated.'), ...errorResponses(400, 401, 403, 404, 413, 415, 429) },
      },
    },
    async (req) => ({
      data: await q.update(call(req), req.params.requestId, () => readJsonBody(req.raw), toBool(req.query.forefront)),
    }),
  );

  app.delete<{ Params: { queueId: string; requestId: string }; Querystring: Query }>(
    `${BASE}/requests/:requestId`,
    {
      schema: {
        operationId: 'requestQueue_request_delete',
        summary: 'Delete a request',
        tags: TAGS,
        security: TOKEN_ONLY,
        params: requestParams,
        querystring: { type: 'object', properties: { clientKey } },
        response: { 204: noBody('Deleted.'), ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (req, reply) => {
      await q.delete(call(req), req.params.requestId);
      return reply.code(204).send();
    },
  );

  app.put<{ Params: { queueId: string; requestId: string }; Querystring: Query }>(
    `${BASE}/requests/:requestId/lock`,
    {
      schema: {
        operationId: 'requestQueue_request_lock_put',
        summary: 'Prolong a lock',
        tags: TAGS,
        security: TOKEN_ONLY,
        params: requestParams,
        querystring: { type: 'object', required: ['lockSecs'], properties: { lockSecs, clientKey, forefront } },
        response: {
          200: dataOf(
            {
              type: 'object',
              required: ['lockExpiresAt'],
              properties: { lockExpiresAt: { type: 'string', format: 'date-time' } },
            },
            'The new expiry.',
          ),
          ...errorResponses(400, 401, 403, 404, 429),
        },
      },
    },
    async (req) => ({
      data: await q.prolongLock(call(req), req.params.requestId, parseLockSecs(req.query.lockSecs), toBool(req.query.forefront)),
    }),
  );

  app.delete<{ Params: { queueId: string; requestId: string }; Querystring: Query }>(
    `${BASE}/requests/:requestId/lock`,
    {
      schema: {
        operationId: 'requestQueue_request_lock_delete',
        summary: 'Delete a lock',
        tags: TAGS,
        security: TOKEN_ONLY,
        params: requestParams,
        querystring: { type: 'object', properties: { clientKey, forefront } },
        response: { 204: noBody('Unlocked.'), ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (req, reply) => {
      await q.deleteLock(call(req), req.params.requestId, toBool(req.query.forefront));
      return reply.code(204).send();
    },
  );

  const headItem = {
    type: 'object',
    required: ['id', 'uniqueKey', 'url', 'method', 'retryCount'],
    properties: {
      id: { type: 'string' },
      uniqueKey: { type: 'string' },
      url: { type: 'string' },
      method: { type: 'string' },
      retryCount: { type: 'integer' },
    },
  } as const;

  app.get<{ Params: { queueId: string }; Querystring: Query }>(
    `${BASE}/head`,
    {
      schema: {
        operationId: 'requestQueue_head_get',
        summary: 'Get the head',
        description: 'The first pending requests no other client holds a lock on.',
        tags: TAGS,
        params,
        querystring: {
          type: 'object',
          properties: {
            limit: { ...uintParam, description: `At most this many (default 100, at most ${HEAD_MAX}).` },
            clientKey,
          },
        },
        response: {
          200: dataOf(
            {
              type: 'object',
              required: ['limit', 'queueModifiedAt', 'hadMultipleClients', 'items'],
              properties: {
                limit: { type: 'integer' },
                queueModifiedAt: { type: 'string', format: 'date-time' },
                hadMultipleClients: { type: 'boolean' },
                items: { type: 'array', items: headItem },
              },
            },
            'The head.',
          ),
          ...errorResponses(400, 401, 403, 404, 429),
        },
      },
    },
    async (req) => ({ data: await q.head(call(req), toInt(req.query.limit, 100, 1, HEAD_MAX)) }),
  );

  app.post<{ Params: { queueId: string }; Querystring: Query }>(
    `${BASE}/head/lock`,
    {
      schema: {
        operationId: 'requestQueue_head_lock_post',
        summary: 'Get and lock the head',
        description: 'Locks up to `limit` (at most 25) of the first pending, unlocked requests for the clientKey.',
        tags: TAGS,
        security: TOKEN_ONLY,
        params,
        querystring: {
          type: 'object',
          required: ['lockSecs'],
          properties: {
            lockSecs,
            limit: { ...uintParam, description: `At most this many (default 25, at most ${LOCK_HEAD_MAX}).` },
            clientKey,
          },
        },
        response: {
          201: dataOf(
            {
              type: 'object',
              required: ['limit', 'queueModifiedAt', 'queueHasLockedRequests', 'hadMultipleClients', 'lockSecs', 'items'],
              properties: {
                limit: { type: 'integer' },
                queueModifiedAt: { type: 'string', format: 'date-time' },
                queueHasLockedRequests: { type: 'boolean' },
                clientKey: { type: 'string' },
                hadMultipleClients: { type: 'boolean' },
                lockSecs: { type: 'number' },
                items: {
                  type: 'array',
                  items: {
                    ...headItem,
                    required: [...headItem.required, 'lockExpiresAt'],
                    properties: { ...headItem.properties, lockExpiresAt: { type: 'string', format: 'date-time' } },
                  },
                },
              },
            },
            'The locked requests.',
          ),
          ...errorResponses(400, 401, 403, 404, 429),
        },
      },
    },
    async (req, reply) => {
      const data = await q.lockHead(
        call(req),
        toInt(req.query.limit, LOCK_HEAD_MAX, 1, LOCK_HEAD_MAX),
        parseLockSecs(req.query.lockSecs),
      );
      return reply.code(201).send({ data });
    },
  );
}

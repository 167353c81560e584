/**
 * The framework's own ceiling: Fastify, the framework openkvs is built on, answering every request
 * of the benchmark with the bytes openkvs answered (the same capture as the bare server) through
 * routes of openkvs's shapes, and reading and discarding PUT bodies. No storage, no tokens, no
 * logging: what is left between it and bare node:http is Fastify itself (routing, request and
 * reply objects, hooks, header handling), which openkvs pays on every request whatever it does.
 *
 *   node dist-bench/bench/http/fastify-server.js responses.json [port]
 */
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { loadCanned, type Prepared } from './canned.js';

const file = process.argv[2];
if (!file) throw new Error('usage: fastify-server.js responses.json [port]');
const { record, store, keys, big, put, del, push, items, csv, queueBatch, queueLock, queuePut } = loadCanned(file);

function send(reply: FastifyReply, r: Prepared): FastifyReply {
  // HEAD answers get the headers alone from Fastify's HEAD route of each GET.
  return reply
    .code(r.status)
    .headers(r.headers)
    .send(r.body.length > 0 ? r.body : undefined);
}

// As openkvs: its keep-alive default, no request logging, and the same router options.
const app = Fastify({ logger: false, routerOptions: { ignoreTrailingSlash: true, maxParamLength: 16_384 } });
// Bodies are read and dropped (openkvs reads them in its handlers); nothing is parsed.
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', (_req, payload, done) => {
  payload.on('end', () => done(null));
  payload.resume();
});

const RECORD = '/v2/key-value-stores/:storeId/records/*';
const isBig = (req: FastifyRequest) => big !== undefined && (req.params as { '*': string })['*'].startsWith('big-');
app.get(RECORD, async (req, reply) => send(reply, isBig(req) ? big! : record));
app.put(RECORD, async (_req, reply) => send(reply, put));
app.post(RECORD, async (_req, reply) => send(reply, put));
app.delete(RECORD, async (_req, reply) => send(reply, del));
app.get('/v2/key-value-stores/:storeId/keys', async (_req, reply) => send(reply, keys));
app.get('/v2/key-value-stores/:storeId', async (_req, reply) => send(reply, store));
if (push && items && csv) {
  const DATASET_ITEMS = '/v2/datasets/:datasetId/items';
  app.post(DATASET_ITEMS, async (_req, reply) => send(reply, push));
  app.get(DATASET_ITEMS, async (req, reply) => send(reply, (req.query as { format?: string }).format === 'csv' ? csv : items));
}

if (queueBatch && queueLock && queuePut) {
  app.post('/v2/request-queues/:queueId/requests/batch', async (_req, reply) => send(reply, queueBatch));
  app.post('/v2/request-queues/:queueId/head/lock', async (_req, reply) => send(reply, queueLock));
  app.put('/v2/request-queues/:queueId/requests/:requestId', async (_req, reply) => send(reply, queuePut));
}

const address = await app.listen({ host: '127.0.0.1', port: Number(process.argv[3] ?? 0) });
console.log(`Fastify listening on ${address}`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));

/**
 * The baseline: bare `node:http` answering every request of the benchmark with the bytes openkvs
 * answered (captured once, read from the JSON file named by the first argument), and reading and
 * discarding PUT and POST bodies (record uploads, dataset pushes, queue requests). What openkvs costs is its throughput beside this one.
 *
 *   node dist-bench/bench/http/bare-server.js responses.json [port]
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadCanned, type Prepared } from './canned.js';

const file = process.argv[2];
if (!file) throw new Error('usage: bare-server.js responses.json [port]');
const { record, store, keys, big, put, del, push, items, csv, queueBatch, queueLock, queuePut } = loadCanned(file);

function send(res: ServerResponse, r: Prepared, withBody = true): void {
  res.writeHead(r.status, r.headers);
  res.end(withBody ? r.body : undefined);
}

const server = createServer((req, res) => {
  const method = req.method;
  const url = req.url ?? '/';
  const dataset = url.startsWith('/v2/datasets/');
  if (url.startsWith('/v2/request-queues/') && queueBatch && queueLock && queuePut) {
    const r = method === 'PUT' ? queuePut : url.includes('/head/lock') ? queueLock : queueBatch;
    req.on('end', () => send(res, r));
    req.resume();
    return;
  }
  if (method === 'PUT' || method === 'POST') {
    req.on('end', () => send(res, dataset && push ? push : put));
    req.resume();
    return;
  }
  if (method === 'DELETE') {
    send(res, del);
    return;
  }
  if (dataset && items && csv) {
    send(res, url.includes('format=csv') ? csv : items);
    return;
  }
  const r = url.includes('/records/')
    ? big && url.includes('/records/big-')
      ? big
      : record
    : url.includes('/keys')
      ? keys
      : store;
  send(res, r, method !== 'HEAD');
});
// Fastify's default, so that both servers keep connections alike.
server.keepAliveTimeout = 72_000;
server.listen(Number(process.argv[3] ?? 0), '127.0.0.1', () => {
  console.log(`bare node:http listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

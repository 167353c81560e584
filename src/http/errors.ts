import { once } from 'node:events';
import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  ApiError,
  InternalServerError,
  InvalidParameterError,
  InvalidRecordKeyError,
  InvalidRequestError,
  MethodNotAllowedError,
  PageNotFoundError,
  RequestTooLargeError,
  ServiceUnavailableError,
} from '../errors.js';

const RECORD_PATH = /^\/v2\/key-value-stores\/[^/]+\/records\/.+$/;

/** Paths of the API and the methods each answers, for 405 versus 404. */
const ROUTES: readonly { pattern: RegExp; methods: readonly string[] }[] = [
  { pattern: /^\/v2\/key-value-stores\/?$/, methods: ['GET', 'HEAD', 'POST'] },
  { pattern: /^\/v2\/key-value-stores\/[^/]+\/?$/, methods: ['GET', 'HEAD', 'PUT', 'DELETE'] },
  { pattern: /^\/v2\/key-value-stores\/[^/]+\/keys\/?$/, methods: ['GET', 'HEAD'] },
  { pattern: /^\/v2\/key-value-stores\/[^/]+\/records$/, methods: ['GET', 'HEAD'] },
  { pattern: /^\/v2\/key-value-stores\/[^/]+\/records\/.*$/, methods: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'] },
];

/** Turns anything thrown into the Apify envelope; only this module writes error bodies. */
function toApiError(err: FastifyError | Error, path: string): ApiError {
  if (err instanceof ApiError) return err;
  const fe = err as FastifyError;
  if (fe.validation) {
    const where = fe.validationContext ?? 'request';
    const detail = fe.validation[0];
    const field = detail?.instancePath?.replace(/^\//, '') || (detail?.params as { missingProperty?: string })?.missingProperty;
    return new InvalidParameterError(
      `Invalid ${where} parameter${field ? ` "${field}"` : ''}: ${detail?.message ?? 'invalid value'}.`,
    );
  }
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new RequestTooLargeError(0);
  if (fe.code === 'FST_ERR_BAD_URL' || fe.code === 'FST_ERR_ASYNC_CONSTRAINT') {
    // A key that cannot even be percent-decoded is an invalid key.
    if (RECORD_PATH.test(path)) return new InvalidRecordKeyError();
    return new InvalidRequestError('The request URL is not valid.');
  }
  // A database file locked by another process for longer than the busy timeout: try again.
  if (fe.statusCode === 503 || fe.code === 'SQLITE_BUSY' || fe.code?.startsWith('SQLITE_BUSY_'))
    return new ServiceUnavailableError();
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new InvalidRequestError(fe.message);
  }
  return new InternalServerError();
}

/** How long a refused upload is read (and discarded) so that its client gets to see the answer. */
const DRAIN_MS = 5000;

/**
 * Reads and discards the rest of a request body, for at most `DRAIN_MS`. A client still sending
 * when the socket closes sees a connection reset instead of the answer (and retries it).
 */
async function drain(raw: IncomingMessage): Promise<void> {
  if (raw.complete || raw.readableEnded || raw.destroyed) return;
  const ac = new AbortController();
  // A reader that gave up (an abandoned async iterator) may still listen for 'readable', which keeps resume() from flowing.
  raw.removeAllListeners('readable');
  raw.resume();
  await Promise.race([
    once(raw, 'end', { signal: ac.signal }),
    once(raw, 'close', { signal: ac.signal }),
    delay(DRAIN_MS, undefined, { signal: ac.signal }),
  ]).catch(() => undefined);
  ac.abort();
}

export async function sendError(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const path = req.url.split('?')[0] ?? '/';
  const api = toApiError(err, path);
  // The path without its query string: a token or signature may be in the query.
  if (api.statusCode === 503) req.log.warn({ method: req.method, path, type: api.type, cause: err.message }, 'request failed');
  else if (api.statusCode >= 500) req.log.error({ err, method: req.method, path }, 'request failed');
  reply.code(api.statusCode).headers(api.headers);
  // A body the handler stopped reading (too large, or the storage failed mid-upload) is read and
  // discarded for a while, so that the client sees the answer; what is still unread then closes the
  // connection, which could carry no other request anyway.
  if (!req.raw.complete) {
    await drain(req.raw);
    if (!req.raw.complete) reply.header('connection', 'close');
  }
  if (req.method === 'HEAD') return reply.send();
  return reply.type('application/json; charset=utf-8').send({ error: { type: api.type, message: api.message } });
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err, req, reply) => sendError(err instanceof Error ? err : new Error(String(err)), req, reply));
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '/';
    // `records/` is a record route with an empty key.
    if (/^\/v2\/key-value-stores\/[^/]+\/records\/$/.test(path)) return sendError(new InvalidRecordKeyError(), req, reply);
    const route = ROUTES.find((r) => r.pattern.test(path));
    if (route) return sendError(new MethodNotAllowedError(route.methods), req, reply);
    return sendError(new PageNotFoundError(path), req, reply);
  });
}

/**
 * Answers requests that never became HTTP requests (a malformed request line, headers past the
 * size limit, a client too slow to send its headers) with the Apify envelope, then closes.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let status = 400;
  let type = 'invalid-request';
  let message = 'The request is not valid HTTP.';
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = 408;
    type = 'request-timeout';
    message = 'The request was not received in time.';
  } else if (err.code === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    type = 'request-header-fields-too-large';
    message = 'The request headers are too large.';
  }
  const body = JSON.stringify({ error: { type, message } });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

import { type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { STORABLE_TEXT_PATTERN, UNSTORABLE_TEXT_RULE } from '../domain/validation.js';
import {
  ApiError,
  HeadersTooLargeError,
  InternalServerError,
  InvalidParameterError,
  InvalidRecordKeyError,
  InvalidRequestError,
  MethodNotAllowedError,
  PageNotFoundError,
  RequestTimeoutError,
  RequestTooLargeError,
  ServiceUnavailableError,
} from '../errors.js';
import { StorageTemporaryError } from '../storage/errors.js';
import { collectRouteMethods } from './route-methods.js';
import { dropUnreadBody, stopDropping } from './unread-body.js';

const RECORD_PATH = /^\/v2\/key-value-stores\/[^/]+\/records\/.+$/;
const EMPTY_KEY_PATH = /^\/v2\/key-value-stores\/[^/]+\/records\/$/;
const JSON_TYPE = 'application/json; charset=utf-8';

/** The Apify envelope of `api`. */
const envelope = (api: ApiError): string => JSON.stringify({ error: { type: api.type, message: api.message } });

/** Turns anything thrown into the Apify envelope; only this module writes error bodies. */
function toApiError(err: FastifyError | Error, path: string): ApiError {
  if (err instanceof ApiError) return err;
  const fe = err as FastifyError;
  if (fe.validation) {
    const where = fe.validationContext ?? 'request';
    const detail = fe.validation[0];
    const field = detail?.instancePath?.replace(/^\//, '') || (detail?.params as { missingProperty?: string })?.missingProperty;
    if (detail?.keyword === 'pattern' && (detail.params as { pattern?: string }).pattern === STORABLE_TEXT_PATTERN)
      return new InvalidParameterError(`Invalid parameter "${field}": ${UNSTORABLE_TEXT_RULE}.`);
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
  // The database unreachable, or locked by another process past the busy timeout: try again.
  if (err instanceof StorageTemporaryError || fe.statusCode === 503) return new ServiceUnavailableError();
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new InvalidRequestError(fe.message);
  }
  return new InternalServerError();
}

export async function sendError(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const path = req.url.split('?')[0] ?? '/';
  const api = toApiError(err, path);
  // The path without its query string: a token or signature may be in the query.
  if (api.statusCode === 503) req.log.warn({ method: req.method, path, type: api.type, cause: err.message }, 'request failed');
  else if (api.statusCode >= 500) req.log.error({ err, method: req.method, path }, 'request failed');
  reply.code(api.statusCode).headers(api.headers);
  // A body the handler did not read (refused before, too large, or the storage failed mid-upload)
  // does not delay the answer: it is dropped afterwards (see unread-body.ts).
  const unread = dropUnreadBody(req.raw, reply.raw, req.server.server);
  if (unread?.close) reply.header('connection', 'close');
  if (req.method === 'HEAD') return reply.send();
  const body = envelope(api);
  reply.type(JSON_TYPE);
  if (!unread) return reply.send(body);
  return reply.header('content-length', String(Buffer.byteLength(body))).send(unread.hold(body));
}

/** The headers of `api`'s answer outside Fastify, with `body`; the connection closes after it. */
function rawHeaders(api: ApiError, body: string): Record<string, string> {
  return { ...api.headers, 'content-type': JSON_TYPE, 'content-length': String(Buffer.byteLength(body)), connection: 'close' };
}

/** Answers `api` on a response node made outside Fastify (a `checkExpectation` event). */
export function sendRawError(res: ServerResponse, api: ApiError): void {
  const body = envelope(api);
  res.writeHead(api.statusCode, rawHeaders(api, body));
  res.end(body);
}

/** Writes `api`'s answer on a connection that has no response object (`connect`, `clientError`), then closes it once flushed. */
export function endWithError(socket: Duplex, api: ApiError): void {
  const body = envelope(api);
  const head = Object.entries(rawHeaders(api, body))
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${api.statusCode} ${STATUS_CODES[api.statusCode]}\r\n${head}\r\n${body}`, () => socket.destroy());
}

/** Installs the error and not-found handlers, and lets no refused body hold up the app's close. */
export function installErrorHandlers(app: FastifyInstance): void {
  const methodsOf = collectRouteMethods(app);
  app.addHook('preClose', (done) => {
    stopDropping(app.server);
    done();
  });
  app.setErrorHandler((err, req, reply) => sendError(err instanceof Error ? err : new Error(String(err)), req, reply));
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '/';
    // `records/` is a record route with an empty key.
    if (EMPTY_KEY_PATH.test(path)) return sendError(new InvalidRecordKeyError(), req, reply);
    const methods = methodsOf(path);
    // A route that answers this method but found nothing (a missing console asset) is a 404.
    if (methods.length > 0 && !methods.includes(req.method)) return sendError(new MethodNotAllowedError(methods), req, reply);
    return sendError(new PageNotFoundError(path), req, reply);
  });
}

/**
 * Node's `clientError` handler: answers requests that never became HTTP requests (a malformed
 * request line, headers past the size limit, a client too slow to send them) with the envelope,
 * then closes. `underWay` tells whether an answer on the connection has its headers out: nothing
 * is written into it then (the client would read corrupt bytes), as node's own handler does.
 */
export function createClientErrorHandler(underWay: (socket: Duplex) => boolean) {
  return (err: NodeJS.ErrnoException, socket: Duplex): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    if (!socket.writable || underWay(socket)) {
      socket.destroy();
      return;
    }
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') endWithError(socket, new RequestTimeoutError());
    else if (err.code === 'HPE_HEADER_OVERFLOW') endWithError(socket, new HeadersTooLargeError());
    else endWithError(socket, new InvalidRequestError('The request is not valid HTTP.'));
  };
}

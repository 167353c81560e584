import { STATUS_CODES } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { STORABLE_TEXT_PATTERN, UNSTORABLE_TEXT_RULE } from '../domain/validation.js';
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
import { dropUnreadBody, lingeringClose, stopLingering } from './linger.js';

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
  // A database file locked by another process for longer than the busy timeout: try again.
  if (fe.statusCode === 503 || fe.code === 'SQLITE_BUSY' || fe.code?.startsWith('SQLITE_BUSY_'))
    return new ServiceUnavailableError();
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
  // does not delay the answer: it is dropped afterwards (see linger.ts).
  if (dropUnreadBody(req.raw, reply.raw)) reply.header('connection', 'close');
  if (req.method === 'HEAD') return reply.send();
  return reply.type('application/json; charset=utf-8').send({ error: { type: api.type, message: api.message } });
}

/** Installs the error and not-found handlers, and stops refused uploads from lingering once the app closes. */
export function installErrorHandlers(app: FastifyInstance): void {
  app.addHook('preClose', (done) => {
    stopLingering(app.server);
    done();
  });
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
 * size limit, a client too slow to send its headers) with the Apify envelope, then closes: with a
 * lingering close when the client may still be sending, at once when it was too slow.
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
  // As node's own handler: no answer into a response already under way (its headers are out), which
  // would corrupt what the client reads; the connection is closed all the same.
  const inFlight = (socket as Duplex & { _httpMessage?: { _headerSent?: boolean } | null })._httpMessage;
  if (socket.writable && !inFlight?._headerSent) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  if (status !== 408 && socket instanceof Socket) lingeringClose(socket);
  else socket.destroy();
}

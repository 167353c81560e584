import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  ApiError,
  InternalServerError,
  InvalidParameterError,
  InvalidRequestError,
  MethodNotAllowedError,
  PageNotFoundError,
  RequestTooLargeError,
  ServiceUnavailableError,
} from '../errors.js';

/** Paths of the API and the methods each answers, for 405 versus 404. */
const ROUTES: readonly { pattern: RegExp; methods: readonly string[] }[] = [
  { pattern: /^\/v2\/key-value-stores\/?$/, methods: ['GET', 'HEAD', 'POST'] },
  { pattern: /^\/v2\/key-value-stores\/[^/]+\/?$/, methods: ['GET', 'HEAD', 'PUT', 'DELETE'] },
  { pattern: /^\/v2\/key-value-stores\/[^/]+\/keys\/?$/, methods: ['GET', 'HEAD'] },
  { pattern: /^\/v2\/key-value-stores\/[^/]+\/records$/, methods: ['GET', 'HEAD'] },
  { pattern: /^\/v2\/key-value-stores\/[^/]+\/records\/.*$/, methods: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'] },
];

/** Turns anything thrown into the Apify envelope; only this module writes error bodies. */
function toApiError(err: FastifyError | Error): ApiError {
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
  if (fe.code === 'FST_ERR_BAD_URL' || fe.code === 'FST_ERR_ASYNC_CONSTRAINT')
    return new InvalidRequestError('The request URL is not valid.');
  if (fe.statusCode === 503) return new ServiceUnavailableError();
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new InvalidRequestError(fe.message);
  }
  return new InternalServerError();
}

export function sendError(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const api = toApiError(err);
  if (api.statusCode >= 500) req.log.error({ err }, 'request failed');
  reply.code(api.statusCode).headers(api.headers);
  // The rest of a body refused for its size is not worth reading.
  if (api.statusCode === 413) reply.header('connection', 'close');
  if (req.method === 'HEAD') return reply.send();
  return reply.type('application/json; charset=utf-8').send({ error: { type: api.type, message: api.message } });
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err, req, reply) => sendError(err instanceof Error ? err : new Error(String(err)), req, reply));
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '/';
    const route = ROUTES.find((r) => r.pattern.test(path));
    if (route) return sendError(new MethodNotAllowedError(route.methods), req, reply);
    return sendError(new PageNotFoundError(path), req, reply);
  });
}

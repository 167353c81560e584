import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import pino from 'pino';

/** Query parameters whose values never reach the logs. */
const SECRET_PARAMS = /([?&](?:token|signature)=)[^&]*/gi;

export function redactUrl(url: string): string {
  return url.replace(SECRET_PARAMS, '$1[redacted]');
}

/** An `X-Request-Id` worth keeping (set by a proxy in front); anything else is replaced. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request id: the caller's `X-Request-Id` when it is a plain token, else a new UUID. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * The logger of `openkvs serve`: JSON lines (pino), requests shown as id, method and URL with
 * `token` and `signature` redacted; headers never, and `Authorization` / `Cookie` censored should
 * anything log them.
 */
export function loggerOptions(level: string, stream?: pino.DestinationStream): NonNullable<FastifyServerOptions['logger']> {
  return {
    level,
    ...(stream ? { stream } : {}),
    serializers: {
      req: (req: { method: string; url: string; id: string }) => ({ id: req.id, method: req.method, url: redactUrl(req.url) }),
    },
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie'],
      censor: '[redacted]',
    },
  };
}

/**
 * Echoes the request id as `X-Request-Id` and, when the level is `info` or finer, logs one line per
 * answered request: method, route pattern, URL (secrets redacted), status and milliseconds; the
 * request id comes with every line of `req.log` as `reqId`.
 */
export function installRequestLog(app: FastifyInstance): void {
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    done();
  });
  // Fastify's stand-in logger (logging off) has no `isLevelEnabled`.
  const log = app.log as { isLevelEnabled?: (level: string) => boolean };
  if (!log.isLevelEnabled?.('info')) return;
  app.addHook('onResponse', (req, reply, done) => {
    req.log.info(
      {
        method: req.method,
        route: req.routeOptions.url,
        url: redactUrl(req.url),
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 100) / 100,
      },
      'request',
    );
    done();
  });
}

/**
 * Standard output written asynchronously: lines logged while a write is under way go out together
 * in the next one, so that a busy server does not pay a system call per request line. `flushSync()`
 * writes out what is left (at shutdown).
 */
export function logDestination(): pino.DestinationStream & { flushSync(): void } {
  return pino.destination({ dest: 1, sync: false, minLength: 0 });
}

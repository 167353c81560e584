import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { hostname } from 'node:os';
import type { FastifyBaseLogger, FastifyInstance, FastifyServerOptions } from 'fastify';
import pino from 'pino';

/** Query parameters whose values never reach the logs. */
const SECRET_PARAMS = /([?&](?:token|signature)=)[^&]*/gi;
const HAS_SECRET = /[?&](?:token|signature)=/i;

export function redactUrl(url: string): string {
  // Most URLs carry neither: tested first, they are not copied.
  return HAS_SECRET.test(url) ? url.replace(SECRET_PARAMS, '$1[redacted]') : url;
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
 * anything log them. `bindings` go on every line (a worker's number, say).
 */
export function loggerOptions(
  level: string,
  stream?: pino.DestinationStream,
  bindings?: Record<string, unknown>,
): NonNullable<FastifyServerOptions['logger']> {
  return {
    level,
    ...(stream ? { stream } : {}),
    // pino's own base (pid, hostname) is replaced by `base`, so it is given again.
    ...(bindings ? { base: { pid: process.pid, hostname: hostname(), ...bindings } } : {}),
    serializers: {
      req: (req: { method: string; url: string; id: string }) => ({ id: req.id, method: req.method, url: redactUrl(req.url) }),
    },
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie'],
      censor: '[redacted]',
    },
  };
}

/** What else wants to know of each answered request (the metrics): `route` is the route pattern. */
export type OnAnswered = (method: string, route: string, status: number, ms: number) => void;

type Bindings = Record<string, unknown>;
type ChildOptions = Parameters<FastifyBaseLogger['child']>[1];

/**
 * A request's logger (`req.log`), made from the server's only when the request logs something of
 * its own (an error, a warning): Fastify makes one per request, and a pino child per request cost
 * about 1.5 µs even with the request log off. The request line itself goes through the server's
 * logger with the request id in it.
 */
class LazyLogger {
  readonly #parent: FastifyBaseLogger;
  readonly #bindings: Bindings;
  readonly #options: ChildOptions;
  #made: FastifyBaseLogger | undefined;

  constructor(parent: FastifyBaseLogger, bindings: Bindings, options: ChildOptions) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#options = options;
  }

  get #logger(): FastifyBaseLogger {
    this.#made ??= this.#parent.child(this.#bindings, this.#options);
    return this.#made;
  }

  get level(): string {
    return this.#made?.level ?? this.#options?.level ?? this.#parent.level;
  }
  set level(level: string) {
    this.#logger.level = level;
  }
  isLevelEnabled(level: string): boolean {
    const logger = (this.#made ?? this.#parent) as { isLevelEnabled?: (level: string) => boolean };
    return logger.isLevelEnabled?.(level) ?? false;
  }
  child(bindings: Bindings, options?: ChildOptions): FastifyBaseLogger {
    return this.#logger.child(bindings, options);
  }
  fatal(...args: unknown[]): void {
    (this.#logger.fatal as (...a: unknown[]) => void)(...args);
  }
  error(...args: unknown[]): void {
    (this.#logger.error as (...a: unknown[]) => void)(...args);
  }
  warn(...args: unknown[]): void {
    (this.#logger.warn as (...a: unknown[]) => void)(...args);
  }
  info(...args: unknown[]): void {
    (this.#logger.info as (...a: unknown[]) => void)(...args);
  }
  debug(...args: unknown[]): void {
    (this.#logger.debug as (...a: unknown[]) => void)(...args);
  }
  trace(...args: unknown[]): void {
    (this.#logger.trace as (...a: unknown[]) => void)(...args);
  }
  silent(): void {}
}

/** Fastify's `childLoggerFactory`: the per-request logger, made when first used. */
export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Bindings, options: ChildOptions): FastifyBaseLogger {
  return new LazyLogger(logger, bindings, options) as unknown as FastifyBaseLogger;
}

/**
 * When the level is `info` or finer, logs one line per answered request: request id, method, route
 * pattern, URL (secrets redacted), status and milliseconds (`--log-level warn` turns it off). The
 * request id also comes with every other line of `req.log` as `reqId` (and goes back to the client
 * as `X-Request-Id`, set in the app's `onRequest` hook). One hook for the line and for
 * `onAnswered`: the route pattern is looked up once per request.
 */
export function installRequestLog(app: FastifyInstance, onAnswered: OnAnswered): void {
  // Fastify's stand-in logger (logging off) has no `isLevelEnabled`.
  const log = app.log as FastifyBaseLogger & { isLevelEnabled?: (level: string) => boolean };
  const logging = log.isLevelEnabled?.('info') === true;
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url;
    const ms = reply.elapsedTime;
    onAnswered(req.method, route ?? '(unmatched)', reply.statusCode, ms);
    if (logging) {
      log.info(
        {
          reqId: req.id,
          method: req.method,
          route,
          url: redactUrl(req.url),
          status: reply.statusCode,
          ms: Math.round(ms * 100) / 100,
        },
        'request',
      );
    }
    done();
  });
}

/** Bytes a pipe takes in one write without mixing it with another process's (POSIX's PIPE_BUF on Linux). */
const PIPE_BUF = 4096;

/**
 * Standard output written asynchronously: lines logged while a write is under way go out together
 * in the next one, so that a busy server does not pay a system call per request line. `flushSync()`
 * writes out what is left (at shutdown). `shared`: other processes write the same output (the
 * workers of `--workers`), so each write carries whole lines and at most PIPE_BUF bytes, which a
 * pipe never interleaves with another's.
 */
export function logDestination(shared = false): pino.DestinationStream & { flushSync(): void } {
  return pino.destination({ dest: 1, sync: false, minLength: 0, ...(shared ? { maxWrite: PIPE_BUF } : {}) });
}

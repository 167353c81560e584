import { createRequire } from 'node:module';
import cors from '@fastify/cors';
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import type { Kvs } from '../domain/index.js';
import { ExpectationFailedError, MethodNotAllowedError, ServiceUnavailableError } from '../errors.js';
import type { RateLimits } from '../model.js';
import { consoleRoutes } from './console.js';
import { holdContentType } from './content-type.js';
import { datasetRoutes } from './datasets/datasets.js';
import { createDrain } from './drain.js';
import { createClientErrorHandler, endWithError, installErrorHandlers, sendError, sendRawError } from './errors.js';
import { archiveRoutes } from './key-value-stores/archive.js';
import { keyRoutes } from './key-value-stores/keys.js';
import { recordRoutes } from './key-value-stores/records.js';
import { storeRoutes } from './key-value-stores/stores.js';
import { installRateLimits, type RequestCounter } from './limits.js';
import { createMetrics, type WorkerMetrics } from './metrics.js';
import { installOpenApi, openApiRoutes } from './openapi.js';
import { installRequestLog, lazyChildLogger, requestId } from './request-log.js';
import { requestQueueRoutes } from './request-queues/request-queues.js';
import { isClosing } from './unread-body.js';

export interface AppOptions {
  kvs: Kvs;
  /** Origin for links in responses, without a trailing `/`; read per request (the port may be chosen at listen). */
  publicUrl: () => string;
  maxRecordBytes: number;
  logger?: FastifyServerOptions['logger'];
  /** Per-store rate limits; none when absent. */
  rateLimits?: RateLimits;
  /** Origins allowed to call the API from a browser: `*` (the default), a list, or none. */
  corsOrigins?: '*' | string[] | false;
  /**
   * Limits on slow clients: the whole request (headers and body, default 10 min, enough for a
   * 100 MiB record at 200 KB/s), the headers alone (default 30 s), and a connection with no
   * traffic either way (default 2 min).
   */
  timeouts?: { requestMs?: number; headersMs?: number; idleMs?: number };
  /** How long a closing app lets its open connections finish before cutting them (default 10 s). */
  shutdownTimeoutMs?: number;
  /** In a worker of `serve --workers N`: what it shares with the others through the primary. */
  worker?: WorkerLink;
}

/** What the workers of one server share (src/cli/cluster-worker.ts): rate-limit counts and metrics. */
export interface WorkerLink {
  /** Counts requests for the rate limits in one place for all workers (used when the driver cannot). */
  countRequest: RequestCounter;
  metrics: WorkerMetrics;
}

/** Headers browser clients send to the API, and the ones they may read. */
const CORS_REQUEST_HEADERS = [
  'Authorization',
  'Content-Type',
  'Content-Encoding',
  'Content-MD5',
  'X-Content-Sha256',
  'If-Match',
  'If-None-Match',
  'If-Modified-Since',
  'If-Range',
  'Range',
];
const CORS_EXPOSED_HEADERS = [
  'Location',
  'ETag',
  'Last-Modified',
  'Content-Encoding',
  'Content-Range',
  'Content-Disposition',
  'Retry-After',
  'X-RateLimit-Limit',
  'X-RateLimit-Remaining',
  'X-RateLimit-Reset',
  'X-Request-Id',
];

const HEALTH_BODY = JSON.stringify({ status: 'ok' });

const HEALTH_SCHEMA = {
  operationId: 'health_get',
  summary: 'Health check',
  description: 'Answers 200 once the server accepts requests (503 while it shuts down).',
  tags: ['Operations'],
  security: [],
  response: {
    200: {
      description: 'Serving.',
      type: 'object',
      required: ['status'],
      properties: { status: { type: 'string', enum: ['ok'] } },
    },
    503: { description: '`service-unavailable`: the server is shutting down (with `Connection: close`).', $ref: 'Error#' },
  },
};

const require = createRequire(import.meta.url);

type Compile = (route: unknown) => (data: unknown) => unknown;

/** A validator compiled on its first call; Fastify reads a failed validation's errors off the function. */
function lazyValidator(compile: () => (data: unknown) => unknown): (data: unknown) => unknown {
  let validate: ((data: unknown) => unknown) | undefined;
  const lazy = (data: unknown) => {
    validate ??= compile();
    const ok = validate(data);
    (lazy as { errors?: unknown }).errors = (validate as { errors?: unknown }).errors;
    return ok;
  };
  return lazy;
}

/** What `build` makes, made on the first call and kept. */
function onFirstUse<T>(build: () => T): () => T {
  let made: { value: T } | undefined;
  return () => {
    made ??= { value: build() };
    return made.value;
  };
}

/**
 * Fastify's own schema compilers (Ajv for requests, fast-json-stringify for responses), each route's
 * schema compiled when first used rather than all at start, where they took half the start time.
 */
const lazyCompilers = {
  buildValidator: (external: unknown, options: unknown) => {
    // Even loading Ajv waits for the first request that needs it.
    const compiler = onFirstUse(() =>
      (require('@fastify/ajv-compiler') as () => (e: unknown, o: unknown) => Compile)()(external, options),
    );
    return (route: unknown) => lazyValidator(() => compiler()(route));
  },
  buildSerializer: (external: unknown, options: unknown) => {
    const compiler = onFirstUse(() =>
      (
        require('@fastify/fast-json-stringify-compiler') as { SerializerSelector: () => (e: unknown, o: unknown) => Compile }
      ).SerializerSelector()(external, options),
    );
    return (route: unknown) => {
      const serializer = onFirstUse(() => compiler()(route));
      return (data: unknown) => serializer()(data);
    };
  },
};

/** The Fastify application with every route; not listening yet. */
export function createApp(options: AppOptions): FastifyInstance {
  const drain = createDrain();
  const app = Fastify({
    logger: options.logger ?? false,
    // One line per request, written by installRequestLog, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: requestId,
    childLoggerFactory: lazyChildLogger,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 16_384 },
    // Requests that reach a closing server on an open connection are answered as usual (drain.ts).
    return503OnClosing: false,
    clientErrorHandler: createClientErrorHandler(drain.underWay),
    requestTimeout: options.timeouts?.requestMs ?? 600_000,
    connectionTimeout: options.timeouts?.idleMs ?? 120_000,
    // Node replaces the idle timeout of a kept-alive connection with this one.
    keepAliveTimeout: Math.min(72_000, options.timeouts?.idleMs ?? 120_000),
    http: {
      headersTimeout: options.timeouts?.headersMs ?? 30_000,
      // Node checks both timeouts only this often (30 s by default).
      connectionsCheckingInterval: Math.min(1000, Math.floor((options.timeouts?.headersMs ?? 30_000) / 4)),
      // A request without Host is answered like any other (an empty 400 otherwise).
      requireHostHeader: false,
      ServerResponse: drain.Response,
    },
    schemaController: { compilersFactory: lazyCompilers as never },
    frameworkErrors: (err, req, reply) => {
      sendError(err, req, reply);
    },
  });
  // Bodies are read by the handlers themselves, as raw bytes (records) or decoded JSON (stores).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null));
  // Before Fastify stops the listener: from then on every answer closes its connection.
  app.addHook('preClose', (done) => {
    drain.start(app.server, options.shutdownTimeoutMs ?? 10_000);
    done();
  });
  // One hook for every request: each hook Fastify runs costs the request path.
  app.addHook('onRequest', (req, reply, done) => {
    // A request that follows an answer saying `Connection: close` on the same connection is never
    // served (RFC 9112, 9.6); node would still parse it while the refused body before it is dropped.
    if (isClosing(req.raw.socket)) {
      reply.hijack();
      return;
    }
    reply.header('x-request-id', req.id);
    holdContentType(req.raw);
    done();
  });

  installErrorHandlers(app);
  // Node answers these outside Fastify; give them the envelope too.
  app.server.on('checkExpectation', (_req, res) => sendRawError(res, new ExpectationFailedError()));
  app.server.on('connect', (_req, socket) => endWithError(socket, new MethodNotAllowedError([], 'CONNECT is not supported.')));
  const metrics = createMetrics(options.kvs.driver, options.worker?.metrics);
  installRequestLog(app, metrics.observe);
  const origins = options.corsOrigins ?? '*';
  if (origins !== false) {
    // No credentials: tokens travel in the Authorization header, never in cookies.
    app.register(cors, {
      origin: origins,
      methods: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'],
      allowedHeaders: CORS_REQUEST_HEADERS,
      exposedHeaders: CORS_EXPOSED_HEADERS,
      maxAge: 600,
      // An OPTIONS that is not a preflight gets the API's own answer, not a text/plain 400.
      strictPreflight: false,
    });
  }
  const { rateLimits } = options;
  if (rateLimits) installRateLimits(app, rateLimits, options.kvs, options.worker?.countRequest);
  installOpenApi(app);
  // Routes are registered after the plugins above, so that their hooks apply to every route.
  app.register(async (api) => {
    // A fixed body, not serialized: the first /health after a start (what supervisors and load
    // balancers wait for) would otherwise wait for the response serializer to be built.
    api.get('/health', { schema: HEALTH_SCHEMA }, async (_req, reply) => {
      // What takes a draining node out of a load balancer that checks on a kept-alive connection.
      if (drain.active) throw new ServiceUnavailableError('The server is shutting down.');
      return reply.type('application/json; charset=utf-8').send(HEALTH_BODY);
    });
    storeRoutes(api, options.kvs, options.publicUrl);
    keyRoutes(api, options.kvs);
    archiveRoutes(api, options.kvs);
    recordRoutes(api, options.kvs, options.publicUrl, options.maxRecordBytes);
    datasetRoutes(api, options.kvs, options.publicUrl);
    requestQueueRoutes(api, options.kvs, options.publicUrl);
    consoleRoutes(api);
    metrics.routes(api);
    openApiRoutes(api);
  });
  return app;
}

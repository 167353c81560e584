import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import type { Kvs } from '../domain/index.js';
import { holdContentType } from './content-type.js';
import { installErrorHandlers, sendError } from './errors.js';
import { archiveRoutes } from './routes/archive.js';
import { consoleRoutes } from './routes/console.js';
import { keyRoutes } from './routes/keys.js';
import { recordRoutes } from './routes/records.js';
import { storeRoutes } from './routes/stores.js';

export interface AppOptions {
  kvs: Kvs;
  /** Origin for links in responses, without a trailing `/`; read per request (the port may be chosen at listen). */
  publicUrl: () => string;
  maxRecordBytes: number;
  logger?: FastifyServerOptions['logger'];
}

/** Query parameters whose values never reach the logs. */
const SECRET_PARAMS = /([?&](?:token|signature)=)[^&]*/gi;

export function redactUrl(url: string): string {
  return url.replace(SECRET_PARAMS, '$1[redacted]');
}

/** The Fastify application with every route; not listening yet. */
export function createApp(options: AppOptions): FastifyInstance {
  const app = Fastify({
    logger: options.logger ?? false,
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 16_384 },
    return503OnClosing: true,
    frameworkErrors: (err, req, reply) => {
      sendError(err, req, reply);
    },
  });
  // Bodies are read by the handlers themselves, as raw bytes (records) or decoded JSON (stores).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null));
  app.addHook('onRequest', (req, _reply, done) => {
    holdContentType(req.raw);
    done();
  });

  installErrorHandlers(app);
  app.get('/health', async () => ({ status: 'ok' }));
  storeRoutes(app, options.kvs, options.publicUrl);
  keyRoutes(app, options.kvs);
  archiveRoutes(app, options.kvs);
  recordRoutes(app, options.kvs, options.publicUrl, options.maxRecordBytes);
  consoleRoutes(app);
  return app;
}

import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseStoreRef } from '../domain/access.js';
import type { Kvs } from '../domain/index.js';
import { RateLimitExceededError } from '../errors.js';
import type { RateLimits, StorageKind } from '../model.js';
import type { Housekeeping } from '../storage/driver.js';
import { resolveCaller } from './caller.js';

/** Counts a request against `key` in the current fixed window of `windowMs` (`Housekeeping.countRequest`). */
export type RequestCounter = NonNullable<Housekeeping['countRequest']>;

/**
 * A rate-limit store whose counters live outside this process (the storage shared by several
 * nodes, or the primary of `--workers`): every process counts against the same fixed windows.
 */
function sharedStore(count: RequestCounter) {
  return class SharedRateStore {
    // The plugin passes the window as a third argument (its typings leave it out).
    incr(key: string, cb: (err: Error | null, res?: { current: number; ttl: number }) => void, timeWindow = 1000): void {
      count(key, timeWindow).then(
        (r) => cb(null, { current: r.count, ttl: r.resetInMs }),
        (err: Error) => cb(err),
      );
    }
    child() {
      return this;
    }
  };
}

/**
 * Record reads and writes, item pushes and reads, and the operations on queued requests share the
 * larger budget, as in the Apify cloud.
 */
function isRecordRoute(req: FastifyRequest): boolean {
  const url = req.routeOptions.url;
  return url !== undefined && (url.includes('/records/') || url.endsWith('/items') || /\/requests|\/head/.test(url));
}

/** The storage a request names: its path parameter and kind, or undefined for requests of none. */
function storageOf(req: FastifyRequest): { param: string; kind: StorageKind } | undefined {
  const params = req.params as { storeId?: string; datasetId?: string; queueId?: string } | undefined;
  if (params?.storeId !== undefined) return { param: params.storeId, kind: 'kvs' };
  if (params?.datasetId !== undefined) return { param: params.datasetId, kind: 'dataset' };
  if (params?.queueId !== undefined) return { param: params.queueId, kind: 'queue' };
  return undefined;
}

/**
 * Registers the per-store rate limits on the root instance, before the routes; counters are
 * shared through the driver when it can (every node on it), else through `shared` when given (the
 * workers of one server), else counted in memory.
 */
export function installRateLimits(app: FastifyInstance, limits: RateLimits, kvs: Kvs, shared?: RequestCounter): void {
  const count = kvs.driver.countRequest?.bind(kvs.driver) ?? shared;
  app.register(rateLimit, {
    global: true,
    timeWindow: 1000,
    hook: 'onRequest',
    ...(count ? { store: sharedStore(count) } : {}),
    allowList: (req) => !storageOf(req)?.param,
    keyGenerator: async (req) => {
      const category = isRecordRoute(req) ? 'record' : 'other';
      const { param, kind } = storageOf(req) ?? { param: '', kind: 'kvs' };
      if (!param.includes('~')) return `${category}:${param}`;
      // A store named by `~name` or `user~name` shares the budget of its id.
      try {
        const store = await kvs.access.find(await resolveCaller(kvs, req), parseStoreRef(param, kind));
        return `${category}:${store?.id ?? param}`;
      } catch {
        return `${category}:${param}`;
      }
    },
    max: (req) => (isRecordRoute(req) ? limits.recordOpsPerSecond : limits.otherPerSecond),
    errorResponseBuilder: (_req, ctx) => new RateLimitExceededError(ctx.max),
  });
}

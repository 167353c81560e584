import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RateLimitExceededError } from '../errors.js';
import type { StorageDriver } from '../storage/driver.js';

/** Per-store request rates (spec decision 15): off unless configured. */
export interface RateLimits {
  /** Record reads and writes per second per store (the cloud's 200). */
  recordOpsPerSecond: number;
  /** Other requests per second per store (the cloud's 60). */
  otherPerSecond: number;
}

export const CLOUD_RATE_LIMITS: RateLimits = { recordOpsPerSecond: 200, otherPerSecond: 60 };

/**
 * A rate-limit store whose counters live in the storage, for drivers shared by several nodes:
 * every node counts against the same fixed one-second windows.
 */
function sharedStore(count: NonNullable<StorageDriver['countRequest']>) {
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

function isRecordRoute(req: FastifyRequest): boolean {
  return req.routeOptions.url?.includes('/records/') ?? false;
}

/**
 * Registers the per-store rate limits on the root instance, before the routes; counters are
 * shared through the driver when it can.
 */
export function installRateLimits(app: FastifyInstance, limits: RateLimits, driver: StorageDriver): void {
  const count = driver.countRequest?.bind(driver);
  app.register(rateLimit, {
    global: true,
    timeWindow: 1000,
    hook: 'onRequest',
    ...(count ? { store: sharedStore(count) } : {}),
    allowList: (req) => !(req.params as { storeId?: string } | undefined)?.storeId,
    keyGenerator: (req) => {
      const storeId = (req.params as { storeId?: string }).storeId ?? '';
      return `${isRecordRoute(req) ? 'record' : 'other'}:${storeId}`;
    },
    max: (req) => (isRecordRoute(req) ? limits.recordOpsPerSecond : limits.otherPerSecond),
    errorResponseBuilder: (_req, ctx) => new RateLimitExceededError(ctx.max),
  });
}

import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Housekeeping } from '../storage/driver.js';
import { errorResponses } from './schemas.js';

export const METRICS_PATH = '/metrics';

/** Seconds; from a cached small record to a 100 MiB upload on a slow link. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

let processRegistry: Registry | undefined;

/** CPU, memory, event loop and GC metrics belong to the process, whichever app serves them: one registry per process. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

type Label = 'method' | 'route' | 'status';

/** One process's metrics as prom-client's JSON, which `AggregatorRegistry.aggregate` adds up. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** How the app of one worker of `serve --workers N` reports metrics for the whole server. */
export interface WorkerMetrics {
  /** The request and process metrics of every worker, added up, as exposition text. */
  gather(): Promise<string>;
  /** Takes the function that reads this worker's own request and process metrics, for `gather` in any worker. */
  provide(read: () => Promise<MetricsJson>): void;
}

export interface HttpMetrics {
  /** Counts an answered request and its latency (`route` is the route pattern). */
  observe(method: string, route: string, status: number, ms: number): void;
  /** Adds `GET /metrics`. */
  routes(app: FastifyInstance): void;
}

/**
 * Prometheus metrics of one app: requests and their latency by route pattern (never the raw URL,
 * which holds store ids and keys) and status, store count and stored bytes computed on each scrape,
 * and the process metrics. In a worker (`worker` given), requests and process metrics are those of
 * every worker added up; the storage gauges, read from the shared storage, are read once, here.
 */
export function createMetrics(driver: Housekeeping, worker?: WorkerMetrics): HttpMetrics {
  const registry = new Registry();
  // Apart, so that they are never added up over the workers: every worker would read the same totals.
  const storage = new Registry();
  const labelNames: Label[] = ['method', 'route', 'status'];
  const requests = new Counter<Label>({
    name: 'openkvs_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status.',
    labelNames,
    registers: [registry],
  });
  const latency = new Histogram<Label>({
    name: 'openkvs_http_request_duration_seconds',
    help: 'Time from the request to the end of its response, by method, route pattern and status.',
    labelNames,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const stores = new Gauge({ name: 'openkvs_stores', help: 'Stores in the storage, named and unnamed.', registers: [storage] });
  const bytes = new Gauge({
    name: 'openkvs_stored_bytes',
    help: 'Bytes of records in the storage, as stored (compressed records count compressed).',
    registers: [storage],
  });
  worker?.provide(async () => [...(await processMetrics().getMetricsAsJSON()), ...(await registry.getMetricsAsJSON())]);

  // The label lookup of prom-client hashes the labels on every call; a child per series is kept instead.
  const series = new Map<string, { count: Counter.Internal; time: Histogram.Internal<Label> }>();

  return {
    observe(method, route, status, ms) {
      const key = `${method} ${status} ${route}`;
      let s = series.get(key);
      if (!s) {
        const labels = { method, route, status: String(status) };
        s = { count: requests.labels(labels), time: latency.labels(labels) };
        series.set(key, s);
      }
      s.count.inc();
      s.time.observe(ms / 1000);
    },

    routes(app) {
      app.get(
        METRICS_PATH,
        {
          schema: {
            operationId: 'metrics_get',
            summary: 'Prometheus metrics',
            description: 'Requests and latency by route and status, stores and stored bytes, process metrics.',
            tags: ['Operations'],
            security: [],
            response: {
              200: {
                description: 'The Prometheus text exposition format.',
                content: { 'text/plain': { schema: { type: 'string' } } },
              },
              ...errorResponses(),
            },
          },
        },
        async (_req, reply) => {
          const totals = await driver.totals();
          stores.set(totals.stores);
          bytes.set(totals.bytes);
          const own = worker ? await worker.gather() : `${await processMetrics().metrics()}\n${await registry.metrics()}`;
          return reply.type(registry.contentType).send(`${own}\n${await storage.metrics()}`);
        },
      );
    },
  };
}

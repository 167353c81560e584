import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { StorageKind } from '../model.js';
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

type Labels = { method: string; route: string; status: string };

/** One series of answered requests: its labels, and counts per latency bucket (not cumulative). */
interface Series {
  labels: Labels;
  buckets: Float64Array;
  sum: number;
  count: number;
}

/**
 * The request counter and latency histogram, counted per request in plain numbers and handed to
 * prom-client only when scraped: its labelled `inc`/`observe` validated and hashed the labels on
 * every request (about 5 µs of a 1 KB PUT). Registered as prom-client metric objects, so that the
 * registry writes the exposition and `AggregatorRegistry` adds up workers as for its own metrics.
 */
class RequestMetrics {
  readonly #series = new Map<string, Series>();

  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${status} ${route}`;
    let s = this.#series.get(key);
    if (!s) {
      s = {
        labels: { method, route, status: String(status) },
        buckets: new Float64Array(LATENCY_BUCKETS.length),
        sum: 0,
        count: 0,
      };
      this.#series.set(key, s);
    }
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
    if (i < LATENCY_BUCKETS.length) s.buckets[i]!++;
    s.sum += seconds;
    s.count++;
  }

  /** The counter, as a prom-client metric object. */
  counter() {
    const series = this.#series;
    const meta = {
      name: 'openkvs_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status.',
      type: 'counter',
      aggregator: 'sum',
    };
    return {
      ...meta,
      get: async () => ({ ...meta, values: [...series.values()].map((s) => ({ labels: { ...s.labels }, value: s.count })) }),
    };
  }

  /** The histogram, as a prom-client metric object (the value shapes of prom-client's own). */
  histogram() {
    const name = 'openkvs_http_request_duration_seconds';
    const series = this.#series;
    const values = (splay: boolean) =>
      [...series.values()].flatMap((s) => {
        const value = (labels: Record<string, string | number>, v: number, metricName: string) =>
          splay
            ? { labels: { ...labels, ...s.labels }, value: v, metricName }
            : { labels, sharedLabels: s.labels, value: v, metricName };
        let total = 0;
        const out = LATENCY_BUCKETS.map((le, i) => {
          total += s.buckets[i]!;
          return value({ le }, total, `${name}_bucket`);
        });
        out.push(
          value({ le: '+Inf' }, s.count, `${name}_bucket`),
          value({}, s.sum, `${name}_sum`),
          value({}, s.count, `${name}_count`),
        );
        return out;
      });
    const meta = {
      name,
      help: 'Time from the request to the end of its response, by method, route pattern and status.',
      type: 'histogram',
      aggregator: 'sum',
    };
    return {
      ...meta,
      getForPromString: async () => ({ ...meta, values: values(false) }),
      get: async () => ({ ...meta, values: values(true) }),
    };
  }
}

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
  const requests = new RequestMetrics();
  registry.registerMetric(requests.counter() as never);
  registry.registerMetric(requests.histogram() as never);
  // One pair per kind of storage; the key-value store pair keeps the names it had before datasets.
  const gauges: Record<StorageKind, { count: Gauge; bytes: Gauge }> = {
    kvs: {
      count: new Gauge({
        name: 'openkvs_stores',
        help: 'Key-value stores in the storage, named and unnamed.',
        registers: [storage],
      }),
      bytes: new Gauge({
        name: 'openkvs_stored_bytes',
        help: 'Bytes of records in the storage, as stored (compressed records count compressed).',
        registers: [storage],
      }),
    },
    dataset: {
      count: new Gauge({ name: 'openkvs_datasets', help: 'Datasets in the storage, named and unnamed.', registers: [storage] }),
      bytes: new Gauge({
        name: 'openkvs_dataset_bytes',
        help: 'Bytes of dataset items (their JSON text).',
        registers: [storage],
      }),
    },
    queue: {
      count: new Gauge({
        name: 'openkvs_request_queues',
        help: 'Request queues in the storage, named and unnamed.',
        registers: [storage],
      }),
      bytes: new Gauge({
        name: 'openkvs_request_queue_bytes',
        help: 'Bytes of queued requests (their JSON text).',
        registers: [storage],
      }),
    },
  };
  worker?.provide(async () => [...(await processMetrics().getMetricsAsJSON()), ...(await registry.getMetricsAsJSON())]);

  return {
    observe(method, route, status, ms) {
      requests.observe(method, route, status, ms / 1000);
    },

    routes(app) {
      app.get(
        METRICS_PATH,
        {
          schema: {
            operationId: 'metrics_get',
            summary: 'Prometheus metrics',
            description: 'Requests and latency by route and status, stores, datasets and their bytes, process metrics.',
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
          for (const t of await driver.totals()) {
            gauges[t.kind].count.set(t.stores);
            gauges[t.kind].bytes.set(t.bytes);
          }
          const own = worker ? await worker.gather() : `${await processMetrics().metrics()}\n${await registry.metrics()}`;
          return reply.type(registry.contentType).send(`${own}\n${await storage.metrics()}`);
        },
      );
    },
  };
}

import type { Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { MetricsJson } from '../http/metrics.js';
import type { ToPrimary, ToWorker } from './cluster-messages.js';

/** How long a gathering waits for the workers' answers (prom-client's own cluster wait). */
const GATHER_TIMEOUT_MS = 5000;

interface Gathering {
  waiting: Set<Worker>;
  results: MetricsJson[];
  done(err: Error | undefined): void;
}

/**
 * The primary's side of `/metrics` with several workers: asks every listening worker for its own
 * request and process metrics and adds them up with prom-client's aggregation (counters and
 * histograms summed; each metric's `aggregator` otherwise, e.g. event-loop lag averaged). Only
 * workers that listen are asked, and one that dies meanwhile is left out instead of waited for.
 */
export function createMetricsGatherer() {
  let nextId = 0;
  const gatherings = new Map<number, Gathering>();

  const settle = (id: number) => {
    const g = gatherings.get(id);
    if (g && g.waiting.size === 0) {
      gatherings.delete(id);
      g.done(undefined);
    }
  };

  return {
    /** The metrics of `workers`, added up, as exposition text. */
    gather(workers: Worker[]): Promise<string> {
      const id = nextId++;
      return new Promise<string>((resolve, reject) => {
        const g: Gathering = {
          waiting: new Set(workers),
          results: [],
          done: (err) => {
            clearTimeout(timer);
            if (err) reject(err);
            else AggregatorRegistry.aggregate(g.results).metrics().then(resolve, reject);
          },
        };
        const timer = setTimeout(() => {
          gatherings.delete(id);
          g.done(new Error(`${g.waiting.size} worker(s) did not answer within ${GATHER_TIMEOUT_MS} ms`));
        }, GATHER_TIMEOUT_MS);
        gatherings.set(id, g);
        for (const worker of workers) {
          worker.send({ type: 'openkvs:read', id } satisfies ToWorker, undefined, (err: Error | null) => {
            if (!err) return;
            g.waiting.delete(worker);
            settle(id);
          });
        }
        settle(id);
      });
    },

    /** A worker's answer to a gathering. */
    receive(worker: Worker, message: Extract<ToPrimary, { type: 'openkvs:metrics' }>): void {
      const g = gatherings.get(message.id);
      if (!g?.waiting.delete(worker)) return;
      if (message.error !== undefined || !message.metrics) {
        gatherings.delete(message.id);
        g.done(new Error(`a worker could not read its metrics: ${message.error}`));
        return;
      }
      g.results.push(message.metrics);
      settle(message.id);
    },

    /** A worker that exited answers no gathering. */
    forget(worker: Worker): void {
      for (const [id, g] of gatherings) if (g.waiting.delete(worker)) settle(id);
    },
  };
}

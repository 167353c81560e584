import type { MetricsJson } from '../http/metrics.js';

/**
 * The messages between the primary and the workers of `serve --workers N`, over node:cluster's
 * IPC channel (JSON). Each request carries an id that its answer repeats.
 */
export type ToPrimary =
  /** Count a request for the rate limits, in the current fixed window. */
  | { type: 'openkvs:count'; id: number; key: string; windowMs: number }
  /** Gather every worker's metrics (for the worker answering `GET /metrics`). */
  | { type: 'openkvs:gather'; id: number }
  /** The answer to `openkvs:read`: this worker's own metrics. */
  | { type: 'openkvs:metrics'; id: number; metrics?: MetricsJson; error?: string }
  /** Why this worker could not start (it exits next), for the primary's one line. */
  | { type: 'openkvs:failed'; message: string };

export type ToWorker =
  | { type: 'openkvs:counted'; id: number; count: number; resetInMs: number }
  | { type: 'openkvs:gathered'; id: number; text?: string; error?: string }
  /** Send your own metrics (`openkvs:metrics`). */
  | { type: 'openkvs:read'; id: number };

/** The resolved configuration, as JSON, that the primary hands its workers: all run with the same. */
export const WORKER_CONFIG_ENV = 'OPENKVS_WORKER_CONFIG';
/** A worker's number, 1 to N; a restarted worker keeps the number of the one it replaces. */
export const WORKER_NUMBER_ENV = 'OPENKVS_WORKER';

/** Whether `value` is a message of openkvs (prom-client and node send others on the same channel). */
export function isOpenkvsMessage(value: unknown): value is { type: string } {
  return typeof value === 'object' && value !== null && String((value as { type?: unknown }).type).startsWith('openkvs:');
}

import { StorageUnavailableError } from '../errors.js';

/** postgres.js connection failures and PostgreSQL error classes 08 (connection) and 57P (shutdown). */
const UNAVAILABLE_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);

export function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  return UNAVAILABLE_CODES.has(code) || code.startsWith('08');
}

/** How long after a connection failure the pool counts as recovering. */
const OUTAGE_WINDOW_MS = 30_000;
/**
 * While recovering, the longest a storage call may wait before it fails as unavailable instead.
 * While PostgreSQL is down, a query that finds no open connection waits in postgres.js's queue, and
 * each failed reconnect attempt fails only the one query it was opened for: with more requests than
 * connections, the others would wait as long as the outage lasts.
 */
const OUTAGE_DEADLINE_MS = 2_000;
let lastOutage = Number.NEGATIVE_INFINITY;

const unavailable = (err: unknown): never => {
  if (isUnavailable(err)) {
    lastOutage = performance.now();
    throw new StorageUnavailableError(err);
  }
  throw err;
};

/**
 * Runs a storage call; a lost or refused connection becomes a `StorageUnavailableError` (a 503 with
 * `Retry-After`, which clients retry). The pool reconnects on its own. Within 30 s of a lost
 * connection, a call still waiting after 2 s fails the same way, so that no request hangs on a
 * pool that is reconnecting; a write given up on this way was not acknowledged (it may still land,
 * whole). `deadline: false` is for calls that read a request body, which take as long as the client.
 */
export function guardStorage<T>(fn: () => Promise<T>, deadline = true): Promise<T> {
  const call = fn().catch(unavailable);
  if (!deadline || performance.now() - lastOutage > OUTAGE_WINDOW_MS) return call;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new StorageUnavailableError()), OUTAGE_DEADLINE_MS);
    call.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

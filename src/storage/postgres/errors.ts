import { ServiceUnavailableError } from '../../errors.js';

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

/**
 * Runs a storage call; a lost or refused connection becomes 503 `service-unavailable` with
 * `Retry-After`, which clients retry. The pool reconnects on its own.
 */
export async function guardStorage<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isUnavailable(err)) throw new ServiceUnavailableError();
    throw err;
  }
}

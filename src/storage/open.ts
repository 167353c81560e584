import type { StorageDriver } from './driver.js';
import { StorageOpenError } from './open-error.js';
import { SqliteDriver } from './sqlite/index.js';

/** Where data lives: the embedded SQLite file (or memory), or a PostgreSQL server. */
export type StorageSpec =
  | { kind: 'sqlite'; path: string; durability?: Durability }
  | { kind: 'postgres'; url: string; poolSize?: number };

/**
 * When an acknowledged write is on disk. `normal`: committed to SQLite's write-ahead log, which
 * survives the process being killed; the operating system writes it out soon after (a power cut may
 * lose the last moments). `fsync`: every commit is fsynced before the answer (concurrent writes share
 * one commit). PostgreSQL always commits durably (its own `synchronous_commit`).
 */
export type Durability = 'normal' | 'fsync';

export type OpenedDriver = StorageDriver & { sweepOrphans?: () => Promise<number> };

/** Opens the driver a storage spec names, with its migrations applied. */
export async function openStorage(spec: StorageSpec): Promise<OpenedDriver> {
  if (spec.kind === 'sqlite') return new SqliteDriver({ path: spec.path, durability: spec.durability });
  try {
    // Loaded only for PostgreSQL: the embedded default starts without it.
    const { PostgresDriver } = await import('./postgres/index.js');
    return await PostgresDriver.connect({ url: spec.url, poolSize: spec.poolSize });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new StorageOpenError(`cannot use PostgreSQL at ${redactPassword(spec.url)}: ${reason}`);
  }
}

export { StorageOpenError } from './open-error.js';

/** A connection URL without its password, for messages and logs. */
export function redactPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

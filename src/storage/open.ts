import type { StorageDriver } from './driver.js';
import { SqliteDriver } from './sqlite/index.js';

/** Where data lives: the embedded SQLite file (or memory), or a PostgreSQL server. */
export type StorageSpec = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

export type OpenedDriver = StorageDriver & { sweepOrphans?: () => Promise<number> };

/** Opens the driver a storage spec names, with its migrations applied. */
export async function openStorage(spec: StorageSpec): Promise<OpenedDriver> {
  if (spec.kind === 'sqlite') return new SqliteDriver({ path: spec.path });
  throw new Error('--storage: PostgreSQL storage is not available in this version; use sqlite:<path>');
}

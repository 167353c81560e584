import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/** What the SQLite file of a stopped (or running) server looks like from outside, opened read-only. */
export interface SqliteFiles {
  /** `PRAGMA integrity_check` rows (`['ok']` when sound). */
  integrity: string[];
  /** `records.blob_path` values whose file is missing. */
  missing: string[];
  /** Value files under `<db>-blobs` that no row names (temporary uploads included). */
  orphans: string[];
  /** How many value files rows name. */
  referenced: number;
}

function listBlobFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const files: string[] = [];
  for (const shard of readdirSync(dir)) {
    for (const name of readdirSync(join(dir, shard))) files.push(join(shard, name));
  }
  return files;
}

/**
 * Opens `dbPath` read-only (so that nothing is checkpointed or repaired on the way) and compares
 * the value files beside it with the rows that point to them.
 */
export function inspectSqlite(dbPath: string, integrity = true): SqliteFiles {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const rows = integrity ? (db.pragma('integrity_check', { simple: false }) as { integrity_check: string }[]) : [];
    const paths = (db.prepare('SELECT blob_path FROM records WHERE blob_path IS NOT NULL').all() as { blob_path: string }[]).map(
      (r) => r.blob_path,
    );
    const referenced = new Set(paths);
    const files = listBlobFiles(`${dbPath}-blobs`);
    const present = new Set(files);
    return {
      integrity: rows.map((r) => r.integrity_check),
      missing: paths.filter((p) => !present.has(p)),
      orphans: files.filter((f) => !referenced.has(f)),
      referenced: referenced.size,
    };
  } finally {
    db.close();
  }
}

import type { Dirent } from 'node:fs';
import { readdir, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A published value file (`xx/<name>`) that no row names is removed only once it was last written
 * longer ago than this. Between its last write and the commit of the row naming it come an fsync,
 * a rename and the wait for the write lock (at most the 5 s busy timeout): seconds, not an hour.
 * Files of older versions staged directly in `tmp/` get the same bound.
 */
export const ORPHAN_AGE_MS = 60 * 60_000;

export interface SweepRules {
  /** The value file folder (`<db>-blobs`). */
  dir: string;
  /** The id of the sweeping process (its staging folder is never touched). */
  own: string;
  /** The ids of live processes; called after `tmp/` is listed, so a folder listed has its row. */
  live: () => Set<string>;
  /** Whether a row names a published file (`xx/<name>`). */
  isReferenced: (rel: string) => boolean;
  /** The time now, from the caller's clock. */
  now: number;
}

async function list(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

/** Unlinks a file last written before `before`; true when it did. */
async function removeIfOlder(path: string, before: number): Promise<boolean> {
  const info = await stat(path).catch(() => undefined);
  if (!info || info.mtimeMs >= before) return false;
  await unlink(path).catch(() => undefined);
  return true;
}

/** Removes the staging folders of dead processes and legacy files directly in `tmp/`. */
async function sweepStaging(rules: SweepRules): Promise<number> {
  const tmp = join(rules.dir, 'tmp');
  const entries = await list(tmp);
  if (entries.length === 0) return 0;
  const live = rules.live();
  let removed = 0;
  for (const entry of entries) {
    const path = join(tmp, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === rules.own || live.has(entry.name)) continue;
      removed += (await list(path)).length;
      await rm(path, { recursive: true, force: true });
    } else if (await removeIfOlder(path, rules.now - ORPHAN_AGE_MS)) removed++;
  }
  return removed;
}

/**
 * Removes value files that no live process may still commit: the staging folders of dead processes
 * (whatever their age: a dead process commits nothing), files staged by older versions and
 * published files no row names, once older than `ORPHAN_AGE_MS`. Returns how many files went.
 */
export async function sweepValueFiles(rules: SweepRules): Promise<number> {
  let removed = await sweepStaging(rules);
  for (const shard of await list(rules.dir)) {
    if (!shard.isDirectory() || shard.name === 'tmp') continue;
    for (const file of await list(join(rules.dir, shard.name))) {
      const rel = join(shard.name, file.name);
      if (rules.isReferenced(rel)) continue;
      if (await removeIfOlder(join(rules.dir, rel), rules.now - ORPHAN_AGE_MS)) removed++;
    }
  }
  return removed;
}

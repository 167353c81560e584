import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PositionalValue } from '../driver.js';

/** Values up to this many bytes live inline in the records table; larger ones are files. */
export const INLINE_MAX_BYTES = 256 * 1024;

export type SqliteStaged =
  | { readonly size: number; readonly kind: 'inline'; readonly data: Buffer }
  | { readonly size: number; readonly kind: 'file'; readonly tmpPath: string };

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Bytes of a body that may wait in memory for the disk before reading the body pauses. */
const WRITE_BEHIND_BYTES = 1024 * 1024;

/**
 * Large record values as files under one directory: `tmp/<process id>/` while uploading (each
 * process stages in its own folder, see processes.ts), then `xx/<name>` once fsynced and renamed.
 * The row that names a file is committed after the rename, so a crash leaves at most an orphan
 * file, which `sweepValueFiles` (sweep.ts) removes once that cannot be a live process's.
 */
export class BlobFiles {
  readonly #dir: string;
  /** fsync directories after a rename, so that the file's name is on disk before the row naming it. */
  readonly #syncDirs: boolean;
  #staging: string;
  #ready: Promise<void> | undefined;

  constructor(dir: string, staging: string, syncDirs = false) {
    this.#dir = dir;
    this.#staging = staging;
    this.#syncDirs = syncDirs;
  }

  get dir(): string {
    return this.#dir;
  }

  /** This process's staging folder, `tmp/<process id>`. */
  get stagingDir(): string {
    return join(this.#dir, 'tmp', this.#staging);
  }

  /** Stages new uploads under another process id (the old folder is left to the sweep). */
  useStaging(staging: string): void {
    this.#staging = staging;
    this.#ready = undefined;
  }

  #ensure(): Promise<void> {
    this.#ready ??= mkdir(this.stagingDir, { recursive: true }).then(() => undefined);
    return this.#ready;
  }

  /** Reads a body: in memory while small, spilled to a temporary file past the inline limit. */
  async stage(body: AsyncIterable<Buffer>, sizeHint?: number): Promise<SqliteStaged> {
    const held: Buffer[] = [];
    let size = 0;
    const chunks = body[Symbol.asyncIterator]();
    if (sizeHint === undefined || sizeHint <= INLINE_MAX_BYTES) {
      while (size <= INLINE_MAX_BYTES) {
        const next = await chunks.next();
        if (next.done) return { kind: 'inline', size, data: held.length === 1 ? (held[0] as Buffer) : Buffer.concat(held) };
        held.push(next.value);
        size += next.value.length;
      }
    }
    const path = join(this.stagingDir, randomBytes(12).toString('hex'));
    const rest = async function* () {
      yield* held;
      for await (const chunk of { [Symbol.asyncIterator]: () => chunks }) {
        size += chunk.length;
        yield chunk;
      }
    };
    try {
      await this.#ensure();
      // `flush`: fsync before close, always: a row that a later checkpoint makes durable must never
      // name bytes still in flight. Up to WRITE_BEHIND_BYTES wait for the disk before reading pauses.
      const file = createWriteStream(path, { flags: 'wx', flush: true, highWaterMark: WRITE_BEHIND_BYTES });
      // Open before reading on, so that an upload in progress always has its file (the sweep spares it).
      await once(file, 'ready');
      await pipeline(rest, file);
      return { kind: 'file', size, tmpPath: path };
    } catch (err) {
      await chunks.return?.();
      await unlink(path).catch(() => undefined);
      throw err;
    }
  }

  /** Moves a staged file to its final place; returns the path relative to the blob directory. */
  async publish(tmpPath: string): Promise<string> {
    const name = randomBytes(16).toString('hex');
    const rel = join(name.slice(0, 2), name);
    const made = await mkdir(join(this.#dir, name.slice(0, 2)), { recursive: true });
    await rename(tmpPath, join(this.#dir, rel));
    if (this.#syncDirs) {
      await syncDir(join(this.#dir, name.slice(0, 2)));
      if (made !== undefined) await syncDir(this.#dir);
    }
    return rel;
  }

  /**
   * Opens a published file, as a stream and readable in place (both on the same handle, closed
   * with the stream); `undefined` when it is gone (overwritten or deleted meanwhile).
   */
  async openRead(rel: string): Promise<{ stream: Readable; positional: PositionalValue } | undefined> {
    try {
      const handle = await open(join(this.#dir, rel), 'r');
      // 256 KiB reads: fewer system calls per megabyte than the default 64 KiB; 1 MiB reads kept
      // 16 concurrent 9 MB downloads at 266–385 MB of RSS (buffers waiting for the GC), these at ~150.
      const stream = handle.createReadStream({ autoClose: true, highWaterMark: 256 * 1024 });
      const positional: PositionalValue = {
        read: async (target, position) => (await handle.read(target, 0, target.length, position)).bytesRead,
      };
      return { stream, positional };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async remove(pathOrRel: string | null | undefined, relative = true): Promise<void> {
    if (!pathOrRel) return;
    await unlink(relative ? join(this.#dir, pathOrRel) : pathOrRel).catch(() => undefined);
  }

  /** Removes this process's staging folder, at a clean close (no upload runs any more). */
  async removeStaging(): Promise<void> {
    await rm(this.stagingDir, { recursive: true, force: true });
  }

  async destroy(): Promise<void> {
    await rm(this.#dir, { recursive: true, force: true });
  }
}

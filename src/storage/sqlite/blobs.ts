import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
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
export const WRITE_BEHIND_BYTES = 1024 * 1024;
/** …and chunks (a body trickling in tiny reads would otherwise pile up objects). */
export const WRITE_BEHIND_CHUNKS = 1024;

/**
 * Appends chunks to a file with one write in flight at a time: the chunks that arrive meanwhile
 * go out together in the next one (writev), so that a body arriving in 64 KiB socket reads takes
 * a few trips to the thread pool instead of one per read. `add` waits only when more than
 * `WRITE_BEHIND_BYTES` or `WRITE_BEHIND_CHUNKS` wait.
 */
export class FileWriter {
  readonly #handle: FileHandle;
  #waiting: Buffer[] = [];
  #waitingBytes = 0;
  #inFlight: Promise<void> | undefined;
  #failed: unknown;

  constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  async add(chunk: Buffer): Promise<void> {
    if (this.#failed !== undefined) throw this.#failed;
    this.#waiting.push(chunk);
    this.#waitingBytes += chunk.length;
    this.#inFlight ??= this.#drain();
    if (this.#waitingBytes > WRITE_BEHIND_BYTES || this.#waiting.length >= WRITE_BEHIND_CHUNKS) await this.#inFlight;
  }

  /** Writes until nothing waits; a failure is kept for the next `add` or `finish`. */
  async #drain(): Promise<void> {
    try {
      while (this.#waiting.length > 0) {
        const batch = this.#waiting;
        this.#waiting = [];
        this.#waitingBytes = 0;
        await writeAll(this.#handle, batch);
      }
    } catch (err) {
      this.#failed = err;
    } finally {
      this.#inFlight = undefined;
    }
  }

  /** Writes what waits, fsyncs and closes the file. */
  async finish(): Promise<void> {
    await this.#inFlight;
    if (this.#failed !== undefined) throw this.#failed;
    await this.#handle.sync();
    await this.#handle.close();
  }

  /** Closes the file after the write in flight, if any; for a failed body. */
  async abort(): Promise<void> {
    this.#waiting = [];
    await this.#inFlight;
    await this.#handle.close().catch(() => undefined);
  }
}

/** writev until every byte of `buffers` is written (a short write goes on where it stopped). */
async function writeAll(handle: FileHandle, buffers: Buffer[]): Promise<void> {
  let rest = buffers;
  while (rest.length > 0) {
    let written = (await handle.writev(rest)).bytesWritten;
    let i = 0;
    while (i < rest.length && written >= (rest[i] as Buffer).length) written -= (rest[i++] as Buffer).length;
    rest = rest.slice(i);
    if (written > 0) rest[0] = (rest[0] as Buffer).subarray(written);
  }
}

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
    const chunks: Buffer[] = [];
    let size = 0;
    let file: { path: string; writer: FileWriter } | undefined;
    try {
      if (sizeHint !== undefined && sizeHint > INLINE_MAX_BYTES) file = await this.#openTmp();
      for await (const chunk of body) {
        size += chunk.length;
        if (file) {
          await file.writer.add(chunk);
          continue;
        }
        chunks.push(chunk);
        if (size > INLINE_MAX_BYTES) {
          file = await this.#openTmp();
          for (const held of chunks) await file.writer.add(held);
          chunks.length = 0;
        }
      }
      if (!file) return { kind: 'inline', size, data: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks) };
      // Always: a row that a later checkpoint makes durable must never name bytes still in flight.
      await file.writer.finish();
      return { kind: 'file', size, tmpPath: file.path };
    } catch (err) {
      if (file) {
        await file.writer.abort();
        await unlink(file.path).catch(() => undefined);
      }
      throw err;
    }
  }

  async #openTmp(): Promise<{ path: string; writer: FileWriter }> {
    await this.#ensure();
    const path = join(this.stagingDir, randomBytes(12).toString('hex'));
    return { path, writer: new FileWriter(await open(path, 'wx')) };
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

import { close, fstat, fsync, open, stat } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';

const openP = promisify(open);
const closeP = promisify(close);
const fsyncP = promisify(fsync);
const fstatP = promisify(fstat);
const statP = promisify(stat);

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** What a durable commit waits for: the log flushed to the disk. */
export interface LogSync {
  /** Resolves once everything committed before the call is on the disk. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Flushes SQLite's write-ahead log (`<db>-wal`) to the disk with fsync from libuv's thread pool,
 * so that the event loop goes on serving (and committing the next group of writes) while the disk
 * works, instead of stopping for each commit's fsync as `synchronous = FULL` does.
 *
 * fsync flushes the file, not a descriptor: the frames SQLite's own connection appended are on the
 * disk once it returns. Calls that arrive while an fsync runs wait for the next one, which starts
 * when the running one ends (their commits may have missed it) and serves them all together.
 * The file is opened again if SQLite replaced it; the folder is fsynced once, so that the log's
 * directory entry survives a power loss too.
 */
export class WalSync implements LogSync {
  readonly #path: string;
  #fd: number | undefined;
  #ino = -1;
  /** The fsyncs under way (one after another while callers keep coming); undefined when idle. */
  #running: Promise<void> | undefined;
  #next: Waiter[] = [];
  #closed = false;
  #dirSynced = false;
  #flushes = 0;

  constructor(databaseFile: string) {
    this.#path = `${databaseFile}-wal`;
  }

  /** How many fsyncs of the log have run. */
  get flushes(): number {
    return this.#flushes;
  }

  sync(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the log is closed'));
    return new Promise<void>((resolve, reject) => {
      this.#next.push({ resolve, reject });
      this.#running ??= this.#run();
    });
  }

  /** fsyncs until no caller waits: each round serves the callers that came before it started. */
  async #run(): Promise<void> {
    while (this.#next.length > 0) {
      const batch = this.#next;
      this.#next = [];
      try {
        await this.#syncOnce();
        for (const w of batch) w.resolve();
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    this.#running = undefined;
  }

  async #syncOnce(): Promise<void> {
    const fd = await this.#descriptor();
    this.#flushes++;
    await fsyncP(fd);
    if (!this.#dirSynced) {
      const dir = await openP(dirname(this.#path), 'r');
      try {
        await fsyncP(dir);
      } finally {
        await closeP(dir);
      }
      this.#dirSynced = true;
    }
  }

  /** A descriptor of the log file as it is now (opened again when SQLite has replaced the file). */
  async #descriptor(): Promise<number> {
    const current = await statP(this.#path);
    if (this.#fd !== undefined && current.ino === this.#ino) return this.#fd;
    if (this.#fd !== undefined) await closeP(this.#fd).catch(() => undefined);
    this.#fd = undefined;
    const fd = await openP(this.#path, 'r');
    this.#ino = (await fstatP(fd)).ino;
    this.#fd = fd;
    this.#dirSynced = false;
    return fd;
  }

  async close(): Promise<void> {
    this.#closed = true;
    // Whatever is under way finishes first.
    await this.#running;
    if (this.#fd !== undefined) await closeP(this.#fd).catch(() => undefined);
    this.#fd = undefined;
  }
}

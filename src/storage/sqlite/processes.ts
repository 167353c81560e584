import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';

/** How often a process refreshes its row in `processes`. */
export const HEARTBEAT_MS = 5_000;
/**
 * A process whose heartbeat is older than this is dead: twelve missed beats. A live process misses
 * them only when its event loop stalls that long (a write waits at most the 5 s busy timeout).
 */
export const DEAD_AFTER_MS = 60_000;

/**
 * The processes that have one SQLite file open, one row each with a heartbeat (migration 6). Each
 * stages its uploads in a folder named by its id, so a sweeper removes only the folders of dead
 * processes. Registered before its folder exists, so a folder seen on disk has its row already.
 */
export class ProcessRegistry {
  readonly #now: () => number;
  readonly #insert: Database.Statement;
  readonly #beat: Database.Statement;
  readonly #delete: Database.Statement;
  readonly #reap: Database.Statement;
  readonly #ids: Database.Statement;
  #id = '';

  constructor(db: Database.Database, now: () => number) {
    this.#now = now;
    this.#insert = db.prepare('INSERT INTO processes (id, started_at, heartbeat_at) VALUES (?, ?, ?)');
    this.#beat = db.prepare('UPDATE processes SET heartbeat_at = ? WHERE id = ?');
    this.#delete = db.prepare('DELETE FROM processes WHERE id = ?');
    this.#reap = db.prepare('DELETE FROM processes WHERE heartbeat_at < ?');
    this.#ids = db.prepare('SELECT id FROM processes').pluck();
    this.#register();
  }

  /** This process's id, the name of its staging folder. */
  get id(): string {
    return this.#id;
  }

  #register(): void {
    const now = this.#now();
    this.#id = randomBytes(12).toString('hex');
    this.#insert.run(this.#id, now, now);
  }

  /**
   * Refreshes this process's heartbeat. Returns false when its row was gone (a sweeper judged it
   * dead after a long stall and may be removing its folder): it is then registered under a new id.
   */
  beat(): boolean {
    if (this.#beat.run(this.#now(), this.#id).changes === 1) return true;
    this.#register();
    return false;
  }

  /** Deletes the rows of dead processes; returns the ids of the live ones (this one included). */
  live(): Set<string> {
    this.#reap.run(this.#now() - DEAD_AFTER_MS);
    const ids = new Set(this.#ids.all() as string[]);
    ids.add(this.#id);
    return ids;
  }

  /** A clean exit: the row goes (the caller has removed the staging folder). */
  leave(): void {
    this.#delete.run(this.#id);
  }
}

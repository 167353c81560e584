import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate } from '../../src/storage/sqlite/migrations.js';
import { DEAD_AFTER_MS, ProcessRegistry } from '../../src/storage/sqlite/processes.js';

let db: Database.Database | undefined;
afterEach(() => db?.close());

describe('ProcessRegistry (liveness of the processes sharing one SQLite file)', () => {
  it('counts a process live while it beats, dead past the bound, and gives a revived one a new id', () => {
    db = new Database(':memory:');
    migrate(db);
    let clock = 1_000_000;
    const a = new ProcessRegistry(db, () => clock);
    const b = new ProcessRegistry(db, () => clock);
    expect(a.id).not.toBe(b.id);
    expect(b.live()).toEqual(new Set([a.id, b.id]));

    clock += DEAD_AFTER_MS;
    expect(b.beat()).toBe(true);
    // A's last beat is exactly the bound old: still live.
    expect(b.live().has(a.id)).toBe(true);
    clock += 1;
    expect(b.beat()).toBe(true);
    expect(b.live()).toEqual(new Set([b.id]));

    // A was only stalled: its next beat finds its row gone and registers under a new id.
    const before = a.id;
    expect(a.beat()).toBe(false);
    expect(a.id).not.toBe(before);
    expect(b.live()).toEqual(new Set([a.id, b.id]));
    a.leave();
    expect(b.live()).toEqual(new Set([b.id]));
  });
});

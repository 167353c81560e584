import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { WalSync } from '../../src/storage/sqlite/wal-sync.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function walDatabase() {
  dir = mkdtempSync(join(tmpdir(), 'openkvs-wal-'));
  const file = join(dir, 'db.sqlite');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE t (v TEXT)');
  return { file, db };
}

describe('WalSync', () => {
  it('resolves every caller, also those that arrive while an fsync runs', async () => {
    const { file, db } = walDatabase();
    const log = new WalSync(file);
    const insert = db.prepare('INSERT INTO t VALUES (?)');
    const waits: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      insert.run(`row ${i}`);
      waits.push(log.sync());
      if (i % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await expect(Promise.all(waits)).resolves.toHaveLength(50);
    // Callers that came while an fsync ran shared the next one: far fewer fsyncs than callers.
    expect(log.flushes).toBeGreaterThanOrEqual(1);
    expect(log.flushes).toBeLessThan(50);
    const before = log.flushes;
    await Promise.all(Array.from({ length: 20 }, () => log.sync()));
    // Twenty at once: the first starts an fsync, the other nineteen share the one after it.
    expect(log.flushes - before).toBe(2);
    await log.close();
    db.close();
  });

  it('fails the callers when the log cannot be flushed, and works again once it can', async () => {
    const { file, db } = walDatabase();
    const log = new WalSync(file);
    db.prepare('INSERT INTO t VALUES (?)').run('x');
    await log.sync();
    // The log is gone (as it would be if the folder vanished): the callers hear of it.
    renameSync(`${file}-wal`, `${file}-moved`);
    await expect(log.sync()).rejects.toThrow(/ENOENT/);
    // A new file in its place (SQLite replaced it) is opened and flushed.
    writeFileSync(`${file}-wal`, '');
    await expect(log.sync()).resolves.toBeUndefined();
    await log.close();
    await expect(log.sync()).rejects.toThrow(/closed/);
    db.close();
  });
});

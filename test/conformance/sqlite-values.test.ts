/**
 * SQLite: inline values in `record_values` (migration 5). A database built at migration 4, with
 * its values in `records.value`, comes through the migration byte-exact; and no write, overwrite
 * or delete ever leaves a value row that no record names.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newId } from '../../src/domain/ids.js';
import type { WriteCondition } from '../../src/model.js';
import { SqliteDriver } from '../../src/storage/sqlite/index.js';
import { MIGRATIONS } from '../../src/storage/sqlite/migrations.js';
import { ORPHAN_AGE_MS } from '../../src/storage/sqlite/sweep.js';
import { bytesOf, chunks, etagOf, storeRow } from './suite.js';

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'openkvs-values-'));
  file = join(dir, 'kvs.sqlite');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** What the tables hold: value rows, inline records, and value ids no record or no row claims. */
function census(path: string) {
  const db = new Database(path, { readonly: true });
  try {
    return db
      .prepare(
        `SELECT (SELECT COUNT(*) FROM record_values) AS valueRows,
           (SELECT COUNT(*) FROM records WHERE value_id IS NOT NULL) AS inlineRecords,
           (SELECT COUNT(*) FROM records WHERE (value_id IS NULL) = (blob_path IS NULL)) AS neitherOrBoth,
           (SELECT COUNT(*) FROM records r LEFT JOIN record_values v ON v.id = r.value_id
              WHERE r.value_id IS NOT NULL AND v.id IS NULL) AS dangling,
           (SELECT COUNT(*) FROM record_values v WHERE NOT EXISTS (SELECT 1 FROM records r WHERE r.value_id = v.id)) AS orphans,
           (SELECT COUNT(*) - COUNT(DISTINCT value_id) FROM records WHERE value_id IS NOT NULL) AS shared`,
      )
      .get() as Record<string, number>;
  } finally {
    db.close();
  }
}

function integrity(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('PRAGMA integrity_check').pluck().all() as string[];
  } finally {
    db.close();
  }
}

describe('sqlite migration 5: inline values move to record_values', () => {
  interface Legacy {
    storeId: string;
    key: string;
    /** The bytes, or null for a legacy row whose value column is NULL (read as empty). */
    value: Buffer | null;
    blob?: string;
    contentType: string;
    contentEncoding: 'gzip' | null;
    etag: string | null;
    modifiedAt: number;
  }

  it('keeps every record byte-exact (inline, empty, NULL, file-backed) and the database sound', async () => {
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    for (const m of MIGRATIONS.filter((m) => m.version <= 4)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, Date.now());
    }
    expect(
      db
        .prepare('PRAGMA table_info(records)')
        .all()
        .map((c) => (c as { name: string }).name),
    ).toContain('value');

    const userId = newId();
    db.prepare('INSERT INTO users (id, username, created_at) VALUES (?, ?, ?)').run(userId, 'legacy', 1);
    const stores = [storeRow(userId, 'a'), storeRow(userId, 'b'), storeRow(userId, null)];
    for (const s of stores) {
      db.prepare(
        `INSERT INTO stores (id, user_id, name, title, created_at, modified_at, accessed_at, general_access, schema, signing_secret)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        s.id,
        s.userId,
        s.name,
        s.title,
        s.createdAt,
        s.modifiedAt,
        s.accessedAt,
        s.generalAccess,
        s.schema,
        s.urlSigningSecretKey,
      );
    }

    const sizes = [0, 1, 7, 500, 990, 1000, 1024, 1100, 4000, 4096, 5000, 70_000, 256 * 1024];
    const records: Legacy[] = [];
    let n = 0;
    for (const s of stores) {
      for (const size of sizes) {
        const value = randomBytes(size);
        records.push({
          storeId: s.id,
          key: `k-${size}-${n++}`,
          value,
          contentType: 'application/octet-stream',
          contentEncoding: n % 5 === 0 ? 'gzip' : null,
          etag: n % 4 === 0 ? null : etagOf(value),
          modifiedAt: 1_700_000_000_000 + n,
        });
      }
      // Keys that sort around the others, many of them, so the numbering spans several pages.
      for (let i = 0; i < 300; i++) {
        const value = randomBytes(i * 13);
        records.push({
          storeId: s.id,
          key: `${String.fromCharCode(33 + (i % 90))}${i}`,
          value,
          contentType: 'text/plain',
          contentEncoding: null,
          etag: etagOf(value),
          modifiedAt: 1_700_000_000_000 + i,
        });
      }
      // A legacy row with a NULL value: empty bytes.
      records.push({
        storeId: s.id,
        key: 'null-value',
        value: null,
        contentType: 'text/plain',
        contentEncoding: null,
        etag: null,
        modifiedAt: 1,
      });
      // File-backed values, with their files beside the database.
      for (let i = 0; i < 3; i++) {
        const value = randomBytes(300 * 1024 + i);
        const name = randomBytes(16).toString('hex');
        const rel = join(name.slice(0, 2), name);
        mkdirSync(join(`${file}-blobs`, name.slice(0, 2)), { recursive: true });
        writeFileSync(join(`${file}-blobs`, rel), value);
        records.push({
          storeId: s.id,
          key: `file-${i}`,
          value,
          blob: rel,
          contentType: 'application/octet-stream',
          contentEncoding: null,
          etag: etagOf(value),
          modifiedAt: 2,
        });
      }
    }
    const insert = db.prepare(
      `INSERT INTO records (store_id, key, size, content_type, content_encoding, decoded_size, modified_at, blob_path, value, etag)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    db.transaction(() => {
      // Not in key order: the migration's numbering must not depend on the order rows were written.
      for (const r of [...records].reverse()) {
        const size = r.value?.length ?? 0;
        insert.run(
          r.storeId,
          r.key,
          size,
          r.contentType,
          r.contentEncoding,
          size + 1,
          r.modifiedAt,
          r.blob ?? null,
          r.blob ? null : r.value,
          r.etag,
        );
      }
    })();
    db.close();

    // A clock past the sweep's age bound: the sweep below would remove any file no record names.
    const driver = new SqliteDriver({ path: file, now: () => Date.now() + ORPHAN_AGE_MS + 60_000 });
    try {
      for (const r of records) {
        const expected = r.value ?? Buffer.alloc(0);
        const got = await driver.getRecord(r.storeId, r.key);
        expect(got, r.key).toBeDefined();
        expect(got!.value.kind).toBe(r.blob ? 'stream' : 'buffer');
        const bytes = await bytesOf(got!.value);
        expect(bytes.equals(expected), `${r.key}: bytes`).toBe(true);
        expect({ ...got, value: undefined }).toEqual({
          key: r.key,
          size: expected.length,
          contentType: r.contentType,
          contentEncoding: r.contentEncoding,
          decodedSize: expected.length + 1,
          modifiedAt: r.modifiedAt,
          etag: r.etag,
          value: undefined,
        });
        if (!r.blob) {
          const looked = await driver.lookupRequest({
            kind: 'kvs',
            store: { id: r.storeId },
            record: { key: r.key, withValue: true },
          });
          expect(looked.record?.inline?.equals(expected), `${r.key}: lookup`).toBe(true);
          const meta = await driver.lookupRequest({
            kind: 'kvs',
            store: { id: r.storeId },
            record: { key: r.key, withValue: false },
          });
          expect(meta.record?.meta.size).toBe(expected.length);
          expect(meta.record?.inline).toBeNull();
        }
      }
      // Key pages see every record, in byte order.
      for (const s of stores) {
        const page = await driver.listKeys(s.id, { limit: 1000 });
        const keys = records.filter((r) => r.storeId === s.id).map((r) => r.key);
        expect(page.items.map((i) => i.key)).toEqual(keys.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
      }
      // The orphan sweep still finds the files through the records.
      expect(await driver.sweepOrphans()).toBe(0);
      // Writes after the migration take fresh value rows.
      const fresh = randomBytes(2000);
      const staged = await driver.stageValue(stores[0]!.id, chunks(fresh), fresh.length);
      const meta = { contentType: 'a/b', contentEncoding: null, decodedSize: fresh.length, etag: etagOf(fresh), now: Date.now() };
      expect(await driver.putRecord(stores[0]!.id, 'after-migration', meta, staged)).toBe('ok');
      const back = await driver.getRecord(stores[0]!.id, 'after-migration');
      expect((await bytesOf(back!.value)).equals(fresh)).toBe(true);
    } finally {
      await driver.close();
    }

    expect(integrity(file)).toEqual(['ok']);
    const inline = records.filter((r) => !r.blob).length + 1;
    expect(census(file)).toEqual({
      valueRows: inline,
      inlineRecords: inline,
      neitherOrBoth: 0,
      dangling: 0,
      orphans: 0,
      shared: 0,
    });
    const check = new Database(file, { readonly: true });
    try {
      expect(check.prepare('SELECT MAX(version) FROM schema_migrations').pluck().get()).toBe(MIGRATIONS.at(-1)?.version);
      const columns = check
        .prepare('PRAGMA table_info(records)')
        .all()
        .map((c) => (c as { name: string }).name);
      expect(columns).not.toContain('value');
      expect(columns).toContain('value_id');
      const indexes = check.prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'records'").all();
      expect(indexes).toEqual([
        { name: 'records_blob_path', sql: expect.stringContaining('WHERE blob_path IS NOT NULL') as unknown },
      ]);
      const table = check.prepare("SELECT sql FROM sqlite_schema WHERE name = 'records'").pluck().get() as string;
      expect(table).toMatch(/WITHOUT ROWID/);
    } finally {
      check.close();
    }
  });
});

describe('sqlite: value rows never leak', () => {
  it('overwrites (inline and file, both ways), deletes, failed preconditions, store and user deletion', async () => {
    const driver = new SqliteDriver({ path: file });
    try {
      const userId = newId();
      await driver.createUser({ id: userId, username: `u-${userId}`, createdAt: Date.now() });
      const stores = [storeRow(userId, 'one'), storeRow(userId, 'two')];
      for (const s of stores) await driver.createStore(s);

      const expected = new Map<string, Buffer>();
      const put = async (storeId: string, key: string, value: Buffer, condition?: WriteCondition) => {
        const staged = await driver.stageValue(storeId, chunks(value), value.length);
        const meta = {
          contentType: 'application/octet-stream',
          contentEncoding: null,
          decodedSize: value.length,
          etag: etagOf(value),
          now: Date.now(),
        };
        const result = await driver.putRecord(storeId, key, meta, staged, condition);
        if (result === 'ok') expected.set(`${storeId}/${key}`, value);
        return result;
      };
      const del = async (storeId: string, key: string, condition?: WriteCondition) => {
        const result = await driver.deleteRecord(storeId, key, Date.now(), condition);
        if (result === 'deleted') expected.delete(`${storeId}/${key}`);
        return result;
      };
      const sizeFor = (i: number) => [0, 10, 1000, 3000, 20_000, 300 * 1024][i % 6]!;

      let seed = 1;
      const rnd = (n: number) => {
        seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
        return seed % n;
      };
      for (let round = 0; round < 12; round++) {
        // A turn of the event loop's worth of writes at once: they share one transaction, each in
        // a savepoint; some of their preconditions fail.
        const ops: Promise<unknown>[] = [];
        for (let i = 0; i < 40; i++) {
          const storeId = stores[rnd(2)]!.id;
          const key = `k${rnd(25)}`;
          const what = rnd(10);
          if (what < 6) ops.push(put(storeId, key, randomBytes(sizeFor(rnd(6)))));
          else if (what < 7) ops.push(put(storeId, key, randomBytes(500), { ifMatch: ['"nope"'] }));
          else if (what < 8) ops.push(put(storeId, key, randomBytes(500), { ifNoneMatch: ['*'] }));
          else if (what < 9) ops.push(del(storeId, key));
          else ops.push(del(storeId, key, { ifMatch: ['"nope"'] }));
        }
        await Promise.all(ops);
        const c = census(file);
        const inline = [...expected.values()].filter((v) => v.length <= 256 * 1024).length;
        expect(c).toEqual({ valueRows: inline, inlineRecords: inline, neitherOrBoth: 0, dangling: 0, orphans: 0, shared: 0 });
      }
      for (const [id, value] of expected) {
        const [storeId, key] = id.split('/') as [string, string];
        const got = await driver.getRecord(storeId, key);
        expect((await bytesOf(got!.value)).equals(value), id).toBe(true);
      }

      // Sequential overwrites of one key through every kind of change.
      const s = stores[0]!.id;
      for (let i = 0; i < 60; i++) {
        expect(await put(s, 'hot', randomBytes(sizeFor(i * 5)))).toBe('ok');
        if (i % 7 === 0) expect(await del(s, 'hot')).toBe('deleted');
      }
      let inline = [...expected.values()].filter((v) => v.length <= 256 * 1024).length;
      expect(census(file)).toMatchObject({ valueRows: inline, inlineRecords: inline, orphans: 0, dangling: 0 });

      expect(await driver.deleteStore(stores[0]!.id)).toBe(true);
      for (const id of [...expected.keys()]) if (id.startsWith(`${stores[0]!.id}/`)) expected.delete(id);
      inline = [...expected.values()].filter((v) => v.length <= 256 * 1024).length;
      expect(inline).toBeGreaterThan(0);
      expect(census(file)).toMatchObject({ valueRows: inline, inlineRecords: inline, orphans: 0, dangling: 0 });

      expect(await driver.deleteUser(userId)).toBe(true);
      expect(census(file)).toMatchObject({ valueRows: 0, inlineRecords: 0 });
    } finally {
      await driver.close();
    }
    expect(integrity(file)).toEqual(['ok']);
  });
});

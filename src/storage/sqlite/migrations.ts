import type Database from 'better-sqlite3';
import { refuseNewerSchema } from '../open-error.js';

/** Numbered migrations; a number once released never changes meaning. */
export const MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE users (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE tokens (
        hash TEXT PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        label TEXT,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX tokens_user ON tokens(user_id);
      CREATE TABLE stores (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name TEXT,
        title TEXT,
        created_at INTEGER NOT NULL,
        modified_at INTEGER NOT NULL,
        accessed_at INTEGER NOT NULL,
        general_access TEXT NOT NULL,
        schema TEXT,
        signing_secret TEXT NOT NULL,
        read_count INTEGER NOT NULL DEFAULT 0,
        write_count INTEGER NOT NULL DEFAULT 0,
        delete_count INTEGER NOT NULL DEFAULT 0,
        list_count INTEGER NOT NULL DEFAULT 0,
        storage_bytes INTEGER NOT NULL DEFAULT 0
      );
      CREATE UNIQUE INDEX stores_user_name ON stores(user_id, name) WHERE name IS NOT NULL;
      CREATE INDEX stores_user_created ON stores(user_id, created_at, id);
      CREATE TABLE records (
        store_id TEXT NOT NULL,
        key TEXT NOT NULL,
        size INTEGER NOT NULL,
        content_type TEXT NOT NULL,
        content_encoding TEXT,
        decoded_size INTEGER NOT NULL,
        modified_at INTEGER NOT NULL,
        blob_path TEXT,
        value BLOB,
        PRIMARY KEY (store_id, key)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    sql: 'ALTER TABLE records ADD COLUMN etag TEXT;',
  },
  {
    // The retention sweeper's query: unnamed stores by last modification.
    version: 3,
    sql: 'CREATE INDEX stores_unnamed_modified ON stores(modified_at) WHERE name IS NULL;',
  },
  {
    // The sweep of orphan value files at start reads every file name: from this index, not the table.
    version: 4,
    sql: 'CREATE INDEX records_blob_path ON records(blob_path) WHERE blob_path IS NOT NULL;',
  },
  {
    // Inline values move out of `records` (WITHOUT ROWID, where a 1 KB row took a 4 KB overflow
    // page) into `record_values`, a rowid table; `records` keeps the metadata. `value_id` is NULL
    // exactly when the bytes are a file (`blob_path`). One transaction: a crash leaves version 4
    // intact. It needs free disk space for a second copy of the values while it runs (sizes and
    // times in docs/performance.md); `VACUUM` (offline) returns the old pages to the file system.
    version: 5,
    sql: `
      CREATE TABLE record_values (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
      CREATE TABLE records_v5 (
        store_id TEXT NOT NULL,
        key TEXT NOT NULL,
        size INTEGER NOT NULL,
        content_type TEXT NOT NULL,
        content_encoding TEXT,
        decoded_size INTEGER NOT NULL,
        modified_at INTEGER NOT NULL,
        blob_path TEXT,
        etag TEXT,
        value_id INTEGER,
        PRIMARY KEY (store_id, key)
      ) WITHOUT ROWID;
      INSERT INTO record_values (id, data)
        SELECT row_number() OVER (ORDER BY store_id, key), COALESCE(value, x'')
        FROM records WHERE blob_path IS NULL;
      INSERT INTO records_v5 (store_id, key, size, content_type, content_encoding, decoded_size, modified_at, blob_path, etag, value_id)
        SELECT store_id, key, size, content_type, content_encoding, decoded_size, modified_at, blob_path, etag,
          CASE WHEN blob_path IS NULL THEN row_number() OVER (PARTITION BY blob_path IS NULL ORDER BY store_id, key) END
        FROM records;
      DROP TABLE records;
      ALTER TABLE records_v5 RENAME TO records;
      CREATE INDEX records_blob_path ON records(blob_path) WHERE blob_path IS NOT NULL;
    `,
  },
  {
    // The processes that have this file open, each with a heartbeat: a value file another process
    // is still uploading lives in that process's staging folder, removed only once the process is
    // dead (see processes.ts). A table rather than `kill(pid, 0)`: it works across PID namespaces.
    version: 6,
    sql: 'CREATE TABLE processes (id TEXT PRIMARY KEY, started_at INTEGER NOT NULL, heartbeat_at INTEGER NOT NULL);',
  },
  {
    // Datasets share `stores` with key-value stores, told apart by `kind`: names are unique per
    // user and kind, and lists are per kind. Items are kept as pushed, found by their position
    // through a unique index. A rowid table: in a WITHOUT ROWID table a 1 KB item overflowed into a
    // page of its own (4.7 KB of file per item against 1.4 KB, and a page of 1000 read 2.6 ms
    // against 0.95 ms; docs/performance.md).
    version: 7,
    sql: `
      ALTER TABLE stores ADD COLUMN kind TEXT NOT NULL DEFAULT 'kvs';
      ALTER TABLE stores ADD COLUMN item_count INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE stores ADD COLUMN clean_item_count INTEGER NOT NULL DEFAULT 0;
      DROP INDEX stores_user_name;
      CREATE UNIQUE INDEX stores_user_kind_name ON stores(user_id, kind, name) WHERE name IS NOT NULL;
      DROP INDEX stores_user_created;
      CREATE INDEX stores_user_kind_created ON stores(user_id, kind, created_at, id);
      CREATE TABLE dataset_items (
        store_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        data TEXT NOT NULL
      );
      CREATE UNIQUE INDEX dataset_items_position ON dataset_items(store_id, seq);
    `,
  },
  {
    // Request queues share `stores` (kind 'queue'), which gains their counts and state: the first
    // clientKey seen, and the order numbers of the next forefront request (counting down) and of
    // the next one at the back (counting up). A request's JSON is kept as given. The head is a
    // range of the partial index of pending requests by order number; live locks are found through
    // the index of locks. A rowid table, as for dataset items: a request of a few KB would overflow
    // into a page of its own in a WITHOUT ROWID table.
    version: 8,
    sql: `
      ALTER TABLE stores ADD COLUMN handled_count INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE stores ADD COLUMN had_multiple_clients INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE stores ADD COLUMN first_client TEXT;
      ALTER TABLE stores ADD COLUMN queue_front INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE stores ADD COLUMN queue_back INTEGER NOT NULL DEFAULT 0;
      CREATE TABLE queue_requests (
        store_id TEXT NOT NULL,
        id TEXT NOT NULL,
        unique_key TEXT NOT NULL,
        data TEXT NOT NULL,
        size INTEGER NOT NULL,
        handled_at INTEGER,
        order_no INTEGER NOT NULL,
        lock_client TEXT,
        lock_expires_at INTEGER
      );
      CREATE UNIQUE INDEX queue_requests_id ON queue_requests(store_id, id);
      CREATE UNIQUE INDEX queue_requests_unique_key ON queue_requests(store_id, unique_key);
      CREATE INDEX queue_requests_pending ON queue_requests(store_id, order_no) WHERE handled_at IS NULL;
      CREATE INDEX queue_requests_locks ON queue_requests(store_id, lock_expires_at) WHERE lock_expires_at IS NOT NULL;
    `,
  },
];

/** Applies pending migrations inside one immediate transaction, so concurrent starters do not race. */
export function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
  const apply = db.transaction(() => {
    const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
    const current = row.v ?? 0;
    refuseNewerSchema(current, Math.max(0, ...MIGRATIONS.map((m) => m.version)));
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, Date.now());
    }
  });
  apply.immediate();
}

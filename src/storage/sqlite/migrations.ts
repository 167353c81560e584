import type Database from 'better-sqlite3';

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
];

/** Applies pending migrations inside one immediate transaction, so concurrent starters do not race. */
export function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
  const apply = db.transaction(() => {
    const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
    const current = row.v ?? 0;
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, Date.now());
    }
  });
  apply.immediate();
}

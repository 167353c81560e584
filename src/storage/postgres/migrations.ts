import type { Sql } from 'postgres';

/** Numbered migrations; every table's key begins with the store id where it holds store data. */
export const MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE users (
        id text PRIMARY KEY,
        username text NOT NULL UNIQUE,
        created_at bigint NOT NULL
      );
      CREATE TABLE tokens (
        hash text PRIMARY KEY,
        id text NOT NULL UNIQUE,
        user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        label text,
        created_at bigint NOT NULL
      );
      CREATE INDEX tokens_user ON tokens(user_id);
      CREATE TABLE stores (
        id text PRIMARY KEY,
        user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name text,
        title text,
        created_at bigint NOT NULL,
        modified_at bigint NOT NULL,
        accessed_at bigint NOT NULL,
        general_access text NOT NULL,
        schema text,
        signing_secret text NOT NULL,
        read_count bigint NOT NULL DEFAULT 0,
        write_count bigint NOT NULL DEFAULT 0,
        delete_count bigint NOT NULL DEFAULT 0,
        list_count bigint NOT NULL DEFAULT 0,
        storage_bytes bigint NOT NULL DEFAULT 0
      );
      CREATE UNIQUE INDEX stores_user_name ON stores(user_id, name) WHERE name IS NOT NULL;
      CREATE INDEX stores_user_created ON stores(user_id, created_at, id);
      CREATE TABLE records (
        store_id text NOT NULL,
        key text COLLATE "C" NOT NULL,
        size bigint NOT NULL,
        content_type text NOT NULL,
        content_encoding text,
        decoded_size bigint NOT NULL,
        modified_at bigint NOT NULL,
        value bytea,
        value_id text,
        PRIMARY KEY (store_id, key)
      );
      CREATE INDEX records_value ON records(store_id, value_id) WHERE value_id IS NOT NULL;
      CREATE TABLE value_chunks (
        store_id text NOT NULL,
        value_id text NOT NULL,
        seq integer NOT NULL,
        data bytea NOT NULL,
        created_at bigint NOT NULL,
        PRIMARY KEY (store_id, value_id, seq)
      );
      CREATE TABLE value_garbage (
        store_id text NOT NULL,
        value_id text NOT NULL,
        released_at bigint NOT NULL,
        PRIMARY KEY (store_id, value_id)
      );
    `,
  },
  {
    version: 2,
    sql: 'ALTER TABLE records ADD COLUMN etag text;',
  },
  {
    version: 3,
    sql: `
      CREATE UNLOGGED TABLE rate_counters (
        key text NOT NULL,
        window_start bigint NOT NULL,
        count integer NOT NULL,
        PRIMARY KEY (key, window_start)
      );
    `,
  },
  {
    // The retention sweeper's query: unnamed stores by last modification.
    version: 4,
    sql: 'CREATE INDEX stores_unnamed_modified ON stores(modified_at) WHERE name IS NULL;',
  },
];

/** An arbitrary constant naming openkvs's migration lock. */
const MIGRATION_LOCK = 72_917_311;

/**
 * Applies pending migrations under a session advisory lock, so that nodes starting together run
 * them once, one after the other.
 */
export async function migrate(sql: Sql): Promise<void> {
  const conn = await sql.reserve();
  try {
    await conn`SELECT pg_advisory_lock(${MIGRATION_LOCK})`;
    try {
      await conn`CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)`;
      const [row] = await conn`SELECT COALESCE(MAX(version), 0)::int AS v FROM schema_migrations`;
      const current = (row?.v as number | undefined) ?? 0;
      for (const m of MIGRATIONS) {
        if (m.version <= current) continue;
        await conn.unsafe('BEGIN');
        try {
          await conn.unsafe(m.sql);
          await conn`INSERT INTO schema_migrations (version, applied_at) VALUES (${m.version}, ${Date.now()})`;
          await conn.unsafe('COMMIT');
        } catch (err) {
          await conn.unsafe('ROLLBACK');
          throw err;
        }
      }
    } finally {
      await conn`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`;
    }
  } finally {
    conn.release();
  }
}

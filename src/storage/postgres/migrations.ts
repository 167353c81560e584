import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ReservedSql, Sql } from 'postgres';
import { refuseNewerSchema } from '../open-error.js';

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
  {
    // Created the record write and delete functions, which now live in functions.sql (applied after
    // the migrations, new database or old): kept as a number so that versions stay as they were.
    version: 5,
    sql: '',
  },
  {
    // Chunks of large values are stored out of line without compression: PostgreSQL would try pglz
    // on every 1 MiB chunk (storage EXTENDED), at a cost in CPU on every write, for values that are
    // mostly compressed already. Applies to chunks written from now on.
    version: 6,
    sql: 'ALTER TABLE value_chunks ALTER COLUMN data SET STORAGE EXTERNAL;',
  },
  {
    // Datasets share `stores` with key-value stores, told apart by `kind`: names are unique per
    // user and kind, and lists are per kind. Items are `text`, not jsonb, so that each comes back
    // exactly as pushed (key order, number formatting, whitespace), keyed by its position.
    version: 7,
    sql: `
      ALTER TABLE stores ADD COLUMN kind text NOT NULL DEFAULT 'kvs',
        ADD COLUMN item_count bigint NOT NULL DEFAULT 0,
        ADD COLUMN clean_item_count bigint NOT NULL DEFAULT 0;
      DROP INDEX stores_user_name;
      CREATE UNIQUE INDEX stores_user_kind_name ON stores(user_id, kind, name) WHERE name IS NOT NULL;
      DROP INDEX stores_user_created;
      CREATE INDEX stores_user_kind_created ON stores(user_id, kind, created_at, id);
      CREATE TABLE dataset_items (
        store_id text NOT NULL,
        seq bigint NOT NULL,
        data text NOT NULL,
        PRIMARY KEY (store_id, seq)
      );
    `,
  },
  {
    // Request queues share `stores` (kind 'queue'), which gains their counts and state: the first
    // clientKey seen, and the order numbers of the next forefront request (counting down) and of
    // the next one at the back (counting up). A request's JSON is `text`, kept as given. The head
    // is a range of the partial index of pending requests by order number; live locks are found
    // through the index of locks. Ids sort bytewise (COLLATE "C"), as request lists page by them.
    version: 8,
    sql: `
      ALTER TABLE stores ADD COLUMN handled_count bigint NOT NULL DEFAULT 0,
        ADD COLUMN had_multiple_clients boolean NOT NULL DEFAULT false,
        ADD COLUMN first_client text,
        ADD COLUMN queue_front bigint NOT NULL DEFAULT 0,
        ADD COLUMN queue_back bigint NOT NULL DEFAULT 0;
      CREATE TABLE queue_requests (
        store_id text NOT NULL,
        id text COLLATE "C" NOT NULL,
        unique_key text NOT NULL,
        data text NOT NULL,
        size bigint NOT NULL,
        handled_at bigint,
        order_no bigint NOT NULL,
        lock_client text,
        lock_expires_at bigint,
        PRIMARY KEY (store_id, id)
      );
      -- Unique by the key's hash: a B-tree entry holds at most about 2.7 KB, and URLs are longer at
      -- times. (convert_to is only STABLE in general; with a fixed encoding name it is immutable.)
      CREATE FUNCTION openkvs_key_hash(text) RETURNS bytea LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
        AS $$ SELECT sha256(convert_to($1, 'UTF8')) $$;
      CREATE UNIQUE INDEX queue_requests_unique_key ON queue_requests(store_id, openkvs_key_hash(unique_key));
      CREATE INDEX queue_requests_pending ON queue_requests(store_id, order_no) WHERE handled_at IS NULL;
      CREATE INDEX queue_requests_locks ON queue_requests(store_id, lock_expires_at) WHERE lock_expires_at IS NOT NULL;
    `,
  },
];

/** An arbitrary constant naming openkvs's migration lock. */
const MIGRATION_LOCK = 72_917_311;

/**
 * The functions' SQL file, beside this module: in src/, in dist/ after `tsc`, and beside the
 * bundled CLI in dist/bin/ (scripts/bundle-cli.mjs copies it to both).
 */
const FUNCTIONS_FILE = new URL('./functions.sql', import.meta.url);

/**
 * Applies pending migrations, then the functions file if its text changed, under a session advisory
 * lock, so that nodes starting together run them once, one after the other.
 */
export async function migrate(sql: Sql): Promise<void> {
  const conn = await sql.reserve();
  try {
    await conn`SELECT pg_advisory_lock(${MIGRATION_LOCK})`;
    try {
      await conn`CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)`;
      const [row] = await conn`SELECT COALESCE(MAX(version), 0)::int AS v FROM schema_migrations`;
      const current = (row?.v as number | undefined) ?? 0;
      refuseNewerSchema(current, Math.max(0, ...MIGRATIONS.map((m) => m.version)));
      for (const m of MIGRATIONS) {
        if (m.version <= current) continue;
        await inTransaction(conn, async () => {
          if (m.sql) await conn.unsafe(m.sql);
          await conn`INSERT INTO schema_migrations (version, applied_at) VALUES (${m.version}, ${Date.now()})`;
        });
      }
      await applyFunctions(conn);
    } finally {
      await conn`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`;
    }
  } finally {
    conn.release();
  }
}

async function inTransaction(conn: ReservedSql, fn: () => Promise<void>): Promise<void> {
  await conn.unsafe('BEGIN');
  try {
    await fn();
    await conn.unsafe('COMMIT');
  } catch (err) {
    await conn.unsafe('ROLLBACK');
    throw err;
  }
}

/** Runs functions.sql unless the text applied last has the same hash. */
async function applyFunctions(conn: ReservedSql): Promise<void> {
  const text = await readFile(FUNCTIONS_FILE, 'utf8');
  const hash = createHash('sha256').update(text).digest('hex');
  await conn`CREATE TABLE IF NOT EXISTS schema_functions (file text PRIMARY KEY, hash text NOT NULL, applied_at bigint NOT NULL)`;
  const [row] = await conn`SELECT hash FROM schema_functions WHERE file = 'functions.sql'`;
  if (row?.hash === hash) return;
  await inTransaction(conn, async () => {
    await conn.unsafe(text);
    await conn`INSERT INTO schema_functions (file, hash, applied_at) VALUES ('functions.sql', ${hash}, ${Date.now()})
               ON CONFLICT (file) DO UPDATE SET hash = EXCLUDED.hash, applied_at = EXCLUDED.applied_at`;
  });
}

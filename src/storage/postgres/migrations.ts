import type { Sql } from 'postgres';
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
    // A record write or delete in one round trip: lock the store row (serializing the writers of
    // one store on every node), check the precondition on the etag, write, count, release the
    // bytes the record had. Same rules as storage/conditions.ts.
    version: 5,
    sql: `
      CREATE FUNCTION openkvs_condition_holds(p_exists boolean, p_etag text, p_if_match text[], p_if_none_match text[])
      RETURNS boolean LANGUAGE sql IMMUTABLE AS $fn$
        SELECT (p_if_match IS NULL OR (p_exists AND ('*' = ANY(p_if_match) OR (p_etag IS NOT NULL AND p_etag = ANY(p_if_match)))))
           AND (p_if_none_match IS NULL OR NOT p_exists
                OR NOT ('*' = ANY(p_if_none_match) OR (p_etag IS NOT NULL AND p_etag = ANY(p_if_none_match))))
      $fn$;

      CREATE FUNCTION openkvs_put_record(
        p_store text, p_key text, p_size bigint, p_type text, p_encoding text, p_decoded bigint, p_now bigint,
        p_etag text, p_value bytea, p_value_id text, p_if_match text[], p_if_none_match text[]
      ) RETURNS text LANGUAGE plpgsql AS $fn$
      DECLARE
        o_size bigint;
        o_value_id text;
        o_etag text;
        o_exists boolean;
      BEGIN
        PERFORM 1 FROM stores WHERE id = p_store FOR UPDATE;
        IF NOT FOUND THEN RETURN 'no-store'; END IF;
        SELECT size, value_id, etag INTO o_size, o_value_id, o_etag FROM records WHERE store_id = p_store AND key = p_key;
        o_exists := FOUND;
        IF NOT openkvs_condition_holds(o_exists, o_etag, p_if_match, p_if_none_match) THEN RETURN 'precondition-failed'; END IF;
        INSERT INTO records (store_id, key, size, content_type, content_encoding, decoded_size, modified_at, etag, value, value_id)
        VALUES (p_store, p_key, p_size, p_type, p_encoding, p_decoded, p_now, p_etag, p_value, p_value_id)
        ON CONFLICT (store_id, key) DO UPDATE SET size = EXCLUDED.size, content_type = EXCLUDED.content_type,
          content_encoding = EXCLUDED.content_encoding, decoded_size = EXCLUDED.decoded_size,
          modified_at = EXCLUDED.modified_at, etag = EXCLUDED.etag, value = EXCLUDED.value, value_id = EXCLUDED.value_id;
        UPDATE stores SET storage_bytes = storage_bytes + p_size - COALESCE(o_size, 0), write_count = write_count + 1,
          modified_at = p_now, accessed_at = GREATEST(accessed_at, p_now)
        WHERE id = p_store;
        IF o_value_id IS NOT NULL THEN
          INSERT INTO value_garbage (store_id, value_id, released_at) VALUES (p_store, o_value_id, p_now) ON CONFLICT DO NOTHING;
        END IF;
        RETURN 'ok';
      END
      $fn$;

      CREATE FUNCTION openkvs_delete_record(p_store text, p_key text, p_now bigint, p_if_match text[], p_if_none_match text[])
      RETURNS text LANGUAGE plpgsql AS $fn$
      DECLARE
        o_size bigint;
        o_value_id text;
        o_etag text;
        o_exists boolean;
      BEGIN
        PERFORM 1 FROM stores WHERE id = p_store FOR UPDATE;
        IF NOT FOUND THEN RETURN 'no-store'; END IF;
        SELECT size, value_id, etag INTO o_size, o_value_id, o_etag FROM records WHERE store_id = p_store AND key = p_key;
        o_exists := FOUND;
        IF NOT openkvs_condition_holds(o_exists, o_etag, p_if_match, p_if_none_match) THEN RETURN 'precondition-failed'; END IF;
        IF o_exists THEN
          DELETE FROM records WHERE store_id = p_store AND key = p_key;
        END IF;
        UPDATE stores SET storage_bytes = storage_bytes - COALESCE(o_size, 0),
          delete_count = delete_count + (CASE WHEN o_exists THEN 1 ELSE 0 END),
          modified_at = p_now, accessed_at = GREATEST(accessed_at, p_now)
        WHERE id = p_store;
        IF o_value_id IS NOT NULL THEN
          INSERT INTO value_garbage (store_id, value_id, released_at) VALUES (p_store, o_value_id, p_now) ON CONFLICT DO NOTHING;
        END IF;
        RETURN CASE WHEN o_exists THEN 'deleted' ELSE 'absent' END;
      END
      $fn$;
    `,
  },
  {
    // Chunks of large values are stored out of line without compression: PostgreSQL would try pglz
    // on every 1 MiB chunk (storage EXTENDED), at a cost in CPU on every write, for values that are
    // mostly compressed already. Applies to chunks written from now on.
    version: 6,
    sql: 'ALTER TABLE value_chunks ALTER COLUMN data SET STORAGE EXTERNAL;',
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
      refuseNewerSchema(current, Math.max(0, ...MIGRATIONS.map((m) => m.version)));
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

import Database from 'better-sqlite3';
import postgres from 'postgres';
import { RECORD_CONTENT_TYPE } from './operations.js';

/**
 * Writes the keys a DELETE run removes straight into the storage, beside the running server: a
 * run needs more keys than there is time to PUT first (tens of thousands a round), and each
 * request must delete a record that exists. Benchmark code only: it writes the columns of the
 * `records` table (on SQLite since migration 5: the value in `record_values`, by `value_id`) and
 * keeps the store's counters as `putRecord` does. The rows are
 * only ever deleted, never read, so columns added since may stay NULL; a column that must not be
 * NULL stops the run with the list of columns to update here.
 */
export type Seeder = (storeId: string, keys: readonly string[]) => Promise<void>;

/** A small value: what is measured is the DELETE, not the size of what it deletes. */
const VALUE = Buffer.from('{"deleted":"by the benchmark"}');

const BASE_COLUMNS = ['store_id', 'key', 'size', 'content_type', 'content_encoding', 'decoded_size', 'modified_at'];
const SQLITE_COLUMNS = [...BASE_COLUMNS, 'value_id'];
const POSTGRES_COLUMNS = [...BASE_COLUMNS, 'value'];

interface Column {
  name: string;
  /** NOT NULL without a default: a value is needed. */
  required: boolean;
}

function checkColumns(driver: string, columns: Column[], written: string[]): void {
  const names = columns.map((c) => c.name);
  const missing = written.filter((c) => !names.includes(c));
  const unknownRequired = columns.filter((c) => c.required && !written.includes(c.name)).map((c) => c.name);
  if (missing.length || unknownRequired.length) {
    throw new Error(
      `bench/http/seed.ts writes records(${written.join()}) on ${driver}; the schema now has (${names.join()})` +
        (unknownRequired.length ? `, of which ${unknownRequired.join()} must be given` : ''),
    );
  }
}

/** SQLite: a second connection to the file, in one transaction per call; `value` is every record's bytes. */
export function sqliteSeeder(file: string, value: Buffer = VALUE): Seeder {
  return async (storeId, keys) => {
    const db = new Database(file);
    try {
      db.pragma('busy_timeout = 5000');
      const info = db.prepare('PRAGMA table_info(records)').all() as { name: string; notnull: number; dflt_value: unknown }[];
      checkColumns(
        'SQLite',
        info.map((c) => ({ name: c.name, required: c.notnull === 1 && c.dflt_value === null })),
        SQLITE_COLUMNS,
      );
      const insert = db.prepare(`INSERT INTO records (${SQLITE_COLUMNS.join(', ')}) VALUES (?, ?, ?, ?, NULL, ?, ?, ?)`);
      const insertValue = db.prepare('INSERT INTO record_values (data) VALUES (?)');
      const counters = db.prepare(
        'UPDATE stores SET storage_bytes = storage_bytes + ?, write_count = write_count + ?, modified_at = ? WHERE id = ?',
      );
      db.transaction(() => {
        const now = Date.now();
        for (const key of keys) {
          const valueId = insertValue.run(value).lastInsertRowid;
          insert.run(storeId, key, value.length, RECORD_CONTENT_TYPE, value.length, now, valueId);
        }
        counters.run(keys.length * value.length, keys.length, now, storeId);
      }).immediate();
    } finally {
      db.close();
    }
  };
}

/** PostgreSQL: one INSERT … SELECT FROM unnest per batch. */
export function postgresSeeder(url: string): { seed: Seeder; settle: () => Promise<void>; close: () => Promise<void> } {
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  let checked = false;
  const seed: Seeder = async (storeId, keys) => {
    if (!checked) {
      const rows = await sql`
        SELECT column_name, is_nullable, column_default FROM information_schema.columns
        WHERE table_name = 'records' ORDER BY ordinal_position`;
      checkColumns(
        'PostgreSQL',
        rows.map((r) => ({ name: r.column_name as string, required: r.is_nullable === 'NO' && r.column_default === null })),
        POSTGRES_COLUMNS,
      );
      checked = true;
    }
    const BATCH = 20_000;
    for (let from = 0; from < keys.length; from += BATCH) {
      const batch = keys.slice(from, from + BATCH) as string[];
      const now = Date.now();
      await sql.begin(async (tx) => {
        await tx`
          INSERT INTO records (store_id, key, size, content_type, content_encoding, decoded_size, modified_at, value)
          SELECT ${storeId}, k, ${VALUE.length}, ${RECORD_CONTENT_TYPE}, NULL, ${VALUE.length}, ${now}, ${VALUE}
          FROM unnest(${batch}::text[]) AS k`;
        await tx`
          UPDATE stores SET storage_bytes = storage_bytes + ${batch.length * VALUE.length},
            write_count = write_count + ${batch.length}, modified_at = ${now}
          WHERE id = ${storeId}`;
      });
    }
  };
  // Autovacuum would otherwise work on the seeded rows during the next measured rows (it tripled
  // PostgreSQL's CPU per GET in one run): vacuumed and analyzed before anything is measured. The
  // whole database: the dataset items (seeded through the API) are in tables of their own.
  const settle = async () => {
    await sql`VACUUM (ANALYZE)`;
  };
  return { seed, settle, close: () => sql.end({ timeout: 5 }) };
}

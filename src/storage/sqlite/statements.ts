import type Database from 'better-sqlite3';
import { KEY_ITEM } from '../rows.js';

const USER_COLS = 'id, username, created_at AS createdAt';
const TOKEN_COLS = 'id, user_id AS userId, hash, label, created_at AS createdAt';
const META_COLS = 'key, size, content_type, content_encoding, decoded_size, modified_at, etag, blob_path';

/** Every statement the driver runs, prepared once per connection. */
export function createStatements(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  const listStores = (order: 'ASC' | 'DESC') =>
    p(
      `SELECT * FROM stores WHERE user_id = ? AND kind = ? AND (name IS NOT NULL OR ? = 0)
       ORDER BY created_at ${order}, id ${order} LIMIT ? OFFSET ?`,
    );
  return {
    insertUser: p('INSERT OR IGNORE INTO users (id, username, created_at) VALUES (?, ?, ?)'),
    userById: p(`SELECT ${USER_COLS} FROM users WHERE id = ?`),
    userByName: p(`SELECT ${USER_COLS} FROM users WHERE username = ?`),
    listUsers: p(`SELECT ${USER_COLS} FROM users ORDER BY created_at, id`),
    deleteUser: p('DELETE FROM users WHERE id = ?'),
    deleteUserValues: p(
      `DELETE FROM record_values WHERE id IN
       (SELECT value_id FROM records WHERE store_id IN (SELECT id FROM stores WHERE user_id = ?) AND value_id IS NOT NULL)`,
    ),
    deleteUserRecords: p('DELETE FROM records WHERE store_id IN (SELECT id FROM stores WHERE user_id = ?)'),
    deleteUserItems: p('DELETE FROM dataset_items WHERE store_id IN (SELECT id FROM stores WHERE user_id = ?)'),
    deleteUserRequests: p('DELETE FROM queue_requests WHERE store_id IN (SELECT id FROM stores WHERE user_id = ?)'),
    userBlobPaths: p(
      'SELECT blob_path FROM records WHERE store_id IN (SELECT id FROM stores WHERE user_id = ?) AND blob_path IS NOT NULL',
    ),

    insertToken: p('INSERT INTO tokens (hash, id, user_id, label, created_at) VALUES (?, ?, ?, ?, ?)'),
    tokenByHash: p(`SELECT ${TOKEN_COLS} FROM tokens WHERE hash = ?`),
    tokensOfUser: p(`SELECT ${TOKEN_COLS} FROM tokens WHERE user_id = ? ORDER BY created_at, id`),
    deleteToken: p('DELETE FROM tokens WHERE hash = ?'),

    insertStore: p(
      `INSERT INTO stores (id, kind, user_id, name, title, created_at, modified_at, accessed_at, general_access, schema, signing_secret)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    storeById: p('SELECT * FROM stores WHERE id = ?'),
    storeByName: p('SELECT * FROM stores WHERE user_id = ? AND kind = ? AND name = ?'),
    countStores: p('SELECT COUNT(*) AS n FROM stores WHERE user_id = ? AND kind = ? AND (name IS NOT NULL OR ? = 0)'),
    listStoresAsc: listStores('ASC'),
    listStoresDesc: listStores('DESC'),
    updateStore: p('UPDATE stores SET name = ?, title = ?, general_access = ?, modified_at = ? WHERE id = ?'),
    deleteStore: p('DELETE FROM stores WHERE id = ?'),
    storeExpired: p('SELECT 1 FROM stores WHERE id = ? AND name IS NULL AND modified_at < ?').pluck(),
    deleteStoreValues: p(
      'DELETE FROM record_values WHERE id IN (SELECT value_id FROM records WHERE store_id = ? AND value_id IS NOT NULL)',
    ),
    deleteStoreRecords: p('DELETE FROM records WHERE store_id = ?'),
    deleteStoreItems: p('DELETE FROM dataset_items WHERE store_id = ?'),
    deleteStoreRequests: p('DELETE FROM queue_requests WHERE store_id = ?'),
    storeBlobPaths: p('SELECT blob_path FROM records WHERE store_id = ? AND blob_path IS NOT NULL'),
    storeWritten: p(
      `UPDATE stores SET storage_bytes = storage_bytes + @delta, write_count = write_count + 1,
       modified_at = @now, accessed_at = max(accessed_at, @now) WHERE id = @id`,
    ),
    storeDeleted: p(
      `UPDATE stores SET storage_bytes = storage_bytes + @delta, delete_count = delete_count + @count,
       modified_at = @now, accessed_at = max(accessed_at, @now) WHERE id = @id`,
    ),
    storeStats: p(
      `UPDATE stores SET read_count = read_count + ?, list_count = list_count + ?,
       accessed_at = max(accessed_at, ?) WHERE id = ?`,
    ),

    recordFull: p(
      `SELECT ${META_COLS}, v.data AS value FROM records r LEFT JOIN record_values v ON v.id = r.value_id
       WHERE r.store_id = ? AND r.key = ?`,
    ),
    recordMeta: p(`SELECT ${META_COLS} FROM records WHERE store_id = ? AND key = ?`),
    recordBlob: p('SELECT size, blob_path, etag, value_id FROM records WHERE store_id = ? AND key = ?'),
    storeExists: p('SELECT 1 AS x FROM stores WHERE id = ?'),
    upsertRecord: p(
      `INSERT INTO records (store_id, key, size, content_type, content_encoding, decoded_size, modified_at, etag, blob_path, value_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (store_id, key) DO UPDATE SET size = excluded.size, content_type = excluded.content_type,
         content_encoding = excluded.content_encoding, decoded_size = excluded.decoded_size,
         modified_at = excluded.modified_at, etag = excluded.etag, blob_path = excluded.blob_path, value_id = excluded.value_id`,
    ),
    /** Inline bytes live in `record_values`; the record's `value_id` names its row (NULL for a file). */
    insertValue: p('INSERT INTO record_values (data) VALUES (?)'),
    updateValue: p('UPDATE record_values SET data = ? WHERE id = ?'),
    deleteValue: p('DELETE FROM record_values WHERE id = ?'),
    deleteRecord: p('DELETE FROM records WHERE store_id = ? AND key = ?'),
    allBlobPaths: p('SELECT blob_path FROM records WHERE blob_path IS NOT NULL').pluck(),
    // Key pages read rows as arrays (`KEY_ITEM` maps them): better-sqlite3 builds them faster than objects.
    keysAfter: p(`SELECT ${KEY_ITEM.sql} FROM records WHERE store_id = ? AND key > ? ORDER BY key LIMIT ?`).raw(true),
    keysAfterPrefix: p(`SELECT ${KEY_ITEM.sql} FROM records WHERE store_id = ? AND key > ? AND key < ? ORDER BY key LIMIT ?`).raw(
      true,
    ),
    totals: p('SELECT kind, COUNT(*) AS stores, COALESCE(SUM(storage_bytes), 0) AS bytes FROM stores GROUP BY kind'),
    expiredUnnamedStores: p('SELECT id FROM stores WHERE name IS NULL AND modified_at < ? ORDER BY modified_at LIMIT ?'),
    keysFromPrefix: p(`SELECT ${KEY_ITEM.sql} FROM records WHERE store_id = ? AND key >= ? AND key < ? ORDER BY key LIMIT ?`).raw(
      true,
    ),
  };
}

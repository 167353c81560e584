import type Database from 'better-sqlite3';

/**
 * Items [?2, ?3) of dataset ?1: a range of positions, not OFFSET, so that the primary key finds the
 * first one and a page costs O(limit) at any offset.
 */
export const ITEM_PAGE_SQL = 'SELECT data FROM dataset_items WHERE store_id = ? AND seq >= ? AND seq < ? ORDER BY seq';

/**
 * The items of datasets in SQLite: one row per item, keyed by (dataset, position), the JSON text
 * kept as pushed. A push runs inside the driver's write transaction (its group commit), which
 * serializes pushes: the positions come from `stores.item_count` read in that transaction.
 */
export function createDatasetItems(db: Database.Database) {
  const itemCount = db.prepare("SELECT item_count FROM stores WHERE id = ? AND kind = 'dataset'").pluck();
  const insert = db.prepare('INSERT INTO dataset_items (store_id, seq, data) VALUES (?, ?, ?)');
  const counted = db.prepare(
    `UPDATE stores SET item_count = item_count + @n, clean_item_count = clean_item_count + @clean,
       write_count = write_count + @n, storage_bytes = storage_bytes + @bytes,
       modified_at = @now, accessed_at = max(accessed_at, @now) WHERE id = @id`,
  );
  const page = db.prepare(ITEM_PAGE_SQL).pluck();

  return {
    /** Appends `items` after the last one; call inside a write transaction. */
    push(datasetId: string, items: readonly string[], clean: number, now: number): 'ok' | 'no-store' {
      const first = itemCount.get(datasetId) as number | undefined;
      if (first === undefined) return 'no-store';
      let bytes = 0;
      for (let i = 0; i < items.length; i++) {
        const item = items[i] as string;
        insert.run(datasetId, first + i, item);
        bytes += Buffer.byteLength(item);
      }
      counted.run({ n: items.length, clean, bytes, now, id: datasetId });
      return 'ok';
    },

    read(datasetId: string, offset: number, limit: number): string[] {
      if (limit <= 0) return [];
      return page.all(datasetId, offset, offset + limit) as string[];
    },
  };
}

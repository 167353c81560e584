import type { Sql } from 'postgres';

/**
 * Appends items to a dataset in one round trip (`openkvs_push_items` in functions.sql): the texts
 * travel as one text[] parameter, whatever their number, and the function locks the dataset's row,
 * so that pushes from any node land one after another, each contiguous.
 */
export async function pushItems(
  sql: Sql,
  datasetId: string,
  items: readonly string[],
  clean: number,
  now: number,
): Promise<'ok' | 'no-store'> {
  let bytes = 0;
  for (const item of items) bytes += Buffer.byteLength(item);
  const [row] = await sql`
    SELECT openkvs_push_items(${datasetId}, ${items as string[]}::text[], ${clean}::bigint,
      ${bytes}::bigint, ${now}::bigint) AS status`;
  return row?.status as 'ok' | 'no-store';
}

/**
 * Items [$2, $3) of dataset $1: a range of positions, not OFFSET, so that the primary key finds the
 * first one and a page costs O(limit) at any offset (read in index order, or by a bitmap scan of
 * the same range and a sort of the page, as the planner judges).
 */
export const ITEM_PAGE_SQL =
  'SELECT data FROM dataset_items WHERE store_id = $1::text AND seq >= $2::bigint AND seq < $3::bigint ORDER BY seq';

/** Items [offset, offset + limit) of a dataset, in push order. */
export async function readItems(sql: Sql, datasetId: string, offset: number, limit: number): Promise<string[]> {
  if (limit <= 0) return [];
  const rows = await sql.unsafe(ITEM_PAGE_SQL, [datasetId, offset, offset + limit], { prepare: true }).values();
  return rows.map((r) => r[0] as string);
}

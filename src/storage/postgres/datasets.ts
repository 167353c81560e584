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

/** Items [offset, offset + limit) of a dataset: a range of the primary key, O(limit) at any offset. */
export async function readItems(sql: Sql, datasetId: string, offset: number, limit: number): Promise<string[]> {
  if (limit <= 0) return [];
  const rows = await sql`
    SELECT data FROM dataset_items
    WHERE store_id = ${datasetId} AND seq >= ${offset}::bigint AND seq < ${offset + limit}::bigint
    ORDER BY seq`.values();
  return rows.map((r) => r[0] as string);
}

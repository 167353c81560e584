import type { Sql } from 'postgres';

/** How the values of a store look in PostgreSQL, checked with SQL from outside the nodes. */
export interface PgValues {
  /** Records whose chunks do not add up to their size, have gaps, or are missing. */
  broken: string[];
  /** Records whose value is listed as garbage (the sweeper would delete a live value). */
  live: string[];
  /** Chunked values no record names and nobody released: uploads cut off before their commit. */
  orphans: number;
  /** Released values waiting for their grace period. */
  garbage: number;
  /** Records stored in chunks. */
  chunked: number;
}

export async function inspectValues(sql: Sql, storeId: string): Promise<PgValues> {
  const broken = await sql`
    SELECT r.key, r.size, COALESCE(SUM(LENGTH(c.data)), 0)::bigint AS stored, COUNT(c.seq)::int AS n,
           COALESCE(MAX(c.seq), -1)::int AS last
    FROM records r LEFT JOIN value_chunks c ON c.store_id = r.store_id AND c.value_id = r.value_id
    WHERE r.store_id = ${storeId} AND r.value_id IS NOT NULL
    GROUP BY r.key, r.size
    HAVING COALESCE(SUM(LENGTH(c.data)), 0) <> r.size OR COUNT(c.seq) <> COALESCE(MAX(c.seq), -1) + 1 OR COUNT(c.seq) = 0`;
  const live = await sql`
    SELECT r.key FROM records r JOIN value_garbage g ON g.store_id = r.store_id AND g.value_id = r.value_id
    WHERE r.store_id = ${storeId}`;
  const [orphans] = await sql`
    SELECT COUNT(DISTINCT c.value_id)::int AS n FROM value_chunks c
    WHERE c.store_id = ${storeId}
      AND NOT EXISTS (SELECT 1 FROM records r WHERE r.store_id = c.store_id AND r.value_id = c.value_id)
      AND NOT EXISTS (SELECT 1 FROM value_garbage g WHERE g.store_id = c.store_id AND g.value_id = c.value_id)`;
  const [garbage] = await sql`SELECT COUNT(*)::int AS n FROM value_garbage WHERE store_id = ${storeId}`;
  const [chunked] = await sql`SELECT COUNT(*)::int AS n FROM records WHERE store_id = ${storeId} AND value_id IS NOT NULL`;
  return {
    broken: broken.map((r) => `${r.key}: size ${r.size}, ${r.n} chunks (last seq ${r.last}) holding ${r.stored} bytes`),
    live: live.map((r) => `${r.key}: its value is listed in value_garbage`),
    orphans: (orphans?.n as number) ?? 0,
    garbage: (garbage?.n as number) ?? 0,
    chunked: (chunked?.n as number) ?? 0,
  };
}

import { Readable } from 'node:stream';
import type { Sql } from 'postgres';
import { newId } from '../../domain/ids.js';
import { guardStorage } from './errors.js';

/** Values up to this size live in the records row; larger ones as chunks in `value_chunks`. */
export const INLINE_MAX_BYTES = 256 * 1024;
/** Size of one stored chunk of a large value. */
export const CHUNK_BYTES = 1024 * 1024;
/** How long the chunks of an overwritten or deleted value stay readable for downloads in progress. */
export const GARBAGE_GRACE_MS = 15 * 60 * 1000;
/** Chunks of an upload that never became a record (a crashed node) are removed after this long. */
export const ORPHAN_AGE_MS = 6 * 3600 * 1000;

export type PgStaged =
  | { readonly size: number; readonly kind: 'inline'; readonly data: Buffer }
  | { readonly size: number; readonly kind: 'chunks'; readonly storeId: string; readonly valueId: string };

/**
 * Reads an upload: small bodies stay in memory, large ones are written as 1 MiB chunks as they
 * arrive (each insert its own short transaction), so no upload holds more than a chunk or two.
 */
export async function stageValue(sql: Sql, storeId: string, body: AsyncIterable<Buffer>): Promise<PgStaged> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let size = 0;
  let valueId: string | undefined;
  let seq = 0;
  const writeChunks = async (all: boolean) => {
    valueId ??= newId();
    let joined = Buffer.concat(pending);
    while (joined.length >= CHUNK_BYTES || (all && joined.length > 0)) {
      const piece = joined.subarray(0, CHUNK_BYTES);
      await sql`INSERT INTO value_chunks (store_id, value_id, seq, data, created_at)
                VALUES (${storeId}, ${valueId}, ${seq++}, ${piece}, ${Date.now()})`;
      joined = joined.subarray(piece.length);
    }
    pending = joined.length > 0 ? [joined] : [];
    pendingBytes = joined.length;
  };
  try {
    for await (const chunk of body) {
      size += chunk.length;
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= CHUNK_BYTES || (valueId === undefined && size > INLINE_MAX_BYTES)) await writeChunks(false);
    }
    if (valueId === undefined)
      return { kind: 'inline', size, data: pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending) };
    await writeChunks(true);
    return { kind: 'chunks', size, storeId, valueId };
  } catch (err) {
    if (valueId !== undefined) await deleteChunks(sql, storeId, valueId).catch(() => undefined);
    throw err;
  }
}

export async function deleteChunks(sql: Sql, storeId: string, valueId: string): Promise<void> {
  await sql`DELETE FROM value_chunks WHERE store_id = ${storeId} AND value_id = ${valueId}`;
}

/**
 * A stream over a chunked value, fetching one chunk at a time as the reader asks for more. A chunk
 * that cannot be read (PostgreSQL lost, or still unreachable after the outage deadline of
 * `guardStorage`) ends the stream with an error, which cuts the response off instead of stalling it.
 */
export function chunkStream(sql: Sql, storeId: string, valueId: string, size: number): Readable {
  let seq = 0;
  let sent = 0;
  return new Readable({
    highWaterMark: CHUNK_BYTES,
    read() {
      if (sent >= size) {
        this.push(null);
        return;
      }
      guardStorage(
        () => sql`SELECT data FROM value_chunks WHERE store_id = ${storeId} AND value_id = ${valueId} AND seq = ${seq}`,
      ).then(
        ([row]) => {
          if (!row) {
            this.destroy(new Error(`value ${valueId} ended after ${sent} of ${size} bytes`));
            return;
          }
          seq++;
          const data = row.data as Buffer;
          sent += data.length;
          this.push(data);
          if (sent >= size) this.push(null);
        },
        (err: Error) => this.destroy(err),
      );
    },
  });
}

/**
 * Removes chunks no record needs any more: released values past their grace period, and uploads
 * that never became a record. Safe to run on several nodes at once; each call does a small batch.
 */
export async function sweepValues(sql: Sql, now = Date.now(), batch = 100): Promise<number> {
  let removed = 0;
  const released = await sql`
    SELECT store_id, value_id FROM value_garbage WHERE released_at < ${now - GARBAGE_GRACE_MS} LIMIT ${batch}`;
  for (const g of released) {
    await sql.begin(async (tx) => {
      await tx`DELETE FROM value_chunks WHERE store_id = ${g.store_id} AND value_id = ${g.value_id}`;
      await tx`DELETE FROM value_garbage WHERE store_id = ${g.store_id} AND value_id = ${g.value_id}`;
    });
    removed++;
  }
  const orphans = await sql`
    SELECT c.store_id, c.value_id FROM value_chunks c
    WHERE c.seq = 0 AND c.created_at < ${now - ORPHAN_AGE_MS}
      AND NOT EXISTS (SELECT 1 FROM records r WHERE r.store_id = c.store_id AND r.value_id = c.value_id)
      AND NOT EXISTS (SELECT 1 FROM value_garbage g WHERE g.store_id = c.store_id AND g.value_id = c.value_id)
    LIMIT ${batch}`;
  for (const o of orphans) {
    await deleteChunks(sql, o.store_id as string, o.value_id as string);
    removed++;
  }
  // Rate-limit windows are one second long; a minute-old counter is of no use to anyone.
  await sql`DELETE FROM rate_counters WHERE window_start < ${now - 60_000}`;
  return removed;
}

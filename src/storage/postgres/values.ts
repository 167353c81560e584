import { randomUUID } from 'node:crypto';
import { Readable, type Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ReservedSql, Sql } from 'postgres';
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

/*
 * Chunks move in COPY's binary format: bytea as its raw bytes, where a query's parameters and
 * results would carry it as hex text (twice the bytes, encoded and decoded on both sides).
 *
 * Each COPY runs on a connection reserved for it: the pool pipelines queries onto busy
 * connections, and a query written behind a COPY FROM STDIN would land in the middle of the copy
 * (or fail with COPY_IN_PROGRESS behind a COPY TO STDOUT). One chunk per COPY, so that neither a
 * slow client nor a slow reader keeps a connection longer than one chunk takes.
 */

/**
 * COPYs take at most all but one of the pool's connections: postgres.js refuses a query with
 * COPY_IN_PROGRESS, instead of queueing it, when every connection of a full pool is in a COPY.
 */
const copySlots = new WeakMap<Sql, { free: number; waiting: (() => void)[] }>();

async function withCopyConnection<T>(sql: Sql, fn: (conn: ReservedSql) => Promise<T>): Promise<T> {
  const own = copySlots.get(sql) ?? { free: Math.max(1, sql.options.max - 1), waiting: [] };
  copySlots.set(sql, own);
  if (own.free > 0) own.free--;
  else await new Promise<void>((resolve) => own.waiting.push(resolve));
  try {
    const conn = await sql.reserve();
    try {
      return await fn(conn);
    } finally {
      conn.release();
    }
  } finally {
    const next = own.waiting.shift();
    if (next) next();
    else own.free++;
  }
}

/** The binary COPY header: signature, flags (none), header extension length (0). */
const COPY_HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
/** The binary COPY trailer: a tuple of -1 fields. */
const COPY_TRAILER = Buffer.from([0xff, 0xff]);

/** A string literal for a COPY statement (COPY takes no parameters); E'' reads the same whatever standard_conforming_strings says. */
function literal(s: string): string {
  return `E'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** The header and one tuple's fields up to the bytes of `data`: (store_id, value_id, seq, created_at, data). */
function chunkTupleHead(storeId: string, valueId: string, seq: number, createdAt: number, dataBytes: number): Buffer {
  const store = Buffer.from(storeId, 'utf8');
  const value = Buffer.from(valueId, 'utf8');
  const head = Buffer.alloc(COPY_HEADER.length + 2 + (4 + store.length) + (4 + value.length) + (4 + 4) + (4 + 8) + 4);
  let at = COPY_HEADER.copy(head, 0);
  at = head.writeInt16BE(5, at);
  at = head.writeInt32BE(store.length, at);
  at += store.copy(head, at);
  at = head.writeInt32BE(value.length, at);
  at += value.copy(head, at);
  at = head.writeInt32BE(4, at);
  at = head.writeInt32BE(seq, at);
  at = head.writeInt32BE(8, at);
  at = head.writeBigInt64BE(BigInt(createdAt), at);
  head.writeInt32BE(dataBytes, at);
  return head;
}

/** Writes one chunk, made of `pieces` (`bytes` in all), in one COPY: committed whole or not at all. */
async function writeChunk(sql: Sql, storeId: string, valueId: string, seq: number, pieces: Buffer[], bytes: number) {
  await withCopyConnection(sql, async (conn) => {
    const out: Writable = await conn
      .unsafe('COPY value_chunks (store_id, value_id, seq, created_at, data) FROM STDIN WITH (FORMAT binary)')
      .writable();
    const done = finished(out);
    // Awaited below, unless a write throws first: never an unhandled rejection.
    done.catch(() => undefined);
    out.write(chunkTupleHead(storeId, valueId, seq, Date.now(), bytes));
    for (const piece of pieces) out.write(piece);
    out.end(COPY_TRAILER);
    await done;
  });
}

/** Reads one chunk in one COPY; undefined when there is no such chunk. */
async function readChunk(sql: Sql, storeId: string, valueId: string, seq: number): Promise<Buffer | undefined> {
  return withCopyConnection(sql, async (conn) => {
    const input: Readable = await conn
      .unsafe(
        `COPY (SELECT data FROM value_chunks WHERE store_id = ${literal(storeId)} AND value_id = ${literal(valueId)}
               AND seq = ${Math.trunc(seq)}) TO STDOUT WITH (FORMAT binary)`,
      )
      .readable();
    // Read to the end whatever happens to the download: a COPY left unread would hold the connection.
    // Each message as it comes ('data'), not through the async iterator: its read() joins what is
    // buffered (the megabyte row and the trailer) into a copy of the whole chunk.
    const parts: Buffer[] = [];
    input.on('data', (part: Buffer) => parts.push(part));
    await finished(input);
    return parseChunkCopy(parts);
  });
}

/** The `data` of the one row of a binary COPY of `SELECT data`, or undefined if it has no row. */
export function parseChunkCopy(parts: Buffer[]): Buffer | undefined {
  // The header and the row usually arrive in one message: the data is then a view into it.
  let buf = parts[0] ?? Buffer.alloc(0);
  const need = (bytes: number) => {
    if (buf.length < bytes && parts.length > 1) buf = Buffer.concat(parts);
    if (buf.length < bytes) throw new Error('binary COPY output cut short');
  };
  need(COPY_HEADER.length);
  if (!buf.subarray(0, 11).equals(COPY_HEADER.subarray(0, 11))) throw new Error('not a binary COPY output');
  let at = COPY_HEADER.length + buf.readInt32BE(15);
  need(at + 2);
  const fields = buf.readInt16BE(at);
  if (fields === -1) return undefined;
  if (fields !== 1) throw new Error(`binary COPY row of ${fields} fields, expected 1`);
  need(at + 6);
  const bytes = buf.readInt32BE(at + 2);
  if (bytes < 0) throw new Error('NULL chunk data');
  at += 6;
  need(at + bytes);
  return buf.subarray(at, at + bytes);
}

/**
 * Reads an upload: small bodies stay in memory, large ones are written as 1 MiB chunks as they
 * arrive (each its own COPY, its own transaction), so no upload holds more than a chunk or two.
 */
export async function stageValue(sql: Sql, storeId: string, body: AsyncIterable<Buffer>): Promise<PgStaged> {
  const pending: Buffer[] = [];
  let pendingBytes = 0;
  let size = 0;
  let valueId: string | undefined;
  let seq = 0;
  const writeChunks = async (all: boolean) => {
    valueId ??= randomUUID();
    while (pendingBytes >= CHUNK_BYTES || (all && pendingBytes > 0)) {
      const bytes = Math.min(CHUNK_BYTES, pendingBytes);
      const pieces: Buffer[] = [];
      let taken = 0;
      while (taken < bytes) {
        const piece = pending[0] as Buffer;
        if (taken + piece.length <= bytes) {
          pieces.push(piece);
          pending.shift();
          taken += piece.length;
        } else {
          pieces.push(piece.subarray(0, bytes - taken));
          pending[0] = piece.subarray(bytes - taken);
          taken = bytes;
        }
      }
      pendingBytes -= bytes;
      await writeChunk(sql, storeId, valueId, seq++, pieces, bytes);
    }
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
      guardStorage(() => readChunk(sql, storeId, valueId, seq)).then(
        (data) => {
          if (data === undefined) {
            this.destroy(new Error(`value ${valueId} ended after ${sent} of ${size} bytes`));
            return;
          }
          seq++;
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

import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/domain/ids.js';
import type { RecordValue } from '../../src/storage/driver.js';
import { StorageUnavailableError } from '../../src/storage/errors.js';
import { PostgresDriver } from '../../src/storage/postgres/index.js';
import { CHUNK_BYTES, type PgStaged, parseChunkCopy } from '../../src/storage/postgres/values.js';
import { freshSchema } from '../helpers/postgres.js';
import { sleep } from '../helpers/time.js';
import { chunks, storeRow } from './suite.js';

/**
 * Large values on PostgreSQL: chunks written and read with binary COPY on connections reserved for
 * it, and what happens when an upload or a download does not go to plan.
 */

let schema: Awaited<ReturnType<typeof freshSchema>>;
let driver: PostgresDriver;
/** The same schema from outside the driver. */
let sql: Sql;
const POOL = 3;

beforeAll(async () => {
  schema = await freshSchema();
  driver = await PostgresDriver.connect({ url: schema.url, poolSize: POOL, sweepIntervalMs: 0 });
  sql = postgres(schema.url, { max: 2, onnotice: () => undefined });
});
afterAll(async () => {
  await driver?.close();
  await sql?.end();
  await schema?.drop();
});

async function freshStore() {
  const user = { id: newId(), username: `u${newId().toLowerCase()}`, createdAt: Date.now() };
  await driver.createUser(user);
  return (await driver.createStore(storeRow(user.id, null))).store;
}

async function put(storeId: string, key: string, body: AsyncIterable<Buffer>) {
  const staged = await driver.stageValue(storeId, body);
  const status = await driver.putRecord(
    storeId,
    key,
    { contentType: 'application/octet-stream', contentEncoding: null, decodedSize: 0, etag: newId(), now: Date.now() },
    staged,
  );
  expect(status).toBe('ok');
  return staged as PgStaged;
}

async function bytesOf(value: RecordValue): Promise<Buffer> {
  if (value.kind === 'buffer') return value.data;
  const parts: Buffer[] = [];
  for await (const c of value.stream as Readable) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function chunkCount(storeId: string): Promise<number> {
  const [row] = await sql`SELECT count(*)::int AS n FROM value_chunks WHERE store_id = ${storeId}`;
  return row?.n as number;
}

/** Pieces of uneven sizes, none of them lined up with the chunk size. */
async function* uneven(data: Buffer): AsyncGenerator<Buffer> {
  const sizes = [1, 77_777, 13, 300_001, 65_536, 1_048_575, 2];
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = sizes[i % sizes.length] as number;
    yield data.subarray(at, at + n);
    at += n;
  }
}

describe('PostgreSQL chunked values', () => {
  it('stores chunks uncompressed and out of line (migration 6)', async () => {
    const [row] = await sql`
      SELECT a.attstorage FROM pg_attribute a
      WHERE a.attrelid = 'value_chunks'::regclass AND a.attname = 'data'`;
    expect(row?.attstorage).toBe('e');
  });

  it('keeps a value byte-exact across many chunk boundaries, whatever the sizes of the pieces it arrives in', async () => {
    const store = await freshStore();
    for (const [key, size] of [
      ['exact', 4 * CHUNK_BYTES],
      ['one-more', 3 * CHUNK_BYTES + 1],
      ['one-less', 5 * CHUNK_BYTES - 1],
      ['just-over-inline', 256 * 1024 + 1],
    ] as const) {
      const data = randomBytes(size);
      // Compressible data too: what is stored is what was sent.
      data.fill(7, 0, Math.min(size, 500_000));
      const staged = await put(store.id, key, uneven(data));
      expect(staged.kind).toBe('chunks');
      const rows = await sql`
        SELECT seq, length(data)::int AS n FROM value_chunks
        WHERE store_id = ${store.id} AND value_id = ${staged.kind === 'chunks' ? staged.valueId : ''} ORDER BY seq`;
      const expected = Array.from({ length: Math.ceil(size / CHUNK_BYTES) }, (_, seq) => ({
        seq,
        n: Math.min(CHUNK_BYTES, size - seq * CHUNK_BYTES),
      }));
      expect([...rows], key).toEqual(expected);
      const got = await driver.getRecord(store.id, key);
      expect(got?.size, key).toBe(size);
      expect((await bytesOf(got!.value)).equals(data), key).toBe(true);
    }
  });

  it('reads a value whose chunk arrives in several pieces of a COPY output', () => {
    const data = randomBytes(100_000);
    const header = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
    const field = Buffer.alloc(6);
    field.writeInt16BE(1, 0);
    field.writeInt32BE(data.length, 2);
    const whole = Buffer.concat([header, field, data, Buffer.from([0xff, 0xff])]);
    expect(parseChunkCopy([whole])?.equals(data)).toBe(true);
    for (const cut of [3, 19, 21, 25, 1000, whole.length - 2]) {
      expect(parseChunkCopy([whole.subarray(0, cut), whole.subarray(cut)])?.equals(data), `cut at ${cut}`).toBe(true);
    }
    expect(parseChunkCopy([Buffer.concat([header, Buffer.from([0xff, 0xff])])])).toBeUndefined();
    expect(() => parseChunkCopy([whole.subarray(0, 30)])).toThrow('cut short');
    expect(() => parseChunkCopy([Buffer.from('not a copy at all')])).toThrow();
  });

  it('keeps no chunk of an upload that fails after several chunks', async () => {
    const store = await freshStore();
    async function* failing() {
      yield* chunks(randomBytes(3 * CHUNK_BYTES + 5000), 100_000);
      throw new Error('client went away');
    }
    await expect(driver.stageValue(store.id, failing())).rejects.toThrow('client went away');
    expect(await chunkCount(store.id)).toBe(0);
  });

  it('fails an upload whose chunk PostgreSQL refuses after the COPY was ended, and keeps none of its chunks', async () => {
    // The trigger fails the second chunk after a pause, so that the error comes after the client's
    // CopyDone: the COPY's stream is waiting for its CommandComplete then, which never comes.
    const store = await freshStore();
    await sql.unsafe(`
      CREATE FUNCTION refuse_chunk() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.store_id = '${store.id}' AND NEW.seq = 1 THEN
          PERFORM pg_sleep(0.3);
          RAISE EXCEPTION 'chunk refused';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_chunk BEFORE INSERT ON value_chunks FOR EACH ROW EXECUTE FUNCTION refuse_chunk();`);
    try {
      const started = performance.now();
      await expect(driver.stageValue(store.id, chunks(randomBytes(3 * CHUNK_BYTES)))).rejects.toThrow('chunk refused');
      expect(performance.now() - started).toBeLessThan(5000);
      expect(await chunkCount(store.id)).toBe(0);
    } finally {
      await sql.unsafe('DROP TRIGGER refuse_chunk ON value_chunks; DROP FUNCTION refuse_chunk();');
    }
    // Every connection of the pool still answers its own queries.
    const other = await freshStore();
    const data = randomBytes(2 * CHUNK_BYTES + 3);
    await Promise.all(Array.from({ length: POOL * 2 }, (_, i) => put(other.id, `k${i}`, chunks(data))));
    for (let i = 0; i < POOL * 2; i++)
      expect((await bytesOf((await driver.getRecord(other.id, `k${i}`))!.value)).equals(data)).toBe(true);
  });

  it('fails an upload whose connection is lost while its chunk is being written, answers 503, and recovers', async () => {
    const store = await freshStore();
    const victim = `copy_victim_${newId()}`;
    await sql.unsafe(`
      CREATE FUNCTION slow_chunk() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.store_id = '${store.id}' AND NEW.seq = 1 THEN
          PERFORM set_config('application_name', '${victim}', false);
          PERFORM pg_sleep(5);
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER slow_chunk BEFORE INSERT ON value_chunks FOR EACH ROW EXECUTE FUNCTION slow_chunk();`);
    try {
      const started = performance.now();
      const upload = driver.stageValue(store.id, chunks(randomBytes(3 * CHUNK_BYTES))).then(
        () => 'stored',
        (err: unknown) => err,
      );
      let terminated = 0;
      while (terminated === 0 && performance.now() - started < 4000) {
        await sleep(50);
        terminated = (await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${victim}`)
          .length;
      }
      expect(terminated).toBe(1);
      expect(await upload).toBeInstanceOf(StorageUnavailableError);
      expect(performance.now() - started).toBeLessThan(4500);
    } finally {
      await sql.unsafe('DROP TRIGGER slow_chunk ON value_chunks; DROP FUNCTION slow_chunk();');
    }
    // The chunk written before the loss is deleted once the pool is back (the upload's own clean-up
    // may have run into the outage; the sweeper takes what it leaves).
    const data = randomBytes(2 * CHUNK_BYTES + 3);
    await put(store.id, 'after', chunks(data));
    expect((await bytesOf((await driver.getRecord(store.id, 'after'))!.value)).equals(data)).toBe(true);
  });

  it('gives its connection back when a download stops part-way, however many downloads stop', async () => {
    const store = await freshStore();
    const data = randomBytes(5 * CHUNK_BYTES);
    await put(store.id, 'big', chunks(data));
    for (let i = 0; i < POOL * 4; i++) {
      const got = await driver.getRecord(store.id, 'big');
      const stream = (got!.value as { stream: Readable }).stream;
      await new Promise<void>((resolve) => {
        stream.once('data', () => {
          stream.destroy();
          resolve();
        });
      });
    }
    const started = performance.now();
    expect((await bytesOf((await driver.getRecord(store.id, 'big'))!.value)).equals(data)).toBe(true);
    expect(performance.now() - started).toBeLessThan(5000);
    // No COPY is left open on the server.
    await sleep(100);
    const open = await sql`
      SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE state = 'active' AND query LIKE 'COPY (SELECT data FROM value_chunks%' AND query LIKE ${`%${store.id}%`}`;
    expect(open[0]?.n).toBe(0);
  });

  it('ends a download with an error when the value has fewer chunks than its size needs', async () => {
    const store = await freshStore();
    const staged = await put(store.id, 'big', chunks(randomBytes(4 * CHUNK_BYTES)));
    await sql`DELETE FROM value_chunks WHERE store_id = ${store.id} AND seq >= 2`;
    const got = await driver.getRecord(store.id, 'big');
    expect(staged.kind).toBe('chunks');
    await expect(bytesOf(got!.value)).rejects.toThrow(`ended after ${2 * CHUNK_BYTES} of ${4 * CHUNK_BYTES} bytes`);
  });

  it('answers other queries while more downloads than connections wait in their COPYs', async () => {
    // postgres.js refuses a query (COPY_IN_PROGRESS) when every connection of a full pool is in a COPY.
    const store = await freshStore();
    const data = randomBytes(2 * CHUNK_BYTES);
    await put(store.id, 'big', chunks(data));
    const lock = await sql.reserve();
    let downloads: Promise<boolean>[] = [];
    try {
      await lock`BEGIN`;
      await lock`LOCK TABLE value_chunks IN ACCESS EXCLUSIVE MODE`;
      let failed = false;
      downloads = Array.from({ length: POOL + 1 }, async () => {
        try {
          return (await bytesOf((await driver.getRecord(store.id, 'big'))!.value)).equals(data);
        } catch (err) {
          failed = true;
          throw err;
        }
      });
      // Until all the COPYs that may run wait for the lock (or a download has failed already).
      for (;;) {
        const [row] = await lock`
          SELECT count(*)::int AS n FROM pg_locks WHERE relation = 'value_chunks'::regclass AND NOT granted`;
        if ((row?.n as number) >= POOL - 1 || failed) break;
        await sleep(10);
      }
      expect((await driver.getRecordMeta(store.id, 'big'))?.size).toBe(data.length);
    } finally {
      await lock`COMMIT`;
      lock.release();
    }
    expect(await Promise.all(downloads)).toEqual(Array.from({ length: POOL + 1 }, () => true));
  });
});

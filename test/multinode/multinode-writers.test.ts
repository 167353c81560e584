import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAll, ensureBuilt, type ServeProcess, tempDir } from '../cli/helpers.js';
import { freshSchema } from '../helpers/postgres.js';
import { createStore, deleteRecord, getRecord, listKeys, poll, putRecord, sha256, startNodes, storeOn } from './nodes.js';

/**
 * 20 writers, half through each of two nodes, overwrite the same keys with values of many sizes
 * (inline and chunked) while reading them back: every read and every final value is one whole
 * value that some writer wrote, with that writer's Content-Type, and the stats add up.
 */

const WRITERS = 20;
const ROUNDS = 8;
const SHARED = ['shared-0', 'shared-1', 'shared-2', 'shared-3', 'shared-4'];
/** Sizes around the 256 KiB inline limit and the 1 MiB chunk size, and small ones. */
const SIZES = [120, 4096, 262_144, 262_145, 70_000, 1_048_576, 1_048_577, 333_333, 2_000, 1_300_000, 500, 20_000] as const;

let a: ServeProcess;
let b: ServeProcess;
let dropSchema: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ensureBuilt();
  const schema = await freshSchema();
  dropSchema = schema.drop;
  [a, b] = (await startNodes(schema.url, 2, tempDir())) as [ServeProcess, ServeProcess];
});
afterAll(async () => {
  await cleanupAll();
  await dropSchema?.();
});

interface Written {
  label: string;
  contentType: string;
  size: number;
  /** When its PUT was sent and when it was acknowledged (performance.now()). */
  sentAt: number;
  ackedAt?: number;
}

/** Every value ever sent for each key, by SHA-256; a value is registered before its PUT starts. */
const written = new Map<string, Map<string, Written>>();

/** A value that says who wrote it, padded with random bytes to `size`. */
function makeValue(key: string, label: string, size: number): { body: Buffer; contentType: string; value: Written } {
  const header = Buffer.from(`${label} key=${key} size=${size}\n`);
  const body = Buffer.concat([header, randomBytes(Math.max(0, size - header.length))]);
  const contentType = `application/x-openkvs-test; label="${label}"`;
  let forKey = written.get(key);
  if (!forKey) {
    forKey = new Map();
    written.set(key, forKey);
  }
  const value: Written = { label, contentType, size: body.length, sentAt: performance.now() };
  forKey.set(sha256(body), value);
  return { body, contentType, value };
}

/** Checks that a record read back is one whole value written for `key`, with its own Content-Type. */
function expectWritten(key: string, res: { status: number; body: Buffer; headers: Record<string, unknown> }): Written {
  expect(res.status, `GET ${key}`).toBe(200);
  const found = written.get(key)?.get(sha256(res.body));
  expect(
    found,
    `GET ${key} gave ${res.body.length} bytes starting ${JSON.stringify(res.body.subarray(0, 60).toString())}`,
  ).toBeDefined();
  expect(res.headers['content-type']).toBe(found?.contentType);
  return found as Written;
}

describe('20 concurrent writers through two nodes', () => {
  it('every read and every final value is one whole written value, and the stats match', async () => {
    const store = await createStore(a, 'many-writers');
    const counts = { puts: 0, deletes: 0, reads: 0, lists: 0 };
    for (const key of SHARED) {
      const { body, contentType, value } = makeValue(key, 'initial', 1000);
      expect((await putRecord(a, store.id, key, body, contentType)).status).toBe(201);
      value.ackedAt = performance.now();
      counts.puts++;
    }

    const writer = async (w: number) => {
      const mine = w % 2 === 0 ? a : b;
      const other = mine === a ? b : a;
      const privateKey = `private-${w}`;
      for (let r = 0; r < ROUNDS; r++) {
        const key = SHARED[(w + r) % SHARED.length] as string;
        const size = SIZES[(w * 5 + r) % SIZES.length] as number;
        const label = `writer=${String(w).padStart(2, '0')} round=${r}`;
        const { body, contentType, value } = makeValue(key, label, size);
        const put = await putRecord(mine, store.id, key, body, contentType);
        expect(put.status, `${label} PUT ${key}: ${put.body.toString()}`).toBe(201);
        value.ackedAt = performance.now();
        counts.puts++;

        const readKey = SHARED[(w + 2 * r + 1) % SHARED.length] as string;
        expectWritten(readKey, await getRecord(other, store.id, readKey));
        counts.reads++;

        // A key only this writer touches: written, then deleted, so every delete removes a record.
        if (r % 4 === 1) {
          const own = makeValue(privateKey, label, 50 + w);
          expect((await putRecord(other, store.id, privateKey, own.body, own.contentType)).status).toBe(201);
          counts.puts++;
        }
        if (r % 4 === 3) {
          expect((await deleteRecord(mine, store.id, privateKey)).status).toBe(204);
          counts.deletes++;
        }
        if (r % 4 === 0) {
          const keys = (await listKeys(other, store.id)).map((i) => i.key);
          counts.lists++;
          expect(keys.filter((k) => k.startsWith('shared-'))).toEqual(SHARED);
        }
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));

    const finalSizes = new Map<string, number>();
    for (const key of SHARED) {
      const onA = await getRecord(a, store.id, key);
      const onB = await getRecord(b, store.id, key);
      counts.reads += 2;
      expect(sha256(onB.body), `${key} differs between the nodes`).toBe(sha256(onA.body));
      const last = expectWritten(key, onA);
      finalSizes.set(key, last.size);
      // A write sent after the final value's write was acknowledged came later, so it would have won.
      const later = [...(written.get(key)?.values() ?? [])].filter((v) => v.sentAt > (last.ackedAt ?? Number.POSITIVE_INFINITY));
      expect(
        later.map((v) => v.label),
        `${key} kept "${last.label}"`,
      ).toEqual([]);
    }
    const listed = await listKeys(b, store.id);
    counts.lists++;
    expect(listed).toEqual(SHARED.map((key) => ({ key, size: finalSizes.get(key) })));

    const storageBytes = [...finalSizes.values()].reduce((s, n) => s + n, 0);
    for (const node of [a, b]) {
      // Writes, deletes and sizes are committed with each operation: exact at once on every node.
      expect((await storeOn(node, store.id)).stats).toMatchObject({
        writeCount: counts.puts,
        deleteCount: counts.deletes,
        storageBytes,
      });
    }
    // Read and list counts are batched per node; each node shows them all within 2 seconds.
    const deadline = Date.now() + 2000;
    for (const node of [a, b]) {
      const { stats } = await poll(
        () => storeOn(node, store.id),
        (s) => s.stats.readCount === counts.reads && s.stats.listCount === counts.lists,
        Math.max(0, deadline - Date.now()),
      );
      expect(stats).toEqual({
        readCount: counts.reads,
        writeCount: counts.puts,
        deleteCount: counts.deletes,
        listCount: counts.lists,
        s3StorageBytes: storageBytes,
        storageBytes,
      });
    }
    expect(counts).toMatchObject({ puts: SHARED.length + WRITERS * ROUNDS + WRITERS * 2, deletes: WRITERS * 2 });
  });
});

import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { rawRequest } from '../helpers/raw-http.js';
import { getStore, recordUrl } from '../helpers/records.js';

/**
 * A 100 MiB record through a real listening server on a SQLite file: uploaded from a generator
 * (never whole in memory), downloaded as a stream, checked by SHA-256 computed on the fly, while
 * the process RSS is sampled. DESIGN.md: large values never sit in memory whole.
 */

const MiB = 1024 * 1024;
const SIZE = 100 * MiB;
const CHUNK = 64 * 1024;
/** Growth of RSS over the baseline that the whole round trip may cause. */
const MAX_RSS_GROWTH = 60 * MiB;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function baselineRss(): number {
  gc();
  gc();
  return process.memoryUsage().rss;
}

/** Samples RSS every few milliseconds until stopped; returns the peak. */
function sampleRss(): { stop: () => number } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage().rss);
    },
  };
}

/** `size` random bytes in CHUNK-sized pieces, each passed to `onChunk` (e.g. a hash) on the way. */
async function* chunkStream(size: number, onChunk: (chunk: Buffer) => void = () => undefined): AsyncGenerator<Buffer> {
  for (let sent = 0; sent < size; sent += CHUNK) {
    const chunk = randomBytes(Math.min(CHUNK, size - sent));
    onChunk(chunk);
    yield chunk;
  }
}

let dir: string;
let ctx: TestContext;
let origin: string;
let storeId: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'openkvs-records-stream-'));
  ctx = await createTestContext({ path: join(dir, 'kvs.sqlite') });
  origin = await ctx.listen();
  storeId = (await ctx.createStore('big')).id;
  // Warm-up: the first large transfer grows the heap and allocator pools once, whatever the size.
  const auth = { authorization: `Bearer ${ctx.alice}` };
  const warm = await rawRequest(origin, {
    method: 'PUT',
    path: recordUrl(storeId, 'warm-up'),
    headers: auth,
    body: chunkStream(16 * MiB),
  });
  expect(warm.status).toBe(201);
  await rawRequest(origin, { method: 'GET', path: recordUrl(storeId, 'warm-up'), headers: auth, onData: () => undefined });
  const del = await ctx.request({ method: 'DELETE', url: recordUrl(storeId, 'warm-up'), token: ctx.alice });
  expect(del.statusCode).toBe(204);
});
afterAll(async () => {
  await ctx.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('streaming a 100 MiB record', () => {
  const uploadHash = createHash('sha256');
  let uploaded = 0;

  it('uploads from a generator with bounded memory', async () => {
    const base = baselineRss();
    const sampler = sampleRss();
    const t0 = performance.now();
    const res = await rawRequest(origin, {
      method: 'PUT',
      path: recordUrl(storeId, 'huge'),
      headers: {
        authorization: `Bearer ${ctx.alice}`,
        'content-type': 'application/octet-stream',
        'content-length': SIZE,
      },
      body: chunkStream(SIZE, (chunk) => {
        uploadHash.update(chunk);
        uploaded += chunk.length;
      }),
    });
    const ms = performance.now() - t0;
    const peak = sampler.stop();
    console.info(`100 MiB upload: ${ms.toFixed(0)} ms, RSS growth ${((peak - base) / MiB).toFixed(1)} MiB`);
    expect(res.status, res.body.toString()).toBe(201);
    expect(uploaded).toBe(SIZE);
    expect(peak - base).toBeLessThan(MAX_RSS_GROWTH);
    expect((await getStore(ctx, storeId)).stats.storageBytes).toBe(SIZE);
  });

  it('downloads it as a stream, byte-exact (SHA-256), with bounded memory', async () => {
    expect(uploaded).toBe(SIZE);
    const expected = uploadHash.digest('hex');
    const downloadHash = createHash('sha256');
    let received = 0;
    const base = baselineRss();
    const sampler = sampleRss();
    const t0 = performance.now();
    const res = await rawRequest(origin, {
      method: 'GET',
      path: recordUrl(storeId, 'huge', 'attachment=true'),
      headers: { authorization: `Bearer ${ctx.alice}`, 'accept-encoding': 'gzip, deflate, br' },
      onData: (chunk) => {
        downloadHash.update(chunk);
        received += chunk.length;
      },
    });
    const ms = performance.now() - t0;
    const peak = sampler.stop();
    console.info(`100 MiB download: ${ms.toFixed(0)} ms, RSS growth ${((peak - base) / MiB).toFixed(1)} MiB`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['content-length']).toBe(String(SIZE));
    expect(res.headers['content-disposition']).toBe('attachment; filename="huge"');
    expect(received).toBe(SIZE);
    expect(downloadHash.digest('hex')).toBe(expected);
    expect(peak - base).toBeLessThan(MAX_RSS_GROWTH);
  });

  it('a chunked upload (no Content-Length) of 100 MiB also streams with bounded memory', async () => {
    const hash = createHash('sha256');
    const base = baselineRss();
    const sampler = sampleRss();
    const t0 = performance.now();
    const res = await rawRequest(origin, {
      method: 'PUT',
      path: recordUrl(storeId, 'huge-chunked'),
      headers: { authorization: `Bearer ${ctx.alice}` },
      body: chunkStream(SIZE, (chunk) => hash.update(chunk)),
    });
    const peak = sampler.stop();
    console.info(
      `100 MiB chunked upload: ${(performance.now() - t0).toFixed(0)} ms, RSS growth ${((peak - base) / MiB).toFixed(1)} MiB`,
    );
    expect(res.status, res.body.toString()).toBe(201);
    expect(peak - base).toBeLessThan(MAX_RSS_GROWTH);
    const down = createHash('sha256');
    let received = 0;
    const get = await rawRequest(origin, {
      method: 'GET',
      path: recordUrl(storeId, 'huge-chunked'),
      headers: { authorization: `Bearer ${ctx.alice}` },
      onData: (chunk) => {
        down.update(chunk);
        received += chunk.length;
      },
    });
    expect(get.status).toBe(200);
    expect(get.headers['content-length']).toBe(String(SIZE));
    expect(received).toBe(SIZE);
    expect(down.digest('hex')).toBe(hash.digest('hex'));
  });

  it('HEAD reports the full size without sending it', async () => {
    const res = await rawRequest(origin, {
      method: 'HEAD',
      path: recordUrl(storeId, 'huge'),
      headers: { authorization: `Bearer ${ctx.alice}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(SIZE));
    expect(res.body.length).toBe(0);
  });
});

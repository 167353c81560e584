import { once } from 'node:events';
import type { Socket } from 'node:net';
import { brotliCompressSync, constants, createBrotliCompress, gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { chunks, rawRequest } from '../helpers/raw-http.js';
import { exchange, openSocket, type ParsedResponse } from '../helpers/raw-socket.js';
import { expectError, getStore, recordUrl } from '../helpers/records.js';

/**
 * Hostile clients over real connections: compression bombs, slow clients, oversized headers,
 * bytes that are not HTTP, and thousands of connections. None of them hurts the server.
 */

const MiB = 1024 * 1024;
/** What the bombs below inflate to. */
const BOMB_GIB = 4;
/** How much the process may grow while a bomb is defused. */
const MAX_RSS_GROWTH = 64 * MiB;
/** How soon the refusal must come: decoding up to the cap takes well under a second. */
const MAX_DEFUSE_MS = 3000;

/** Concatenated gzip members: `prefix`, then `gib` GiB of spaces, in about 1 KiB per MiB. */
function gzipBomb(prefix: string, gib: number): Buffer {
  const member = gzipSync(Buffer.alloc(MiB, 0x20), { level: 9 });
  return Buffer.concat([gzipSync(prefix), ...new Array<Buffer>(gib * 1024).fill(member)]);
}

/** One brotli stream: `prefix`, then `gib` GiB of spaces (about 200 KiB per GiB). */
async function brotliBomb(prefix: string, gib: number): Promise<Buffer> {
  const encoder = createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: 1, [constants.BROTLI_PARAM_LGWIN]: 24 } });
  const out: Buffer[] = [];
  encoder.on('data', (c: Buffer) => out.push(c));
  const spaces = Buffer.alloc(4 * MiB, 0x20);
  encoder.write(prefix);
  for (let i = 0; i < gib * 256; i++) if (!encoder.write(spaces)) await once(encoder, 'drain');
  encoder.end();
  await once(encoder, 'end');
  return Buffer.concat(out);
}

/** The largest growth of this process's RSS (the server runs in it) while `fn` runs, and how long it took. */
async function rssGrowth<T>(fn: () => Promise<T>): Promise<{ result: T; growth: number; ms: number }> {
  const started = Date.now();
  const base = process.memoryUsage.rss();
  let peak = base;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 5);
  try {
    const result = await fn();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, growth: peak - base, ms: Date.now() - started };
  } finally {
    clearInterval(sampler);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function expectEnvelope(res: ParsedResponse | undefined, status: number, type: string): void {
  expect(res?.status, res ? res.body.toString() : 'no response').toBe(status);
  expect(res?.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(res?.body.toString() ?? '') as { error: { type: string; message: string } };
  expect(body.error.type).toBe(type);
  expect(typeof body.error.message).toBe('string');
}

describe('compression bombs are stopped at the cap with flat memory', () => {
  let ctx: TestContext;
  let origin: string;
  let storeId: string;
  let datasetId: string;
  const bombs: Record<string, { record: Buffer; create: Buffer; update: Buffer }> = {};

  beforeAll(async () => {
    ctx = await createTestContext();
    origin = await ctx.listen();
    storeId = (await ctx.createStore('bombed')).id;
    datasetId = (await ctx.request({ method: 'POST', url: '/v2/datasets?name=bombed', token: ctx.alice })).json().data.id;
    bombs.gzip = {
      record: gzipBomb('', BOMB_GIB),
      create: gzipBomb('{"name":"bomb-created"', BOMB_GIB),
      update: gzipBomb('{"name":"bomb-renamed"', BOMB_GIB),
    };
    bombs.br = {
      record: await brotliBomb('', BOMB_GIB),
      create: await brotliBomb('{"name":"bomb-created"', BOMB_GIB),
      update: await brotliBomb('{"name":"bomb-renamed"', BOMB_GIB),
    };
    for (const b of Object.values(bombs)) expect(b.record.length).toBeLessThan(5 * MiB);
  }, 120_000);
  afterAll(() => ctx.close());

  const send = (method: string, path: string, body: Buffer, encoding: string) =>
    rawRequest(origin, {
      method,
      path,
      headers: {
        authorization: `Bearer ${ctx.alice}`,
        'content-type': 'application/json',
        'content-encoding': encoding,
        'content-length': body.length,
      },
      body: [body],
    });

  it.each(['gzip', 'br'])('a %s bomb as a record → 413 record-too-large, nothing stored', async (encoding) => {
    const before = (await getStore(ctx, storeId)).stats;
    const {
      result: res,
      growth,
      ms,
    } = await rssGrowth(() => send('PUT', recordUrl(storeId, 'bomb'), bombs[encoding]!.record, encoding));
    expect(res.status, res.body.toString()).toBe(413);
    expect(ms, 'the 413 took too long').toBeLessThan(MAX_DEFUSE_MS);
    expect(JSON.parse(res.body.toString()).error.type).toBe('record-too-large');
    expect(growth, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`).toBeLessThan(MAX_RSS_GROWTH);
    expectError(await ctx.request({ method: 'GET', url: recordUrl(storeId, 'bomb'), token: ctx.alice }), 404, 'record-not-found');
    const after = (await getStore(ctx, storeId)).stats;
    expect(after.storageBytes).toBe(before.storageBytes);
    expect(after.writeCount).toBe(before.writeCount);
  });

  it.each(['gzip', 'br'])('a %s bomb as the body of create store → 413 request-too-large, no store', async (encoding) => {
    const {
      result: res,
      growth,
      ms,
    } = await rssGrowth(() => send('POST', '/v2/key-value-stores', bombs[encoding]!.create, encoding));
    expect(res.status, res.body.toString()).toBe(413);
    expect(ms, 'the 413 took too long').toBeLessThan(MAX_DEFUSE_MS);
    expect(JSON.parse(res.body.toString()).error.type).toBe('request-too-large');
    expect(growth, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`).toBeLessThan(MAX_RSS_GROWTH);
    const get = await ctx.request({ method: 'GET', url: '/v2/key-value-stores/~bomb-created', token: ctx.alice });
    expectError(get, 404, 'record-not-found');
  });

  it.each(['gzip', 'br'])('a %s bomb as the body of update store → 413 request-too-large, store unchanged', async (encoding) => {
    const {
      result: res,
      growth,
      ms,
    } = await rssGrowth(() => send('PUT', `/v2/key-value-stores/${storeId}`, bombs[encoding]!.update, encoding));
    expect(res.status, res.body.toString()).toBe(413);
    expect(ms, 'the 413 took too long').toBeLessThan(MAX_DEFUSE_MS);
    expect(JSON.parse(res.body.toString()).error.type).toBe('request-too-large');
    expect(growth, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`).toBeLessThan(MAX_RSS_GROWTH);
    const store = await ctx.request({ method: 'GET', url: `/v2/key-value-stores/${storeId}`, token: ctx.alice });
    expect(store.json().data.name).toBe('bombed');
  });

  /** The dataset's item count and items, as its owner reads them. */
  const datasetState = async () => {
    const ds = await ctx.request({ method: 'GET', url: `/v2/datasets/${datasetId}`, token: ctx.alice });
    const items = await ctx.request({ method: 'GET', url: `/v2/datasets/${datasetId}/items`, token: ctx.alice });
    return { itemCount: ds.json().data.itemCount, items: items.json() };
  };

  it.each(['gzip', 'br'])('a %s bomb as pushed dataset items → 413 request-too-large, nothing stored', async (encoding) => {
    const {
      result: res,
      growth,
      ms,
    } = await rssGrowth(() => send('POST', `/v2/datasets/${datasetId}/items`, bombs[encoding]!.create, encoding));
    expect(res.status, res.body.toString()).toBe(413);
    expect(ms, 'the 413 took too long').toBeLessThan(MAX_DEFUSE_MS);
    expect(JSON.parse(res.body.toString()).error.type).toBe('request-too-large');
    expect(growth, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`).toBeLessThan(MAX_RSS_GROWTH);
    expect(await datasetState()).toEqual({ itemCount: 0, items: [] });
  });

  it('a chunked push of items (no Content-Length) past 9 MiB → 413 request-too-large, nothing stored', async () => {
    const res = await rawRequest(origin, {
      method: 'POST',
      path: `/v2/datasets/${datasetId}/items`,
      headers: { authorization: `Bearer ${ctx.alice}`, 'content-type': 'application/json' },
      body: (function* () {
        yield Buffer.from('[{"s":"');
        yield* chunks(10, MiB, 0x61);
        yield Buffer.from('"}]');
      })(),
    });
    expect(res.status, res.body.toString()).toBe(413);
    expect(JSON.parse(res.body.toString()).error.type).toBe('request-too-large');
    expect(await datasetState()).toEqual({ itemCount: 0, items: [] });
  });

  it('a JSON body just under the cap once decoded is still accepted (the cap is the decoded size)', async () => {
    const json = Buffer.from(`{"name":"under-cap"${' '.repeat(9 * MiB - 40)}}`);
    const res = await send('POST', '/v2/key-value-stores', brotliCompressSync(json), 'br');
    expect(res.status, res.body.toString()).toBe(201);
  });
});

describe('slow clients are cut by the timeouts', () => {
  const TIMEOUTS = { headersMs: 500, requestMs: 1500, idleMs: 3000 };
  /** Slack over a timeout for the answer to arrive. */
  const SLACK_MS = 2500;
  let ctx: TestContext;
  let port: number;
  let storeId: string;

  beforeAll(async () => {
    ctx = await createTestContext({ timeouts: TIMEOUTS });
    port = Number(new URL(await ctx.listen()).port);
    storeId = (await ctx.createStore('slow')).id;
  });
  afterAll(() => ctx.close());

  /** `text` one character at a time. */
  const trickle = (text: string) => [...text];

  it('headers trickled a byte every 100 ms → 408 envelope soon after the headers timeout', async () => {
    const parts = ['GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ', ...trickle('y'.repeat(1000))];
    const ex = await exchange(port, parts, { timeoutMs: TIMEOUTS.headersMs + SLACK_MS, pauseMs: 100 });
    expectEnvelope(ex.response, 408, 'request-timeout');
    expect(ex.ms).toBeLessThan(TIMEOUTS.headersMs + SLACK_MS);
  });

  it('a record body trickled a byte every 100 ms → cut (408 or closed) soon after the request timeout; nothing stored', async () => {
    const head =
      `PUT ${recordUrl(storeId, 'slow-body')} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ctx.alice}\r\n` +
      'Content-Type: text/plain\r\nContent-Length: 1000\r\n\r\n';
    const ex = await exchange(port, [head, ...trickle('z'.repeat(1000))], {
      timeoutMs: TIMEOUTS.requestMs + SLACK_MS,
      pauseMs: 100,
    });
    expect(ex.response !== undefined || ex.closed, `still open after ${ex.ms} ms`).toBe(true);
    if (ex.response) expectEnvelope(ex.response, 408, 'request-timeout');
    expect(ex.ms).toBeLessThan(TIMEOUTS.requestMs + SLACK_MS);
    const get = await ctx.request({ method: 'GET', url: recordUrl(storeId, 'slow-body'), token: ctx.alice });
    expectError(get, 404, 'record-not-found');
    expect((await getStore(ctx, storeId)).stats.storageBytes).toBe(0);
  });

  it('a connection that sends nothing is cut (408 or closed) by the timeouts', async () => {
    const ex = await exchange(port, [], { timeoutMs: TIMEOUTS.idleMs + SLACK_MS });
    expect(ex.closed || ex.response !== undefined, `still open after ${ex.ms} ms`).toBe(true);
    if (ex.response) expectEnvelope(ex.response, 408, 'request-timeout');
  });

  it('a kept-alive connection that goes quiet after a request is closed after the idle timeout', async () => {
    const socket = await openSocket(port);
    socket.on('error', () => undefined);
    const closed = new Promise((resolve) => socket.once('close', resolve));
    const answered = once(socket, 'data');
    socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(String((await answered)[0])).toMatch(/^HTTP\/1\.1 200/);
    const quietSince = Date.now();
    const outcome = await Promise.race([closed.then(() => 'closed'), sleep(TIMEOUTS.idleMs + SLACK_MS).then(() => 'open')]);
    socket.destroy();
    expect(outcome).toBe('closed');
    expect(Date.now() - quietSince).toBeGreaterThanOrEqual(TIMEOUTS.idleMs - 100);
  });

  it('after the slow clients, requests are served as usual', async () => {
    const ex = await exchange(port, ['GET /health HTTP/1.1\r\nHost: x\r\n\r\n'], { timeoutMs: 2000 });
    expect(ex.response?.status).toBe(200);
  });
});

describe('requests that are not HTTP, or too large to be', () => {
  let ctx: TestContext;
  let port: number;
  beforeAll(async () => {
    ctx = await createTestContext();
    port = Number(new URL(await ctx.listen()).port);
  });
  afterAll(() => ctx.close());

  it('one 20 KiB header → 431 envelope', async () => {
    const ex = await exchange(port, [`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`], {
      timeoutMs: 5000,
    });
    expectEnvelope(ex.response, 431, 'request-header-fields-too-large');
  });

  it('many small headers past the size limit → 431 envelope', async () => {
    const lines = Array.from({ length: 1000 }, (_, i) => `X-H${i}: ${'b'.repeat(20)}\r\n`).join('');
    const ex = await exchange(port, [`GET /health HTTP/1.1\r\nHost: x\r\n${lines}\r\n`], { timeoutMs: 5000 });
    expectEnvelope(ex.response, 431, 'request-header-fields-too-large');
  });

  it.each([
    ['a line of text', 'HELLO WORLD\r\n\r\n'],
    ['an SSH banner', 'SSH-2.0-OpenSSH_9.6\r\n'],
    ['a TLS ClientHello', Buffer.from('160301002e0100002a0303', 'hex').toString('latin1')],
    ['an HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
  ])('%s → 400 envelope', async (_what, bytes) => {
    const ex = await exchange(port, [Buffer.from(bytes, 'latin1')], { timeoutMs: 5000 });
    expectEnvelope(ex.response, 400, 'invalid-request');
  });
});

describe('clients that hang up in the middle of a compressed JSON body', () => {
  let ctx: TestContext;
  let port: number;
  let queueId: string;
  let datasetId: string;
  const uncaught: unknown[] = [];
  const record = (err: unknown) => uncaught.push(err);
  beforeAll(async () => {
    ctx = await createTestContext();
    port = Number(new URL(await ctx.listen()).port);
    queueId = (await ctx.request({ method: 'POST', url: '/v2/request-queues?name=hang-up', token: ctx.alice })).json().data.id;
    datasetId = (await ctx.request({ method: 'POST', url: '/v2/datasets?name=hang-up', token: ctx.alice })).json().data.id;
    process.on('uncaughtException', record);
  });
  afterAll(async () => {
    process.off('uncaughtException', record);
    await ctx.close();
  });

  /** Sends the head and 20 bytes of a gzip body, hangs up, and resolves once the server's side of the connection is closed. */
  async function hangUp(method: string, path: string, token: string | undefined): Promise<void> {
    const gz = gzipSync(JSON.stringify({ uniqueKey: 'x'.repeat(5000), url: 'https://example.com', items: [1, 2, 3] }));
    const closed = new Promise<void>((resolve) =>
      ctx.app.server.once('connection', (s: Socket) => s.once('close', () => resolve())),
    );
    const received = new Promise((resolve) => ctx.app.server.once('request', resolve));
    const socket = await openSocket(port);
    const auth = token ? `Authorization: Bearer ${token}\r\n` : '';
    socket.write(
      `${method} ${path} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: ${gz.length}\r\n\r\n`,
    );
    socket.write(gz.subarray(0, 20));
    // The hang-up comes once the handler has the request and waits for the rest of its body.
    await received;
    await new Promise((resolve) => setImmediate(resolve));
    socket.destroy();
    await closed;
    // What the hang-up sets off runs in the ticks after the close.
    await new Promise((resolve) => setImmediate(resolve));
  }

  it.each([
    ['a request added to a queue, without a token', 'POST', () => `/v2/request-queues/${queueId}/requests`, () => undefined],
    ['a request added to a queue by its owner', 'POST', () => `/v2/request-queues/${queueId}/requests`, () => ctx.alice],
    ['a batch of requests, by bob', 'POST', () => `/v2/request-queues/${queueId}/requests/batch`, () => ctx.bob],
    ['an update of a request', 'PUT', () => `/v2/request-queues/${queueId}/requests/x`, () => ctx.alice],
    ['items pushed to a dataset', 'POST', () => `/v2/datasets/${datasetId}/items`, () => ctx.alice],
    ['a store update', 'PUT', () => '/v2/key-value-stores/~hang-up', () => ctx.alice],
  ])('%s: no uncaught error, the server goes on', async (_label, method, path, token) => {
    const before = uncaught.length;
    await hangUp(method, path(), token());
    expect(uncaught.slice(before).map(String)).toEqual([]);
    expect((await ctx.request({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    const queue = await ctx.request({ method: 'GET', url: `/v2/request-queues/${queueId}`, token: ctx.alice });
    expect(queue.json().data.totalRequestCount).toBe(0);
  });
});

describe('thousands of connections', () => {
  const COUNT = 2000;
  let ctx: TestContext;
  let port: number;
  let origin: string;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    ctx = await createTestContext();
    origin = await ctx.listen();
    port = Number(new URL(origin).port);
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.destroy();
  });
  afterAll(() => ctx.close());

  it(`${COUNT} connections open at once (idle, half-sent, keep-alive) do not stop normal requests`, async () => {
    const storeId = (await ctx.createStore('crowd')).id;
    for (let i = 0; i < COUNT; i += 200) {
      sockets.push(...(await Promise.all(Array.from({ length: Math.min(200, COUNT - i) }, () => openSocket(port)))));
    }
    for (const s of sockets) s.on('error', () => undefined);
    // A quarter send half a request; a quarter make a keep-alive request and stay open; the rest stay idle.
    const quarter = COUNT / 4;
    for (const s of sockets.slice(0, quarter)) s.write('GET /health HTTP/1.1\r\nHost: x\r\nX-Half: ');
    const answered = await Promise.all(
      sockets.slice(quarter, 2 * quarter).map(
        (s) =>
          new Promise<boolean>((resolve) => {
            s.once('data', (d: Buffer) => resolve(d.toString('latin1').startsWith('HTTP/1.1 200')));
            s.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
          }),
      ),
    );
    expect(answered.every(Boolean)).toBe(true);
    expect(sockets.filter((s) => s.destroyed)).toEqual([]);

    const started = Date.now();
    const headers = { authorization: `Bearer ${ctx.alice}`, 'content-type': 'text/plain' };
    const put = await rawRequest(origin, {
      method: 'PUT',
      path: recordUrl(storeId, 'still-served'),
      headers,
      body: [Buffer.from('ok')],
    });
    expect(put.status).toBe(201);
    const get = await rawRequest(origin, { method: 'GET', path: recordUrl(storeId, 'still-served') });
    expect(get.status).toBe(200);
    expect(get.body.toString()).toBe('ok');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('once they are gone the server is healthy', async () => {
    const res = await ctx.request({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
  });
});

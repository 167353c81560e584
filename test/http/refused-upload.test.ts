import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { type ParsedResponse, parseResponse } from '../helpers/raw-socket.js';
import { recordUrl } from '../helpers/records.js';
import { openUpload } from '../helpers/upload-socket.js';

/**
 * A refused upload is answered at once, without waiting for its body, in the Apify envelope. The
 * rest of the body is read and dropped (within limits) before the response ends: a small one keeps
 * the connection; after a larger one the answer says `Connection: close` and the connection is
 * closed. Nothing is stored, and nothing after the refused request is served.
 */

const MiB = 1024 * 1024;
/** A record cap small enough that a refused body can still be read and dropped on a kept-alive connection. */
const CAP = 64 * 1024;
/** How soon an answer that does not wait for the body arrives (a loaded CI machine included). */
const PROMPT_MS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let ctx: TestContext;
let storeId: string;
let port: number;

beforeEach(async () => {
  ctx = await createTestContext({ maxRecordBytes: CAP });
  storeId = (await ctx.createStore('refused')).id;
  await ctx.listen();
  port = (ctx.app.server.address() as AddressInfo).port;
});
afterEach(() => ctx.close());

/** A request head for `path` with `length` bytes of body to come. */
function head(method: string, path: string, length: number, token = ctx.alice, more = ''): string {
  return (
    `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
    `Content-Type: application/octet-stream\r\nContent-Length: ${length}\r\n${more}\r\n`
  );
}

function expectEnvelope(response: ParsedResponse, status: number, type: string): void {
  expect(response.status, response.body.toString()).toBe(status);
  expect(JSON.parse(response.body.toString()).error.type).toBe(type);
}

/** How many connections the server has open. */
function openConnections(): Promise<number> {
  return new Promise((resolve, reject) => ctx.app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}

/** The complete responses at the start of `buf`, in order. */
function responses(buf: Buffer): ParsedResponse[] {
  const found: ParsedResponse[] = [];
  let rest = buf;
  for (;;) {
    const response = parseResponse(rest, false, false);
    if (!response) return found;
    found.push(response);
    rest = rest.subarray(rest.indexOf('\r\n\r\n') + 4 + response.body.length);
  }
}

/** Whether the record `key` of the test store exists. */
async function stored(key: string): Promise<boolean> {
  const res = await ctx.request({ method: 'GET', url: recordUrl(storeId, key), token: ctx.alice });
  return res.statusCode !== 404;
}

describe('an upload refused before its body arrived', () => {
  it('gets its 413 at once while it trickles in, then its connection is closed; nothing stored', async () => {
    const up = await openUpload(port, head('PUT', recordUrl(storeId, 'big'), 500 * MiB));
    const sending = up.send(500 * MiB, 16_384, 20);
    const { response, ms } = await up.answered;
    expectEnvelope(response, 413, 'record-too-large');
    expect(response.headers.connection).toBe('close');
    expect(ms).toBeLessThan(PROMPT_MS);
    // The client goes on sending: the server closes all the same.
    await up.ended;
    expect(await sending).toBeLessThan(500 * MiB);
    expect(await stored('big')).toBe(false);
    console.info(`413 after ${ms} ms`);
  });

  it('a client that goes quiet after its answer has its connection closed by the server', async () => {
    const up = await openUpload(port, head('PUT', recordUrl(storeId, 'big'), 500 * MiB));
    await up.send(64 * 1024, 16_384, 0);
    expectEnvelope((await up.answered).response, 413, 'record-too-large');
    // A client that neither sends nor closes: the server ends the connection itself.
    await up.ended;
    await expect.poll(openConnections, { interval: 50 }).toBe(0);
    expect(await stored('big')).toBe(false);
  });

  it('a client writing 50 MiB more at full speed never gets a write error and reads its 413', async () => {
    const up = await openUpload(port, head('PUT', recordUrl(storeId, 'big'), 500 * MiB));
    const sent = await up.send(50 * MiB, 256 * 1024, 0);
    expect(up.error()).toBeUndefined();
    expect(sent).toBe(50 * MiB);
    expectEnvelope((await up.answered).response, 413, 'record-too-large');
    // Once the client stops sending and says so, the server closes.
    up.end();
    await up.closed;
    expect(await stored('big')).toBe(false);
  });

  it('a client writing past what the server reads reads its 413, then its connection is closed', async () => {
    const up = await openUpload(port, head('PUT', recordUrl(storeId, 'big'), 500 * MiB));
    const sent = await up.send(500 * MiB, 256 * 1024, 0);
    expectEnvelope((await up.answered).response, 413, 'record-too-large');
    await up.ended;
    // Cut off well before the declared length: the server did not read the body to its end.
    expect(sent).toBeLessThan(500 * MiB);
    expect(await stored('big')).toBe(false);
  });

  it('a bad token on a large upload being streamed is a 401 at once', async () => {
    const up = await openUpload(port, head('PUT', recordUrl(storeId, 'big'), 500 * MiB, 'not-a-token'));
    void up.send(500 * MiB, 16_384, 20);
    const { response, ms } = await up.answered;
    expectEnvelope(response, 401, 'user-or-token-not-found');
    expect(ms).toBeLessThan(PROMPT_MS);
    up.socket.destroy();
    console.info(`401 after ${ms} ms`);
  });

  it('what comes after the refused request is never taken for another request', async () => {
    const inside = `GET /v2/key-value-stores HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ctx.alice}\r\n\r\n`;
    const body = Buffer.alloc(2 * MiB, inside);
    const after =
      `POST /v2/key-value-stores?name=smuggled HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ctx.alice}\r\n` +
      `Content-Length: 0\r\n\r\n${inside}`;
    const up = await openUpload(port, head('PUT', recordUrl(storeId, 'big'), body.length));
    await up.write(Buffer.concat([body, Buffer.from(after)]));
    await sleep(300);
    up.end();
    await up.closed;
    const got = responses(up.received());
    expect(got).toHaveLength(1);
    expectEnvelope(got[0] as ParsedResponse, 413, 'record-too-large');
    const statusLines = up
      .received()
      .toString('latin1')
      .match(/HTTP\/1\.1 \d{3}/g);
    expect(statusLines).toHaveLength(1);
    const smuggled = await ctx.request({ method: 'GET', url: '/v2/key-value-stores/~smuggled', token: ctx.alice });
    expect(smuggled.statusCode).toBe(404);
  });
});

describe('a refused request whose body is small or complete', () => {
  it('keeps its connection: the next request on it is answered (body sent whole)', async () => {
    const up = await openUpload(port, head('PUT', recordUrl(storeId, 'k'), CAP + 1));
    await up.write(Buffer.alloc(CAP + 1, 1));
    const { response } = await up.answered;
    expectEnvelope(response, 413, 'record-too-large');
    expect(response.headers.connection).not.toBe('close');
    await up.write(`GET /v2/key-value-stores/${storeId} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ctx.alice}\r\n\r\n`);
    await expect.poll(() => responses(up.received()).length).toBe(2);
    expect(responses(up.received())[1]?.status).toBe(200);
    up.socket.destroy();
  });

  it('keeps its connection: the rest of a small body is dropped after the answer', async () => {
    const length = 512 * 1024;
    const up = await openUpload(port, head('PUT', recordUrl(storeId, 'k'), length, 'not-a-token'));
    await up.write(Buffer.alloc(64 * 1024, 2));
    const { response, ms } = await up.answered;
    expectEnvelope(response, 401, 'user-or-token-not-found');
    expect(ms).toBeLessThan(PROMPT_MS);
    expect(response.headers.connection).not.toBe('close');
    await sleep(100);
    await up.write(Buffer.alloc(length - 64 * 1024, 2));
    await up.write(`GET /v2/key-value-stores/${storeId} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ctx.alice}\r\n\r\n`);
    await expect.poll(() => responses(up.received()).length).toBe(2);
    expect(responses(up.received())[1]?.status).toBe(200);
    up.socket.destroy();
  });
  it('keeps its connection when a small compressed body is refused once it has all arrived', async () => {
    // Up to 64 KiB compressed is decoded whole at the end (src/http/body.ts): its 413 comes then.
    const body = gzipSync(Buffer.alloc(16 * MiB, 0x30));
    expect(body.length).toBeLessThan(64 * 1024);
    const up = await openUpload(port, head('PUT', recordUrl(storeId, 'k'), body.length, ctx.alice, 'Content-Encoding: gzip\r\n'));
    await up.write(body.subarray(0, 4096));
    await sleep(50);
    await up.write(body.subarray(4096));
    expectEnvelope((await up.answered).response, 413, 'record-too-large');
    await up.write(`GET /v2/key-value-stores/${storeId} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ctx.alice}\r\n\r\n`);
    await expect.poll(() => responses(up.received()).length).toBe(2);
    expect(responses(up.received())[1]?.status).toBe(200);
    up.socket.destroy();
  });

  it('keeps its connection when a larger compressed body is refused while being read', async () => {
    // Over 64 KiB compressed, the body is decoded as it arrives: the decoder's verdict on a chunk
    // comes with the next one. A store with a 1 MiB cap, so that such a body may be declared.
    const big = await createTestContext({ maxRecordBytes: MiB });
    try {
      const bigStore = (await big.createStore('refused-big')).id;
      await big.listen();
      const bigPort = (big.app.server.address() as AddressInfo).port;
      const noise = randomBytes(100 * 1024);
      const body = gzipSync(Buffer.concat([Buffer.alloc(16 * MiB, 0x30), noise]));
      expect(body.length).toBeGreaterThan(64 * 1024);
      expect(body.length).toBeLessThan(MiB);
      const up = await openUpload(
        bigPort,
        head('PUT', recordUrl(bigStore, 'k'), body.length, big.alice, 'Content-Encoding: gzip\r\n'),
      );
      await up.write(body.subarray(0, 4096));
      await sleep(50);
      await up.write(body.subarray(4096, 8192));
      expectEnvelope((await up.answered).response, 413, 'record-too-large');
      await sleep(100);
      await up.write(body.subarray(8192));
      await up.write(`GET /v2/key-value-stores/${bigStore} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${big.alice}\r\n\r\n`);
      await expect.poll(() => responses(up.received()).length).toBe(2);
      expect(responses(up.received())[1]?.status).toBe(200);
      up.socket.destroy();
    } finally {
      await big.close();
    }
  });

  it('a client that asked to close reads its answer at once and sends the rest of a small body without a reset', async () => {
    const length = 512 * 1024;
    const up = await openUpload(port, head('PUT', recordUrl(storeId, 'k'), length, 'not-a-token', 'Connection: close\r\n'));
    await up.write(Buffer.alloc(64 * 1024, 2));
    const { response, ms } = await up.answered;
    expectEnvelope(response, 401, 'user-or-token-not-found');
    expect(response.headers.connection).toBe('close');
    expect(ms).toBeLessThan(PROMPT_MS);
    await sleep(100);
    expect(await up.send(length - 64 * 1024, 16 * 1024, 0)).toBe(length - 64 * 1024);
    expect(up.error()).toBeUndefined();
    await up.ended;
    expect(await stored('k')).toBe(false);
  });
});

describe('headers refused before they were all read', () => {
  it('a client still sending a huge header reads its 431, then its connection is closed', async () => {
    const up = await openUpload(port, 'GET /v2/key-value-stores HTTP/1.1\r\nHost: x\r\nX-Big: ');
    const sent = await up.send(8 * MiB, 64 * 1024, 0);
    const { response } = await up.answered;
    expectEnvelope(response, 431, 'request-header-fields-too-large');
    expect(response.headers.connection).toBe('close');
    await up.ended;
    expect(sent).toBeLessThan(8 * MiB);
  });
});

describe('stopping the server', () => {
  it('does not wait for a refused upload still sending, nor for a small refused body still coming', async () => {
    const refused = await openUpload(port, head('PUT', recordUrl(storeId, 'big'), 500 * MiB));
    void refused.send(500 * MiB, 16_384, 20);
    expectEnvelope((await refused.answered).response, 413, 'record-too-large');
    const stalled = await openUpload(port, head('PUT', recordUrl(storeId, 'k'), 512 * 1024, 'not-a-token'));
    await stalled.write(Buffer.alloc(64 * 1024, 2));
    expectEnvelope((await stalled.answered).response, 401, 'user-or-token-not-found');
    await sleep(200);
    const started = Date.now();
    await ctx.app.close();
    const ms = Date.now() - started;
    await refused.ended;
    await stalled.ended;
    expect(ms).toBeLessThan(PROMPT_MS);
    console.info(`close() took ${ms} ms with a refused upload still sending`);
  });
});

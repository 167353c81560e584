import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ParsedResponse, parseResponse } from '../helpers/raw-socket.js';
import { sleep } from '../helpers/time.js';
import { openUpload, type UploadSocket } from '../helpers/upload-socket.js';
import { cleanupAll, ensureBuilt, freePort, http, type ServeProcess, startServe, tempDir } from './helpers.js';

const TOKEN = 'sigterm-tests-admin-token';
beforeAll(ensureBuilt);
afterEach(cleanupAll);

/** What a new connection to the server gets: a status, or the code of the failure. */
const probe = (server: ServeProcess) =>
  http(`${server.origin}/health`).then(
    (r) => r.status,
    (e: NodeJS.ErrnoException) => e.code,
  );

/**
 * Resolves once a new connection is refused: the server stopped listening, so its drain has begun.
 * Until then a probe may be answered (200 before the signal is handled, 503 during the drain) or reset.
 */
async function untilRefused(server: ServeProcess): Promise<void> {
  for (;;) {
    const got = await probe(server);
    if (got === 'ECONNREFUSED') return;
    expect([200, 503, 'ECONNRESET'], `a new connection while stopping got ${got}`).toContain(got);
    await sleep(20);
  }
}

/** A raw HTTP/1.1 connection that reads its answers one by one (none pipelined). */
async function rawConnection(port: number) {
  const socket = connect({ port, host: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let received = Buffer.alloc(0);
  let ended = false;
  let waiting: { resolve: (r: ParsedResponse) => void; reject: (e: Error) => void } | undefined;
  const check = () => {
    if (!waiting) return;
    const response = parseResponse(received, false, ended);
    if (response) {
      received = Buffer.alloc(0);
      waiting.resolve(response);
      waiting = undefined;
    } else if (ended) {
      waiting.reject(new Error(`connection closed before an answer: ${JSON.stringify(received.toString())}`));
      waiting = undefined;
    }
  };
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    check();
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      ended = true;
      check();
      resolve();
    }),
  );
  return {
    /** Writes `bytes` and resolves with the next answer. */
    send(bytes: string | Buffer): Promise<ParsedResponse> {
      const answer = new Promise<ParsedResponse>((resolve, reject) => {
        waiting = { resolve, reject };
      });
      socket.write(bytes);
      check();
      return answer;
    },
    write: (bytes: string | Buffer) => socket.write(bytes),
    closed,
  };
}

async function createStore(server: ServeProcess, name: string): Promise<string> {
  const store = await http(`${server.origin}/v2/key-value-stores?name=${name}`, { method: 'POST', token: TOKEN });
  expect(store.status).toBe(201);
  return store.json.data.id;
}

/** Resolves once the server ends or cuts `socket` (an upload socket is half-open: 'close' waits for its own end). */
const serverEnded = (socket: Socket) =>
  new Promise<void>((resolve) => {
    socket.once('end', resolve);
    socket.once('close', resolve);
  });

const putHead = (storeId: string, key: string, length: number, expect = '') =>
  `PUT /v2/key-value-stores/${storeId}/records/${key} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n` +
  `Content-Type: application/octet-stream\r\nContent-Length: ${length}\r\n${expect}\r\n`;

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

/**
 * Opens an upload with `Expect: 100-continue` and resolves once the server has read its headers.
 * Only then is it in flight: node's close() cuts a connection whose bytes it has not read yet, and
 * whether the signal or those bytes are handled first is up to the event loop.
 */
async function uploadUnderWay(port: number, storeId: string, key: string, length: number): Promise<UploadSocket> {
  const upload = await openUpload(port, putHead(storeId, key, length, 'Expect: 100-continue\r\n'));
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (!upload.received().toString('latin1').startsWith(CONTINUE)) return;
      upload.socket.off('data', check);
      resolve();
    };
    upload.socket.on('data', check);
    upload.closed.then(() => reject(new Error(`closed before 100 Continue: ${upload.received().toString('latin1')}`)));
  });
  return upload;
}

describe('SIGTERM', () => {
  it('finishes an upload in flight, refuses new connections, exits 0, and the record survives a restart byte for byte', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const env = { OPENKVS_PORT: String(port), OPENKVS_ADMIN_TOKEN: TOKEN };
    const server = await startServe([], { cwd, port, env });
    const storeId = await createStore(server, 'uploads');

    // Larger than the inline limit, so that the upload is staged as a file; half of it before SIGTERM.
    const body = randomBytes(300 * 1024 + 17);
    const upload = await uploadUnderWay(port, storeId, 'slow', body.length);
    const ended = serverEnded(upload.socket);
    expect(await upload.write(body.subarray(0, body.length >> 1))).toBe(true);
    const stopping = server.stop('SIGTERM');

    // The listener is closed while the upload goes on: a new connection is refused.
    await untilRefused(server);
    expect(await upload.write(body.subarray(body.length >> 1))).toBe(true);
    const { response } = await upload.answered;
    expect(response.status, response.body.toString()).toBe(201);
    expect(response.headers.connection).toBe('close');
    await ended;
    const exit = await stopping;
    expect(exit, server.output()).toMatchObject({ code: 0, signal: null });

    const restarted = await startServe([], { cwd, port, env });
    const read = await http(`${restarted.origin}/v2/key-value-stores/${storeId}/records/slow`, { token: TOKEN });
    expect(read.status).toBe(200);
    expect(read.headers['content-type']).toBe('application/octet-stream');
    expect(read.body.equals(body)).toBe(true);
    expect((await restarted.stop()).code).toBe(0);
  });

  it('answers what reaches it on open keep-alive connections while draining, with Connection: close; /health 503', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const server = await startServe([], { cwd, port, env: { OPENKVS_PORT: String(port), OPENKVS_ADMIN_TOKEN: TOKEN } });
    const storeId = await createStore(server, 'drain');

    // Two kept-alive connections, each with one answer behind it and the next request begun (its
    // request line sent), as a client reusing its connection just as the signal comes.
    const writer = await rawConnection(port);
    const checker = await rawConnection(port);
    for (const c of [writer, checker]) {
      const first = await c.send('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
      expect(first.status).toBe(200);
      expect(first.headers.connection).toBe('keep-alive');
    }
    const value = Buffer.from('written while the server drains');
    const put = putHead(storeId, 'late', value.length);
    const cut = put.indexOf('\r\n') + 2;
    writer.write(put.slice(0, cut));
    checker.write('GET /health HTTP/1.1\r\n');
    // A slow upload that keeps the server draining until the end of the test. Its headers are read
    // after the two lines above, which reached the server before it.
    const upload = await uploadUnderWay(port, storeId, 'slow', 1000);
    expect(await upload.write(Buffer.alloc(500, 1))).toBe(true);

    const stopping = server.stop('SIGTERM');
    await untilRefused(server);

    const late = await writer.send(Buffer.concat([Buffer.from(put.slice(cut)), value]));
    expect(late.status, late.body.toString()).toBe(201);
    expect(late.headers.connection).toBe('close');
    await writer.closed;

    const health = await checker.send('Host: x\r\n\r\n');
    expect(health.status).toBe(503);
    expect(health.headers.connection).toBe('close');
    expect(JSON.parse(health.body.toString())).toMatchObject({
      error: { type: 'service-unavailable', message: expect.any(String) },
    });
    await checker.closed;

    expect(await upload.write(Buffer.alloc(500, 2))).toBe(true);
    const { response } = await upload.answered;
    expect(response.status, response.body.toString()).toBe(201);
    expect(response.headers.connection).toBe('close');
    const exit = await stopping;
    expect(exit, server.output()).toMatchObject({ code: 0, signal: null });
  });

  it('closes a kept-alive connection once an answer begun before SIGTERM is done, without waiting for the deadline', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const server = await startServe(['--shutdown-timeout', '60'], {
      cwd,
      port,
      env: { OPENKVS_PORT: String(port), OPENKVS_ADMIN_TOKEN: TOKEN },
    });
    const storeId = await createStore(server, 'download');
    // Far more than the connection's buffers hold, so that the download is under way at SIGTERM.
    const body = randomBytes(16 * 1024 * 1024);
    const stored = await http(`${server.origin}/v2/key-value-stores/${storeId}/records/big`, {
      method: 'PUT',
      token: TOKEN,
      headers: { 'content-type': 'application/octet-stream' },
      body,
    });
    expect(stored.status).toBe(201);

    // A client that reads the headers, then nothing until the server drains.
    const socket = connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    const headersRead = new Promise<void>((resolve) => {
      socket.once('data', () => {
        socket.pause();
        resolve();
      });
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const ended = serverEnded(socket);
    socket.write(`GET /v2/key-value-stores/${storeId}/records/big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`);
    await headersRead;
    const stopping = server.stop('SIGTERM');
    await untilRefused(server);
    socket.resume();
    await ended;
    const response = parseResponse(Buffer.concat(chunks), false, true);
    expect(response?.status).toBe(200);
    // Its headers went out before the drain: only closing the connection tells the client.
    expect(response?.headers.connection).toBe('keep-alive');
    expect(response?.body.equals(body)).toBe(true);
    const exit = await stopping;
    expect(exit, server.output()).toMatchObject({ code: 0, signal: null });
    expect(exit.ms, 'an exit at the 60 s deadline').toBeLessThan(30_000);
  });

  it('cuts what is still open after --shutdown-timeout, exits 0 then, and does not store the cut upload', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const env = { OPENKVS_PORT: String(port), OPENKVS_ADMIN_TOKEN: TOKEN };
    const server = await startServe(['--shutdown-timeout', '1'], { cwd, port, env });
    const storeId = await createStore(server, 'cut');

    // An upload that never finishes.
    const upload = await uploadUnderWay(port, storeId, 'never', 1_000_000);
    expect(await upload.write(Buffer.alloc(1000, 1))).toBe(true);
    const events: string[] = [];
    const cutAt = serverEnded(upload.socket).then(() => {
      events.push('upload cut');
      return performance.now();
    });
    const sigtermAt = performance.now();
    const exit = await server.stop('SIGTERM').then((e) => {
      events.push('exit');
      return e;
    });
    expect(exit, server.output()).toMatchObject({ code: 0, signal: null });
    expect(events).toEqual(['upload cut', 'exit']);
    // The deadline, not the signal, cut it (a lower bound: a slow machine only makes it later);
    // far sooner than the default 10 s.
    expect((await cutAt) - sigtermAt).toBeGreaterThanOrEqual(900);
    expect(exit.ms).toBeLessThan(8000);
    expect(upload.received().toString('latin1'), 'an answer to the cut upload').toBe(CONTINUE);

    const restarted = await startServe([], { cwd, port, env });
    const read = await http(`${restarted.origin}/v2/key-value-stores/${storeId}/records/never`, { token: TOKEN });
    expect(read.status).toBe(404);
    expect((await restarted.stop()).code).toBe(0);
  });

  it('an idle server exits 0 within 5 s', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const server = await startServe([], { cwd, port, env: { OPENKVS_PORT: String(port), OPENKVS_ADMIN_TOKEN: TOKEN } });
    const exit = await server.stop('SIGTERM');
    expect(exit, server.output()).toMatchObject({ code: 0, signal: null });
    expect(exit.ms).toBeLessThan(5000);
  });

  it('an idle keep-alive connection does not hold the exit back', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const server = await startServe([], { cwd, port, env: { OPENKVS_PORT: String(port), OPENKVS_ADMIN_TOKEN: TOKEN } });
    const agent = new Agent({ keepAlive: true });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        request(`${server.origin}/v2/key-value-stores`, { agent, headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        })
          .on('error', reject)
          .end();
      });
      expect(status).toBe(200);
      const exit = await server.stop('SIGTERM');
      expect(exit, server.output()).toMatchObject({ code: 0, signal: null });
      expect(exit.ms).toBeLessThan(5000);
    } finally {
      agent.destroy();
    }
  });
});

import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAll, ensureBuilt, freePort, http, startServe, tempDir } from './helpers.js';

const TOKEN = 'sigterm-tests-admin-token';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(ensureBuilt);
afterEach(cleanupAll);

/** A PUT whose body is written in `pieces` parts over about `ms` milliseconds; `sent` resolves after the first part. */
function slowPut(url: string, body: Buffer, pieces: number, ms: number) {
  let firstSent: () => void = () => undefined;
  const sent = new Promise<void>((r) => {
    firstSent = r;
  });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'PUT',
        agent: false,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/octet-stream', 'content-length': body.length },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (s: string) => {
          text += s;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    (async () => {
      const step = Math.ceil(body.length / pieces);
      for (let i = 0; i < pieces; i++) {
        req.write(body.subarray(i * step, (i + 1) * step));
        if (i === 0) firstSent();
        if (i < pieces - 1) await sleep(ms / pieces);
      }
      req.end();
    })().catch(reject);
  });
  return { sent, response };
}

describe('SIGTERM', () => {
  it('finishes an upload in flight, exits 0, and the record survives a restart byte for byte', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const env = { OPENKVS_PORT: String(port), OPENKVS_ADMIN_TOKEN: TOKEN };
    const server = await startServe([], { cwd, port, env });
    const store = await http(`${server.origin}/v2/key-value-stores?name=uploads`, { method: 'POST', token: TOKEN });
    expect(store.status).toBe(201);
    const recordUrl = `${server.origin}/v2/key-value-stores/${store.json.data.id}/records/slow`;

    // Larger than the inline limit, so that the upload is staged as a file.
    const body = randomBytes(300 * 1024 + 17);
    const upload = slowPut(recordUrl, body, 10, 1000);
    // Settled at once, so that a dropped connection fails the test below rather than going unhandled.
    const response = upload.response.catch((err: Error) => ({ status: 0, body: `upload failed: ${err.message}` }));
    await upload.sent;
    await sleep(150);
    const stopping = server.stop('SIGTERM');

    // While the upload runs, new requests are not served.
    await sleep(200);
    const late = await http(`${server.origin}/health`).then(
      (r) => r.status,
      (e: NodeJS.ErrnoException) => e.code,
    );
    expect(late === 503 || late === 'ECONNREFUSED' || late === 'ECONNRESET', `a request after SIGTERM got ${late}`).toBe(true);

    const result = await response;
    expect(result.status, result.body).toBe(201);
    const exit = await stopping;
    expect(exit, server.output()).toMatchObject({ code: 0, signal: null });

    const restarted = await startServe([], { cwd, port, env });
    const read = await http(recordUrl, { token: TOKEN });
    expect(read.status).toBe(200);
    expect(read.headers['content-type']).toBe('application/octet-stream');
    expect(read.body.equals(body)).toBe(true);
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

import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAll, ensureBuilt, freePort, http, type ServeProcess, startServe, tempDir } from './helpers.js';

beforeAll(ensureBuilt);
afterEach(cleanupAll);

const ADMIN_TOKEN = 'admin-token-that-must-never-be-logged-0123';
const SIGNATURE = 'signature-that-must-never-be-logged';
const COOKIE = 'cookie-that-must-never-be-logged';

interface LogLine {
  level: number;
  msg: string;
  reqId?: string;
  method?: string;
  route?: string;
  url?: string;
  status?: number;
  ms?: number;
}

/** The JSON lines of an output; other lines (the startup messages) are skipped. */
function jsonLines(output: string): LogLine[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

async function serve(level: string): Promise<ServeProcess> {
  const port = await freePort();
  return startServe(
    ['--storage', 'sqlite::memory:', '--port', String(port), '--admin-token', ADMIN_TOKEN, '--log-level', level],
    {
      cwd: tempDir(),
      port,
    },
  );
}

/** Requests carrying every kind of secret: a bearer token, `?token=`, `?signature=` and a cookie. */
async function secretRequests(origin: string): Promise<string> {
  const created = await http(`${origin}/v2/key-value-stores?name=logged`, {
    method: 'POST',
    token: ADMIN_TOKEN,
    headers: { cookie: `sid=${COOKIE}` },
  });
  expect(created.status).toBe(201);
  const id = created.json.data.id;
  expect((await http(`${origin}/v2/key-value-stores/${id}?token=${ADMIN_TOKEN}`)).status).toBe(200);
  expect((await http(`${origin}/v2/key-value-stores/${id}/records/none?signature=${SIGNATURE}`)).status).toBe(404);
  return id;
}

describe('openkvs serve logs', () => {
  it('writes one JSON line per request with the request id, method, route, status and duration', async () => {
    const server = await serve('info');
    const id = await secretRequests(server.origin);
    const tagged = await http(`${server.origin}/v2/key-value-stores/${id}/keys`, {
      token: ADMIN_TOKEN,
      headers: { 'x-request-id': 'proxy-given-id-42' },
    });
    expect(tagged.headers['x-request-id']).toBe('proxy-given-id-42');
    const other = await http(`${server.origin}/v2/key-value-stores/${id}/keys`, { token: ADMIN_TOKEN });
    const generated = String(other.headers['x-request-id']);
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    expect((await server.stop()).code).toBe(0);

    const lines = jsonLines(server.stdout).filter((l) => l.msg === 'request' && l.url !== '/health');
    expect(lines.map((l) => `${l.method} ${l.route} ${l.status}`)).toEqual([
      'POST /v2/key-value-stores 201',
      'GET /v2/key-value-stores/:storeId 200',
      'GET /v2/key-value-stores/:storeId/records/* 404',
      'GET /v2/key-value-stores/:storeId/keys 200',
      'GET /v2/key-value-stores/:storeId/keys 200',
    ]);
    for (const line of lines) {
      expect(line.level).toBe(30);
      expect(typeof line.reqId).toBe('string');
      expect(line.ms).toBeGreaterThanOrEqual(0);
    }
    expect(new Set(lines.map((l) => l.reqId)).size).toBe(lines.length);
    expect(lines[3]?.reqId).toBe('proxy-given-id-42');
    expect(lines[4]?.reqId).toBe(generated);
    expect(lines[1]?.url).toBe(`/v2/key-value-stores/${id}?token=[redacted]`);
    expect(lines[2]?.url).toBe(`/v2/key-value-stores/${id}/records/none?signature=[redacted]`);
  });

  it('never logs tokens, signatures, Authorization or cookies, even at trace level', async () => {
    const server = await serve('trace');
    await secretRequests(server.origin);
    // A request that fails validation and one that is refused, which log more.
    await http(`${server.origin}/v2/key-value-stores?limit=x&token=${ADMIN_TOKEN}`);
    await http(`${server.origin}/v2/key-value-stores`, { token: 'wrong-token-never-logged-either-000000' });
    expect((await server.stop()).code).toBe(0);
    const output = server.stdout + server.stderr;
    expect(jsonLines(server.stdout).filter((l) => l.msg === 'request').length).toBeGreaterThanOrEqual(5);
    for (const secret of [ADMIN_TOKEN, SIGNATURE, COOKIE, 'wrong-token-never-logged-either'])
      expect(output).not.toContain(secret);
    expect(output.toLowerCase()).not.toContain('authorization');
  });

  it('writes no line per request at warn level', async () => {
    const server = await serve('warn');
    await secretRequests(server.origin);
    expect((await server.stop()).code).toBe(0);
    expect(jsonLines(server.stdout).filter((l) => l.msg === 'request' || l.level < 40)).toEqual([]);
  });
});

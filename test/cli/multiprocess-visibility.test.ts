import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAll, ensureBuilt, freePort, http, lastLine, runCli, type ServeProcess, startServe, tempDir } from './helpers.js';

/**
 * Two servers on one SQLite file: what one writes, the other shows in its very next answer, even
 * when it had the old state in its caches (each read below is made once before the write).
 */

const TOKEN = 'multiprocess-visibility-admin-token-01234';
let cwd: string;
let storage: string;
let a: ServeProcess;
let b: ServeProcess;

beforeAll(async () => {
  ensureBuilt();
  cwd = tempDir();
  storage = `sqlite:${join(cwd, 'shared.sqlite')}`;
  const serve = async () => {
    const port = await freePort();
    return startServe(['--storage', storage, '--port', String(port), '--admin-token', TOKEN, '--log-level', 'warn'], {
      cwd,
      port,
    });
  };
  a = await serve();
  b = await serve();
});
afterAll(cleanupAll);

const req = (server: ServeProcess, path: string, options: Parameters<typeof http>[1] = {}) =>
  http(`${server.origin}${path}`, { token: TOKEN, ...options });

async function newStore(name: string): Promise<string> {
  const res = await req(a, `/v2/key-value-stores?name=${name}`, { method: 'POST' });
  expect(res.status).toBe(201);
  return res.json.data.id;
}

describe('two openkvs processes on one SQLite file', () => {
  it('records: a PUT, an overwrite and a delete through one show at once through the other', async () => {
    const id = await newStore('visible-records');
    const rec = `/v2/key-value-stores/${id}/records/k`;
    expect((await req(b, rec)).status).toBe(404);
    for (const size of [10, 300 * 1024, 20]) {
      const body = randomBytes(size);
      const put = await req(a, rec, { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } });
      expect(put.status).toBe(201);
      const got = await req(b, rec);
      expect(got.status).toBe(200);
      expect(got.body.equals(body), `${size} bytes read back through the other process`).toBe(true);
      const head = await req(b, rec, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.etag).toBe(got.headers.etag);
      expect(Number(head.headers['content-length'])).toBe(size);
    }
    expect((await req(a, rec, { method: 'DELETE' })).status).toBe(204);
    expect((await req(b, rec)).status).toBe(404);
    expect((await req(b, rec, { method: 'HEAD' })).status).toBe(404);
  });

  it('conditional writes: an ETag seen through one process is the precondition through the other', async () => {
    const id = await newStore('visible-etags');
    const rec = `/v2/key-value-stores/${id}/records/c`;
    const put = (server: ServeProcess, body: string, etag: string) =>
      req(server, rec, { method: 'PUT', body, headers: { 'content-type': 'text/plain', 'if-match': etag } });
    expect((await req(a, rec, { method: 'PUT', body: 'one', headers: { 'content-type': 'text/plain' } })).status).toBe(201);
    const seen = (await req(b, rec)).headers.etag as string;
    expect(seen).toBeTruthy();
    expect((await put(a, 'two', seen)).status).toBe(201);
    // B read `one` before; its ETag no longer matches, through either process.
    expect((await put(b, 'three', seen)).status).toBe(412);
    expect((await put(a, 'three', seen)).status).toBe(412);
    const now = await req(b, rec);
    expect(now.body.toString()).toBe('two');
    expect((await put(b, 'three', now.headers.etag as string)).status).toBe(201);
    expect((await req(a, rec)).body.toString()).toBe('three');
  });

  it('key lists show keys written and deleted through the other process', async () => {
    const id = await newStore('visible-keys');
    const keys = async () =>
      (await req(b, `/v2/key-value-stores/${id}/keys`)).json.data.items.map((i) => (i as unknown as { key: string }).key);
    expect(await keys()).toEqual([]);
    for (const k of ['x', 'y']) {
      const res = await req(a, `/v2/key-value-stores/${id}/records/${k}`, {
        method: 'PUT',
        body: k,
        headers: { 'content-type': 'text/plain' },
      });
      expect(res.status).toBe(201);
    }
    expect(await keys()).toEqual(['x', 'y']);
    expect((await req(a, `/v2/key-value-stores/${id}/records/x`, { method: 'DELETE' })).status).toBe(204);
    expect(await keys()).toEqual(['y']);
  });

  it('store updates: a rename and generalAccess changed through one apply at once through the other', async () => {
    const id = await newStore('visible-store');
    const rec = `/v2/key-value-stores/${id}/records/r`;
    const update = async (body: object) => {
      const res = await req(a, `/v2/key-value-stores/${id}`, {
        method: 'PUT',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(200);
    };
    const anonymous = () => http(`${b.origin}${rec}`);
    expect((await req(a, rec, { method: 'PUT', body: 'public?', headers: { 'content-type': 'text/plain' } })).status).toBe(201);
    await update({ generalAccess: 'RESTRICTED' });
    expect((await req(b, '/v2/key-value-stores/admin~visible-store')).json.data.id).toBe(id);
    const refused = (await anonymous()).status;
    expect([401, 403, 404]).toContain(refused);

    await update({ name: 'renamed-store', generalAccess: 'ANYONE_WITH_ID_CAN_READ' });
    expect((await req(b, '/v2/key-value-stores/admin~visible-store')).status).toBe(404);
    expect((await req(b, '/v2/key-value-stores/admin~renamed-store')).json.data.id).toBe(id);
    const open = await anonymous();
    expect(open.status).toBe(200);
    expect(open.body.toString()).toBe('public?');
    await update({ generalAccess: 'RESTRICTED' });
    expect((await anonymous()).status).toBe(refused);
  });

  it('a token revoked from the command line or through the other server is refused at once', async () => {
    const created = await runCli(['users', 'create', 'bob', '--storage', storage], { cwd });
    expect(created.code, created.stderr).toBe(0);
    const bobs = lastLine(created.stdout);
    const list = (server: ServeProcess, token: string) => http(`${server.origin}/v2/key-value-stores`, { token });
    expect((await list(a, bobs)).status).toBe(200);
    expect((await list(b, bobs)).status).toBe(200);
    const revoked = await runCli(['tokens', 'revoke', bobs, '--storage', storage], { cwd });
    expect(revoked.code, revoked.stderr).toBe(0);
    expect((await list(a, bobs)).status).toBe(401);
    expect((await list(b, bobs)).status).toBe(401);
  });
});

import { existsSync, readdirSync } from 'node:fs';
import nodeModule from 'node:module';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../../src/config.js';
import { cleanupAll, ensureBuilt, freePort, http, isPortFree, printedTokens, runCli, startServe, tempDir } from './helpers.js';

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{32,}$/;

beforeAll(ensureBuilt);
afterEach(cleanupAll);

describe('openkvs serve on a fresh folder', () => {
  it('creates ./data/openkvs.sqlite, prints a working admin token once, and answers /health', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const first = await startServe([], { cwd, port, env: { OPENKVS_PORT: String(port) } });

    expect(existsSync(join(cwd, 'data', 'openkvs.sqlite'))).toBe(true);
    expect((await http(`${first.origin}/health`)).status).toBe(200);
    const tokens = printedTokens(first.stdout);
    expect(tokens, first.output()).toHaveLength(1);
    const token = tokens[0]!;
    expect(token).toMatch(TOKEN_SHAPE);

    const listed = await http(`${first.origin}/v2/key-value-stores`, { token });
    expect(listed.status).toBe(200);
    expect(listed.json.data).toMatchObject({ total: 0, items: [] });
    const created = await http(`${first.origin}/v2/key-value-stores?name=kept`, { method: 'POST', token });
    expect(created.status).toBe(201);
    expect((await http(`${first.origin}/v2/key-value-stores`, { token: 'not-a-real-token-but-long-enough-123' })).status).toBe(
      401,
    );
    expect((await first.stop()).code).toBe(0);

    // A second start on the same data keeps admin's token and prints no new one.
    const second = await startServe([], { cwd, port, env: { OPENKVS_PORT: String(port) } });
    expect(printedTokens(second.stdout), second.output()).toEqual([]);
    const again = await http(`${second.origin}/v2/key-value-stores`, { token });
    expect(again.status).toBe(200);
    expect(again.json.data.items.map((s) => s.name)).toEqual(['kept']);
  });

  it('listens on 127.0.0.1:8910 with sqlite:./data/openkvs.sqlite and a 100 MiB record limit by default', async () => {
    const defaults = resolveServeConfig({}, {});
    expect(defaults).toMatchObject({
      host: '127.0.0.1',
      port: 8910,
      storage: { kind: 'sqlite', path: './data/openkvs.sqlite' },
      maxRecordBytes: 104_857_600,
    });
    if (!(await isPortFree(8910))) {
      console.warn('port 8910 is busy on this machine: the default port was checked on the config module only');
      return;
    }
    const cwd = tempDir();
    // A token of our own proves that whatever answers on 8910 is this server.
    const adminToken = 'default-port-check-token-0123456789';
    const server = await startServe(['--admin-token', adminToken], { cwd, port: 8910 });
    expect((await http('http://127.0.0.1:8910/v2/key-value-stores', { token: adminToken })).status).toBe(200);
    expect(existsSync(join(cwd, 'data', 'openkvs.sqlite'))).toBe(true);
    expect((await server.stop()).code).toBe(0);
  });

  it('runs on sqlite::memory: without creating files, with fresh data on every start', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const env = { OPENKVS_PORT: String(port) };
    const first = await startServe(['--storage', 'sqlite::memory:'], { cwd, port, env });
    const [token] = printedTokens(first.stdout);
    expect(token, first.output()).toMatch(TOKEN_SHAPE);
    const created = await http(`${first.origin}/v2/key-value-stores?name=gone-after-restart`, { method: 'POST', token });
    expect(created.status).toBe(201);
    const put = await http(`${first.origin}/v2/key-value-stores/${created.json.data.id}/records/k`, {
      method: 'PUT',
      token,
      headers: { 'content-type': 'text/plain' },
      body: 'in memory',
    });
    expect(put.status).toBe(201);
    expect((await http(`${first.origin}/v2/key-value-stores/${created.json.data.id}/records/k`, { token })).body.toString()).toBe(
      'in memory',
    );
    expect(existsSync(join(cwd, 'data'))).toBe(false);
    expect((await first.stop()).code).toBe(0);

    const second = await startServe(['--storage', 'sqlite::memory:'], { cwd, port, env });
    const [fresh] = printedTokens(second.stdout);
    expect(fresh, second.output()).toMatch(TOKEN_SHAPE);
    expect(fresh).not.toBe(token);
    expect((await http(`${second.origin}/v2/key-value-stores`, { token })).status).toBe(401);
    expect((await http(`${second.origin}/v2/key-value-stores`, { token: fresh })).json.data.total).toBe(0);
  });
});

describe('the bundled program (dist/bin/openkvs.js)', () => {
  it('serves the API documentation with its own files, the YAML document, the OpenAPI document and the console', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const args = ['--storage', 'sqlite::memory:', '--port', String(port), '--admin-token', 'bundle-check-token-0123456789'];
    const server = await startServe(args, {
      cwd,
      port,
    });
    const health = await http(`${server.origin}/health`);
    expect(health.json).toEqual({ status: 'ok' });
    expect(health.headers['content-type']).toBe('application/json; charset=utf-8');
    const docs = await http(`${server.origin}/docs/`);
    expect(docs.status).toBe(200);
    expect(docs.body.toString()).toContain('swagger-ui');
    // A file of @fastify/swagger-ui's own package folder (found without the bundle's __dirname).
    const ui = await http(`${server.origin}/docs/static/swagger-ui-bundle.js`);
    expect(ui.status).toBe(200);
    expect(ui.body.length).toBeGreaterThan(100_000);
    expect((await http(`${server.origin}/docs/static/logo.svg`)).headers['content-type']).toContain('image/svg+xml');
    // YAML is loaded on first use.
    const yaml = await http(`${server.origin}/docs/yaml`);
    expect(yaml.status).toBe(200);
    expect(yaml.body.toString()).toMatch(/^openapi: 3\.1\.0$/m);
    const openapi = await http(`${server.origin}/v2/openapi.json`);
    expect(openapi.json).toMatchObject({ openapi: '3.1.0', info: { title: 'openkvs' } });
    const page = await http(`${server.origin}/`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
  });
});

describe("the bundled program's compile cache", () => {
  // module.enableCompileCache() came with Node 22.8; before it the program compiles as usual.
  const nodeHasIt = typeof (nodeModule as { enableCompileCache?: unknown }).enableCompileCache === 'function';

  it(`is written to NODE_COMPILE_CACHE ${nodeHasIt ? 'on this Node' : 'only on Node 22.8 and later, so not on this one'}`, async () => {
    const cwd = tempDir();
    const dir = join(tempDir(), 'cache');
    const help = await runCli(['--help'], { cwd, env: { NODE_COMPILE_CACHE: dir } });
    expect(help.code).toBe(0);
    const written = existsSync(dir) ? readdirSync(dir, { recursive: true }) : [];
    if (nodeHasIt) expect(written.length).toBeGreaterThan(0);
    else expect(written).toEqual([]);
  });

  it('is neither read nor written with NODE_DISABLE_COMPILE_CACHE=1', async () => {
    const cwd = tempDir();
    const dir = join(tempDir(), 'cache');
    const help = await runCli(['--help'], { cwd, env: { NODE_COMPILE_CACHE: dir, NODE_DISABLE_COMPILE_CACHE: '1' } });
    expect(help.code).toBe(0);
    expect(existsSync(dir) ? readdirSync(dir, { recursive: true }) : []).toEqual([]);
  });
});

describe('a database written by a newer openkvs', () => {
  it('is refused with one line naming both schema versions, and left as it was', async () => {
    const cwd = tempDir();
    const file = join(cwd, 'kvs.sqlite');
    const created = await runCli(['stores', 'create', 'kept', '--storage', `sqlite:${file}`], { cwd });
    expect(created.code, created.stderr).toBe(0);
    const db = new Database(file);
    const known = (db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number }).v;
    db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(known + 1, Date.now());
    db.close();
    const port = await freePort();
    const serve = await runCli(['serve', '--storage', `sqlite:${file}`, '--port', String(port)], { cwd });
    expect(serve.code).toBe(1);
    expect(serve.stderr.trim()).toBe(
      `openkvs: the database has schema version ${known + 1}, newer than this openkvs knows (${known}): it was written by a newer openkvs; run that version or a later one`,
    );
    const listed = await runCli(['stores', 'list', '--storage', `sqlite:${file}`], { cwd });
    expect(listed.code).toBe(1);
    const after = new Database(file, { readonly: true });
    expect((after.prepare('SELECT name FROM stores').all() as { name: string }[]).map((r) => r.name)).toEqual(['kept']);
    after.close();
  });
});

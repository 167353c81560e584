import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanupAll,
  ensureBuilt,
  freePort,
  holdPort,
  http,
  printedTokens,
  runCli,
  type ServeProcess,
  startServe,
  tempDir,
} from './helpers.js';

beforeAll(ensureBuilt);
// After all, not each: the refusal cases below run concurrently.
afterAll(cleanupAll);

/** Creates a store as `token`, returning the response. */
const createStore = (server: ServeProcess, token: string, name: string) =>
  http(`${server.origin}/v2/key-value-stores?name=${name}`, { method: 'POST', token });

/** PUTs `size` bytes as a record and returns the response. */
const putBytes = (server: ServeProcess, token: string, storeId: string, size: number) =>
  http(`${server.origin}/v2/key-value-stores/${storeId}/records/blob`, {
    method: 'PUT',
    token,
    headers: { 'content-type': 'application/octet-stream' },
    body: Buffer.alloc(size, 7),
  });

/** Checks that nothing answers on host:port. */
async function refused(host: string, port: number): Promise<boolean> {
  return http(`http://${host}:${port}/health`).then(
    () => false,
    () => true,
  );
}

describe('admin token', () => {
  it('--admin-token makes that string admin token on the first start, and no token is generated', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const adminToken = 'first-start-admin-token';
    const server = await startServe(['--admin-token', adminToken, '--port', String(port)], { cwd, port });
    expect(printedTokens(server.stdout), server.output()).toEqual([]);
    expect((await http(`${server.origin}/v2/key-value-stores`, { token: adminToken })).status).toBe(200);
    const users = await runCli(['users', 'list'], { cwd });
    expect(users.stdout.split('\n').filter((l) => l.startsWith('admin'))).toHaveLength(1);
  });

  it('OPENKVS_ADMIN_TOKEN given on a later start is admin token too, next to the generated one', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const env = { OPENKVS_PORT: String(port) };
    const first = await startServe([], { cwd, port, env });
    const [generated] = printedTokens(first.stdout);
    expect(generated, first.output()).toBeDefined();
    const store = await createStore(first, generated!, 'admins-store');
    expect(store.status).toBe(201);
    expect((await first.stop()).code).toBe(0);

    const adminToken = 'later-start-admin-token-from-env';
    const second = await startServe([], { cwd, port, env: { ...env, OPENKVS_ADMIN_TOKEN: adminToken } });
    expect(printedTokens(second.stdout), second.output()).toEqual([]);
    const viaEnvToken = await http(`${second.origin}/v2/key-value-stores`, { token: adminToken });
    expect(viaEnvToken.status).toBe(200);
    // The same user: admin's store is listed under the env token.
    expect(viaEnvToken.json.data.items.map((s) => s.id)).toEqual([store.json.data.id]);
    expect((await http(`${second.origin}/v2/key-value-stores`, { token: generated })).status).toBe(200);
    expect((await second.stop()).code).toBe(0);

    // And on the start after that, with the variable still set.
    const third = await startServe([], { cwd, port, env: { ...env, OPENKVS_ADMIN_TOKEN: adminToken } });
    expect(printedTokens(third.stdout)).toEqual([]);
    expect((await http(`${third.origin}/v2/key-value-stores`, { token: adminToken })).json.data.total).toBe(1);
  });
});

describe('every flag has its environment variable, and flags beat the environment', () => {
  it('reads OPENKVS_HOST, _PORT, _STORAGE, _PUBLIC_URL, _ADMIN_TOKEN and _MAX_RECORD_BYTES', async () => {
    const cwd = tempDir();
    // Held on 127.0.0.1, so that a server ignoring OPENKVS_HOST cannot start.
    const port = await holdPort('127.0.0.1');
    const server = await startServe([], {
      cwd,
      host: '127.0.0.2',
      port,
      env: {
        OPENKVS_HOST: '127.0.0.2',
        OPENKVS_PORT: String(port),
        OPENKVS_STORAGE: 'sqlite:./env-store/kvs.sqlite',
        OPENKVS_PUBLIC_URL: 'https://kvs.example.com',
        OPENKVS_ADMIN_TOKEN: 'env-admin-token',
        OPENKVS_MAX_RECORD_BYTES: '1000',
      },
    });
    expect(existsSync(join(cwd, 'env-store', 'kvs.sqlite'))).toBe(true);
    expect(existsSync(join(cwd, 'data'))).toBe(false);

    const created = await createStore(server, 'env-admin-token', 'env');
    expect(created.status).toBe(201);
    const id: string = created.json.data.id;
    expect(created.headers.location).toBe(`https://kvs.example.com/v2/key-value-stores/${id}`);
    expect(created.json.data.keysPublicUrl).toMatch(new RegExp(`^https://kvs\\.example\\.com/v2/key-value-stores/${id}/keys\\?`));

    expect((await putBytes(server, 'env-admin-token', id, 1000)).status).toBe(201);
    const tooLarge = await putBytes(server, 'env-admin-token', id, 1001);
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.json.error.type).toBe('record-too-large');
    // The record that fit is still the stored one.
    expect(
      (await http(`${server.origin}/v2/key-value-stores/${id}/records/blob`, { token: 'env-admin-token' })).body.length,
    ).toBe(1000);
  });

  it('--host, --port, --storage, --public-url, --admin-token and --max-record-bytes win over the environment', async () => {
    const cwd = tempDir();
    // The environment's port is held, so that a server that followed OPENKVS_PORT could not start.
    const [envPort, flagPort] = [await holdPort(), await freePort()];
    const server = await startServe(
      [
        '--host',
        '127.0.0.1',
        '--port',
        String(flagPort),
        '--storage',
        'sqlite:./flag-store/kvs.sqlite',
        '--public-url',
        'http://flag.example.org:8080',
        '--admin-token',
        'flag-admin-token',
        '--max-record-bytes',
        '2000',
      ],
      {
        cwd,
        port: flagPort,
        env: {
          OPENKVS_HOST: '127.0.0.2',
          OPENKVS_PORT: String(envPort),
          OPENKVS_STORAGE: 'sqlite:./env-store/kvs.sqlite',
          OPENKVS_PUBLIC_URL: 'https://env.example.com',
          OPENKVS_ADMIN_TOKEN: 'env-admin-token',
          OPENKVS_MAX_RECORD_BYTES: '1000',
        },
      },
    );
    expect(await refused('127.0.0.2', flagPort)).toBe(true);
    expect(existsSync(join(cwd, 'flag-store', 'kvs.sqlite'))).toBe(true);
    expect(existsSync(join(cwd, 'env-store'))).toBe(false);

    const rejected = await http(`${server.origin}/v2/key-value-stores`, { token: 'env-admin-token' });
    expect(rejected.status).toBe(401);
    const created = await createStore(server, 'flag-admin-token', 'flags');
    expect(created.status).toBe(201);
    const id: string = created.json.data.id;
    expect(created.headers.location).toBe(`http://flag.example.org:8080/v2/key-value-stores/${id}`);
    expect(created.json.data.keysPublicUrl.startsWith(`http://flag.example.org:8080/v2/key-value-stores/${id}/keys?`)).toBe(true);

    expect((await putBytes(server, 'flag-admin-token', id, 2000)).status).toBe(201);
    const tooLarge = await putBytes(server, 'flag-admin-token', id, 2001);
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.json.error.type).toBe('record-too-large');
  });

  it('links use the listening address when no public URL is set', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const server = await startServe(['--admin-token', 'no-public-url-token'], { cwd, port, env: { OPENKVS_PORT: String(port) } });
    const created = await createStore(server, 'no-public-url-token', 'local');
    expect(created.headers.location).toBe(`http://127.0.0.1:${port}/v2/key-value-stores/${created.json.data.id}`);
  });
});

describe('bad values stop the start with a one-line reason', () => {
  const cases: { name: string; args: string[]; env?: Record<string, string>; mentions: RegExp }[] = [
    { name: '--port abc', args: ['--port', 'abc'], mentions: /port/i },
    { name: '--port 70000', args: ['--port', '70000'], mentions: /port/i },
    { name: '--storage foo:bar', args: ['--storage', 'foo:bar'], mentions: /storage/i },
    { name: '--max-record-bytes -1', args: ['--max-record-bytes', '-1'], mentions: /max-record-bytes/i },
    { name: '--public-url notaurl', args: ['--public-url', 'notaurl'], mentions: /public-url/i },
    { name: 'OPENKVS_PORT=abc', args: [], env: { OPENKVS_PORT: 'abc' }, mentions: /port/i },
    { name: 'OPENKVS_STORAGE=foo:bar', args: [], env: { OPENKVS_STORAGE: 'foo:bar' }, mentions: /storage/i },
    { name: 'OPENKVS_MAX_RECORD_BYTES=-1', args: [], env: { OPENKVS_MAX_RECORD_BYTES: '-1' }, mentions: /max.record.bytes/i },
    { name: 'OPENKVS_PUBLIC_URL=notaurl', args: [], env: { OPENKVS_PUBLIC_URL: 'notaurl' }, mentions: /public.url/i },
    { name: '--durability sometimes', args: ['--durability', 'sometimes'], mentions: /durability/i },
    { name: 'OPENKVS_DURABILITY=never', args: [], env: { OPENKVS_DURABILITY: 'never' }, mentions: /durability/i },
    { name: '--shutdown-timeout soon', args: ['--shutdown-timeout', 'soon'], mentions: /shutdown-timeout/ },
    { name: '--shutdown-timeout 0.0001', args: ['--shutdown-timeout', '0.0001'], mentions: /shutdown-timeout/ },
    {
      name: 'OPENKVS_SHUTDOWN_TIMEOUT=-1',
      args: [],
      env: { OPENKVS_SHUTDOWN_TIMEOUT: '-1' },
      mentions: /shutdown-timeout/,
    },
    {
      name: 'OPENKVS_SHUTDOWN_TIMEOUT=100000',
      args: [],
      env: { OPENKVS_SHUTDOWN_TIMEOUT: '100000' },
      mentions: /shutdown-timeout/,
    },
    { name: '--workers 0', args: ['--workers', '0'], mentions: /--workers/ },
    { name: '--workers many', args: ['--workers', 'many'], mentions: /--workers/ },
    { name: '--workers 100000', args: ['--workers', '100000'], mentions: /--workers/ },
    { name: 'OPENKVS_WORKERS=-2', args: [], env: { OPENKVS_WORKERS: '-2' }, mentions: /--workers/ },
    // Every worker would have a database of its own.
    { name: '--workers 2 on sqlite::memory:', args: ['--workers', '2'], mentions: /--workers.*memory/ },
  ];

  it.concurrent.for(cases)('$name', async ({ args, env, mentions }, { expect }) => {
    const cwd = tempDir();
    // Should the value wrongly be accepted, the server must not take a port someone else uses.
    const safety = { OPENKVS_PORT: String(await freePort()), OPENKVS_STORAGE: 'sqlite::memory:' };
    const result = await runCli(['serve', ...args], { cwd, env: { ...safety, ...env }, timeoutMs: 10_000 });
    expect(result.signal, 'the server started instead of refusing').toBeNull();
    expect(result.code).not.toBe(0);
    const lines = result.stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(mentions);
    expect(result.stdout).not.toMatch(/listening/i);
  });
});

describe('--durability fsync', () => {
  it('acknowledges concurrent writes (grouped into shared commits) that all survive a killed process', async () => {
    const cwd = tempDir();
    const port = await freePort();
    const token = 'durability-admin-token-0123456789';
    const args = ['--port', String(port), '--storage', 'sqlite:./data.sqlite', '--admin-token', token];
    const server = await startServe([...args, '--durability', 'fsync'], { cwd, port });
    const created = await createStore(server, token, 'durable');
    expect(created.status).toBe(201);
    const storeId = (created.json as unknown as { data: { id: string } }).data.id;
    const bodies = Array.from({ length: 40 }, (_, i) => Buffer.from(`value ${i} `.repeat(i + 1)));
    const puts = await Promise.all(
      bodies.map((body, i) =>
        http(`${server.origin}/v2/key-value-stores/${storeId}/records/k${i}`, {
          method: 'PUT',
          token,
          headers: { 'content-type': 'text/plain' },
          body,
        }),
      ),
    );
    expect(puts.map((r) => r.status)).toEqual(bodies.map(() => 201));
    server.child.kill('SIGKILL');
    await server.exited;
    const again = await startServe(args, { cwd, port });
    for (const [i, body] of bodies.entries()) {
      const got = await http(`${again.origin}/v2/key-value-stores/${storeId}/records/k${i}`, { token });
      expect(got.status).toBe(200);
      expect(got.body.equals(body)).toBe(true);
    }
    const store = await http(`${again.origin}/v2/key-value-stores/${storeId}`, { token });
    const stats = (store.json as unknown as { data: { stats: { writeCount: number; storageBytes: number } } }).data.stats;
    expect(stats.writeCount).toBe(40);
    expect(stats.storageBytes).toBe(bodies.reduce((n, b) => n + b.length, 0));
  });
});

describe('a port that is taken', () => {
  it('stops the start with a one-line reason naming the address', async () => {
    const cwd = tempDir();
    const port = await holdPort();
    const result = await runCli(['serve', '--port', String(port), '--storage', 'sqlite::memory:'], { cwd, timeoutMs: 10_000 });
    expect(result.signal, 'the server kept running').toBeNull();
    expect(result.code).not.toBe(0);
    const lines = result.stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]).toContain(String(port));
  });
});

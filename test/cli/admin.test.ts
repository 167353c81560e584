import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAll, ensureBuilt, freePort, http, lastLine, runCli, type ServeProcess, startServe, tempDir } from './helpers.js';

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{32,}$/;

/** One server for the whole file: the commands below run beside it on the same SQLite file. */
let cwd: string;
let server: ServeProcess;
let storage: string;

beforeAll(async () => {
  ensureBuilt();
  cwd = tempDir();
  storage = `sqlite:${join(cwd, 'shared', 'kvs.sqlite')}`;
  const port = await freePort();
  server = await startServe(['--admin-token', 'admin-token-of-admin-tests'], {
    cwd,
    port,
    env: { OPENKVS_PORT: String(port), OPENKVS_STORAGE: storage },
  });
});
afterAll(cleanupAll);

/** `GET /v2/key-value-stores` on the running server with `token`. */
const listStores = (token: string) => http(`${server.origin}/v2/key-value-stores`, { token });

describe('users and tokens while a server runs on the same storage', () => {
  let bobToken: string;
  let bobStoreId: string;

  it('users create prints the new token as the last line, and it works at once', async () => {
    const result = await runCli(['users', 'create', 'bob', '--storage', storage], { cwd });
    expect(result.code, result.stderr).toBe(0);
    bobToken = lastLine(result.stdout);
    expect(bobToken).toMatch(TOKEN_SHAPE);

    const listed = await listStores(bobToken);
    expect(listed.status).toBe(200);
    expect(listed.json.data.total).toBe(0);
    const created = await http(`${server.origin}/v2/key-value-stores?name=bobs`, { method: 'POST', token: bobToken });
    expect(created.status).toBe(201);
    bobStoreId = created.json.data.id;
    // Bob is not admin: admin does not see bob's store.
    expect((await listStores('admin-token-of-admin-tests')).json.data.total).toBe(0);
  });

  it('users create of an existing name fails and leaves that user alone', async () => {
    for (const name of ['bob', 'admin']) {
      const result = await runCli(['users', 'create', name], { cwd, env: { OPENKVS_STORAGE: storage } });
      expect(result.code, `users create ${name}`).not.toBe(0);
      expect(result.stderr.trim()).not.toBe('');
    }
    expect((await listStores(bobToken)).status).toBe(200);
    const users = await runCli(['users', 'list', '--storage', storage], { cwd });
    expect(users.code).toBe(0);
    expect(users.stdout.split('\n').filter((l) => /^bob\b/.test(l))).toHaveLength(1);
  });

  it('tokens create adds a working token of the same user', async () => {
    const result = await runCli(['tokens', 'create', 'bob'], { cwd, env: { OPENKVS_STORAGE: storage } });
    expect(result.code, result.stderr).toBe(0);
    const second = lastLine(result.stdout);
    expect(second).toMatch(TOKEN_SHAPE);
    expect(second).not.toBe(bobToken);
    const listed = await listStores(second);
    expect(listed.status).toBe(200);
    expect(listed.json.data.items.map((s) => s.id)).toEqual([bobStoreId]);
    expect((await listStores(bobToken)).status).toBe(200);

    const revoked = await runCli(['tokens', 'revoke', second, '--storage', storage], { cwd });
    expect(revoked.code, revoked.stderr).toBe(0);
    const after = await listStores(second);
    expect(after.status).toBe(401);
    expect(after.json.error.type).toBe('user-or-token-not-found');
    // Bob's other token is untouched.
    expect((await listStores(bobToken)).status).toBe(200);
  });

  it('tokens revoke stops the token on the running server at once', async () => {
    const revoked = await runCli(['tokens', 'revoke', bobToken], { cwd, env: { OPENKVS_STORAGE: storage } });
    expect(revoked.code, revoked.stderr).toBe(0);
    const listed = await listStores(bobToken);
    expect(listed.status).toBe(401);
    expect(listed.json.error.type).toBe('user-or-token-not-found');
    const write = await http(`${server.origin}/v2/key-value-stores/${bobStoreId}/records/k`, {
      method: 'PUT',
      token: bobToken,
      body: 'x',
    });
    expect(write.status).toBe(401);
  });

  it('revoking an unknown or already revoked token fails', async () => {
    for (const token of ['never-issued-token-000000000000000000', bobToken]) {
      const result = await runCli(['tokens', 'revoke', token, '--storage', storage], { cwd });
      expect(result.code).not.toBe(0);
      expect(result.stderr.trim()).not.toBe('');
    }
  });

  it('tokens create for a user that does not exist fails', async () => {
    const result = await runCli(['tokens', 'create', 'nobody', '--storage', storage], { cwd });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/nobody/);
  });

  it('the server is still healthy after all that', async () => {
    expect((await http(`${server.origin}/health`)).status).toBe(200);
    expect((await listStores('admin-token-of-admin-tests')).status).toBe(200);
  });
});

describe('--help', () => {
  const commands = [
    [],
    ['serve'],
    ['users'],
    ['users', 'create'],
    ['users', 'list'],
    ['tokens'],
    ['tokens', 'create'],
    ['tokens', 'revoke'],
  ];

  it.concurrent.for(commands.map((c) => ({ command: c.join(' ') || '(none)', args: [...c, '--help'] })))(
    'openkvs $command --help exits 0 with a usage text',
    async ({ args }, { expect }) => {
      const result = await runCli(args, { cwd });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^Usage: openkvs/m);
    },
  );

  it('serve --help names every flag and its environment variable', async () => {
    const result = await runCli(['serve', '--help'], { cwd });
    for (const [flag, env] of [
      ['--host', 'OPENKVS_HOST'],
      ['--port', 'OPENKVS_PORT'],
      ['--storage', 'OPENKVS_STORAGE'],
      ['--public-url', 'OPENKVS_PUBLIC_URL'],
      ['--admin-token', 'OPENKVS_ADMIN_TOKEN'],
      ['--max-record-bytes', 'OPENKVS_MAX_RECORD_BYTES'],
    ]) {
      expect(result.stdout).toContain(flag);
      expect(result.stdout).toContain(env);
    }
  });
});

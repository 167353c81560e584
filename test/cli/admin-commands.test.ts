import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanupAll,
  ensureBuilt,
  freePort,
  http,
  lastLine,
  printedTokens,
  runCli,
  type ServeProcess,
  startServe,
  tempDir,
} from './helpers.js';

const TOKEN = 'admin-commands-tests-admin-token';
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{32,}$/;

/** One server for the file: the commands run beside it on the same SQLite file. */
let cwd: string;
let storage: string;
let server: ServeProcess;

beforeAll(async () => {
  ensureBuilt();
  cwd = tempDir();
  storage = `sqlite:${join(cwd, 'kvs.sqlite')}`;
  const port = await freePort();
  server = await startServe(['--admin-token', TOKEN], {
    cwd,
    port,
    env: { OPENKVS_PORT: String(port), OPENKVS_STORAGE: storage },
  });
});
afterAll(cleanupAll);

const cli = (...args: string[]) => runCli([...args, '--storage', storage], { cwd });
const listStores = (token: string) => http(`${server.origin}/v2/key-value-stores?unnamed=1`, { token });
/** Lines of tab-separated columns. */
const rows = (stdout: string) =>
  stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split('\t'));

describe('stores', () => {
  it("create, list and delete admin's stores by default, seen through the API at once", async () => {
    const created = await cli('stores', 'create', 'reports');
    expect(created.code, created.stderr).toBe(0);
    const id = lastLine(created.stdout);
    expect(id).toMatch(/^[a-zA-Z0-9]{17}$/);
    const unnamed = await cli('stores', 'create');
    expect(unnamed.code, unnamed.stderr).toBe(0);
    const unnamedId = lastLine(unnamed.stdout);

    const api = await listStores(TOKEN);
    expect(api.json.data.items.map((s) => [s.id, s.name])).toEqual([
      [id, 'reports'],
      [unnamedId, null],
    ]);
    await http(`${server.origin}/v2/key-value-stores/${id}/records/r`, { method: 'PUT', token: TOKEN, body: '12345' });

    const listed = await cli('stores', 'list');
    expect(listed.code, listed.stderr).toBe(0);
    const [first, second, ...rest] = rows(listed.stdout);
    expect(rest).toEqual([]);
    expect(first?.slice(0, 3)).toEqual([id, 'reports', '5']);
    expect(second?.slice(0, 2)).toEqual([unnamedId, '-']);
    expect(Number.isNaN(Date.parse(first?.[3] ?? ''))).toBe(false);

    const byName = await cli('stores', 'delete', 'reports');
    expect(byName.code, byName.stderr).toBe(0);
    const byId = await cli('stores', 'delete', unnamedId);
    expect(byId.code, byId.stderr).toBe(0);
    expect((await listStores(TOKEN)).json.data.total).toBe(0);
    expect((await http(`${server.origin}/v2/key-value-stores/${id}/records/r`, { token: TOKEN })).status).toBe(404);
  });

  it('--user acts on that user only', async () => {
    const user = await cli('users', 'create', 'carol');
    const carolToken = lastLine(user.stdout);
    const created = await cli('stores', 'create', 'shared-name', '--user', 'carol');
    expect(created.code, created.stderr).toBe(0);
    const adminsOwn = await cli('stores', 'create', 'shared-name');
    expect(adminsOwn.code, adminsOwn.stderr).toBe(0);

    expect((await listStores(carolToken)).json.data.items.map((s) => s.id)).toEqual([lastLine(created.stdout)]);
    expect(rows((await cli('stores', 'list', '--user', 'carol')).stdout).map((r) => r[0])).toEqual([lastLine(created.stdout)]);

    // Admin's store of that name is not carol's: deleting it as carol leaves it alone.
    const other = await cli('stores', 'delete', lastLine(adminsOwn.stdout), '--user', 'carol');
    expect(other.code).not.toBe(0);
    expect((await listStores(TOKEN)).json.data.total).toBe(1);
    expect((await cli('stores', 'delete', 'shared-name', '--user', 'carol')).code).toBe(0);
    expect((await listStores(carolToken)).json.data.total).toBe(0);
    expect((await listStores(TOKEN)).json.data.total).toBe(1);
  });

  it('refuses a name in use, a bad name, an unknown store and an unknown user', async () => {
    expect((await cli('stores', 'create', 'twice')).code).toBe(0);
    for (const args of [
      ['stores', 'create', 'twice'],
      ['stores', 'create', 'not_valid'],
      ['stores', 'delete', 'never-created'],
      ['stores', 'list', '--user', 'nobody'],
    ]) {
      const result = await cli(...args);
      expect(result.code, args.join(' ')).not.toBe(0);
      expect(result.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
  });

  it('stores create on a fresh storage creates admin, printing its token once', async () => {
    const fresh = `sqlite:${join(tempDir(), 'fresh.sqlite')}`;
    const first = await runCli(['stores', 'create', 'first', '--storage', fresh], { cwd });
    expect(first.code, first.stderr).toBe(0);
    const [token] = printedTokens(first.stdout);
    expect(token).toMatch(TOKEN_SHAPE);
    const second = await runCli(['stores', 'create', 'second', '--storage', fresh], { cwd });
    expect(printedTokens(second.stdout)).toEqual([]);

    const port = await freePort();
    const other = await startServe(['--storage', fresh, '--port', String(port)], { cwd: tempDir(), port });
    expect(printedTokens(other.stdout)).toEqual([]);
    const stores = await http(`${other.origin}/v2/key-value-stores`, { token });
    expect(stores.json.data.items.map((s) => s.name)).toEqual(['first', 'second']);
    expect((await other.stop()).code).toBe(0);
  });
});

describe('tokens list and revoke --id', () => {
  it('lists ids, labels and creation times, never a token or its hash', async () => {
    const user = await cli('users', 'create', 'dave');
    const first = lastLine(user.stdout);
    const added = await cli('tokens', 'create', 'dave', '--label', 'ci runner');
    const second = lastLine(added.stdout);

    const listed = await cli('tokens', 'list', 'dave');
    expect(listed.code, listed.stderr).toBe(0);
    const tokens = rows(listed.stdout);
    expect(tokens.map((t) => t[1])).toEqual(['-', 'ci runner']);
    for (const t of tokens) {
      expect(t[0]).toMatch(/^[a-zA-Z0-9]{17}$/);
      expect(Number.isNaN(Date.parse(t[2] ?? ''))).toBe(false);
    }
    for (const secret of [first, second]) expect(listed.stdout).not.toContain(secret);
    // Nor anything shaped like a SHA-256 hash.
    expect(listed.stdout).not.toMatch(/[0-9a-f]{64}/);

    const revoked = await cli('tokens', 'revoke', '--id', tokens[1]![0]!);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect((await listStores(second)).status).toBe(401);
    expect((await listStores(first)).status).toBe(200);
    expect(rows((await cli('tokens', 'list', 'dave')).stdout).map((t) => t[0])).toEqual([tokens[0]![0]]);

    const again = await cli('tokens', 'revoke', '--id', tokens[1]![0]!);
    expect(again.code).not.toBe(0);
    const neither = await cli('tokens', 'revoke');
    expect(neither.code).not.toBe(0);
    expect((await cli('tokens', 'list', 'nobody')).code).not.toBe(0);
  });
});

describe('users delete', () => {
  it("removes the user, their stores and tokens; the server stops accepting the user's token at once", async () => {
    const user = await cli('users', 'create', 'erin');
    const token = lastLine(user.stdout);
    const store = await http(`${server.origin}/v2/key-value-stores?name=erins`, { method: 'POST', token });
    const storeId = store.json.data.id;
    await http(`${server.origin}/v2/key-value-stores/${storeId}/records/k`, { method: 'PUT', token, body: 'v' });

    const deleted = await cli('users', 'delete', 'erin');
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toMatch(/1 store/);
    expect((await listStores(token)).status).toBe(401);
    expect((await http(`${server.origin}/v2/key-value-stores/${storeId}`, { token: TOKEN })).status).toBe(404);
    expect(rows((await cli('users', 'list')).stdout).map((r) => r[0])).not.toContain('erin');
    // The name is free again.
    expect((await cli('users', 'create', 'erin')).code).toBe(0);
  });

  it('refuses admin and unknown users', async () => {
    for (const name of ['admin', 'nobody']) {
      const result = await cli('users', 'delete', name);
      expect(result.code, name).not.toBe(0);
      expect(result.stderr).toContain(name);
    }
    expect((await listStores(TOKEN)).status).toBe(200);
  });
});

describe('--help', () => {
  const commands = [
    ['config'],
    ['users', 'delete'],
    ['tokens', 'list'],
    ['stores'],
    ['stores', 'list'],
    ['stores', 'create'],
    ['stores', 'delete'],
    ['import'],
    ['export'],
  ];

  it.concurrent.for(commands.map((c) => ({ command: c.join(' '), args: [...c, '--help'] })))(
    'openkvs $command --help exits 0 with a usage text',
    async ({ args }, { expect }) => {
      const result = await runCli(args, { cwd });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^Usage: openkvs/m);
    },
  );

  it('commands that open the storage name --storage and --config; store commands name --user', async () => {
    for (const args of [['users', 'list'], ['tokens', 'revoke'], ['stores', 'list'], ['import'], ['export']]) {
      const help = (await runCli([...args, '--help'], { cwd })).stdout;
      expect(help, args.join(' ')).toContain('--storage');
      expect(help, args.join(' ')).toContain('--config');
      if (args[0] !== 'users' && args[0] !== 'tokens') expect(help, args.join(' ')).toContain('--user');
    }
  });
});

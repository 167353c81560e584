import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAll, ensureBuilt, http, lastLine, runCli, type ServeProcess, tempDir } from '../cli/helpers.js';
import { freshSchema } from '../helpers/postgres.js';
import {
  ADMIN_TOKEN,
  api,
  createStore,
  dataOf,
  deleteRecord,
  getRecord,
  listKeys,
  putRecord,
  type StoreJson,
  sha256,
  startNodes,
  storeOn,
} from './nodes.js';

/** Two openkvs processes on one PostgreSQL database: what one node does, the other shows at once. */

let cwd: string;
let storage: string;
let dropSchema: (() => Promise<void>) | undefined;
let a: ServeProcess;
let b: ServeProcess;

beforeAll(async () => {
  ensureBuilt();
  cwd = tempDir();
  const schema = await freshSchema();
  storage = schema.url;
  dropSchema = schema.drop;
  // One after the other; multinode-start.test.ts starts nodes together.
  [a, b] = (await startNodes(storage, 2, cwd)) as [ServeProcess, ServeProcess];
});
afterAll(async () => {
  await cleanupAll();
  await dropSchema?.();
});

describe('two nodes on one PostgreSQL', () => {
  it('share one admin', async () => {
    for (const node of [a, b]) expect((await api(node, '')).status).toBe(200);
    const users = await runCli(['users', 'list', '--storage', storage], { cwd });
    expect(users.code, users.stderr).toBe(0);
    expect(users.stdout.split('\n').filter((l) => /^admin\t/.test(l))).toHaveLength(1);
  });

  it('a record written through one node is read through the other at once, byte for byte', async () => {
    const store = await createStore(a, 'visible-everywhere');
    expect((await storeOn(b, store.id)).name).toBe('visible-everywhere');

    const json = Buffer.from('{"hello":"from node A","ü":"✓"}');
    expect((await putRecord(a, store.id, 'small', json, 'application/json; charset=utf-8')).status).toBe(201);
    const smallOnB = await getRecord(b, store.id, 'small');
    expect(smallOnB.status).toBe(200);
    expect(smallOnB.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(smallOnB.body.equals(json)).toBe(true);

    // Larger than one 1 MiB chunk, and not a whole number of chunks.
    const big = randomBytes(2 * 1024 * 1024 + 17);
    expect((await putRecord(b, store.id, 'big', big, 'application/x-big')).status).toBe(201);
    const bigOnA = await getRecord(a, store.id, 'big');
    expect(bigOnA.status).toBe(200);
    expect(bigOnA.headers['content-type']).toBe('application/x-big');
    expect(bigOnA.body.length).toBe(big.length);
    expect(sha256(bigOnA.body)).toBe(sha256(big));
    expect(await listKeys(a, store.id)).toEqual([
      { key: 'big', size: big.length },
      { key: 'small', size: json.length },
    ]);

    // A chunked value overwritten by a small one through the other node, then deleted.
    const replaced = Buffer.from('now small');
    expect((await putRecord(a, store.id, 'big', replaced, 'text/plain')).status).toBe(201);
    const replacedOnB = await getRecord(b, store.id, 'big');
    expect(replacedOnB.status).toBe(200);
    expect(replacedOnB.body.equals(replaced)).toBe(true);
    expect((await deleteRecord(b, store.id, 'big')).status).toBe(204);
    expect((await getRecord(a, store.id, 'big')).status).toBe(404);
    expect(await listKeys(b, store.id)).toEqual([{ key: 'small', size: json.length }]);

    for (const node of [a, b]) {
      const { stats } = await storeOn(node, store.id);
      expect(stats).toMatchObject({ writeCount: 3, deleteCount: 1, storageBytes: json.length });
    }
  });

  it('get-or-create of one name from both nodes at once yields one store', async () => {
    for (const name of ['together-1', 'together-2', 'together-3']) {
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => api(i % 2 === 0 ? a : b, `?name=${name}`, { method: 'POST' })),
      );
      const statuses = answers.map((r) => r.status);
      expect(
        statuses.filter((s) => s === 201),
        `statuses for ${name}: ${statuses.join(',')}`,
      ).toHaveLength(1);
      expect(statuses.filter((s) => s === 200)).toHaveLength(19);
      const ids = new Set(answers.map((r) => dataOf<StoreJson>(r).id));
      expect(ids.size).toBe(1);
      for (const node of [a, b]) {
        const listed = dataOf<{ items: StoreJson[] }>(await api(node, '?limit=1000')).items;
        expect(listed.filter((s) => s.name === name).map((s) => s.id)).toEqual([...ids]);
      }
    }
  });

  it('a store renamed through one node is found under its new name through the other', async () => {
    const store = await createStore(a, 'before-rename');
    expect((await putRecord(a, store.id, 'k', Buffer.from('kept'), 'text/plain')).status).toBe(201);
    expect((await api(b, '/~before-rename')).status).toBe(200);

    const renamed = await api(a, `/${store.id}`, {
      method: 'PUT',
      body: JSON.stringify({ name: 'after-rename' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(renamed.status).toBe(200);

    const byNewName = await api(b, '/~after-rename');
    expect(byNewName.status).toBe(200);
    expect(dataOf<StoreJson>(byNewName)).toMatchObject({ id: store.id, name: 'after-rename' });
    const record = await api(b, '/~after-rename/records/k');
    expect(record.status).toBe(200);
    expect(record.body.toString()).toBe('kept');
    const byOldName = await api(b, '/~before-rename');
    expect(byOldName.status).toBe(404);
    expect(byOldName.json.error.type).toBe('record-not-found');
    // The old name is free again on both nodes: get-or-create makes a new store.
    const reused = await api(b, '?name=before-rename', { method: 'POST' });
    expect(reused.status).toBe(201);
    expect(dataOf<StoreJson>(reused).id).not.toBe(store.id);
  });
});

describe('users and tokens made by the CLI on the PostgreSQL URL', () => {
  const listStores = (node: ServeProcess, token: string) => http(`${node.origin}/v2/key-value-stores`, { token });

  it('a new user works on both nodes at once; a revoked token stops working on both at once', async () => {
    const created = await runCli(['users', 'create', 'carol', '--storage', storage], { cwd });
    expect(created.code, created.stderr).toBe(0);
    const carol = lastLine(created.stdout);
    for (const node of [a, b]) expect((await listStores(node, carol)).status).toBe(200);
    const own = await http(`${b.origin}/v2/key-value-stores?name=carols`, { method: 'POST', token: carol });
    expect(own.status).toBe(201);
    const carolsStore = dataOf<StoreJson>(own).id;
    expect(dataOf<{ items: StoreJson[] }>(await listStores(a, carol)).items.map((s) => s.id)).toEqual([carolsStore]);
    // Another user's store: the admin gets 403 on writes to it, through either node.
    const foreign = await putRecord(a, carolsStore, 'x', Buffer.from('x'), 'text/plain');
    expect(foreign.status).toBe(403);

    const second = await runCli(['tokens', 'create', 'carol', '--storage', storage], { cwd });
    expect(second.code, second.stderr).toBe(0);
    const extra = lastLine(second.stdout);
    // Used on both nodes before the revocation, so that nothing a node remembers can keep it alive.
    for (const node of [a, b]) expect((await listStores(node, extra)).status).toBe(200);

    const revoked = await runCli(['tokens', 'revoke', extra, '--storage', storage], { cwd });
    expect(revoked.code, revoked.stderr).toBe(0);
    for (const node of [a, b]) {
      const after = await listStores(node, extra);
      expect(after.status).toBe(401);
      expect(after.json.error.type).toBe('user-or-token-not-found');
      const write = await http(`${node.origin}/v2/key-value-stores/${carolsStore}/records/y`, {
        method: 'PUT',
        token: extra,
        body: 'y',
      });
      expect(write.status).toBe(401);
      // Carol's first token and the admin's are untouched.
      expect((await listStores(node, carol)).status).toBe(200);
      expect((await listStores(node, ADMIN_TOKEN)).status).toBe(200);
    }
    // The refused write stored nothing.
    const y = await http(`${b.origin}/v2/key-value-stores/${carolsStore}/records/y`, { token: carol });
    expect(y.status).toBe(404);
  });
});

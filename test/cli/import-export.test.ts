import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { MemoryStorage } from '@crawlee/memory-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BIN,
  cleanEnv,
  cleanupAll,
  ensureBuilt,
  freePort,
  http,
  lastLine,
  runCli,
  type ServeProcess,
  startServe,
  tempDir,
} from './helpers.js';

const TOKEN = 'import-export-tests-admin-token';

/** One server for the file; import and export run beside it on the same SQLite file. */
let cwd: string;
let storage: string;
let server: ServeProcess;
let bobToken: string;

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
  const bob = await runCli(['users', 'create', 'bob', '--storage', storage], { cwd });
  expect(bob.code, bob.stderr).toBe(0);
  bobToken = lastLine(bob.stdout);
});
afterAll(cleanupAll);

const cli = (args: string[]) => runCli([...args, '--storage', storage], { cwd, timeoutMs: 60_000 });
const api = (path: string, token = TOKEN, method = 'GET') =>
  http(`${server.origin}/v2/key-value-stores${path}`, { token, method });

async function createStore(name: string | undefined, token = TOKEN): Promise<string> {
  const res = await api(name === undefined ? '' : `?name=${name}`, token, 'POST');
  expect(res.status).toBe(201);
  return res.json.data.id;
}

async function putRecord(storeId: string, key: string, body: Buffer, headers: Record<string, string>, token = TOKEN) {
  const res = await http(`${server.origin}/v2/key-value-stores/${storeId}/records/${key}`, {
    method: 'PUT',
    token,
    headers,
    body,
  });
  expect(res.status, `PUT ${key}`).toBe(201);
}

/** Every key of a store, through the key list API. */
async function keysOf(storeId: string, token = TOKEN): Promise<string[]> {
  const keys: string[] = [];
  let start = '';
  for (;;) {
    const res = await http(
      `${server.origin}/v2/key-value-stores/${storeId}/keys?limit=1000${start ? `&exclusiveStartKey=${start}` : ''}`,
      { token },
    );
    const data = JSON.parse(res.body.toString()).data as { items: { key: string }[]; nextExclusiveStartKey: string | null };
    keys.push(...data.items.map((i) => i.key));
    if (!data.nextExclusiveStartKey) return keys;
    start = data.nextExclusiveStartKey;
  }
}

/** The id of a user's store by name, or undefined when it does not exist. */
async function storeIdOf(name: string, token = TOKEN): Promise<string | undefined> {
  const res = await api(`/~${name}`, token);
  return res.status === 200 ? res.json.data.id : undefined;
}

interface Expected {
  key: string;
  body: Buffer;
  contentType: string;
}

/** Reads each record through the HTTP API and compares bytes and Content-Type. */
async function expectRecords(storeId: string, expected: Expected[], token = TOKEN) {
  expect((await keysOf(storeId, token)).sort()).toEqual(expected.map((e) => e.key).sort());
  for (const e of expected) {
    const res = await http(`${server.origin}/v2/key-value-stores/${storeId}/records/${e.key}`, { token });
    expect(res.status, e.key).toBe(200);
    expect(res.headers['content-type'], e.key).toBe(e.contentType);
    expect(res.body.equals(e.body), `bytes of ${e.key}`).toBe(true);
    // The same strong ETag as an upload of those bytes gets.
    expect(res.headers.etag, e.key).toBe(`"${createHash('sha256').update(e.body).digest('base64url')}"`);
  }
}

describe('export', () => {
  const crawl: (Expected & { headers?: Record<string, string>; sent?: Buffer })[] = [
    { key: 'INPUT', contentType: 'application/json; charset=utf-8', body: Buffer.from('{"start":"https://example.com"}') },
    { key: 'page-1', contentType: 'text/html', body: Buffer.from('<!doctype html><p>héllo</p>') },
    { key: 'screenshot', contentType: 'image/png', body: randomBytes(5000) },
    // A key that already ends in its extension, and one that is an extension.
    { key: 'photo.png', contentType: 'image/png', body: randomBytes(100) },
    { key: 'json', contentType: 'application/json', body: Buffer.from('[1,2,3]') },
    { key: "it's(1)!", contentType: 'text/plain', body: Buffer.from('quotes') },
    // Large enough to be stored as a file and read as a stream.
    { key: 'large', contentType: 'application/octet-stream', body: randomBytes(600 * 1024) },
    { key: 'odd-type', contentType: 'application/x-openkvs-test', body: Buffer.from('odd') },
    { key: 'invalid-json', contentType: 'application/json', body: Buffer.from('{not json') },
  ];
  const state = {
    key: 'state',
    contentType: 'application/json',
    body: Buffer.from(JSON.stringify({ n: 1, s: 'x'.repeat(500) })),
  };
  let crawlId: string;
  let unnamedId: string;
  let bobStoreId: string;

  beforeAll(async () => {
    crawlId = await createStore('crawl');
    for (const r of crawl) await putRecord(crawlId, r.key, r.body, { 'content-type': r.contentType });
    // Stored gzip-compressed; exported as a client that accepts no encoding reads it.
    await putRecord(crawlId, state.key, gzipSync(state.body), { 'content-type': state.contentType, 'content-encoding': 'gzip' });
    // Its file would read back as a metadata file, and the other's name is too long for a file:
    // both are reported and skipped.
    await putRecord(crawlId, 'x.__metadata__', Buffer.from('x'), { 'content-type': 'text/plain' });
    await putRecord(crawlId, 'L'.repeat(250), Buffer.from('long'), { 'content-type': 'text/plain' });
    unnamedId = await createStore(undefined);
    await putRecord(unnamedId, 'k', Buffer.from('in an unnamed store'), { 'content-type': 'text/plain' });
    bobStoreId = await createStore('bobs', bobToken);
    await putRecord(bobStoreId, 'b', Buffer.from('bob'), { 'content-type': 'text/plain' }, bobToken);
  });

  it("writes admin's stores so that @crawlee/memory-storage reads every value byte-exact", async () => {
    const dir = tempDir();
    const result = await cli(['export', dir]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/skipped .*x\.__metadata__/);
    expect(result.stderr).toMatch(/skipped .*L{250}/);
    expect(result.stderr.trim().split('\n')).toHaveLength(2);
    expect(lastLine(result.stdout)).toMatch(/^Exported 11 records of 2 stores/);
    expect(readdirSync(join(dir, 'key_value_stores')).sort()).toEqual([unnamedId, 'crawl'].sort());

    const local = new MemoryStorage({ localDataDirectory: dir, persistStorage: false, writeMetadata: false });
    const client = local.keyValueStore('crawl');
    expect((await client.get())?.name).toBe('crawl');
    const all = [...crawl, state];
    const keys = (await client.listKeys()).items.map((i) => i.key);
    expect(keys.sort()).toEqual(all.map((r) => r.key).sort());
    for (const r of all) {
      const record = await client.getRecord(r.key, { buffer: true });
      expect(record?.contentType, r.key).toBe(r.contentType);
      expect(Buffer.isBuffer(record?.value) && record.value.equals(r.body), `bytes of ${r.key}`).toBe(true);
    }
    const unnamed = await local.keyValueStore(unnamedId).getRecord('k', { buffer: true });
    expect(unnamed?.value).toEqual(Buffer.from('in an unnamed store'));
  });

  it('--store picks stores by name or id; --user exports that user', async () => {
    const dir = tempDir();
    const picked = await cli(['export', dir, '--store', unnamedId]);
    expect(picked.code, picked.stderr).toBe(0);
    expect(readdirSync(join(dir, 'key_value_stores'))).toEqual([unnamedId]);

    const bobs = tempDir();
    const result = await cli(['export', bobs, '--user', 'bob']);
    expect(result.code, result.stderr).toBe(0);
    expect(readdirSync(join(bobs, 'key_value_stores'))).toEqual(['bobs']);
    const record = await new MemoryStorage({ localDataDirectory: bobs, persistStorage: false })
      .keyValueStore('bobs')
      .getRecord('b', { buffer: true });
    expect(record?.value).toEqual(Buffer.from('bob'));

    const missing = await cli(['export', tempDir(), '--store', 'no-such-store']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/no-such-store/);
  });

  it('refuses a store folder that already has files, and writes nothing', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'key_value_stores', 'crawl'), { recursive: true });
    writeFileSync(join(dir, 'key_value_stores', 'crawl', 'stale.txt'), 'old');
    const result = await cli(['export', dir]);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/crawl/);
    expect(readdirSync(join(dir, 'key_value_stores'))).toEqual(['crawl']);
    expect(readdirSync(join(dir, 'key_value_stores', 'crawl'))).toEqual(['stale.txt']);
  });
});

/** Writes records with memory-storage's client API and waits until they are on disk. */
async function writeWithMemoryStorage(writeMetadata: boolean, storeName: string) {
  const dir = tempDir();
  const local = new MemoryStorage({ localDataDirectory: dir, persistStorage: true, writeMetadata });
  const { id } = await local.keyValueStores().getOrCreate(storeName);
  const store = local.keyValueStore(id);
  const png = randomBytes(2048);
  const blob = randomBytes(300 * 1024);
  await store.setRecord({ key: 'INPUT', value: { startUrls: ['https://crawlee.dev'] } });
  await store.setRecord({ key: 'OUTPUT', value: 'done' });
  await store.setRecord({ key: 'screenshot', value: png, contentType: 'image/png' });
  await store.setRecord({ key: 'page', value: '<p>x</p>', contentType: 'text/html' });
  await store.setRecord({ key: 'blob', value: blob });
  await store.setRecord({ key: 'json', value: { x: 1 } });
  await store.setRecord({ key: 'SDK_CRAWLER_STATISTICS_0', value: { requestsFinished: 3 } });
  // A key that ends in its extension is written to a file of that name; only the metadata then
  // tells that the file holds the key "photo.png" and not "photo".
  const photo = randomBytes(64);
  if (writeMetadata) await store.setRecord({ key: 'photo.png', value: photo, contentType: 'image/png' });
  await local.teardown();
  const json = (v: unknown) => Buffer.from(JSON.stringify(v, null, 2));
  const expected: Expected[] = [
    { key: 'INPUT', body: json({ startUrls: ['https://crawlee.dev'] }), contentType: 'application/json; charset=utf-8' },
    { key: 'OUTPUT', body: Buffer.from('done'), contentType: 'text/plain; charset=utf-8' },
    { key: 'screenshot', body: png, contentType: 'image/png' },
    // Without metadata the type comes from the extension, which says the charset too.
    { key: 'page', body: Buffer.from('<p>x</p>'), contentType: writeMetadata ? 'text/html' : 'text/html; charset=utf-8' },
    { key: 'blob', body: blob, contentType: 'application/octet-stream' },
    { key: 'json', body: json({ x: 1 }), contentType: 'application/json; charset=utf-8' },
    { key: 'SDK_CRAWLER_STATISTICS_0', body: json({ requestsFinished: 3 }), contentType: 'application/json; charset=utf-8' },
  ];
  if (writeMetadata) expected.push({ key: 'photo.png', body: photo, contentType: 'image/png' });
  return { dir, expected };
}

describe('import', () => {
  it('reads what @crawlee/memory-storage wrote with its default settings (no metadata files)', async () => {
    const { dir, expected } = await writeWithMemoryStorage(false, 'crawlee-run');
    const result = await cli(['import', dir]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    expect(lastLine(result.stdout)).toMatch(/^Imported 7 records into 1 store/);
    const id = await storeIdOf('crawlee-run');
    expect(id).toBeDefined();
    await expectRecords(id!, expected);
  });

  it('reads the metadata files memory-storage writes with writeMetadata (content types exactly as set)', async () => {
    const { dir, expected } = await writeWithMemoryStorage(true, 'with-metadata');
    expect(existsSync(join(dir, 'key_value_stores', 'with-metadata', 'INPUT.__metadata__.json'))).toBe(true);
    const result = await cli(['import', dir]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    await expectRecords((await storeIdOf('with-metadata'))!, expected);
  });

  it('imports for --user, only the folders --store names, and again into the same store', async () => {
    const { dir, expected } = await writeWithMemoryStorage(false, 'for-bob');
    mkdirSync(join(dir, 'key_value_stores', 'not-this-one'));
    writeFileSync(join(dir, 'key_value_stores', 'not-this-one', 'a.txt'), 'a');
    for (let round = 0; round < 2; round++) {
      const result = await cli(['import', dir, '--user', 'bob', '--store', 'for-bob']);
      expect(result.code, result.stderr).toBe(0);
    }
    const stores = await api('?unnamed=1', bobToken);
    const names = (stores.json.data.items as { name: string | null }[]).map((s) => s.name);
    expect(names.filter((n) => n === 'for-bob')).toHaveLength(1);
    expect(names).not.toContain('not-this-one');
    await expectRecords((await storeIdOf('for-bob', bobToken))!, expected, bobToken);
    expect(await storeIdOf('for-bob')).toBeUndefined();
  });

  it('reports and skips keys that are not record keys and folders that are not store names', async () => {
    const dir = tempDir();
    const good = join(dir, 'key_value_stores', 'good');
    mkdirSync(good, { recursive: true });
    writeFileSync(join(good, 'ok.txt'), 'fine');
    writeFileSync(join(good, 'bad key.txt'), 'space');
    writeFileSync(join(good, 'plus+sign.txt'), 'plus');
    mkdirSync(join(dir, 'key_value_stores', 'Bad_Store'));
    writeFileSync(join(dir, 'key_value_stores', 'Bad_Store', 'x.txt'), 'x');

    const result = await cli(['import', dir]);
    expect(result.code, result.stderr).toBe(0);
    const warnings = result.stderr.trim().split('\n');
    expect(warnings).toHaveLength(3);
    expect(result.stderr).toContain('"bad key"');
    expect(result.stderr).toContain('"plus+sign"');
    expect(result.stderr).toContain('"Bad_Store"');
    expect(lastLine(result.stdout)).toMatch(/skipped 3/);
    await expectRecords((await storeIdOf('good'))!, [
      { key: 'ok', body: Buffer.from('fine'), contentType: 'text/plain; charset=utf-8' },
    ]);
  });

  it('imports a few thousand records, drawing no progress bar when standard error is not a terminal', async () => {
    const dir = tempDir();
    const folder = join(dir, 'key_value_stores', 'many');
    mkdirSync(folder, { recursive: true });
    const n = 2500;
    for (let i = 0; i < n; i++) writeFileSync(join(folder, `item-${i}.json`), JSON.stringify({ i }));
    const result = await cli(['import', dir]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toContain('\x1b[');
    const id = (await storeIdOf('many'))!;
    const keys = await keysOf(id);
    expect(keys).toHaveLength(n);
    expect(new Set(keys).size).toBe(n);
    const sample = await http(`${server.origin}/v2/key-value-stores/${id}/records/item-1234`, { token: TOKEN });
    expect(sample.body.toString()).toBe('{"i":1234}');
  });

  const hasScript = spawnSync('script', ['--version']).status === 0;
  it.skipIf(!hasScript)('draws a progress bar when standard error is a terminal', async () => {
    const dir = tempDir();
    const folder = join(dir, 'key_value_stores', 'on-a-terminal');
    mkdirSync(folder, { recursive: true });
    for (let i = 0; i < 50; i++) writeFileSync(join(folder, `r-${i}.txt`), `${i}`);
    // `script` runs the command on a pseudo-terminal and copies what it shows.
    const command = [process.execPath, BIN, 'import', dir, '--storage', storage].join(' ');
    const run = spawnSync('script', ['-qec', command, '/dev/null'], { cwd, env: cleanEnv(), encoding: 'utf8', timeout: 30_000 });
    expect(run.status, run.stdout).toBe(0);
    expect(run.stdout).toMatch(/import \[[^\]]+\] 100% \| 50\/50 records/);
  });

  it('fails with one line when DIR has no key_value_stores folder', async () => {
    const result = await cli(['import', tempDir()]);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/key_value_stores/);
  });
});

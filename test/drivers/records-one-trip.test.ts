import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKvs, type Kvs } from '../../src/domain/index.js';
import { createApp } from '../../src/http/app.js';
import { PostgresDriver } from '../../src/storage/postgres/index.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { freshSchema } from '../helpers/postgres.js';

/**
 * A small PUT on PostgreSQL sends its access check with the write (one round trip); SQLite looks
 * up first. Whatever the path, the answers and their order are the same: the refusal first (401,
 * then 404, then 403), then what is wrong with the headers or the body, then the precondition.
 */

const BODY = Buffer.from('{"hello":"world"}');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Case {
  name: string;
  token?: 'alice' | 'bob' | 'revoked' | 'unknown' | 'long';
  store?: 'own' | 'by-name' | 'by-owner-name' | 'missing' | 'bad-id';
  headers?: Record<string, string>;
  /** PUT the record first, so that it exists. */
  existing?: boolean;
}

const LONG_TYPE = `text/${'x'.repeat(1100)}`;
const BAD_DIGEST = { 'x-content-sha256': sha256(Buffer.from('other')) };

const CASES: Case[] = [
  { name: 'written', token: 'alice' },
  { name: 'written by name', token: 'alice', store: 'by-name' },
  { name: "written by the owner's username and name", token: 'alice', store: 'by-owner-name' },
  { name: 'written over an existing record', token: 'alice', existing: true },
  { name: 'no token', headers: { 'content-type': LONG_TYPE } },
  { name: 'token too long', token: 'long', headers: BAD_DIGEST },
  { name: 'unknown token before a bad content type', token: 'unknown', headers: { 'content-type': LONG_TYPE } },
  { name: 'unknown token before a bad digest', token: 'unknown', headers: BAD_DIGEST },
  { name: 'revoked token', token: 'revoked' },
  { name: 'unknown token on a missing store', token: 'unknown', store: 'missing' },
  { name: 'missing store before a bad digest', token: 'alice', store: 'missing', headers: BAD_DIGEST },
  { name: 'impossible store id', token: 'alice', store: 'bad-id' },
  { name: "another user's store before a bad content type", token: 'bob', headers: { 'content-type': LONG_TYPE } },
  { name: "another user's store before a bad digest", token: 'bob', headers: BAD_DIGEST },
  { name: "another user's store by name", token: 'bob', store: 'by-owner-name' },
  { name: "another user's store before a failing precondition", token: 'bob', headers: { 'if-match': '"nope"' } },
  { name: 'bad content type', token: 'alice', headers: { 'content-type': LONG_TYPE } },
  { name: 'bad digest', token: 'alice', headers: BAD_DIGEST },
  { name: 'bad digest before a failing precondition', token: 'alice', headers: { ...BAD_DIGEST, 'if-match': '"nope"' } },
  { name: 'If-Match fails', token: 'alice', existing: true, headers: { 'if-match': '"nope"' } },
  { name: 'If-None-Match: * fails', token: 'alice', existing: true, headers: { 'if-none-match': '*' } },
  { name: 'If-None-Match: * holds', token: 'alice', headers: { 'if-none-match': '*' } },
];

interface Side {
  ctx: TestContext;
  revoked: string;
  store: { id: string; name: string | null };
}

async function side(driver: 'sqlite' | 'postgres'): Promise<Side> {
  const ctx = await createTestContext({ driver });
  const user = await ctx.kvs.users.byName('alice');
  const revoked = (await ctx.kvs.users.addToken(user?.id ?? '')).token;
  await ctx.kvs.users.revoke(revoked);
  return { ctx, revoked, store: await ctx.createStore('one-trip') };
}

async function run(s: Side, c: Case, i: number): Promise<{ status: number; type?: string; body?: string }> {
  const tokens = { alice: s.ctx.alice, bob: s.ctx.bob, revoked: s.revoked, unknown: 'apify_api_unknown', long: 'x'.repeat(600) };
  const ref = {
    own: s.store.id,
    'by-name': '~one-trip',
    'by-owner-name': 'alice~one-trip',
    missing: 'AAAAAAAAAAAAAAAAA',
    'bad-id': 'no!such!id',
  }[c.store ?? 'own'];
  const url = `/v2/key-value-stores/${ref}/records/k${i}`;
  if (c.existing) {
    const res = await s.ctx.request({ method: 'PUT', url, token: s.ctx.alice, payload: Buffer.from('old') });
    expect(res.statusCode).toBe(201);
  }
  const token = c.token && tokens[c.token];
  const res: LightMyRequestResponse = await s.ctx.request({
    method: 'PUT',
    url,
    token,
    payload: BODY,
    headers: { 'content-type': 'application/json', ...c.headers },
  });
  if (res.statusCode !== 201) return { status: res.statusCode, type: res.json().error?.type };
  expect(res.headers.location).toBe(`http://openkvs.test/v2/key-value-stores/${s.store.id}/records/k${i}`);
  const read = await s.ctx.request({ method: 'GET', url, token: s.ctx.alice });
  return { status: res.statusCode, body: read.body };
}

describe('a small PUT: the same answers whether its access check travels with the write or not', () => {
  let sqlite: Side;
  let pg: Side;
  beforeAll(async () => {
    [sqlite, pg] = await Promise.all([side('sqlite'), side('postgres')]);
  });
  afterAll(async () => {
    await sqlite?.ctx.close();
    await pg?.ctx.close();
  });

  it('takes one round trip on PostgreSQL only', () => {
    expect(pg.ctx.kvs.records.smallPutMaxBytes).toBeGreaterThan(BODY.length);
    expect(sqlite.ctx.kvs.records.smallPutMaxBytes).toBe(0);
  });

  CASES.forEach((c, i) => {
    it(c.name, async () => {
      const [a, b] = await Promise.all([run(sqlite, c, i), run(pg, c, i)]);
      expect(b).toEqual(a);
    });
  });

  it('counts the write in the store statistics on both', async () => {
    const stats = async (s: Side) =>
      (await s.ctx.request({ url: `/v2/key-value-stores/${s.store.id}`, token: s.ctx.alice })).json().data.stats;
    const [a, b] = await Promise.all([stats(sqlite), stats(pg)]);
    expect(b.writeCount).toBe(a.writeCount);
    expect(b.storageBytes).toBe(a.storageBytes);
    expect(b.writeCount).toBeGreaterThan(0);
  });
});

/** A TCP proxy in front of PostgreSQL that counts what the client ends its round trips with: Sync and simple Query messages. */
async function countingProxy(
  host: string,
  port: number,
): Promise<{ port: number; trips: () => number; close: () => Promise<void> }> {
  let trips = 0;
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    const backend = tcpConnect(port, host);
    for (const s of [client, backend]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => s.destroy());
    }
    let pending = Buffer.alloc(0);
    let startup = true;
    client.on('data', (data: Buffer) => {
      pending = Buffer.concat([pending, data]);
      for (;;) {
        const head = startup ? 4 : 5;
        if (pending.length < head) break;
        const length = pending.readInt32BE(startup ? 0 : 1) + (startup ? 0 : 1);
        if (pending.length < length) break;
        const type = startup ? undefined : String.fromCharCode(pending[0] as number);
        // An SSLRequest is followed by the startup message itself.
        if (startup && !(length === 8 && pending.readInt32BE(4) === 80877103)) startup = false;
        if (type === 'S' || type === 'Q') trips++;
        pending = pending.subarray(length);
      }
    });
    client.pipe(backend);
    backend.pipe(client);
    client.on('close', () => backend.destroy());
    backend.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    trips: () => trips,
    close: () => {
      for (const s of open) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe('round trips to PostgreSQL per record request', () => {
  let kvs: Kvs;
  let driver: PostgresDriver;
  let app: ReturnType<typeof createApp>;
  let proxy: Awaited<ReturnType<typeof countingProxy>>;
  let drop: () => Promise<void>;
  let token: string;
  let storeId: string;

  beforeAll(async () => {
    const schema = await freshSchema();
    drop = schema.drop;
    const url = new URL(schema.url);
    proxy = await countingProxy(url.hostname, Number(url.port));
    url.host = `127.0.0.1:${proxy.port}`;
    // One connection: each statement is prepared once, on it; statistics are not flushed meanwhile.
    driver = await PostgresDriver.connect({ url: url.toString(), poolSize: 1, sweepIntervalMs: 0 });
    kvs = createKvs({ driver, publicUrl: () => 'http://openkvs.test', statsIntervalMs: 3_600_000 });
    app = createApp({ kvs, publicUrl: () => 'http://openkvs.test', maxRecordBytes: 1 << 20 });
    token = (await kvs.users.create('alice')).token;
    const res = await app.inject({ method: 'POST', url: '/v2/key-value-stores', headers: { authorization: `Bearer ${token}` } });
    storeId = res.json().data.id;
  });
  afterAll(async () => {
    await app?.close();
    await kvs?.close();
    await driver?.close();
    await proxy?.close();
    await drop?.();
  });

  const trips = async (method: 'GET' | 'PUT', key: string, payload?: Buffer) => {
    const before = proxy.trips();
    const res = await app.inject({
      method,
      url: `/v2/key-value-stores/${storeId}/records/${key}`,
      headers: { authorization: `Bearer ${token}` },
      payload,
    });
    expect(res.statusCode).toBe(method === 'PUT' ? 201 : 200);
    return proxy.trips() - before;
  };

  it('a small PUT (new key, existing key) and a GET take one each', async () => {
    // The first of each prepares its statement.
    await trips('PUT', 'warm', BODY);
    await trips('GET', 'warm');
    expect(await trips('PUT', 'new', BODY)).toBe(1);
    expect(await trips('PUT', 'new', Buffer.from('again'))).toBe(1);
    expect(await trips('GET', 'new')).toBe(1);
  });
});

import type { AddressInfo } from 'node:net';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import type { AccountAccess } from '../../src/domain/access.js';
import { createKvs, type Kvs } from '../../src/domain/index.js';
import { type AppOptions, createApp } from '../../src/http/app.js';
import type { StorageDriver } from '../../src/storage/driver.js';
import { PostgresDriver } from '../../src/storage/postgres/index.js';
import { SqliteDriver } from '../../src/storage/sqlite/index.js';
import { freshSchema } from './postgres.js';

export const PUBLIC_URL = 'http://openkvs.test';

export interface TestContext {
  app: FastifyInstance;
  kvs: Kvs;
  driver: StorageDriver;
  /** Tokens of two ordinary users, `alice` and `bob`. */
  alice: string;
  bob: string;
  /** `app.inject` with `Authorization: Bearer <token>` when a token is given. */
  request(opts: InjectOptions & { token?: string }): Promise<LightMyRequestResponse>;
  /** Creates a store owned by alice (or `token`'s user) and returns its API object. */
  createStore(name?: string, token?: string): Promise<{ id: string; name: string | null; urlSigningSecretKey: string }>;
  /** Starts listening on a free port on 127.0.0.1; returns the origin. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export interface TestContextOptions {
  maxRecordBytes?: number;
  accountAccess?: AccountAccess;
  /** SQLite file path (the test is then about SQLite whatever the driver under test). */
  path?: string;
  /** Passed to `createApp` as given (its defaults when absent). */
  rateLimits?: AppOptions['rateLimits'];
  corsOrigins?: AppOptions['corsOrigins'];
  timeouts?: AppOptions['timeouts'];
  /** The driver, whatever `OPENKVS_TEST_DRIVER` says (tests that compare the drivers). */
  driver?: 'sqlite' | 'postgres';
}

/** The driver the HTTP tests run on: `OPENKVS_TEST_DRIVER=postgres` or SQLite in memory. */
export const TEST_DRIVER = process.env.OPENKVS_TEST_DRIVER === 'postgres' ? 'postgres' : 'sqlite';

async function openDriver(
  path: string | undefined,
  kind: 'sqlite' | 'postgres' = TEST_DRIVER,
): Promise<{ driver: StorageDriver; cleanup: () => Promise<void> }> {
  if (path !== undefined || kind === 'sqlite') {
    return { driver: new SqliteDriver({ path: path ?? ':memory:' }), cleanup: async () => undefined };
  }
  const schema = await freshSchema();
  const driver = await PostgresDriver.connect({ url: schema.url, poolSize: 4, sweepIntervalMs: 0 });
  return { driver, cleanup: schema.drop };
}

/**
 * A fresh in-process openkvs, with users alice and bob, on SQLite in memory or (with
 * `OPENKVS_TEST_DRIVER=postgres`) on a new PostgreSQL schema.
 */
export async function createTestContext(options: TestContextOptions = {}): Promise<TestContext> {
  const { driver, cleanup } = await openDriver(options.path, options.driver);
  const publicUrl = () => PUBLIC_URL;
  const kvs = createKvs({ driver, publicUrl, accountAccess: options.accountAccess });
  const app = createApp({
    kvs,
    publicUrl,
    maxRecordBytes: options.maxRecordBytes ?? 104_857_600,
    rateLimits: options.rateLimits,
    corsOrigins: options.corsOrigins,
    timeouts: options.timeouts,
  });
  const alice = (await kvs.users.create('alice')).token;
  const bob = (await kvs.users.create('bob')).token;
  const request: TestContext['request'] = ({ token, headers, ...rest }) =>
    app.inject({ ...rest, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
  return {
    app,
    kvs,
    driver,
    alice,
    bob,
    request,
    async createStore(name, token = alice) {
      const res = await request({
        method: 'POST',
        url: name === undefined ? '/v2/key-value-stores' : `/v2/key-value-stores?name=${name}`,
        token,
      });
      if (res.statusCode !== 201 && res.statusCode !== 200) throw new Error(`create store failed: ${res.statusCode} ${res.body}`);
      return res.json().data;
    },
    async listen() {
      await app.listen({ host: '127.0.0.1', port: 0 });
      return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    },
    async close() {
      await app.close();
      await kvs.close();
      await driver.close();
      await cleanup();
    },
  };
}

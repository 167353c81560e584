import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import { freePort } from '../cli/helpers.js';
import { type HttpOptions, type HttpResult, http, type ServeProcess, startServe } from '../helpers/cli.js';
import { sleep } from '../helpers/time.js';

/** Helpers of the multi-node tests: several built `openkvs serve` processes on one PostgreSQL. */

/** The admin token every node of a test is started with (the same user on every node). */
export const ADMIN_TOKEN = 'multinode-admin-token-0123456789abcdef';

export interface StartNodesOptions {
  /** Spawn every node at once instead of one after the other (default false). */
  together?: boolean;
  /** Wait until each node answers /health (default true). */
  wait?: boolean;
  /** Start with `--admin-token ADMIN_TOKEN` (default true). */
  adminToken?: boolean;
}

/** Starts `count` nodes on the PostgreSQL URL `storage`, each on its own port. */
export async function startNodes(
  storage: string,
  count: number,
  cwd: string,
  options: StartNodesOptions = {},
): Promise<ServeProcess[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = await freePort();
    if (!ports.includes(port)) ports.push(port);
  }
  const start = async (port: number) => {
    const node = await startServe(
      [
        ...['--storage', storage, '--port', String(port), '--pg-pool-size', '8', '--log-level', 'warn'],
        ...(options.adminToken === false ? [] : ['--admin-token', ADMIN_TOKEN]),
      ],
      { cwd, port, wait: options.wait },
    );
    if (options.wait !== false) await waitListening(node);
    return node;
  };
  if (options.together) return Promise.all(ports.map(start));
  const nodes: ServeProcess[] = [];
  for (const port of ports) nodes.push(await start(port));
  return nodes;
}

/**
 * Waits for the line a node prints once it has set up the admin user and token. /health answers
 * earlier (see multinode-start.test.ts), so tests that use the admin token at once wait for this.
 */
export async function waitListening(node: ServeProcess, ms = 10_000): Promise<void> {
  await node.waitOutput(/listening on/, ms);
}

export const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** `path` (under /v2/key-value-stores) on `node`, as the admin unless another token is given. */
export function api(node: ServeProcess, path: string, options: HttpOptions = {}): Promise<HttpResult> {
  return http(`${node.origin}/v2/key-value-stores${path}`, { token: ADMIN_TOKEN, ...options });
}

export interface StoreJson {
  id: string;
  name: string | null;
  stats: { readCount: number; writeCount: number; deleteCount: number; listCount: number; storageBytes: number };
}

/** The `data` of a JSON response. */
export function dataOf<T>(res: HttpResult): T {
  return (JSON.parse(res.body.toString('utf8')) as { data: T }).data;
}

/** Creates (or gets) the admin's store `name` through `node`. */
export async function createStore(node: ServeProcess, name: string): Promise<StoreJson> {
  const res = await api(node, `?name=${name}`, { method: 'POST' });
  if (res.status !== 201 && res.status !== 200) throw new Error(`creating store ${name}: ${res.status} ${res.body.toString()}`);
  return dataOf<StoreJson>(res);
}

/** The store object as `node` shows it to the admin. */
export async function storeOn(node: ServeProcess, storeId: string): Promise<StoreJson> {
  const res = await api(node, `/${storeId}`);
  if (res.status !== 200) throw new Error(`GET store ${storeId}: ${res.status} ${res.body.toString()}`);
  return dataOf<StoreJson>(res);
}

export function putRecord(node: ServeProcess, storeId: string, key: string, body: Buffer, contentType: string) {
  return api(node, `/${storeId}/records/${key}`, { method: 'PUT', body, headers: { 'content-type': contentType } });
}

export function getRecord(node: ServeProcess, storeId: string, key: string) {
  return api(node, `/${storeId}/records/${key}`);
}

export function deleteRecord(node: ServeProcess, storeId: string, key: string) {
  return api(node, `/${storeId}/records/${key}`, { method: 'DELETE' });
}

/** The keys page of a store as `node` lists it (one page of up to 1000 keys). */
export async function listKeys(node: ServeProcess, storeId: string): Promise<{ key: string; size: number }[]> {
  const res = await api(node, `/${storeId}/keys?limit=1000`);
  if (res.status !== 200) throw new Error(`GET keys: ${res.status} ${res.body.toString()}`);
  return dataOf<{ items: { key: string; size: number }[] }>(res).items.map(({ key, size }) => ({ key, size }));
}

/**
 * Calls `read` until `done` holds of its result or `ms` passes; returns the last result either
 * way, so that the caller's assertion shows what was seen.
 */
export async function poll<T>(read: () => Promise<T>, done: (value: T) => boolean, ms: number): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() >= until) return value;
    await sleep(50);
  }
}

/**
 * How long any answer may take, PostgreSQL down or not: less than the 5 s apify-client gives its
 * shortest calls (get, deleteRecord) per attempt, so that a client sees the 503 and retries.
 */
export const ANSWER_MS = 3000;

export interface Timed {
  /** The answer; undefined when none came within the limit. */
  res: HttpResult | undefined;
  ms: number;
}

/**
 * Sends a request and measures how long its answer took. Waiting stops after `limitMs`, so that a
 * request that hangs fails its test at once rather than running into the test timeout.
 */
export async function timed(send: () => Promise<HttpResult>, limitMs = 5000): Promise<Timed> {
  const start = Date.now();
  const pending = send();
  pending.catch(() => undefined); // still pending when its node is killed at the end of a test
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), limitMs);
  });
  const res = await Promise.race([pending, gaveUp]);
  clearTimeout(timer);
  return { res, ms: Date.now() - start };
}

/** A 503 in the Apify envelope, with a Retry-After a client can wait for. */
export function expectUnavailable(what: string, answer: HttpResult | undefined, method = 'GET'): void {
  expect(answer, `${what}: no answer`).toBeDefined();
  const res = answer as HttpResult;
  expect(res.status, `${what}: ${res.body.toString()}`).toBe(503);
  expect(res.headers['retry-after'], what).toMatch(/^[1-9]\d*$/);
  if (method === 'HEAD') return;
  expect(res.headers['content-type'], what).toMatch(/^application\/json/);
  const body = JSON.parse(res.body.toString('utf8')) as { error: { type: string; message: unknown } };
  expect(body.error.type, what).toBe('service-unavailable');
  expect(typeof body.error.message, what).toBe('string');
}

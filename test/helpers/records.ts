import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { StoreStats } from '../../src/model.js';
import type { TestContext } from './context.js';

/** Helpers shared by the record endpoint tests (test/http/records*.test.ts). */

export const recordUrl = (storeId: string, key: string, query = '') =>
  `/v2/key-value-stores/${storeId}/records/${key}${query ? `?${query}` : ''}`;

export interface StoreObject {
  id: string;
  modifiedAt: string;
  accessedAt: string;
  stats: StoreStats;
}

/** PUTs (or POSTs) a record as alice unless another token is given. */
export function putRecord(
  ctx: TestContext,
  storeId: string,
  key: string,
  payload: Buffer | string,
  headers: Record<string, string> = {},
  opts: { method?: 'PUT' | 'POST'; token?: string } = {},
): Promise<LightMyRequestResponse> {
  return ctx.request({
    method: opts.method ?? 'PUT',
    url: recordUrl(storeId, key),
    token: opts.token ?? ctx.alice,
    headers,
    payload,
  });
}

/** GETs a record as alice; extra headers (e.g. Accept-Encoding) and query are optional. */
export function getRecord(
  ctx: TestContext,
  storeId: string,
  key: string,
  headers: Record<string, string> = {},
  query = '',
  method: InjectOptions['method'] = 'GET',
): Promise<LightMyRequestResponse> {
  return ctx.request({ method, url: recordUrl(storeId, key, query), token: ctx.alice, headers });
}

/** The store object as alice sees it. */
export async function getStore(ctx: TestContext, storeId: string): Promise<StoreObject> {
  const res = await ctx.request({ method: 'GET', url: `/v2/key-value-stores/${storeId}`, token: ctx.alice });
  expect(res.statusCode).toBe(200);
  return res.json().data as StoreObject;
}

/** Asserts an Apify error envelope with the given status and type. */
export function expectError(res: LightMyRequestResponse, status: number, type: string): void {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.json() as { error?: { type?: unknown; message?: unknown } };
  expect(body.error?.type).toBe(type);
  expect(typeof body.error?.message).toBe('string');
}

/** Asserts that a record reads back with exactly these bytes (identity encoding). */
export async function expectRecordBytes(ctx: TestContext, storeId: string, key: string, bytes: Buffer): Promise<void> {
  const res = await getRecord(ctx, storeId, key);
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-encoding']).toBeUndefined();
  expect(res.rawPayload.length).toBe(bytes.length);
  expect(res.rawPayload.equals(bytes)).toBe(true);
}

/** Every regular file below `dir` (recursively), as paths relative to it; [] when `dir` is missing. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (e.isDirectory()) out.push(...(await listFiles(join(dir, e.name))).map((f) => join(e.name, f)));
    else if (e.isFile()) out.push(e.name);
  }
  return out;
}

/** Deterministic pseudo-random bytes (xorshift32), so that failures are reproducible. */
export function pseudoRandomBytes(length: number, seed = 0x9e3779b9): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buf[i] = x & 0xff;
  }
  return buf;
}

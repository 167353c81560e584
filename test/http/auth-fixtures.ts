/**
 * Shared pieces of the authorization tests: the callers, the endpoints of each storage kind, what
 * the openkvs decisions (spec "openkvs decisions" 1, 2, 3, 9, 11, 18) say each combination must
 * answer, and checks of the storage's state after a request. Datasets follow the same rules as
 * key-value stores: one judgement for both kinds.
 */
import { randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { AccountAccess } from '../../src/domain/access.js';
import { requestId } from '../../src/domain/queues/requests.js';
import type { GeneralAccess, StorageKind } from '../../src/model.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

export type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';

export type CallerId = 'none' | 'basic' | 'bearer-empty' | 'unknown' | 'revoked' | 'bob' | 'alice' | 'alice-query';

export const CALLERS: readonly { caller: CallerId; label: string }[] = [
  { caller: 'none', label: 'no token' },
  { caller: 'basic', label: 'Authorization: Basic xyz' },
  { caller: 'bearer-empty', label: 'Authorization: Bearer (no token)' },
  { caller: 'unknown', label: 'a random unknown token' },
  { caller: 'revoked', label: "a revoked token of the owner's" },
  { caller: 'bob', label: "another user's token (bob)" },
  { caller: 'alice', label: "the owner's token (alice)" },
  { caller: 'alice-query', label: "the owner's token as ?token=" },
];

const BAD_TOKEN: readonly CallerId[] = ['basic', 'bearer-empty', 'unknown', 'revoked'];
const OWNER: readonly CallerId[] = ['alice', 'alice-query'];

export const isBadToken = (c: CallerId) => BAD_TOKEN.includes(c);
export const isOwner = (c: CallerId) => OWNER.includes(c);

/** A test server plus the extra tokens the callers need. */
export interface AuthContext {
  ctx: TestContext;
  aliceId: string;
  bobId: string;
  /** A token of alice's that was valid and has been revoked. */
  revoked: string;
  /** A well-formed token nobody holds. */
  unknown: string;
}

export async function createAuthContext(accountAccess?: AccountAccess): Promise<AuthContext> {
  const ctx = await createTestContext(accountAccess ? { accountAccess } : {});
  const alice = await ctx.kvs.users.byName('alice');
  const bob = await ctx.kvs.users.byName('bob');
  if (!alice || !bob) throw new Error('test users missing');
  const { token: revoked } = await ctx.kvs.users.addToken(alice.id);
  const before = await ctx.request({ method: 'GET', url: '/v2/key-value-stores', token: revoked });
  if (before.statusCode !== 200) throw new Error(`a fresh token does not work: ${before.statusCode}`);
  if (!(await ctx.kvs.users.revoke(revoked))) throw new Error('revoke failed');
  const unknown = `okvs_${randomBytes(30).toString('base64url')}`;
  return { ctx, aliceId: alice.id, bobId: bob.id, revoked, unknown };
}

export interface SendOptions {
  method: Method;
  url: string;
  payload?: string | Buffer;
  headers?: Record<string, string>;
}

/** Sends a request as `caller`. */
export function send(a: AuthContext, caller: CallerId, opts: SendOptions): Promise<LightMyRequestResponse> {
  const headers = { ...opts.headers };
  let url = opts.url;
  let token: string | undefined;
  if (caller === 'basic') headers.authorization = 'Basic xyz';
  else if (caller === 'bearer-empty') headers.authorization = 'Bearer';
  else if (caller === 'unknown') token = a.unknown;
  else if (caller === 'revoked') token = a.revoked;
  else if (caller === 'bob') token = a.ctx.bob;
  else if (caller === 'alice') token = a.ctx.alice;
  else if (caller === 'alice-query') url += `${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(a.ctx.alice)}`;
  return a.ctx.request({ method: opts.method, url, token, headers, payload: opts.payload });
}

/** How the effective general access lets a store be read without permission. */
export type Effective = 'RESTRICTED' | 'ID' | 'NAME';

export interface AccessCase {
  label: string;
  accountAccess?: AccountAccess;
  generalAccess: GeneralAccess;
  effective: Effective;
}

export const ACCESS_CASES: readonly AccessCase[] = [
  { label: 'RESTRICTED', generalAccess: 'RESTRICTED', effective: 'RESTRICTED' },
  { label: 'ANYONE_WITH_ID_CAN_READ', generalAccess: 'ANYONE_WITH_ID_CAN_READ', effective: 'ID' },
  { label: 'ANYONE_WITH_NAME_CAN_READ', generalAccess: 'ANYONE_WITH_NAME_CAN_READ', effective: 'NAME' },
  { label: 'FOLLOW_USER_SETTING, server default', generalAccess: 'FOLLOW_USER_SETTING', effective: 'ID' },
  {
    label: 'FOLLOW_USER_SETTING, account RESTRICTED',
    accountAccess: 'RESTRICTED',
    generalAccess: 'FOLLOW_USER_SETTING',
    effective: 'RESTRICTED',
  },
  // The store-level setting overrides the account setting (spec §2.3).
  {
    label: 'ANYONE_WITH_ID_CAN_READ, account RESTRICTED',
    accountAccess: 'RESTRICTED',
    generalAccess: 'ANYONE_WITH_ID_CAN_READ',
    effective: 'ID',
  },
  {
    label: 'ANYONE_WITH_NAME_CAN_READ, account RESTRICTED',
    accountAccess: 'RESTRICTED',
    generalAccess: 'ANYONE_WITH_NAME_CAN_READ',
    effective: 'NAME',
  },
];

export type RefForm = 'id' | 'user~name' | '~name';

export const RECORD_KEY = 'the-record';
export const NEW_VALUE = 'value written by the request under test';
export const NEW_TITLE = 'title set by the request under test';

export interface StoreEndpoint {
  name: string;
  method: Method;
  path: (ref: string) => string;
  write: boolean;
  success: number;
  payload?: string;
  headers?: Record<string, string>;
}

/** The collection path of each kind. */
export const COLLECTION: Record<StorageKind, string> = {
  kvs: '/v2/key-value-stores',
  dataset: '/v2/datasets',
  queue: '/v2/request-queues',
};

export const KINDS: readonly { kind: StorageKind; label: string }[] = [
  { kind: 'kvs', label: 'key-value store' },
  { kind: 'dataset', label: 'dataset' },
  { kind: 'queue', label: 'request queue' },
];

/** The kinds other than `kind`. */
export const otherKinds = (kind: StorageKind): StorageKind[] => KINDS.map((k) => k.kind).filter((k) => k !== kind);

const storePath = (ref: string) => `${COLLECTION.kvs}/${ref}`;
const recordPath = (ref: string) => `${COLLECTION.kvs}/${ref}/records/${RECORD_KEY}`;
const recordWrite = { payload: NEW_VALUE, headers: { 'content-type': 'text/plain' } };
const titleWrite = { payload: JSON.stringify({ title: NEW_TITLE }), headers: { 'content-type': 'application/json' } };

export const STORE_ENDPOINTS: readonly StoreEndpoint[] = [
  { name: 'get store', method: 'GET', path: storePath, write: false, success: 200 },
  { name: 'update store', method: 'PUT', path: storePath, write: true, success: 200, ...titleWrite },
  { name: 'delete store', method: 'DELETE', path: storePath, write: true, success: 204 },
  { name: 'list keys', method: 'GET', path: (ref) => `${COLLECTION.kvs}/${ref}/keys`, write: false, success: 200 },
  { name: 'get record', method: 'GET', path: recordPath, write: false, success: 200 },
  { name: 'head record', method: 'HEAD', path: recordPath, write: false, success: 200 },
  { name: 'put record', method: 'PUT', path: recordPath, write: true, success: 201, ...recordWrite },
  { name: 'post record', method: 'POST', path: recordPath, write: true, success: 201, ...recordWrite },
  { name: 'delete record', method: 'DELETE', path: recordPath, write: true, success: 204 },
];

/** The items of every dataset fixture: one with a visible field (its marker) and one with hidden fields only. */
export const fixtureItems = (marker: string) => [{ n: 1, text: marker }, { '#hidden': 'only hidden fields' }];
/** What the push of the matrix appends. */
export const NEW_ITEMS = [{ pushed: 'by the request under test' }, { pushed: 2, nested: { a: [1, 2] } }];

const datasetPath = (ref: string) => `${COLLECTION.dataset}/${ref}`;
const itemsPath = (ref: string) => `${COLLECTION.dataset}/${ref}/items`;

export const DATASET_ENDPOINTS: readonly StoreEndpoint[] = [
  { name: 'get dataset', method: 'GET', path: datasetPath, write: false, success: 200 },
  { name: 'update dataset', method: 'PUT', path: datasetPath, write: true, success: 200, ...titleWrite },
  { name: 'delete dataset', method: 'DELETE', path: datasetPath, write: true, success: 204 },
  {
    name: 'push items',
    method: 'POST',
    path: itemsPath,
    write: true,
    success: 201,
    payload: JSON.stringify(NEW_ITEMS),
    headers: { 'content-type': 'application/json' },
  },
  { name: 'get items', method: 'GET', path: itemsPath, write: false, success: 200 },
  { name: 'head items', method: 'HEAD', path: itemsPath, write: false, success: 200 },
  { name: 'get items as csv', method: 'GET', path: (ref) => `${itemsPath(ref)}?format=csv`, write: false, success: 200 },
  { name: 'get statistics', method: 'GET', path: (ref) => `${datasetPath(ref)}/statistics`, write: false, success: 200 },
];

/** The clientKey that holds the lock of every queue fixture. */
export const QUEUE_CLIENT = 'fixture-client';
const matrixRequest = (what: string) => ({
  uniqueKey: `https://example.com/matrix/${what}`,
  url: `https://example.com/matrix/${what}`,
});
/**
 * The requests of every queue fixture, the same uniqueKeys (so the same ids) in each: one locked by
 * QUEUE_CLIENT, one pending, one handled. `marker` is the text only the queue's content holds.
 */
export const fixtureRequests = (marker: string) => [
  { ...matrixRequest('locked'), userData: { marker } },
  { ...matrixRequest('pending'), userData: { marker } },
  { ...matrixRequest('handled'), userData: { marker }, handledAt: '2026-01-02T03:04:05.000Z' },
];
export const QUEUE_IDS = {
  locked: requestId(matrixRequest('locked').uniqueKey),
  pending: requestId(matrixRequest('pending').uniqueKey),
  handled: requestId(matrixRequest('handled').uniqueKey),
};
/** What the adds of the matrix add. */
export const NEW_REQUESTS = [matrixRequest('new-1'), { ...matrixRequest('new-2'), method: 'POST', userData: { n: 2 } }];
/** What the update of the matrix writes over the pending request. */
export const UPDATED_REQUEST = {
  ...matrixRequest('pending'),
  userData: { updated: true },
  handledAt: '2026-02-03T04:05:06.000Z',
};

const queuePath = (ref: string) => `${COLLECTION.queue}/${ref}`;
const requestsPath = (ref: string) => `${queuePath(ref)}/requests`;
const jsonWrite = (body: unknown) => ({ payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

export const QUEUE_ENDPOINTS: readonly StoreEndpoint[] = [
  { name: 'get queue', method: 'GET', path: queuePath, write: false, success: 200 },
  { name: 'update queue', method: 'PUT', path: queuePath, write: true, success: 200, ...titleWrite },
  { name: 'delete queue', method: 'DELETE', path: queuePath, write: true, success: 204 },
  { name: 'add request', method: 'POST', path: requestsPath, write: true, success: 201, ...jsonWrite(NEW_REQUESTS[0]) },
  {
    name: 'batch add requests',
    method: 'POST',
    path: (ref) => `${requestsPath(ref)}/batch`,
    write: true,
    success: 201,
    ...jsonWrite(NEW_REQUESTS),
  },
  {
    name: 'batch delete requests',
    method: 'DELETE',
    path: (ref) => `${requestsPath(ref)}/batch`,
    write: true,
    success: 200,
    ...jsonWrite([{ id: QUEUE_IDS.pending }]),
  },
  { name: 'get request', method: 'GET', path: (ref) => `${requestsPath(ref)}/${QUEUE_IDS.pending}`, write: false, success: 200 },
  {
    name: 'update request',
    method: 'PUT',
    path: (ref) => `${requestsPath(ref)}/${QUEUE_IDS.pending}`,
    write: true,
    success: 200,
    ...jsonWrite(UPDATED_REQUEST),
  },
  {
    name: 'delete request',
    method: 'DELETE',
    path: (ref) => `${requestsPath(ref)}/${QUEUE_IDS.pending}`,
    write: true,
    success: 204,
  },
  { name: 'get head', method: 'GET', path: (ref) => `${queuePath(ref)}/head`, write: false, success: 200 },
  // Taking the head is a write: it locks.
  {
    name: 'lock head',
    method: 'POST',
    path: (ref) => `${queuePath(ref)}/head/lock?lockSecs=60&clientKey=matrix-client`,
    write: true,
    success: 201,
  },
  {
    name: 'prolong lock',
    method: 'PUT',
    path: (ref) => `${requestsPath(ref)}/${QUEUE_IDS.locked}/lock?lockSecs=7200&clientKey=${QUEUE_CLIENT}`,
    write: true,
    success: 200,
  },
  {
    name: 'delete lock',
    method: 'DELETE',
    path: (ref) => `${requestsPath(ref)}/${QUEUE_IDS.locked}/lock?clientKey=${QUEUE_CLIENT}`,
    write: true,
    success: 204,
  },
  {
    name: 'unlock requests',
    method: 'POST',
    path: (ref) => `${requestsPath(ref)}/unlock?clientKey=${QUEUE_CLIENT}`,
    write: true,
    success: 200,
  },
  { name: 'list requests', method: 'GET', path: requestsPath, write: false, success: 200 },
];

export const ENDPOINTS: Record<StorageKind, readonly StoreEndpoint[]> = {
  kvs: STORE_ENDPOINTS,
  dataset: DATASET_ENDPOINTS,
  queue: QUEUE_ENDPOINTS,
};

export interface Expected {
  status: number;
  type?: string;
}

/** Whether a caller without permission may read the store when it is referenced this way. */
function openToAnyone(effective: Effective, form: RefForm): boolean {
  if (form === 'id') return effective === 'ID' || effective === 'NAME';
  if (form === 'user~name') return effective === 'NAME';
  return false;
}

/**
 * The answer the decisions require. `exists` is false for a store that does not exist; `~name`
 * names the caller's own store, and bob owns no store of that name.
 */
export function expectedOutcome(
  ep: StoreEndpoint,
  caller: CallerId,
  effective: Effective,
  form: RefForm,
  exists: boolean,
): Expected {
  if (isBadToken(caller)) return { status: 401, type: 'user-or-token-not-found' };
  if (caller === 'none') {
    if (ep.write) return { status: 401, type: 'token-not-provided' };
    if (exists && openToAnyone(effective, form)) return { status: ep.success };
    return { status: 404, type: 'record-or-token-not-found' };
  }
  if (!exists || (caller === 'bob' && form === '~name')) return { status: 404, type: 'record-not-found' };
  if (isOwner(caller)) return { status: ep.success };
  if (ep.write || !openToAnyone(effective, form)) return { status: 403, type: 'insufficient-permissions' };
  return { status: ep.success };
}

/** The status, and for bodies the error envelope with the expected `type`. */
export function expectAnswer(res: LightMyRequestResponse, method: Method, expected: Expected): void {
  const summary = `${res.statusCode} ${res.body.slice(0, 300)}`;
  expect(res.statusCode, summary).toBe(expected.status);
  if (method === 'HEAD') {
    expect(res.body).toBe('');
    return;
  }
  if (expected.type === undefined) return;
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const error = res.json().error;
  expect(error?.type, summary).toBe(expected.type);
  expect(typeof error?.message).toBe('string');
}

let seq = 0;

export interface Fixture {
  kind: StorageKind;
  id: string;
  name: string;
  secret: string;
  /** Text that only the storage's content holds: the record's value, a dataset item's or a request's field. */
  value: string;
  /** A dataset's items as pushed, a queue's requests as its owner lists them (empty for a key-value store). */
  items: unknown[];
}

async function setGeneralAccess(a: AuthContext, kind: StorageKind, id: string, generalAccess: GeneralAccess) {
  const res = await a.ctx.request({
    method: 'PUT',
    url: `${COLLECTION[kind]}/${id}`,
    token: a.ctx.alice,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ generalAccess }),
  });
  if (res.statusCode !== 200 || res.json().data.generalAccess !== generalAccess) {
    throw new Error(`could not set generalAccess: ${res.statusCode} ${res.body}`);
  }
}

/** Creates (or gets) `owner`'s storage of this kind, named or not: its API object. */
export async function createStorage(
  a: AuthContext,
  kind: StorageKind,
  name?: string,
  owner = a.ctx.alice,
): Promise<{ id: string; name: string | null; urlSigningSecretKey: string }> {
  const url = name === undefined ? COLLECTION[kind] : `${COLLECTION[kind]}?name=${name}`;
  const res = await a.ctx.request({ method: 'POST', url, token: owner });
  if (res.statusCode !== 201 && res.statusCode !== 200) throw new Error(`create ${kind} failed: ${res.statusCode} ${res.body}`);
  return res.json().data;
}

const FIXTURE_WORD: Record<StorageKind, [string, string]> = {
  kvs: ['store', 'value'],
  dataset: ['dataset', 'item'],
  queue: ['queue', 'request'],
};

/**
 * A named storage of alice's with the given general access and some content: a key-value store with
 * one text record, a dataset with `fixtureItems`, or a queue with `fixtureRequests`.
 */
export async function createFixture(a: AuthContext, generalAccess: GeneralAccess, kind: StorageKind = 'kvs'): Promise<Fixture> {
  seq += 1;
  const name = `${FIXTURE_WORD[kind][0]}-${seq}`;
  const { ctx } = a;
  const store = await createStorage(a, kind, name);
  if (generalAccess !== 'FOLLOW_USER_SETTING') await setGeneralAccess(a, kind, store.id, generalAccess);
  const value = `original ${FIXTURE_WORD[kind][1]} of ${name}`;
  if (kind === 'queue') {
    const items = await fillQueue(a, store.id, value);
    // A queue's API object shows no signing secret; the one it has in storage must never show.
    const secret = (await ctx.driver.getStore(store.id))?.urlSigningSecretKey;
    if (!secret) throw new Error('the queue has no secret in storage');
    return { kind, id: store.id, name, secret, value, items };
  }
  const items = kind === 'kvs' ? [] : fixtureItems(value);
  const put = await ctx.request({
    method: kind === 'kvs' ? 'PUT' : 'POST',
    url: kind === 'kvs' ? `${COLLECTION.kvs}/${store.id}/records/${RECORD_KEY}` : `${COLLECTION.dataset}/${store.id}/items`,
    token: ctx.alice,
    headers: { 'content-type': kind === 'kvs' ? 'text/plain' : 'application/json' },
    payload: kind === 'kvs' ? value : JSON.stringify(items),
  });
  if (put.statusCode !== 201) throw new Error(`could not fill the ${kind}: ${put.statusCode} ${put.body}`);
  return { kind, id: store.id, name, secret: store.urlSigningSecretKey, value, items };
}

/** Adds `fixtureRequests` and locks the first for QUEUE_CLIENT: the requests as the owner lists them. */
async function fillQueue(a: AuthContext, id: string, marker: string): Promise<unknown[]> {
  const { ctx } = a;
  const add = await ctx.request({
    method: 'POST',
    url: `${COLLECTION.queue}/${id}/requests/batch`,
    token: ctx.alice,
    ...jsonWrite(fixtureRequests(marker)),
  });
  if (add.statusCode !== 201) throw new Error(`could not fill the queue: ${add.statusCode} ${add.body}`);
  const lock = await ctx.request({
    method: 'POST',
    url: `${COLLECTION.queue}/${id}/head/lock?lockSecs=3600&limit=1&clientKey=${QUEUE_CLIENT}`,
    token: ctx.alice,
  });
  const locked = lock.statusCode === 201 ? lock.json().data.items.map((r: { id: string }) => r.id) : [];
  if (locked.length !== 1 || locked[0] !== QUEUE_IDS.locked) throw new Error(`could not lock: ${lock.statusCode} ${lock.body}`);
  const { queue, requests } = await queueView(a, id);
  const counts = queue.json().data;
  if ([counts.totalRequestCount, counts.handledRequestCount].join() !== '3,1') throw new Error(`queue counts: ${queue.body}`);
  return requests.json().data.items;
}

/** The queue, its requests and its locked requests (JSON) as the owner sees them now. */
export async function queueView(a: AuthContext, id: string) {
  const get = (url: string) => a.ctx.request({ method: 'GET', url, token: a.ctx.alice });
  const queue = await get(`${COLLECTION.queue}/${id}`);
  const requests = await get(`${COLLECTION.queue}/${id}/requests`);
  const locked = await get(`${COLLECTION.queue}/${id}/requests?filter=locked`);
  return { queue, requests, locked };
}

export function refOf(f: Fixture, form: RefForm): string {
  if (form === 'id') return f.id;
  if (form === 'user~name') return `alice~${f.name}`;
  return `~${f.name}`;
}

/** The store and its record as the owner sees them now. */
export async function ownerView(a: AuthContext, id: string) {
  const store = await a.ctx.request({ method: 'GET', url: `${COLLECTION.kvs}/${id}`, token: a.ctx.alice });
  const record = await a.ctx.request({ method: 'GET', url: `${COLLECTION.kvs}/${id}/records/${RECORD_KEY}`, token: a.ctx.alice });
  return { store, record };
}

/** The dataset and its items (JSON) as the owner sees them now. */
export async function datasetView(a: AuthContext, id: string) {
  const dataset = await a.ctx.request({ method: 'GET', url: `${COLLECTION.dataset}/${id}`, token: a.ctx.alice });
  const items = await a.ctx.request({ method: 'GET', url: `${COLLECTION.dataset}/${id}/items`, token: a.ctx.alice });
  return { dataset, items };
}

/** The request changed nothing: same title, same record or items and counts. */
export async function expectUnchanged(a: AuthContext, f: Fixture): Promise<void> {
  if (f.kind === 'kvs') {
    const { store, record } = await ownerView(a, f.id);
    expect(store.statusCode, 'the store must still exist').toBe(200);
    expect(store.json().data.title).toBeNull();
    expect(record.statusCode, 'the record must still exist').toBe(200);
    expect(record.body).toBe(f.value);
    return;
  }
  if (f.kind === 'queue') return expectQueueUnchanged(a, f);
  const { dataset, items } = await datasetView(a, f.id);
  expect(dataset.statusCode, 'the dataset must still exist').toBe(200);
  const data = dataset.json().data;
  expect(data.title).toBeNull();
  expect([data.itemCount, data.cleanItemCount]).toEqual([f.items.length, countClean(f.items)]);
  expect(items.statusCode).toBe(200);
  expect(items.json()).toEqual(f.items);
}

/** Items with at least one field whose name does not start with `#` (the dataset's `cleanItemCount`). */
export function countClean(items: readonly unknown[]): number {
  return items.filter((i) => Object.keys(i as object).some((k) => !k.startsWith('#'))).length;
}

/** The queue has its three requests as they were, the one lock, its counts, and one client only. */
async function expectQueueUnchanged(a: AuthContext, f: Fixture): Promise<void> {
  const { queue, requests, locked } = await queueView(a, f.id);
  expect(queue.statusCode, 'the queue must still exist').toBe(200);
  const data = queue.json().data;
  expect(data.title).toBeNull();
  expect([data.totalRequestCount, data.handledRequestCount, data.pendingRequestCount, data.hadMultipleClients]).toEqual([
    3,
    1,
    2,
    false,
  ]);
  expect(requests.statusCode).toBe(200);
  expect(requests.json().data.items).toEqual(f.items);
  expect(locked.json().data.items.map((r: { id: string }) => r.id)).toEqual([QUEUE_IDS.locked]);
}

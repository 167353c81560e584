import { createHash } from 'node:crypto';
import { InsufficientPermissionsError, InvalidParameterError, InvalidValueError, RecordNotFoundError } from '../../errors.js';
import type { StoreRow } from '../../model.js';
import type {
  LockRefusal,
  QueueActor,
  QueueAddOutcome,
  QueueRequestInput,
  RequestQueueStorage,
  StoredQueueRequest,
} from '../../storage/driver.js';
import { type AccessMode, type AccessPolicy, KIND_LABEL, type StoreRef } from '../access.js';
import type { StatsBuffer } from '../stats.js';

/** Requests one batch add takes; the rest come back as unprocessed (the API's limit). */
export const BATCH_ADD_MAX = 25;
/** Requests one head lock hands out at most (the API's limit). */
export const LOCK_HEAD_MAX = 25;
/** Requests one head read answers at most. */
export const HEAD_MAX = 1000;
/** Requests one page of the list answers at most (the API's limit). */
export const LIST_MAX = 10_000;
/** The longest clientKey (the API says 1 to 32 characters). */
const CLIENT_KEY_MAX = 32;
/** The longest lock: a week. */
const LOCK_SECS_MAX = 7 * 24 * 3600;

/**
 * The id Crawlee computes for a uniqueKey on its own side (and caches by): base64 of the SHA-256,
 * without `+`, `/` and `=`, the first 15 characters.
 */
export function requestId(uniqueKey: string): string {
  return createHash('sha256').update(uniqueKey).digest('base64').replace(/[+/=]/g, '').slice(0, 15);
}

/** Query parameters every request operation may carry. */
export interface QueueCall {
  token: string | undefined;
  ref: StoreRef;
  clientKey?: string;
}

/** The clientKey parameter: 1 to 32 characters; empty counts as absent. */
export function parseClientKey(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (value.length > CLIENT_KEY_MAX) throw new InvalidParameterError(`clientKey must be 1 to ${CLIENT_KEY_MAX} characters long.`);
  return value;
}

/** The lockSecs parameter: a number of seconds above 0, at most a week. */
export function parseLockSecs(value: string | undefined): number {
  const secs = value === undefined || value === '' ? Number.NaN : Number(value);
  if (!Number.isFinite(secs) || secs <= 0 || secs > LOCK_SECS_MAX)
    throw new InvalidParameterError(`lockSecs must be a number of seconds above 0 and at most ${LOCK_SECS_MAX}.`);
  return secs;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The range of a JavaScript date, in ms either side of the epoch. */
const DATE_RANGE_MS = 8.64e15;

/**
 * A handledAt value: a date string (what the clients send), a whole number of ms within the range
 * of a date, null or absent. Anything else (a fraction, 1e300) is a 400, never a failed write.
 */
function handledAtOf(value: unknown, where: string): number | null {
  if (value === undefined || value === null) return null;
  const ms = typeof value === 'string' ? Date.parse(value) : typeof value === 'number' ? value : Number.NaN;
  if (!Number.isSafeInteger(ms) || Math.abs(ms) > DATE_RANGE_MS)
    throw new InvalidValueError(`Invalid value provided in ${where}: handledAt must be a date.`);
  return ms;
}

/**
 * A request of a body, checked and given its id: an object with a non-empty `uniqueKey` and `url`
 * (strings); an `id`, when given, must be the one of its uniqueKey. `method` defaults to GET and
 * `retryCount` to 0, as the platform answers them.
 */
export function parseRequest(body: unknown, where = 'request', expectedId?: string): QueueRequestInput {
  if (!isObject(body)) throw new InvalidValueError(`Invalid value provided in ${where}: a request must be a JSON object.`);
  const { uniqueKey, url } = body;
  if (typeof uniqueKey !== 'string' || uniqueKey === '')
    throw new InvalidValueError(`Invalid value provided in ${where}: uniqueKey must be a non-empty string.`);
  if (typeof url !== 'string' || url === '')
    throw new InvalidValueError(`Invalid value provided in ${where}: url must be a non-empty string.`);
  if (body.method !== undefined && typeof body.method !== 'string')
    throw new InvalidValueError(`Invalid value provided in ${where}: method must be a string.`);
  const id = requestId(uniqueKey);
  if (body.id !== undefined && body.id !== id)
    throw new InvalidValueError(`Invalid value provided in ${where}: the id of a request is the one of its uniqueKey ("${id}").`);
  if (expectedId !== undefined && expectedId !== id)
    throw new InvalidValueError(`Invalid value provided in ${where}: the request with id "${expectedId}" has another uniqueKey.`);
  const handledAt = handledAtOf(body.handledAt, where);
  const json = JSON.stringify({ id, method: 'GET', retryCount: 0, ...body, uniqueKey, url });
  return { id, uniqueKey, json, handledAt };
}

/** A stored request as the API answers it. */
export const requestObject = (r: StoredQueueRequest): Record<string, unknown> => JSON.parse(r.json);

/** A request of the head: its id, uniqueKey, url, method and retryCount. */
function headItem(r: StoredQueueRequest) {
  const o = requestObject(r);
  return { id: r.id, uniqueKey: r.uniqueKey, url: o.url, method: o.method ?? 'GET', retryCount: o.retryCount ?? 0 };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The cursor of the list: the id the next page starts after, opaque to clients. */
export const encodeCursor = (after: string) => Buffer.from(JSON.stringify({ after })).toString('base64url');
export function decodeCursor(cursor: string): string {
  try {
    const { after } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof after === 'string') return after;
  } catch {
    // Falls through to the refusal.
  }
  throw new InvalidParameterError('The cursor is not one this server gave.');
}

export interface QueueDeps {
  driver: RequestQueueStorage;
  access: AccessPolicy;
  stats: StatsBuffer;
}

/** The requests of request queues: adding, reading, locking, handling. */
export class QueueRequests {
  readonly #d: QueueDeps;

  constructor(deps: QueueDeps) {
    this.#d = deps;
  }

  async #queue(call: QueueCall, mode: AccessMode): Promise<StoreRow> {
    const { store } = await this.#d.access.lookup(call.token, call.ref, mode, { fresh: mode === 'read' });
    return store;
  }

  #actor(call: QueueCall): QueueActor {
    return { clientKey: call.clientKey, now: Date.now() };
  }

  /** Writes check the caller before they read the body (`body` reads it). */
  async add(call: QueueCall, body: () => Promise<unknown>, forefront: boolean): Promise<QueueAddOutcome> {
    const queue = await this.#queue(call, 'write');
    const request = parseRequest(await body());
    const out = present(await this.#d.driver.addRequests(queue.id, [request], forefront, this.#actor(call)));
    return out[0] as QueueAddOutcome;
  }

  /** At most 25 requests; the others come back unprocessed, as the API answers. */
  async batchAdd(call: QueueCall, body: () => Promise<unknown>, forefront: boolean) {
    const queue = await this.#queue(call, 'write');
    const list = await body();
    if (!Array.isArray(list))
      throw new InvalidValueError('Invalid value provided in requests: the body must be a JSON array of requests.');
    const requests = list.map((r, i) => parseRequest(r, `requests[${i}]`));
    // One uniqueKey twice in a batch is one request, answered for each.
    const taken = requests.slice(0, BATCH_ADD_MAX);
    const processed = present(await this.#d.driver.addRequests(queue.id, taken, forefront, this.#actor(call)));
    const unprocessedRequests = requests.slice(BATCH_ADD_MAX).map((r) => {
      const { url, method } = JSON.parse(r.json) as { url: string; method?: unknown };
      return { uniqueKey: r.uniqueKey, url, method };
    });
    return { processedRequests: processed, unprocessedRequests };
  }

  async batchDelete(call: QueueCall, body: () => Promise<unknown>) {
    const queue = await this.#queue(call, 'write');
    const list = await body();
    if (!Array.isArray(list))
      throw new InvalidValueError('Invalid value provided in requests: the body must be a JSON array of {id} or {uniqueKey}.');
    const refs = list.map((r, i) => {
      if (isObject(r) && typeof r.id === 'string' && r.id !== '') return { id: r.id };
      if (isObject(r) && typeof r.uniqueKey === 'string' && r.uniqueKey !== '') return { uniqueKey: r.uniqueKey };
      throw new InvalidValueError(`Invalid value provided in requests[${i}]: give an id or a uniqueKey.`);
    });
    const deleted = present(await this.#d.driver.deleteRequests(queue.id, refs, this.#actor(call)));
    return { processedRequests: deleted, unprocessedRequests: [] };
  }

  async get(call: QueueCall, id: string): Promise<Record<string, unknown>> {
    const queue = await this.#queue(call, 'read');
    const found = await this.#d.driver.getRequest(queue.id, id);
    if (!found) throw new RecordNotFoundError('Request was not found.');
    this.#d.stats.read(queue.id);
    return requestObject(found);
  }

  async update(call: QueueCall, id: string, body: () => Promise<unknown>, forefront: boolean): Promise<QueueAddOutcome> {
    const queue = await this.#queue(call, 'write');
    const request = parseRequest(await body(), 'request', id);
    const out = present(await this.#d.driver.updateRequest(queue.id, request, forefront, this.#actor(call)));
    if (out === 'locked') throw lockedByOther();
    return out;
  }

  async delete(call: QueueCall, id: string): Promise<void> {
    const queue = await this.#queue(call, 'write');
    const out = present(await this.#d.driver.deleteRequest(queue.id, id, this.#actor(call)));
    if (out === 'locked') throw lockedByOther();
  }

  async head(call: QueueCall, limit: number) {
    const queue = await this.#queue(call, 'read');
    const items = await this.#d.driver.listHead(queue.id, limit, this.#actor(call));
    this.#d.stats.list(queue.id);
    return {
      limit,
      queueModifiedAt: iso(queue.modifiedAt),
      hadMultipleClients: queue.hadMultipleClients,
      items: items.map(headItem),
    };
  }

  async lockHead(call: QueueCall, limit: number, lockSecs: number) {
    const queue = await this.#queue(call, 'write');
    const actor = this.#actor(call);
    const out = present(await this.#d.driver.lockHead(queue.id, limit, Math.round(lockSecs * 1000), actor));
    // The row read before the lock may predate a client this lock made the second one.
    const multiple =
      queue.hadMultipleClients || (call.clientKey !== undefined && out.items.length > 0 && (await this.#hadMultiple(queue)));
    return {
      limit,
      queueModifiedAt: iso(Math.max(queue.modifiedAt, out.items.length > 0 ? actor.now : 0)),
      queueHasLockedRequests: out.queueHasLockedRequests,
      clientKey: call.clientKey,
      hadMultipleClients: multiple,
      lockSecs,
      items: out.items.map((r) => ({ ...headItem(r), lockExpiresAt: iso(r.lockExpiresAt ?? actor.now) })),
    };
  }

  async #hadMultiple(queue: StoreRow): Promise<boolean> {
    const fresh = await this.#d.access.find({ user: undefined }, { kind: 'id', id: queue.id, storage: 'queue' });
    return fresh?.hadMultipleClients ?? false;
  }

  async prolongLock(call: QueueCall, id: string, lockSecs: number, forefront: boolean) {
    const queue = await this.#queue(call, 'write');
    const out = await this.#d.driver.prolongLock(queue.id, id, Math.round(lockSecs * 1000), forefront, this.#actor(call));
    if (typeof out === 'string') throw refusal(out);
    return { lockExpiresAt: iso(out.lockExpiresAt) };
  }

  async deleteLock(call: QueueCall, id: string, forefront: boolean): Promise<void> {
    const queue = await this.#queue(call, 'write');
    const out = await this.#d.driver.deleteLock(queue.id, id, forefront, this.#actor(call));
    if (out !== 'ok') throw refusal(out);
  }

  async unlock(call: QueueCall) {
    const queue = await this.#queue(call, 'write');
    return { unlockedCount: present(await this.#d.driver.unlockRequests(queue.id, this.#actor(call))) };
  }

  async list(call: QueueCall, o: { limit: number; exclusiveStartId?: string; cursor?: string; filter?: 'locked' | 'pending' }) {
    if (o.exclusiveStartId !== undefined && o.cursor !== undefined)
      throw new InvalidParameterError('Give either exclusiveStartId or cursor, not both.');
    const after = o.cursor !== undefined ? decodeCursor(o.cursor) : o.exclusiveStartId;
    const queue = await this.#queue(call, 'read');
    const page = await this.#d.driver.listRequests(queue.id, { limit: o.limit, after, filter: o.filter, now: Date.now() });
    this.#d.stats.read(queue.id);
    const last = page.items.at(-1);
    return {
      items: page.items.map(requestObject),
      count: page.items.length,
      limit: o.limit,
      ...(o.exclusiveStartId !== undefined ? { exclusiveStartId: o.exclusiveStartId } : {}),
      ...(o.cursor !== undefined ? { cursor: o.cursor } : {}),
      nextCursor: page.isTruncated && last ? encodeCursor(last.id) : null,
    };
  }
}

/** A driver answer without 'no-store' (the queue went away between the lookup and the write: 404). */
function present<T>(out: T | 'no-store'): T {
  if (out === 'no-store') throw new RecordNotFoundError(`${KIND_LABEL.queue} was not found.`);
  return out;
}

const lockedByOther = () =>
  new InsufficientPermissionsError(
    'The request is locked by another client: only its clientKey may change it until the lock expires.',
  );

function refusal(reason: LockRefusal): Error {
  if (reason === 'no-store') return new RecordNotFoundError(`${KIND_LABEL.queue} was not found.`);
  if (reason === 'absent') return new RecordNotFoundError('Request was not found.');
  if (reason === 'locked-by-other') return lockedByOther();
  return new InvalidValueError('The request is not locked (or its lock has expired).');
}

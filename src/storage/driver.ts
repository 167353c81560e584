import type { Readable } from 'node:stream';
import type {
  ContentEncoding,
  GeneralAccess,
  RecordMeta,
  StorageKind,
  StoreRow,
  TokenRow,
  UserRow,
  WriteCondition,
} from '../model.js';

export interface StoreListQuery {
  userId: string;
  kind: StorageKind;
  offset: number;
  limit: number;
  desc: boolean;
  unnamed: boolean;
}

export interface StorePatch {
  name?: string | null;
  title?: string | null;
  generalAccess?: GeneralAccess;
  modifiedAt: number;
}

/**
 * A large value that can also be read in place, into buffers the reader brings: what a server
 * sending a whole file uses instead of the stream (no buffer allocated per chunk). The stream
 * must still be destroyed afterwards; that closes the file.
 */
export interface PositionalValue {
  /** Reads up to `target.length` bytes from `position` into `target`; the number read, 0 at the end. */
  read(target: Buffer, position: number): Promise<number>;
}

/**
 * A record's bytes: small values come whole, large ones as an unread stream that the caller must
 * either consume or destroy (and, where the storage has it, the same bytes readable in place).
 */
export type RecordValue = { kind: 'buffer'; data: Buffer } | { kind: 'stream'; stream: Readable; positional?: PositionalValue };

export interface StoredRecord extends RecordMeta {
  value: RecordValue;
}

export interface KeyListQuery {
  exclusiveStartKey?: string;
  prefix?: string;
  limit: number;
}

export interface KeyListPage {
  items: { key: string; size: number }[];
  isTruncated: boolean;
}

/** Bytes received for a record, held by the driver until committed or discarded. */
export interface StagedValue {
  readonly size: number;
}

export interface NewRecord {
  contentType: string;
  contentEncoding: ContentEncoding | null;
  decodedSize: number;
  etag: string;
  now: number;
}

export type PutResult = 'ok' | 'no-store' | 'precondition-failed';
export type DeleteResult = 'deleted' | 'absent' | 'no-store' | 'precondition-failed';

/** Read counters and access time accumulated in memory and applied in batches. */
export interface StatsDelta {
  storeId: string;
  readCount: number;
  listCount: number;
  accessedAt: number;
}

/** The store a request names: by id, or by name in the account of the token's user or of a named user. */
export type StoreLookup = { id: string } | { name: string; owner: 'caller' } | { name: string; ownerName: string };

/** Everything a request needs to decide access, found in one lookup. */
export interface RequestLookup {
  /** The hash of the token the request presents. */
  tokenHash?: string;
  /** The kind of storage `store` names: a storage of another kind is not found. */
  kind: StorageKind;
  store?: StoreLookup;
  /** The record of that store too: its metadata, and with `withValue` its bytes when stored inline. */
  record?: { key: string; withValue: boolean };
  /**
   * The store row as it is now, counters included (they are answered to the caller): never from a
   * cache. Without it the row may come from one, and serves access decisions and the store's id.
   */
  fresh?: boolean;
}

export interface LookedUpRecord {
  meta: RecordMeta;
  /** The bytes when stored inline and asked for; null when they live elsewhere (read them with `getRecord`). */
  inline: Buffer | null;
}

export interface RequestRows {
  token?: TokenRow;
  /** The user of the token. */
  user?: UserRow;
  store?: StoreRow;
  record?: LookedUpRecord;
}

export type UpdateStoreResult = { ok: true; store: StoreRow } | { ok: false; reason: 'not-found' | 'name-conflict' };

/** Users and their API tokens. */
export interface AccountStorage {
  createUser(user: UserRow): Promise<boolean>;
  getUserById(id: string): Promise<UserRow | undefined>;
  getUserByName(username: string): Promise<UserRow | undefined>;
  listUsers(): Promise<UserRow[]>;
  /** Deletes the user with all their tokens and stores. */
  deleteUser(id: string): Promise<boolean>;

  addToken(token: TokenRow): Promise<void>;
  findToken(hash: string): Promise<TokenRow | undefined>;
  listTokens(userId: string): Promise<TokenRow[]>;
  revokeToken(hash: string): Promise<boolean>;
}

/**
 * Storages of every kind (key-value stores, datasets): their rows, names and settings. Names are
 * unique per user and kind.
 */
export interface StoreStorage {
  /**
   * Creates the storage; with a name the user already uses for one of that kind, returns that one
   * with `created: false`.
   */
  createStore(store: StoreRow): Promise<{ store: StoreRow; created: boolean }>;
  /** A storage of any kind by id (the caller checks its kind). */
  getStore(id: string): Promise<StoreRow | undefined>;
  getStoreByName(userId: string, name: string, kind: StorageKind): Promise<StoreRow | undefined>;
  listStores(query: StoreListQuery): Promise<{ total: number; items: StoreRow[] }>;
  updateStore(id: string, patch: StorePatch): Promise<UpdateStoreResult>;
  /**
   * Deletes the storage with its contents (records, items). With `onlyIf`, only while it is unnamed and was last
   * modified before `unnamedBefore`, checked in the delete's own transaction: the retention sweeper
   * never deletes a store that a write or a rename reached after it was listed.
   */
  deleteStore(id: string, onlyIf?: { unnamedBefore: number }): Promise<boolean>;
}

/** What a request names, found at once: the hot path of every request. */
export interface RequestLookupStorage {
  /**
   * The token (with its user), the store and the record a request names, in one statement or round
   * trip. Nothing is checked here; the access policy decides. Synchronous where the storage answers
   * in process (SQLite): the hot path then runs without a chain of promises.
   */
  lookupRequest(lookup: RequestLookup): RequestRows | Promise<RequestRows>;
}

/** The records of a key-value store and their bytes. */
export interface RecordStorage {
  getRecord(storeId: string, key: string): Promise<StoredRecord | undefined>;
  getRecordMeta(storeId: string, key: string): Promise<RecordMeta | undefined>;
  /** Reads a whole body into the driver's staging area; rejects (and keeps nothing) if the stream fails. */
  stageValue(storeId: string, body: AsyncIterable<Buffer>, sizeHint?: number): Promise<StagedValue>;
  discardValue(value: StagedValue): Promise<void>;
  /**
   * Commits a staged value as the record if `condition` holds; otherwise (or when the store is
   * gone) the value is discarded.
   */
  putRecord(storeId: string, key: string, record: NewRecord, value: StagedValue, condition?: WriteCondition): Promise<PutResult>;
  /**
   * Bodies up to this many bytes may be written with `putRecordFor`, their access check travelling
   * with the write; 0 where a lookup costs no round trip, so that two steps cost no more.
   */
  readonly putWithLookupMaxBytes: number;
  /**
   * `lookupRequest(lookup)` and, when the token's user owns the store found, `putRecord` of `data`
   * into it, in one round trip where the storage allows. Nothing is decided here: the rows come
   * back for the access policy, with the write's `status`, undefined when nothing was written.
   */
  putRecordFor(
    lookup: RequestLookup,
    key: string,
    record: NewRecord,
    data: Buffer,
    condition?: WriteCondition,
  ): Promise<{ rows: RequestRows; status?: PutResult }>;
  /** Deletes a record if `condition` holds. */
  deleteRecord(storeId: string, key: string, now: number, condition?: WriteCondition): Promise<DeleteResult>;
  listKeys(storeId: string, query: KeyListQuery): Promise<KeyListPage>;
}

/** The items of a dataset: JSON texts kept as pushed, at positions 0, 1, 2… in push order. */
export interface DatasetStorage {
  /**
   * Appends `items` (each the JSON text of one item) after the dataset's last item: all or none,
   * and contiguous even while other connections or nodes push to the same dataset. In the same
   * transaction: `itemCount` += items, `cleanItemCount` += `clean`, `storageBytes` += their UTF-8
   * bytes, `writeCount` += items, `modifiedAt` and `accessedAt` = `now`. 'no-store' when the
   * dataset is gone.
   */
  pushItems(datasetId: string, items: readonly string[], clean: number, now: number): Promise<'ok' | 'no-store'>;
  /** Up to `limit` items from position `offset` on, in push order: O(limit) at any offset. */
  readItems(datasetId: string, offset: number, limit: number): Promise<string[]>;
}

/** A request of a queue as the domain hands it to the storage. */
export interface QueueRequestInput {
  /** Crawlee's id of the uniqueKey (domain/queues); unique in the queue, as is the uniqueKey. */
  id: string;
  uniqueKey: string;
  /** The request as the API answers it, `id` included: JSON text, kept as given. */
  json: string;
  /** When it was handled (ms), or null while pending. A handled request never comes back in the head. */
  handledAt: number | null;
}

/** A request of a queue as stored, with its place and lock. */
export interface StoredQueueRequest extends QueueRequestInput {
  /** Its lock: the clientKey (null when locked without one) and when it expires (ms); null when not locked. */
  lockClient: string | null;
  lockExpiresAt: number | null;
}

/** What adding (or updating) one request did: the Apify `processedRequests` entry. */
export interface QueueAddOutcome {
  requestId: string;
  uniqueKey: string;
  wasAlreadyPresent: boolean;
  wasAlreadyHandled: boolean;
}

/**
 * Who acts on a queue and when: `clientKey` is the API's optional client identity. For locks, no
 * clientKey is a client of its own: a lock taken without one is held by the callers without one.
 * `now` is the only clock of the queue methods (drivers never read theirs).
 */
export interface QueueActor {
  clientKey?: string;
  now: number;
}

/** Why a lock operation was refused. */
export type LockRefusal = 'absent' | 'not-locked' | 'locked-by-other' | 'no-store';

/**
 * The requests of a request queue. Every write runs in one transaction that holds the queue's row
 * (so counts are exact and two clients never lock the same request, on one node or many), moves
 * `modifiedAt`, updates `itemCount` (requests), `handledCount` and, when `clientKey` differs from the
 * one the queue saw first, sets `hadMultipleClients`. Order: forefront requests first, the latest
 * forefront first; then the others in the order they were added. A lock is `lockClient` until
 * `lockExpiresAt`: an expired lock is no lock. Head and lock cost O(limit) (plus the requests locked
 * ahead of the head), never O(queue). Counters: `storageBytes` is the UTF-8 bytes of the requests'
 * JSON; `writeCount` += 1 per request added, replaced, locked, relocked or unlocked; `deleteCount`
 * += 1 per request deleted (reads are counted by the caller, `applyStats`).
 */
export interface RequestQueueStorage {
  /**
   * Adds requests in order; a uniqueKey already in the queue is not added again (its outcome says
   * whether it was handled). `forefront` puts the new ones first, in the order given. 'no-store'
   * when the queue is gone (nothing added).
   */
  addRequests(
    queueId: string,
    requests: readonly QueueRequestInput[],
    forefront: boolean,
    actor: QueueActor,
  ): Promise<QueueAddOutcome[] | 'no-store'>;
  /** The request as stored, its lock even when expired (the caller compares `lockExpiresAt` with its clock). */
  getRequest(queueId: string, id: string): Promise<StoredQueueRequest | undefined>;
  /**
   * Replaces the request with `request.id` (adds it when absent, as the API does): its JSON and
   * handled state. Pending and `forefront`: moved to the front. Handled: its lock ends. Refused
   * ('locked') while another client's lock on it lives.
   */
  updateRequest(
    queueId: string,
    request: QueueRequestInput,
    forefront: boolean,
    actor: QueueActor,
  ): Promise<QueueAddOutcome | 'locked' | 'no-store'>;
  /** Deletes a request; refused ('locked') while another client's lock on it lives. */
  deleteRequest(queueId: string, id: string, actor: QueueActor): Promise<'deleted' | 'absent' | 'locked' | 'no-store'>;
  /**
   * Deletes requests by id or uniqueKey, whatever their locks; one entry per ref, in order: the
   * request's id and uniqueKey, or for an absent one (counted as deleted, as the API answers) what
   * the ref named and '' for the other.
   */
  deleteRequests(
    queueId: string,
    refs: readonly ({ id: string } | { uniqueKey: string })[],
    actor: QueueActor,
  ): Promise<{ id: string; uniqueKey: string }[] | 'no-store'>;
  /** Up to `limit` pending requests from the front that no other client holds a live lock on. */
  listHead(queueId: string, limit: number, actor: QueueActor): Promise<StoredQueueRequest[]>;
  /**
   * Locks up to `limit` pending, unlocked requests from the front for `actor.clientKey` until
   * `now + lockMs`; whether the queue holds live locks after this (of any client, those just
   * taken included, as Apify's `queueHasLockedRequests`).
   */
  lockHead(
    queueId: string,
    limit: number,
    lockMs: number,
    actor: QueueActor,
  ): Promise<{ items: StoredQueueRequest[]; queueHasLockedRequests: boolean } | 'no-store'>;
  /** Extends the caller's live lock to `now + lockMs`; with `forefront`, the request also moves to the front. */
  prolongLock(
    queueId: string,
    id: string,
    lockMs: number,
    forefront: boolean,
    actor: QueueActor,
  ): Promise<{ lockExpiresAt: number } | LockRefusal>;
  /** Ends the caller's live lock; with `forefront`, the request also moves to the front. */
  deleteLock(queueId: string, id: string, forefront: boolean, actor: QueueActor): Promise<'ok' | LockRefusal>;
  /** Ends every live lock of `actor.clientKey` in the queue; how many. */
  unlockRequests(queueId: string, actor: QueueActor): Promise<number | 'no-store'>;
  /**
   * A page of the queue's requests in id order after `after` (exclusive), at most `limit`, all of
   * them or only the live-locked or the pending ones.
   */
  listRequests(
    queueId: string,
    query: { limit: number; after?: string; filter?: 'locked' | 'pending'; now: number },
  ): Promise<{ items: StoredQueueRequest[]; isTruncated: boolean }>;
}

/** Storages of one kind and the bytes they hold, for metrics. */
export interface KindTotals {
  kind: StorageKind;
  stores: number;
  bytes: number;
}

/** Counters, totals and retention: the work around the requests. */
export interface Housekeeping {
  applyStats(deltas: StatsDelta[]): Promise<void>;

  /** Storages and their stored bytes (the sum of `storageBytes`) per kind over every user, for metrics. */
  totals(): Promise<KindTotals[]>;
  /**
   * Up to `limit` ids of unnamed storages (of every kind) last modified before `olderThan` (ms), oldest first, for
   * the retention sweeper. Served by an index, so a batch costs O(limit).
   */
  listExpiredUnnamedStores(olderThan: number, limit: number): Promise<string[]>;

  /**
   * Counts a request against `key` in the current fixed window of `windowMs`, for rate limits
   * shared by every node on the storage. Drivers used by one process only leave it out (the
   * limits are then counted in memory).
   */
  countRequest?(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }>;
}

/**
 * The storage contract: one part per kind of thing stored, and a caller depends on the parts it
 * uses. Each kind of storage (records, datasets, request queues) is a part of its own. Every
 * method is async; something missing is `undefined` or `false`, never an exception. Writes resolve
 * only after they are durable in the driver's sense (committed). Failures that pass are the errors
 * of `errors.ts`.
 */
export interface StorageDriver
  extends AccountStorage,
    StoreStorage,
    RequestLookupStorage,
    RecordStorage,
    DatasetStorage,
    RequestQueueStorage,
    Housekeeping {
  readonly kind: string;
  close(): Promise<void>;
}

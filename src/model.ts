/**
 * The vocabulary every layer shares: what a user, a token, a store and a record are, and the
 * limits a configuration sets. It imports nothing, so that any layer may import it.
 */

/** Store-level general access values of the Apify API. */
export const GENERAL_ACCESS = [
  'RESTRICTED',
  'ANYONE_WITH_ID_CAN_READ',
  'ANYONE_WITH_NAME_CAN_READ',
  'FOLLOW_USER_SETTING',
] as const;
export type GeneralAccess = (typeof GENERAL_ACCESS)[number];

/**
 * The kinds of storage. Each is a namespace of its own (a dataset and a key-value store may share a
 * name), and all share users, tokens, general access, signing, statistics and retention.
 */
export const STORAGE_KINDS = ['kvs', 'dataset', 'queue'] as const;
export type StorageKind = (typeof STORAGE_KINDS)[number];

/** Encodings a record may be stored with (identity is stored as `null`). */
export type ContentEncoding = 'gzip' | 'deflate' | 'br';

export interface UserRow {
  id: string;
  username: string;
  createdAt: number;
}

export interface TokenRow {
  id: string;
  userId: string;
  /** SHA-256 of the token, hex. The token itself is never stored. */
  hash: string;
  label: string | null;
  createdAt: number;
}

export interface StoreStats {
  readCount: number;
  writeCount: number;
  deleteCount: number;
  listCount: number;
  storageBytes: number;
}

/** A storage of any kind (a key-value store, a dataset): its row, settings and counters. */
export interface StoreRow {
  id: string;
  kind: StorageKind;
  userId: string;
  name: string | null;
  title: string | null;
  createdAt: number;
  modifiedAt: number;
  accessedAt: number;
  generalAccess: GeneralAccess;
  /** The store's JSON schema, serialized, or null. */
  schema: string | null;
  urlSigningSecretKey: string;
  stats: StoreStats;
  /**
   * Datasets: the items pushed, and those with a field not hidden (`#…`). Request queues: the
   * requests in the queue (`totalRequestCount`). 0 for other kinds.
   */
  itemCount: number;
  cleanItemCount: number;
  /** Request queues: the requests handled, and whether more than one clientKey has written or locked. */
  handledCount: number;
  hadMultipleClients: boolean;
}

export interface RecordMeta {
  key: string;
  contentType: string;
  contentEncoding: ContentEncoding | null;
  /** Bytes as stored (possibly compressed). */
  size: number;
  /** Bytes after decoding `contentEncoding` (equal to `size` for identity). */
  decodedSize: number;
  modifiedAt: number;
  /** Hash of the stored bytes, computed at write time (the strong ETag); null for none. */
  etag: string | null;
}

/**
 * A precondition on the record's current state, checked atomically with the write.
 * `ifMatch`: the record exists and its etag is listed (or `*` is). `ifNoneMatch`: the record does
 * not exist (`*`), or its etag is not listed.
 */
export interface WriteCondition {
  ifMatch?: string[];
  ifNoneMatch?: string[];
}

/** Per-store request rates (spec decision 15): off unless configured. */
export interface RateLimits {
  /** Record reads and writes per second per store (the cloud's 200). */
  recordOpsPerSecond: number;
  /** Other requests per second per store (the cloud's 60). */
  otherPerSecond: number;
}

export const CLOUD_RATE_LIMITS: RateLimits = { recordOpsPerSecond: 200, otherPerSecond: 60 };

import { InvalidCollectionError, RecordNotFoundError } from '../errors.js';
import type { ContentEncoding, RecordMeta, StorageDriver, StoredRecord, StoreRow } from '../storage/driver.js';
import type { AccessPolicy, Caller, StoreRef } from './access.js';
import { recordSignature, verifyRecordSignature, verifyStorageContentSignature } from './signing.js';
import type { StatsBuffer } from './stats.js';

export interface RecordUpload {
  contentType: string;
  contentEncoding: ContentEncoding | null;
  /** The body as it arrives; it throws (and nothing is stored) when it is too large or corrupt. */
  body: AsyncIterable<Buffer>;
  sizeHint?: number;
  /** The decoded size, known once `body` has been read to the end. */
  decodedSize: () => number;
}

export interface KeyListOptions {
  exclusiveStartKey?: string;
  limit: number;
  prefix?: string;
  collection?: string;
  signature?: string;
}

export interface RecordsDeps {
  driver: StorageDriver;
  access: AccessPolicy;
  stats: StatsBuffer;
  publicUrl: () => string;
}

const recordNotFound = () => new RecordNotFoundError('Record was not found.');

/** The key range of a schema collection: an exact key or a key prefix. */
function collectionRange(store: StoreRow, collection: string): { key?: string; keyPrefix?: string } {
  const schema = store.schema === null ? undefined : (JSON.parse(store.schema) as { collections?: Record<string, unknown> });
  if (!schema) throw new InvalidCollectionError('The key-value store has no schema, so it has no collections.');
  const def = schema.collections && Object.hasOwn(schema.collections, collection) ? schema.collections[collection] : undefined;
  if (!def || typeof def !== 'object')
    throw new InvalidCollectionError(`Collection "${collection}" is not defined in the store's schema.`);
  const { key, keyPrefix } = def as { key?: unknown; keyPrefix?: unknown };
  return typeof key === 'string' ? { key } : { keyPrefix: typeof keyPrefix === 'string' ? keyPrefix : '' };
}

/** Combines the `prefix` parameter with a collection's prefix: the longer one, or none if they disagree. */
function narrowPrefix(a: string | undefined, b: string | undefined): string | null | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (a.startsWith(b)) return a;
  if (b.startsWith(a)) return b;
  return null;
}

/** Record-level operations and key listing. */
export class Records {
  readonly #d: RecordsDeps;

  constructor(deps: RecordsDeps) {
    this.#d = deps;
  }

  #recordSignature(key: string, signature: string | undefined) {
    return signature === undefined ? undefined : (s: StoreRow) => verifyRecordSignature(s.urlSigningSecretKey, key, signature);
  }

  async get(caller: Caller, ref: StoreRef, key: string, signature?: string): Promise<StoredRecord> {
    const { store } = await this.#d.access.resolve(caller, ref, 'read', this.#recordSignature(key, signature));
    this.#d.stats.read(store.id);
    const record = await this.#d.driver.getRecord(store.id, key);
    if (!record) throw recordNotFound();
    return record;
  }

  async head(caller: Caller, ref: StoreRef, key: string, signature?: string): Promise<RecordMeta> {
    const { store } = await this.#d.access.resolve(caller, ref, 'read', this.#recordSignature(key, signature));
    this.#d.stats.access(store.id);
    const meta = await this.#d.driver.getRecordMeta(store.id, key);
    if (!meta) throw recordNotFound();
    return meta;
  }

  /** Resolves the store for a write; call before reading the body, so that refusals cost nothing. */
  async storeForWrite(caller: Caller, ref: StoreRef): Promise<StoreRow> {
    return (await this.#d.access.resolve(caller, ref, 'write')).store;
  }

  async put(store: StoreRow, key: string, upload: RecordUpload): Promise<void> {
    const staged = await this.#d.driver.stageValue(upload.body, upload.sizeHint);
    let ok: boolean;
    try {
      ok = await this.#d.driver.putRecord(
        store.id,
        key,
        {
          contentType: upload.contentType,
          contentEncoding: upload.contentEncoding,
          decodedSize: upload.decodedSize(),
          now: Date.now(),
        },
        staged,
      );
    } catch (err) {
      await this.#d.driver.discardValue(staged);
      throw err;
    }
    if (!ok) throw new RecordNotFoundError();
  }

  async delete(caller: Caller, ref: StoreRef, key: string): Promise<void> {
    const { store } = await this.#d.access.resolve(caller, ref, 'write');
    const removed = await this.#d.driver.deleteRecord(store.id, key, Date.now());
    if (removed === undefined) throw new RecordNotFoundError();
  }

  async listKeys(caller: Caller, ref: StoreRef, o: KeyListOptions) {
    const signature = o.signature;
    const check =
      signature === undefined
        ? undefined
        : (s: StoreRow) => verifyStorageContentSignature(s.urlSigningSecretKey, s.id, signature);
    const { store } = await this.#d.access.resolve(caller, ref, 'read', check);
    const range = o.collection === undefined ? {} : collectionRange(store, o.collection);
    this.#d.stats.list(store.id);
    const prefix = narrowPrefix(o.prefix, range.key ?? range.keyPrefix);
    let page = { items: [] as { key: string; size: number }[], isTruncated: false };
    if (prefix !== null) {
      page = await this.#d.driver.listKeys(store.id, { exclusiveStartKey: o.exclusiveStartKey, prefix, limit: o.limit });
      if (range.key !== undefined)
        page = { items: page.items.filter((i) => i.key === range.key).slice(0, 1), isTruncated: false };
    }
    const base = `${this.#d.publicUrl()}/v2/key-value-stores/${store.id}/records/`;
    const last = page.items[page.items.length - 1];
    return {
      items: page.items.map((i) => ({
        key: i.key,
        size: i.size,
        recordPublicUrl: `${base}${i.key}?signature=${recordSignature(store.urlSigningSecretKey, i.key)}`,
      })),
      count: page.items.length,
      limit: o.limit,
      exclusiveStartKey: o.exclusiveStartKey ?? null,
      isTruncated: page.isTruncated,
      nextExclusiveStartKey: page.isTruncated && last ? last.key : null,
    };
  }
}

import { InvalidCollectionError, PreconditionFailedError, RecordNotFoundError } from '../../errors.js';
import type { ContentEncoding, RecordMeta, StoreRow, WriteCondition } from '../../model.js';
import type { KeyListPage, LookedUpRecord, NewRecord, PutResult, RecordStorage, StoredRecord } from '../../storage/driver.js';
import type { AccessPolicy, LookedUp, StoreRef } from '../access.js';
import { recordSignature, verifyRecordSignature, verifyStorageContentSignature } from '../signing.js';
import type { StatsBuffer } from '../stats.js';

export interface RecordUpload {
  contentType: string;
  contentEncoding: ContentEncoding | null;
  /** The body as it arrives; it throws (and nothing is stored) when it is too large or corrupt. */
  body: AsyncIterable<Buffer>;
  sizeHint?: number;
  /** The decoded size, known once `body` has been read to the end. */
  decodedSize: () => number;
  /** The content hash of the stored bytes, known once `body` has been read to the end. */
  etag: () => string;
  condition?: WriteCondition;
}

export interface KeyListOptions {
  exclusiveStartKey?: string;
  limit: number;
  prefix?: string;
  collection?: string;
  signature?: string;
}

export interface RecordsDeps {
  driver: RecordStorage;
  access: AccessPolicy;
  stats: StatsBuffer;
  publicUrl: () => string;
}

const ARCHIVE_PAGE = 1000;

const recordNotFound = () => new RecordNotFoundError('Record was not found.');

/**
 * The answer for an inline record, made once per looked-up version: a storage that keeps lookups
 * (SQLite) hands out the same object until the record changes, and the HTTP layer keeps the
 * version's headers with it.
 */
const inlineAnswers = new WeakMap<LookedUpRecord, StoredRecord>();

function inlineAnswer(record: LookedUpRecord, data: Buffer): StoredRecord {
  let answer = inlineAnswers.get(record);
  if (!answer) {
    answer = { ...record.meta, value: { kind: 'buffer', data } };
    inlineAnswers.set(record, answer);
  }
  return answer;
}

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

/** Throws what a write that did not happen answers. */
function putOutcome(status: PutResult): void {
  if (status === 'no-store') throw new RecordNotFoundError();
  if (status === 'precondition-failed') throw new PreconditionFailedError();
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

  /**
   * A record with its bytes, synchronously when the storage looks it up synchronously and holds it
   * inline (SQLite's small records): no promise on the hot path. A refusal is thrown, or rejects.
   */
  get(token: string | undefined, ref: StoreRef, key: string, signature?: string): StoredRecord | Promise<StoredRecord> {
    const found = this.#d.access.lookup(token, ref, 'read', {
      signature: this.#recordSignature(key, signature),
      record: { key, withValue: true },
    });
    if (found instanceof Promise) return found.then((f) => this.#stored(f, key));
    return this.#stored(found, key);
  }

  #stored({ store, record }: LookedUp, key: string): StoredRecord | Promise<StoredRecord> {
    this.#d.stats.read(store.id);
    if (!record) throw recordNotFound();
    if (record.inline !== null) return inlineAnswer(record, record.inline);
    // Stored elsewhere (a file, chunks): opened only now that access is granted.
    return this.#d.driver.getRecord(store.id, key).then((stored) => {
      if (!stored) throw recordNotFound();
      return stored;
    });
  }

  /** A record's metadata; synchronous like `get` where the storage allows. */
  head(token: string | undefined, ref: StoreRef, key: string, signature?: string): RecordMeta | Promise<RecordMeta> {
    const found = this.#d.access.lookup(token, ref, 'read', {
      signature: this.#recordSignature(key, signature),
      record: { key, withValue: false },
    });
    const meta = ({ store, record }: LookedUp) => {
      this.#d.stats.access(store.id);
      if (!record) throw recordNotFound();
      return record.meta;
    };
    return found instanceof Promise ? found.then(meta) : meta(found);
  }

  /** Resolves the store for a write; call before reading the body, so that refusals cost nothing. */
  storeForWrite(token: string | undefined, ref: StoreRef): StoreRow | Promise<StoreRow> {
    const found = this.#d.access.lookup(token, ref, 'write');
    return found instanceof Promise ? found.then((f) => f.store) : found.store;
  }

  /** Bodies declared no larger than this may be written with `putSmall`, in one storage round trip. */
  get smallPutMaxBytes(): number {
    return this.#d.driver.putWithLookupMaxBytes;
  }

  /**
   * Writes a small body (declared no larger than `smallPutMaxBytes`) with its access check in the
   * same storage call: the body is read first. Same answers, in the same order, as `storeForWrite`
   * then `put`: a body that fails to read is answered with the refusal a lookup finds, if any.
   */
  async putSmall(token: string | undefined, ref: StoreRef, key: string, upload: RecordUpload): Promise<StoreRow> {
    const access = this.#d.access;
    const lookup = access.writeLookup(token, ref);
    let data: Buffer;
    try {
      const parts: Buffer[] = [];
      for await (const part of upload.body) parts.push(part);
      data = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
    } catch (err) {
      await this.storeForWrite(token, ref);
      throw err;
    }
    const { rows, status } = await this.#d.driver.putRecordFor(lookup, key, this.#newRecord(upload), data, upload.condition);
    const { store } = access.decideWrite(lookup, ref, rows);
    // The storage writes exactly when the token's user owns the store, which is when writes are granted.
    if (status === undefined) throw new Error('the storage did not write what the access policy grants');
    putOutcome(status);
    return store;
  }

  #newRecord(upload: RecordUpload): NewRecord {
    return {
      contentType: upload.contentType,
      contentEncoding: upload.contentEncoding,
      decodedSize: upload.decodedSize(),
      etag: upload.etag(),
      now: Date.now(),
    };
  }

  async put(store: StoreRow, key: string, upload: RecordUpload): Promise<void> {
    const staged = await this.#d.driver.stageValue(store.id, upload.body, upload.sizeHint);
    let status: PutResult;
    try {
      status = await this.#d.driver.putRecord(store.id, key, this.#newRecord(upload), staged, upload.condition);
    } catch (err) {
      await this.#d.driver.discardValue(staged);
      throw err;
    }
    putOutcome(status);
  }

  async delete(token: string | undefined, ref: StoreRef, key: string, condition?: WriteCondition): Promise<void> {
    const { store } = await this.#d.access.lookup(token, ref, 'write');
    const status = await this.#d.driver.deleteRecord(store.id, key, Date.now(), condition);
    if (status === 'no-store') throw new RecordNotFoundError();
    if (status === 'precondition-failed') throw new PreconditionFailedError();
  }

  /** Resolves a store for reading its content: by token, general access or a storage-content signature. */
  async #contentStore(token: string | undefined, ref: StoreRef, signature: string | undefined): Promise<StoreRow> {
    const check =
      signature === undefined
        ? undefined
        : (s: StoreRow) => verifyStorageContentSignature(s.urlSigningSecretKey, s.id, signature);
    return (await this.#d.access.lookup(token, ref, 'read', { signature: check })).store;
  }

  /** One page of keys in byte order, narrowed by prefix and collection. */
  async #page(store: StoreRow, o: Omit<KeyListOptions, 'signature'>): Promise<KeyListPage> {
    const range = o.collection === undefined ? {} : collectionRange(store, o.collection);
    const prefix = narrowPrefix(o.prefix, range.key ?? range.keyPrefix);
    if (prefix === null) return { items: [], isTruncated: false };
    const page = await this.#d.driver.listKeys(store.id, { exclusiveStartKey: o.exclusiveStartKey, prefix, limit: o.limit });
    if (range.key === undefined) return page;
    return { items: page.items.filter((i) => i.key === range.key).slice(0, 1), isTruncated: false };
  }

  async listKeys(token: string | undefined, ref: StoreRef, o: KeyListOptions) {
    const store = await this.#contentStore(token, ref, o.signature);
    const page = await this.#page(store, o);
    this.#d.stats.list(store.id);
    const last = page.items[page.items.length - 1];
    const secret = store.urlSigningSecretKey;
    return {
      /** Each record's public URL is this, the key, then `?signature=` and its signature. */
      recordUrlBase: `${this.#d.publicUrl()}/v2/key-value-stores/${store.id}/records/`,
      items: page.items.map((i) => ({ key: i.key, size: i.size, signature: recordSignature(secret, i.key) })),
      count: page.items.length,
      limit: o.limit,
      exclusiveStartKey: o.exclusiveStartKey ?? null,
      isTruncated: page.isTruncated,
      nextExclusiveStartKey: page.isTruncated && last ? last.key : null,
    };
  }

  /** Every record of a store (or of a prefix or collection), for the ZIP download, read lazily. */
  async archive(token: string | undefined, ref: StoreRef, o: ArchiveOptions): Promise<RecordsArchive> {
    const store = await this.#contentStore(token, ref, o.signature);
    const first = await this.#page(store, { ...o, limit: ARCHIVE_PAGE });
    this.#d.stats.list(store.id);
    const page = this.#page.bind(this);
    async function* pages(): AsyncGenerator<string[]> {
      let current = first;
      for (;;) {
        yield current.items.map((i) => i.key);
        const last = current.items[current.items.length - 1];
        if (!current.isTruncated || !last) return;
        current = await page(store, { ...o, exclusiveStartKey: last.key, limit: ARCHIVE_PAGE });
      }
    }
    return {
      store,
      pages: pages(),
      open: async (key) => {
        this.#d.stats.read(store.id);
        return this.#d.driver.getRecord(store.id, key);
      },
    };
  }
}

/** What the records archive reads: the store, its keys page by page, and each record on demand. */
export interface RecordsArchive {
  store: StoreRow;
  pages: AsyncGenerator<string[]>;
  open(key: string): Promise<StoredRecord | undefined>;
}

export interface ArchiveOptions {
  prefix?: string;
  collection?: string;
  signature?: string;
}

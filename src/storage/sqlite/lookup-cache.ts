import type { StoreRow, TokenRow, UserRow } from '../../model.js';
import type { LookedUpRecord, RequestLookup, RequestRows } from '../driver.js';

/** Entries per map before it is emptied (a crude bound that keeps memory flat under key sprays). */
const MAX_ENTRIES = 20_000;
/** Inline bytes held before the record map is emptied. */
const MAX_RECORD_BYTES = 16 * 1024 * 1024;
/**
 * Larger values are not kept: sending them costs more than looking them up, and a few of them
 * would fill the map (and the process's memory) with little use.
 */
const MAX_VALUE_BYTES = 16 * 1024;

type Found<T> = T | null;

/**
 * What record requests look up (token, store, record), kept in memory so that a hot record costs
 * no query. Exact, not eventually consistent: the owner clears it whenever another connection has
 * committed (SQLite's `data_version` moved) and drops what its own writes change, inside the
 * transaction that changes it. Store rows here serve access decisions only: their counters may lag.
 */
export class LookupCache {
  readonly #tokens = new Map<string, Found<{ token: TokenRow; user: UserRow }>>();
  readonly #stores = new Map<string, Found<StoreRow>>();
  readonly #records = new Map<string, Found<LookedUpRecord>>();
  #recordBytes = 0;

  /** The kind is part of the key: a store of another kind is not found (and is cached as such). */
  static storeKey(lookup: RequestLookup, user: UserRow | undefined): string | undefined {
    const s = lookup.store;
    if (!s) return undefined;
    if ('id' in s) return `i\0${lookup.kind}\0${s.id}`;
    if ('owner' in s) return user ? `c\0${lookup.kind}\0${user.id}\0${s.name}` : undefined;
    return `o\0${lookup.kind}\0${s.ownerName}\0${s.name}`;
  }

  static recordKey(storeId: string, key: string, withValue: boolean): string {
    return `${withValue ? 'v' : 'm'}\0${storeId}\0${key}`;
  }

  /** The rows of a lookup when everything it needs is here, else undefined. */
  get(lookup: RequestLookup): RequestRows | undefined {
    const rows: RequestRows = {};
    if (lookup.tokenHash !== undefined) {
      const t = this.#tokens.get(lookup.tokenHash);
      if (t === undefined) return undefined;
      if (t !== null) {
        rows.token = t.token;
        rows.user = t.user;
      }
    }
    const storeKey = LookupCache.storeKey(lookup, rows.user);
    // No store named, or the caller's store without a caller: nothing more to find.
    if (storeKey === undefined) return rows;
    const store = this.#stores.get(storeKey);
    if (store === undefined) return undefined;
    if (store === null) return rows;
    rows.store = store;
    if (!lookup.record) return rows;
    const record = this.#records.get(LookupCache.recordKey(store.id, lookup.record.key, lookup.record.withValue));
    if (record === undefined) return undefined;
    if (record !== null) rows.record = record;
    return rows;
  }

  /** Keeps the rows a lookup found (and what it did not find). */
  put(lookup: RequestLookup, rows: RequestRows): void {
    if (lookup.tokenHash !== undefined) {
      if (this.#tokens.size >= MAX_ENTRIES) this.#tokens.clear();
      this.#tokens.set(lookup.tokenHash, rows.token && rows.user ? { token: rows.token, user: rows.user } : null);
    }
    const storeKey = LookupCache.storeKey(lookup, rows.user);
    if (storeKey === undefined) return;
    if (this.#stores.size >= MAX_ENTRIES) this.#stores.clear();
    this.#stores.set(storeKey, rows.store ?? null);
    if (!rows.store || !lookup.record) return;
    if ((rows.record?.inline?.length ?? 0) > MAX_VALUE_BYTES) return;
    if (this.#records.size >= MAX_ENTRIES || this.#recordBytes >= MAX_RECORD_BYTES) this.clearRecords();
    this.#records.set(LookupCache.recordKey(rows.store.id, lookup.record.key, lookup.record.withValue), rows.record ?? null);
    this.#recordBytes += rows.record?.inline?.length ?? 0;
  }

  /** A record was written or deleted. */
  dropRecord(storeId: string, key: string): void {
    this.#records.delete(LookupCache.recordKey(storeId, key, true));
    this.#records.delete(LookupCache.recordKey(storeId, key, false));
  }

  clearRecords(): void {
    this.#records.clear();
    this.#recordBytes = 0;
  }

  /** A store was created, renamed, changed or deleted: every store reference may now mean something else. */
  clearStores(): void {
    this.#stores.clear();
    this.clearRecords();
  }

  clearTokens(): void {
    this.#tokens.clear();
  }

  clear(): void {
    this.clearTokens();
    this.clearStores();
  }
}

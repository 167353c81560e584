import { RecordNotFoundError } from '../../errors.js';
import type { StoreRow } from '../../model.js';
import type { DatasetStorage } from '../../storage/driver.js';
import { type AccessPolicy, KIND_LABEL, type StoreRef } from '../access.js';
import { verifyStorageContentSignature } from '../signing.js';
import type { StatsBuffer } from '../stats.js';
import { splitItems } from './json-items.js';

/** Items read from the storage per query while a response streams (a page of the bench is 1000). */
export const READ_CHUNK = 1000;

export interface ItemsDeps {
  driver: DatasetStorage;
  access: AccessPolicy;
  stats: StatsBuffer;
}

/** The part of a dataset a read covers: positions [from, to), walked backwards with `desc`. */
export interface ItemWindow {
  /** The dataset's item count when the read began; later pushes are not part of this read. */
  total: number;
  offset: number;
  /** Undefined: no limit. */
  limit: number | undefined;
  desc: boolean;
  from: number;
  to: number;
}

/** The window of a read: `offset` items skipped from the start, or from the end with `desc`. */
export function itemWindow(total: number, offset: number, limit: number | undefined, desc: boolean): ItemWindow {
  const span = limit ?? Number.MAX_SAFE_INTEGER;
  if (desc) {
    const to = Math.max(0, total - offset);
    return { total, offset, limit, desc, from: Math.max(0, to - span), to };
  }
  const from = Math.min(total, offset);
  return { total, offset, limit, desc, from, to: Math.min(total, from + span) };
}

/** Pushing and reading the items of datasets. */
export class Items {
  readonly #d: ItemsDeps;

  constructor(deps: ItemsDeps) {
    this.#d = deps;
  }

  /**
   * Appends the items of a push body (a JSON object or an array of objects), each kept as its exact
   * text. The caller is checked before the body is looked at; nothing is stored unless all is valid.
   */
  async push(token: string | undefined, ref: StoreRef, body: () => Promise<string>): Promise<void> {
    const { store } = await this.#d.access.lookup(token, ref, 'write');
    const { items, clean } = splitItems(await body());
    const status = await this.#d.driver.pushItems(store.id, items, clean, Date.now());
    if (status === 'no-store') throw new RecordNotFoundError(`${KIND_LABEL.dataset} was not found.`);
  }

  /**
   * The dataset a read of its items names, as it is now (its item count is the read's total): by
   * token, general access or a storage-content signature (`createItemsPublicUrl`).
   */
  async open(token: string | undefined, ref: StoreRef, signature: string | undefined): Promise<StoreRow> {
    const check =
      signature === undefined
        ? undefined
        : (s: StoreRow) => verifyStorageContentSignature(s.urlSigningSecretKey, s.id, signature);
    const { store } = await this.#d.access.lookup(token, ref, 'read', { signature: check, fresh: true });
    return store;
  }

  /** Counts a read of `count` items (and the access) in the dataset's statistics. */
  countRead(store: StoreRow, count: number): void {
    this.#d.stats.read(store.id, Date.now(), count);
  }

  /**
   * The items of a window as JSON texts, in output order, a chunk at a time: a read of a million
   * items never holds more than one chunk. Each call walks the window again (tables read it twice).
   */
  async *chunks(store: StoreRow, w: ItemWindow): AsyncGenerator<string[]> {
    if (!w.desc) {
      for (let at = w.from; at < w.to; at += READ_CHUNK) {
        const chunk = await this.#d.driver.readItems(store.id, at, Math.min(READ_CHUNK, w.to - at));
        if (chunk.length > 0) yield chunk;
      }
      return;
    }
    for (let end = w.to; end > w.from; end -= READ_CHUNK) {
      const start = Math.max(w.from, end - READ_CHUNK);
      const chunk = await this.#d.driver.readItems(store.id, start, end - start);
      if (chunk.length > 0) yield chunk.reverse();
    }
  }
}

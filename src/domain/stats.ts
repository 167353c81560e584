import type { StoreRow } from '../model.js';
import type { Housekeeping, StatsDelta } from '../storage/driver.js';

/**
 * Read counters and access times, gathered in memory and written in one batch per interval, so
 * that reads cost no write. Pending counts are merged into store objects, so a read shows at once.
 */
export class StatsBuffer {
  readonly #driver: Housekeeping;
  #pending = new Map<string, StatsDelta>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(driver: Housekeeping, intervalMs = 1000) {
    this.#driver = driver;
    this.#timer = setInterval(() => void this.flush(), intervalMs);
    this.#timer.unref();
  }

  #entry(storeId: string, now: number): StatsDelta {
    let d = this.#pending.get(storeId);
    if (!d) {
      d = { storeId, readCount: 0, listCount: 0, accessedAt: now };
      this.#pending.set(storeId, d);
    }
    d.accessedAt = Math.max(d.accessedAt, now);
    return d;
  }

  /** `count` reads: 1 per record read, 1 per item read from a dataset. */
  read(storeId: string, now = Date.now(), count = 1): void {
    this.#entry(storeId, now).readCount += count;
  }

  list(storeId: string, now = Date.now()): void {
    this.#entry(storeId, now).listCount++;
  }

  access(storeId: string, now = Date.now()): void {
    this.#entry(storeId, now);
  }

  /** The store with the counts not yet written added in. */
  merge(store: StoreRow): StoreRow {
    const d = this.#pending.get(store.id);
    if (!d) return store;
    return {
      ...store,
      accessedAt: Math.max(store.accessedAt, d.accessedAt),
      stats: {
        ...store.stats,
        readCount: store.stats.readCount + d.readCount,
        listCount: store.stats.listCount + d.listCount,
      },
    };
  }

  forget(storeId: string): void {
    this.#pending.delete(storeId);
  }

  /** Writes what is pending; concurrent calls queue behind each other. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(async () => {
      if (this.#pending.size === 0) return;
      const batch = [...this.#pending.values()];
      this.#pending = new Map();
      try {
        await this.#driver.applyStats(batch);
      } catch {
        for (const d of batch) {
          const e = this.#entry(d.storeId, d.accessedAt);
          e.readCount += d.readCount;
          e.listCount += d.listCount;
        }
      }
    });
    return this.#flushing;
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }
}

import type { Housekeeping, StoreStorage } from '../storage/driver.js';

const DAY_MS = 24 * 3600 * 1000;

export interface RetentionOptions {
  driver: Housekeeping & StoreStorage;
  /** Unnamed stores not modified for this many days are deleted; 0 keeps them forever. */
  days: number;
  /**
   * Time between sweeps (default 10 minutes, plus up to 10% at random so that nodes drift apart);
   * the first comes at a random point of the first interval, so frequent restarts still sweep.
   */
  intervalMs?: number;
  /** Stores per batch (default 20). */
  batchSize?: number;
  /** Batches per sweep at most (default 50), so one sweep never runs for long. */
  maxBatches?: number;
  /** The clock, for tests. */
  now?: () => number;
  /** Called for each store the sweeper deleted (to drop its pending statistics). */
  onDeleted?: (storeId: string) => void;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

export interface RetentionSweeper {
  /** Runs one sweep now; resolves with the number of stores it deleted. */
  sweep(): Promise<number>;
  /** Starts sweeping periodically. */
  start(): void;
  /** Stops the timer and waits for a sweep in progress. */
  stop(): Promise<void>;
}

/**
 * Deletes unnamed stores that nobody modified for `days` days, in small batches. Safe with several
 * nodes on one storage: each batch lists a few expired ids and deletes them one by one; two nodes
 * picking the same store both succeed (deleting is idempotent). The delete itself checks that the
 * store is still unnamed and unmodified, so one written to or named since the listing is kept.
 */
export function createRetentionSweeper(options: RetentionOptions): RetentionSweeper {
  const { driver, days } = options;
  const now = options.now ?? Date.now;
  const batchSize = options.batchSize ?? 20;
  const maxBatches = options.maxBatches ?? 50;
  const intervalMs = options.intervalMs ?? 10 * 60 * 1000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let stopped = false;

  async function sweepBatches(): Promise<number> {
    if (days <= 0) return 0;
    const cutoff = now() - days * DAY_MS;
    let deleted = 0;
    for (let batch = 0; batch < maxBatches && !stopped; batch++) {
      const ids = await driver.listExpiredUnnamedStores(cutoff, batchSize);
      for (const id of ids) {
        if (await driver.deleteStore(id, { unnamedBefore: cutoff })) {
          deleted++;
          options.onDeleted?.(id);
        }
      }
      if (ids.length < batchSize) break;
    }
    if (deleted > 0) options.log?.info({ deleted, days }, 'retention: deleted unnamed stores not modified in time');
    return deleted;
  }

  function sweep(): Promise<number> {
    running ??= sweepBatches().finally(() => {
      running = undefined;
    });
    return running;
  }

  function schedule(delay: number): void {
    if (stopped) return;
    const next = () => schedule(intervalMs * (1 + Math.random() * 0.1));
    timer = setTimeout(() => {
      sweep().then(next, (err: unknown) => {
        options.log?.warn({ err }, 'retention: sweep failed; retrying at the next interval');
        next();
      });
    }, delay);
    timer.unref();
  }

  return {
    sweep,
    start() {
      if (days <= 0 || timer) return;
      stopped = false;
      schedule(intervalMs * Math.random());
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await running?.catch(() => undefined);
    },
  };
}

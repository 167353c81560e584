import type { StorageDriver } from '../storage/driver.js';
import { AccessPolicy, type AccountAccess } from './access.js';
import { type ApiDataset, DATASET_SPEC } from './datasets/dataset-object.js';
import { Items } from './datasets/items.js';
import { Records } from './key-value-stores/records.js';
import { type ApiStore, KVS_SPEC } from './key-value-stores/store-object.js';
import { type ApiQueue, QUEUE_SPEC } from './queues/queue-object.js';
import { QueueRequests } from './queues/requests.js';
import { StatsBuffer } from './stats.js';
import { Stores } from './stores.js';
import { Users } from './users.js';

export interface KvsOptions {
  driver: StorageDriver;
  /** Origin of the links the server builds (signed URLs, console links), without a trailing `/`. */
  publicUrl: () => string;
  /** What `FOLLOW_USER_SETTING` means for every account. */
  accountAccess?: AccountAccess;
  statsIntervalMs?: number;
}

/** The domain: everything the HTTP layer may call. */
export interface Kvs {
  driver: StorageDriver;
  users: Users;
  access: AccessPolicy;
  /** Key-value stores and their records. */
  stores: Stores<ApiStore>;
  records: Records;
  /** Datasets and their items. */
  datasets: Stores<ApiDataset>;
  items: Items;
  /** Request queues and their requests. */
  queues: Stores<ApiQueue>;
  requests: QueueRequests;
  stats: StatsBuffer;
  /** Flushes the stats; the driver is closed by its owner. */
  close(): Promise<void>;
}

export function createKvs(options: KvsOptions): Kvs {
  const { driver, publicUrl } = options;
  const users = new Users(driver);
  const access = new AccessPolicy(driver, users, options.accountAccess ?? 'ANYONE_WITH_ID_CAN_READ');
  const stats = new StatsBuffer(driver, options.statsIntervalMs);
  return {
    driver,
    users,
    access,
    stats,
    stores: new Stores({ driver, users, access, stats, publicUrl }, KVS_SPEC),
    records: new Records({ driver, access, stats, publicUrl }),
    datasets: new Stores({ driver, users, access, stats, publicUrl }, DATASET_SPEC),
    items: new Items({ driver, access, stats }),
    queues: new Stores({ driver, users, access, stats, publicUrl }, QUEUE_SPEC),
    requests: new QueueRequests({ driver, access, stats }),
    close: () => stats.close(),
  };
}

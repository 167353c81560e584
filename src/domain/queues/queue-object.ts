import type { GeneralAccess } from '../../model.js';
import { type CommonFields, commonFields, type StorageKindSpec } from '../stores.js';

/** The request queue object of the API (`RequestQueue`). */
export interface ApiQueue extends CommonFields {
  actId: null;
  actRunId: null;
  totalRequestCount: number;
  handledRequestCount: number;
  pendingRequestCount: number;
  hadMultipleClients: boolean;
  consoleUrl: string;
  generalAccess: GeneralAccess;
  stats: { readCount: number; writeCount: number; deleteCount: number; headItemReadCount: number; storageBytes: number };
}

/** Request queues at the storage level: their API object; they take no schema. */
export const QUEUE_SPEC: StorageKindSpec<ApiQueue> = {
  kind: 'queue',
  present(ctx) {
    const { store, base } = ctx;
    return {
      ...commonFields(ctx),
      actId: null,
      actRunId: null,
      totalRequestCount: store.itemCount,
      handledRequestCount: store.handledCount,
      pendingRequestCount: store.itemCount - store.handledCount,
      hadMultipleClients: store.hadMultipleClients,
      consoleUrl: `${base}/v2/request-queues/${store.id}`,
      generalAccess: store.generalAccess,
      stats: {
        readCount: store.stats.readCount,
        writeCount: store.stats.writeCount,
        deleteCount: store.stats.deleteCount,
        headItemReadCount: store.stats.listCount,
        storageBytes: store.stats.storageBytes,
      },
    };
  },
};

import type { FastifyInstance } from 'fastify';
import type { Kvs } from '../../domain/index.js';
import { storageRoutes } from '../storage-routes.js';

/** `/v2/key-value-stores` and `/v2/key-value-stores/{storeId}`. */
export function storeRoutes(app: FastifyInstance, kvs: Kvs, publicUrl: () => string): void {
  storageRoutes(
    app,
    kvs,
    kvs.stores,
    {
      path: '/v2/key-value-stores',
      param: 'storeId',
      tag: 'Key-value stores',
      schemaRef: 'Store',
      operations: { collection: 'keyValueStores', item: 'keyValueStore' },
      noun: 'store',
      contents: 'all its records',
    },
    publicUrl,
  );
}

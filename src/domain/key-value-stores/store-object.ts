import { StoreSchemaInvalidError } from '../../errors.js';
import type { GeneralAccess } from '../../model.js';
import { type CommonFields, commonFields, type StorageKindSpec } from '../stores.js';

/** The store object of the API (`KeyValueStore`). */
export interface ApiStore extends CommonFields {
  actId: null;
  actRunId: null;
  consoleUrl: string;
  keysPublicUrl: string;
  recordsPublicUrl: string;
  schema: unknown;
  generalAccess: GeneralAccess;
  urlSigningSecretKey: string | null;
  stats: {
    readCount: number;
    writeCount: number;
    deleteCount: number;
    listCount: number;
    s3StorageBytes: number;
    storageBytes: number;
  };
}

/** Validates a key-value store schema: an object whose `collections`, if any, each name a `key` or a `keyPrefix`. */
export function validateSchema(schema: unknown): void {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw new StoreSchemaInvalidError('The store schema must be a JSON object.');
  }
  const collections = (schema as { collections?: unknown }).collections;
  if (collections === undefined) return;
  if (typeof collections !== 'object' || collections === null || Array.isArray(collections)) {
    throw new StoreSchemaInvalidError('The "collections" of a store schema must be an object.');
  }
  for (const [name, c] of Object.entries(collections)) {
    const def = c as { key?: unknown; keyPrefix?: unknown } | null;
    const ok = typeof def === 'object' && def !== null && (typeof def.key === 'string' || typeof def.keyPrefix === 'string');
    if (!ok) throw new StoreSchemaInvalidError(`Collection "${name}" must define "key" or "keyPrefix" as a string.`);
  }
}

/** Key-value stores at the storage level: their API object (`KeyValueStore`) and schema rule. */
export const KVS_SPEC: StorageKindSpec<ApiStore> = {
  kind: 'kvs',
  validateSchema,
  present(ctx) {
    const { store, canWrite, base, contentSignature } = ctx;
    const signature = contentSignature();
    return {
      ...commonFields(ctx),
      actId: null,
      actRunId: null,
      consoleUrl: `${base}/v2/key-value-stores/${store.id}`,
      keysPublicUrl: `${base}/v2/key-value-stores/${store.id}/keys?signature=${signature}`,
      recordsPublicUrl: `${base}/v2/key-value-stores/${store.id}/records?signature=${signature}`,
      schema: store.schema === null ? null : JSON.parse(store.schema),
      generalAccess: store.generalAccess,
      urlSigningSecretKey: canWrite ? store.urlSigningSecretKey : null,
      stats: {
        readCount: store.stats.readCount,
        writeCount: store.stats.writeCount,
        deleteCount: store.stats.deleteCount,
        listCount: store.stats.listCount,
        s3StorageBytes: store.stats.storageBytes,
        storageBytes: store.stats.storageBytes,
      },
    };
  },
};

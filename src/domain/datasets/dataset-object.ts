import { StoreSchemaInvalidError } from '../../errors.js';
import type { GeneralAccess } from '../../model.js';
import { type CommonFields, commonFields, type StorageKindSpec } from '../stores.js';

/** The dataset object of the API (`Dataset`). */
export interface ApiDataset extends CommonFields {
  itemCount: number;
  cleanItemCount: number;
  actId: null;
  actRunId: null;
  fields: null;
  schema: unknown;
  consoleUrl: string;
  itemsPublicUrl: string;
  generalAccess: GeneralAccess;
  urlSigningSecretKey: string | null;
  stats: { readCount: number; writeCount: number; storageBytes: number };
}

/** A dataset schema (its views) is kept as given; only its shape is checked here. */
function validateDatasetSchema(schema: unknown): void {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw new StoreSchemaInvalidError('The dataset schema must be a JSON object.');
  }
  const views = (schema as { views?: unknown }).views;
  if (views !== undefined && (typeof views !== 'object' || views === null || Array.isArray(views))) {
    throw new StoreSchemaInvalidError('The "views" of a dataset schema must be an object.');
  }
}

/** Datasets at the storage level: their API object and schema rule. */
export const DATASET_SPEC: StorageKindSpec<ApiDataset> = {
  kind: 'dataset',
  validateSchema: validateDatasetSchema,
  present(ctx) {
    const { store, canWrite, base, contentSignature } = ctx;
    return {
      ...commonFields(ctx),
      itemCount: store.itemCount,
      cleanItemCount: store.cleanItemCount,
      actId: null,
      actRunId: null,
      fields: null,
      schema: store.schema === null ? null : JSON.parse(store.schema),
      consoleUrl: `${base}/v2/datasets/${store.id}`,
      itemsPublicUrl: `${base}/v2/datasets/${store.id}/items?signature=${contentSignature()}`,
      generalAccess: store.generalAccess,
      urlSigningSecretKey: canWrite ? store.urlSigningSecretKey : null,
      stats: { readCount: store.stats.readCount, writeCount: store.stats.writeCount, storageBytes: store.stats.storageBytes },
    };
  },
};

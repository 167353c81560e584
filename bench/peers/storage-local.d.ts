/**
 * `@apify/storage-local` ships typings that its package.json "exports" do not point to, so ESM
 * imports see none; this is the part the benchmark uses.
 */
declare module '@apify/storage-local' {
  export class ApifyStorageLocal {
    constructor(options?: { storageDir?: string; enableWalMode?: boolean });
    keyValueStores(): { getOrCreate(name: string): Promise<{ id: string }> };
    keyValueStore(id: string): unknown;
  }
}

import type { ContentEncoding, GeneralAccess, RecordMeta, StoreRow } from './driver.js';

/** Row shapes shared by the SQL drivers, whose tables use the same column names. */
export interface StoreDbRow {
  id: string;
  user_id: string;
  name: string | null;
  title: string | null;
  created_at: number;
  modified_at: number;
  accessed_at: number;
  general_access: GeneralAccess;
  schema: string | null;
  signing_secret: string;
  read_count: number;
  write_count: number;
  delete_count: number;
  list_count: number;
  storage_bytes: number;
}

export interface RecordDbRow {
  key: string;
  size: number;
  content_type: string;
  content_encoding: ContentEncoding | null;
  decoded_size: number;
  modified_at: number;
  etag: string | null;
}

export function rowToStore(r: StoreDbRow): StoreRow {
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    title: r.title,
    createdAt: r.created_at,
    modifiedAt: r.modified_at,
    accessedAt: r.accessed_at,
    generalAccess: r.general_access,
    schema: r.schema,
    urlSigningSecretKey: r.signing_secret,
    stats: {
      readCount: r.read_count,
      writeCount: r.write_count,
      deleteCount: r.delete_count,
      listCount: r.list_count,
      storageBytes: r.storage_bytes,
    },
  };
}

export function rowToMeta(r: RecordDbRow): RecordMeta {
  return {
    key: r.key,
    size: r.size,
    contentType: r.content_type,
    contentEncoding: r.content_encoding,
    decodedSize: r.decoded_size,
    modifiedAt: r.modified_at,
    etag: r.etag,
  };
}

import type { ContentEncoding, GeneralAccess, RecordMeta, RequestLookup, RequestRows, StoreRow } from './driver.js';

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

/**
 * The columns of a request lookup (`lookupRequest`), read as an array (positions below): the token,
 * its user, the store, then the record and where its bytes are.
 */
const LOOKUP_BASE_COLS = `t.id, t.user_id, t.hash, t.label, t.created_at, u.id, u.username, u.created_at,
  s.id, s.user_id, s.name, s.title, s.created_at, s.modified_at, s.accessed_at, s.general_access, s.schema,
  s.signing_secret, s.read_count, s.write_count, s.delete_count, s.list_count, s.storage_bytes`;
const LOOKUP_RECORD_COLS = 'r.key, r.size, r.content_type, r.content_encoding, r.decoded_size, r.modified_at, r.etag';
/** Position of the first record column; the driver's two value columns follow the record's. */
const R = 23;
export const LOOKUP_VALUE_COL = R + 7;

export type LookupStoreKind = 'none' | 'id' | 'caller' | 'owner';
export type LookupRecordKind = 'none' | 'meta' | 'value';

/**
 * The one statement of a request lookup, the same in both SQL dialects: the token, its user, the
 * store and the record, each LEFT JOINed so that whatever is missing comes back as nulls.
 * `param(name)` writes a placeholder; `valueCols` are two columns that tell where a record's bytes
 * are: the bytes when inline, and the driver's pointer to bytes stored elsewhere. `valueJoin`, when
 * given, is joined after the record (`r`), for a driver that keeps inline bytes in a table of their own.
 */
export function lookupSql(
  store: LookupStoreKind,
  record: LookupRecordKind,
  param: (name: 'hash' | 'storeId' | 'owner' | 'name' | 'key') => string,
  valueCols: string,
  valueJoin?: string,
): string {
  const cols = [LOOKUP_BASE_COLS];
  if (record !== 'none') cols.push(LOOKUP_RECORD_COLS, valueCols);
  const joins = [
    `FROM (SELECT ${param('hash')} AS h) q`,
    'LEFT JOIN tokens t ON t.hash = q.h',
    'LEFT JOIN users u ON u.id = t.user_id',
  ];
  if (store === 'id') joins.push(`LEFT JOIN stores s ON s.id = ${param('storeId')}`);
  else if (store === 'caller') joins.push(`LEFT JOIN stores s ON s.user_id = u.id AND s.name = ${param('name')}`);
  else if (store === 'owner')
    joins.push(
      `LEFT JOIN users o ON o.username = ${param('owner')}`,
      `LEFT JOIN stores s ON s.user_id = o.id AND s.name = ${param('name')}`,
    );
  else joins.push('LEFT JOIN stores s ON 0 = 1');
  if (record !== 'none') joins.push(`LEFT JOIN records r ON r.store_id = s.id AND r.key = ${param('key')}`);
  if (record !== 'none' && valueJoin) joins.push(valueJoin);
  return `SELECT ${cols.join(', ')} ${joins.join(' ')}`;
}

export function lookupKinds(lookup: RequestLookup): { store: LookupStoreKind; record: LookupRecordKind } {
  const s = lookup.store;
  const store: LookupStoreKind = !s ? 'none' : 'id' in s ? 'id' : 'owner' in s ? 'caller' : 'owner';
  const record: LookupRecordKind = !lookup.record || !s ? 'none' : lookup.record.withValue ? 'value' : 'meta';
  return { store, record };
}

/** The parameters of a lookup statement by name (absent ones are null). */
export function lookupParams(lookup: RequestLookup) {
  const s = lookup.store;
  return {
    hash: lookup.tokenHash ?? null,
    storeId: s && 'id' in s ? s.id : null,
    owner: s && 'ownerName' in s ? s.ownerName : null,
    name: s && 'name' in s ? s.name : null,
    key: lookup.record?.key ?? null,
  };
}

/**
 * The rows of a lookup from its one row of values. `inline(row)` gives a record's bytes when they
 * are in the row (`row[LOOKUP_VALUE_COL]` and the next column), or null when stored elsewhere.
 */
// biome-ignore lint/suspicious/noExplicitAny: the values of the lookup statement, typed by the mapping below.
export function lookupRows(row: any[] | undefined, withValue: boolean, inline: (row: any[]) => Buffer | null): RequestRows {
  const rows: RequestRows = {};
  if (!row) return rows;
  if (row[0] !== null) rows.token = { id: row[0], userId: row[1], hash: row[2], label: row[3], createdAt: row[4] };
  if (row[5] !== null) rows.user = { id: row[5], username: row[6], createdAt: row[7] };
  if (row[8] !== null) {
    rows.store = {
      id: row[8],
      userId: row[9],
      name: row[10],
      title: row[11],
      createdAt: row[12],
      modifiedAt: row[13],
      accessedAt: row[14],
      generalAccess: row[15],
      schema: row[16],
      urlSigningSecretKey: row[17],
      stats: { readCount: row[18], writeCount: row[19], deleteCount: row[20], listCount: row[21], storageBytes: row[22] },
    };
  }
  if (row.length > R && row[R] !== null) {
    rows.record = {
      meta: {
        key: row[R],
        size: row[R + 1],
        contentType: row[R + 2],
        contentEncoding: row[R + 3],
        decodedSize: row[R + 4],
        modifiedAt: row[R + 5],
        etag: row[R + 6],
      },
      inline: withValue ? inline(row) : null,
    };
  }
  return rows;
}

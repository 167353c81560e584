import type {
  ContentEncoding,
  GeneralAccess,
  RecordMeta,
  StorageKind,
  StoreRow,
  StoreStats,
  TokenRow,
  UserRow,
} from '../model.js';
import type { RequestLookup, RequestRows } from './driver.js';

/** Row shapes shared by the SQL drivers, whose tables use the same column names. */
export interface StoreDbRow {
  id: string;
  kind: StorageKind;
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
  item_count: number;
  clean_item_count: number;
  handled_count: number;
  /** 0 or 1 in SQLite, a boolean in PostgreSQL. */
  had_multiple_clients: number | boolean;
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
    kind: r.kind,
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
    itemCount: r.item_count,
    cleanItemCount: r.clean_item_count,
    handledCount: r.handled_count,
    hadMultipleClients: Boolean(r.had_multiple_clients),
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

/** For each field of `T`, the SQL expression that reads it. */
export type Columns<T> = { readonly [K in keyof T]-?: string };

/** A table of columns within a row read as an array: where each of its fields is. */
export interface PlacedColumns<T> {
  /** The SELECT list of these columns. */
  readonly sql: string;
  /** Each field's position in the row; rows are built as literals from it (V8 builds those fastest). */
  readonly index: { readonly [K in keyof T]-?: number };
  /** Whether the row has these columns (a statement may select fewer tables). */
  holds(row: readonly unknown[]): boolean;
  /** Whether it has them and the first is not null (a LEFT JOIN found the row). */
  present(row: readonly unknown[]): boolean;
}

/**
 * Lays out tables of columns one after another in a row read as an array: each table's position
 * is the sum of the ones before it, so no position is ever written by hand.
 */
export function columnLayout() {
  let next = 0;
  return <T>(columns: Columns<T>): PlacedColumns<T> => {
    const fields = Object.keys(columns);
    const at = next;
    next += fields.length;
    return {
      sql: Object.values<string>(columns).join(', '),
      index: Object.fromEntries(fields.map((field, i) => [field, at + i])) as PlacedColumns<T>['index'],
      holds: (row) => row.length > at,
      present: (row) => row.length > at && row[at] !== null,
    };
  };
}

/** An item of a key page, read from `SELECT key, size` rows as arrays. */
export const KEY_ITEM = columnLayout()<{ key: string; size: number }>({ key: 'key', size: 'size' });

/** Where a looked-up record's bytes are: the bytes when inline, and the driver's pointer to bytes kept elsewhere (null when inline). */
export interface LookupValue {
  bytes: Buffer | null;
  elsewhere: unknown;
}

/** The tables of a lookup row, in SELECT order: the token, its user, the store, the record and where its bytes are. */
const place = columnLayout();
const TOKEN = place<TokenRow>({ id: 't.id', userId: 't.user_id', hash: 't.hash', label: 't.label', createdAt: 't.created_at' });
const USER = place<UserRow>({ id: 'u.id', username: 'u.username', createdAt: 'u.created_at' });
const STORE = place<Omit<StoreRow, 'stats'>>({
  id: 's.id',
  kind: 's.kind',
  userId: 's.user_id',
  name: 's.name',
  title: 's.title',
  createdAt: 's.created_at',
  modifiedAt: 's.modified_at',
  accessedAt: 's.accessed_at',
  generalAccess: 's.general_access',
  schema: 's.schema',
  urlSigningSecretKey: 's.signing_secret',
  itemCount: 's.item_count',
  cleanItemCount: 's.clean_item_count',
  handledCount: 's.handled_count',
  hadMultipleClients: 's.had_multiple_clients',
});
const STATS = place<StoreStats>({
  readCount: 's.read_count',
  writeCount: 's.write_count',
  deleteCount: 's.delete_count',
  listCount: 's.list_count',
  storageBytes: 's.storage_bytes',
});
const RECORD = place<RecordMeta>({
  key: 'r.key',
  size: 'r.size',
  contentType: 'r.content_type',
  contentEncoding: 'r.content_encoding',
  decodedSize: 'r.decoded_size',
  modifiedAt: 'r.modified_at',
  etag: 'r.etag',
});
/** Placed last; its SQL is the driver's (`lookupSql`'s `value`), so the table here only names its fields. */
const VALUE = place<LookupValue>({ bytes: 'bytes', elsewhere: 'elsewhere' });

export type LookupStoreKind = 'none' | 'id' | 'caller' | 'owner';
export type LookupRecordKind = 'none' | 'meta' | 'value';

/**
 * The one statement of a request lookup, the same in both SQL dialects: the token, its user, the
 * store and the record, each LEFT JOINed so that whatever is missing comes back as nulls; a store
 * of another kind than the lookup's is not found.
 * `param(name)` writes a placeholder; `value` reads where a record's bytes are, selected only for
 * a lookup with the value. `valueJoin`, when given, is joined after the record (`r`) for it, for a
 * driver that keeps inline bytes in a table of their own.
 */
export function lookupSql(
  store: LookupStoreKind,
  record: LookupRecordKind,
  param: (name: keyof ReturnType<typeof lookupParams>) => string,
  value: Columns<LookupValue>,
  valueJoin?: string,
): string {
  const cols = [TOKEN.sql, USER.sql, STORE.sql, STATS.sql];
  if (record !== 'none') cols.push(RECORD.sql);
  if (record === 'value') cols.push(`${value.bytes}, ${value.elsewhere}`);
  const joins = [
    `FROM (SELECT ${param('hash')} AS h) q`,
    'LEFT JOIN tokens t ON t.hash = q.h',
    'LEFT JOIN users u ON u.id = t.user_id',
  ];
  if (store === 'id') joins.push(`LEFT JOIN stores s ON s.id = ${param('storeId')} AND s.kind = ${param('kind')}`);
  else if (store === 'caller')
    joins.push(`LEFT JOIN stores s ON s.user_id = u.id AND s.kind = ${param('kind')} AND s.name = ${param('name')}`);
  else if (store === 'owner')
    joins.push(
      `LEFT JOIN users o ON o.username = ${param('owner')}`,
      `LEFT JOIN stores s ON s.user_id = o.id AND s.kind = ${param('kind')} AND s.name = ${param('name')}`,
    );
  else joins.push('LEFT JOIN stores s ON 0 = 1');
  if (record !== 'none') joins.push(`LEFT JOIN records r ON r.store_id = s.id AND r.key = ${param('key')}`);
  if (record === 'value' && valueJoin) joins.push(valueJoin);
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
    kind: lookup.kind,
    storeId: s && 'id' in s ? s.id : null,
    owner: s && 'ownerName' in s ? s.ownerName : null,
    name: s && 'name' in s ? s.name : null,
    key: lookup.record?.key ?? null,
  };
}

/** The rows of a lookup from its one row of values (`lookupSql`'s columns). */
// biome-ignore lint/suspicious/noExplicitAny: the values of the lookup statement, typed by the tables above.
export function lookupRows(row: any[] | undefined): RequestRows {
  const rows: RequestRows = {};
  if (!row) return rows;
  if (TOKEN.present(row)) {
    const c = TOKEN.index;
    rows.token = { id: row[c.id], userId: row[c.userId], hash: row[c.hash], label: row[c.label], createdAt: row[c.createdAt] };
  }
  if (USER.present(row)) {
    const c = USER.index;
    rows.user = { id: row[c.id], username: row[c.username], createdAt: row[c.createdAt] };
  }
  if (STORE.present(row)) {
    const c = STORE.index;
    const n = STATS.index;
    rows.store = {
      id: row[c.id],
      kind: row[c.kind],
      userId: row[c.userId],
      name: row[c.name],
      title: row[c.title],
      createdAt: row[c.createdAt],
      modifiedAt: row[c.modifiedAt],
      accessedAt: row[c.accessedAt],
      generalAccess: row[c.generalAccess],
      schema: row[c.schema],
      urlSigningSecretKey: row[c.urlSigningSecretKey],
      stats: {
        readCount: row[n.readCount],
        writeCount: row[n.writeCount],
        deleteCount: row[n.deleteCount],
        listCount: row[n.listCount],
        storageBytes: row[n.storageBytes],
      },
      itemCount: row[c.itemCount],
      cleanItemCount: row[c.cleanItemCount],
      handledCount: row[c.handledCount],
      hadMultipleClients: Boolean(row[c.hadMultipleClients]),
    };
  }
  if (RECORD.present(row)) {
    const c = RECORD.index;
    const v = VALUE.index;
    // Only a lookup with the value selects it; bytes kept elsewhere are read with `getRecord`.
    const inline = VALUE.holds(row) && row[v.elsewhere] === null ? ((row[v.bytes] as Buffer | null) ?? Buffer.alloc(0)) : null;
    rows.record = {
      meta: {
        key: row[c.key],
        size: row[c.size],
        contentType: row[c.contentType],
        contentEncoding: row[c.contentEncoding],
        decodedSize: row[c.decodedSize],
        modifiedAt: row[c.modifiedAt],
        etag: row[c.etag],
      },
      inline,
    };
  }
  return rows;
}

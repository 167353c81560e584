import postgres, { type Sql } from 'postgres';
import {
  type RecordMeta,
  STORAGE_KINDS,
  type StorageKind,
  type StoreRow,
  type TokenRow,
  type UserRow,
  type WriteCondition,
} from '../../model.js';
import type {
  DeleteResult,
  KeyListPage,
  KeyListQuery,
  KindTotals,
  LockRefusal,
  NewRecord,
  PutResult,
  QueueActor,
  QueueAddOutcome,
  QueueRequestInput,
  RequestLookup,
  RequestRows,
  StagedValue,
  StatsDelta,
  StorageDriver,
  StoredQueueRequest,
  StoredRecord,
  StoreListQuery,
  StorePatch,
  UpdateStoreResult,
} from '../driver.js';
import {
  lookupKinds,
  lookupParams,
  lookupRows,
  lookupSql,
  type RecordDbRow,
  rowToMeta,
  rowToStore,
  type StoreDbRow,
} from '../rows.js';
import { pushItems, readItems } from './datasets.js';
import { guardStorage } from './errors.js';
import { migrate } from './migrations.js';
import { queueRequests } from './queues.js';
import { chunkStream, deleteChunks, INLINE_MAX_BYTES, type PgStaged, stageValue, sweepValues } from './values.js';

export interface PostgresDriverOptions {
  url: string;
  /** Connections in this node's pool. */
  poolSize?: number;
  /** How often this node sweeps unneeded value chunks; 0 turns the sweeper off. */
  sweepIntervalMs?: number;
}

const META_COLS = 'key, size, content_type, content_encoding, decoded_size, modified_at, etag';

/** A list as a PostgreSQL text[] literal parameter, or null. */
function textArray(list: string[] | undefined): string | null {
  if (list === undefined) return null;
  return `{${list.map((v) => `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`).join(',')}}`;
}

/**
 * The scale-out driver: any number of stateless openkvs nodes on one PostgreSQL. Everything lives
 * in the database (nothing node-local affects correctness); store data is keyed by store id.
 */
export class PostgresDriver implements StorageDriver {
  readonly kind = 'postgres';
  /** A value kept in the records row: its write is one statement, which the lookup can join. */
  readonly putWithLookupMaxBytes = INLINE_MAX_BYTES;
  readonly #sql: Sql;
  readonly #requests: ReturnType<typeof queueRequests>;
  #sweeper: NodeJS.Timeout | undefined;
  /** The request lookup statements by kind of store reference and record, with their parameters in order. */
  readonly #lookups = new Map<string, { text: string; order: (keyof ReturnType<typeof lookupParams>)[] }>();
  /** The lookup-and-write statements by kind of store reference; the lookup's parameters come first. */
  readonly #putsFor = new Map<string, { text: string; order: (keyof ReturnType<typeof lookupParams>)[] }>();

  private constructor(sql: Sql) {
    this.#sql = sql;
    this.#requests = queueRequests(sql);
  }

  /** Connects, checks the server answers, and applies migrations. */
  static async connect(options: PostgresDriverOptions): Promise<PostgresDriver> {
    const sql = postgres(options.url, {
      max: options.poolSize ?? 10,
      idle_timeout: 60,
      // Short, so that requests during an outage get their 503 before a client's own timeout: it
      // also bounds how long the pool retries connections closed during their handshake (a proxy in
      // front of a stopped database) before failing the queries that wait.
      connect_timeout: 2,
      // Reconnect quickly: the default backoff grows to 20 s and is shared by the whole pool.
      backoff: (attempt: number) => Math.min(0.05 * 2 ** attempt, 0.5),
      onnotice: () => undefined,
      types: {
        bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) },
      },
    });
    try {
      await sql`SELECT 1`;
      await migrate(sql);
    } catch (err) {
      await sql.end({ timeout: 1 });
      throw err;
    }
    const driver = new PostgresDriver(sql);
    const every = options.sweepIntervalMs ?? 60_000;
    if (every > 0) {
      driver.#sweeper = setInterval(() => void sweepValues(sql).catch(() => undefined), every);
      driver.#sweeper.unref();
    }
    return driver;
  }

  /** Runs one sweep of unneeded value chunks now (the timer does it periodically). */
  sweep(now?: number): Promise<number> {
    return sweepValues(this.#sql, now);
  }

  async close(): Promise<void> {
    if (this.#sweeper) clearInterval(this.#sweeper);
    await this.#sql.end({ timeout: 5 });
  }

  createUser(user: UserRow): Promise<boolean> {
    return guardStorage(async () => {
      const rows = await this.#sql`
        INSERT INTO users (id, username, created_at) VALUES (${user.id}, ${user.username}, ${user.createdAt})
        ON CONFLICT DO NOTHING RETURNING id`;
      return rows.length === 1;
    });
  }

  getUserById(id: string): Promise<UserRow | undefined> {
    return guardStorage(async () => {
      const [row] = await this.#sql`SELECT id, username, created_at AS "createdAt" FROM users WHERE id = ${id}`;
      return row as UserRow | undefined;
    });
  }

  getUserByName(username: string): Promise<UserRow | undefined> {
    return guardStorage(async () => {
      const [row] = await this.#sql`SELECT id, username, created_at AS "createdAt" FROM users WHERE username = ${username}`;
      return row as UserRow | undefined;
    });
  }

  listUsers(): Promise<UserRow[]> {
    return guardStorage(async () => {
      const rows = await this.#sql`SELECT id, username, created_at AS "createdAt" FROM users ORDER BY created_at, id`;
      return [...rows] as UserRow[];
    });
  }

  deleteUser(id: string): Promise<boolean> {
    return guardStorage(() =>
      this.#sql.begin(async (tx) => {
        const now = Date.now();
        // Writes and pushes lock their store row first: holding them all, no write lands between the
        // deletes below and the stores' (which would leave records or items without a store).
        await tx`SELECT id FROM stores WHERE user_id = ${id} ORDER BY id FOR UPDATE`;
        await tx`INSERT INTO value_garbage (store_id, value_id, released_at)
                 SELECT r.store_id, r.value_id, ${now} FROM records r JOIN stores s ON s.id = r.store_id
                 WHERE s.user_id = ${id} AND r.value_id IS NOT NULL ON CONFLICT DO NOTHING`;
        await tx`DELETE FROM records WHERE store_id IN (SELECT id FROM stores WHERE user_id = ${id})`;
        await tx`DELETE FROM dataset_items WHERE store_id IN (SELECT id FROM stores WHERE user_id = ${id})`;
        await tx`DELETE FROM queue_requests WHERE store_id IN (SELECT id FROM stores WHERE user_id = ${id})`;
        const deleted = await tx`DELETE FROM users WHERE id = ${id} RETURNING id`;
        return deleted.length === 1;
      }),
    );
  }

  addToken(token: TokenRow): Promise<void> {
    return guardStorage(async () => {
      await this.#sql`INSERT INTO tokens (hash, id, user_id, label, created_at)
                      VALUES (${token.hash}, ${token.id}, ${token.userId}, ${token.label}, ${token.createdAt})`;
    });
  }

  findToken(hash: string): Promise<TokenRow | undefined> {
    return guardStorage(async () => {
      const [row] = await this.#sql`
        SELECT id, user_id AS "userId", hash, label, created_at AS "createdAt" FROM tokens WHERE hash = ${hash}`;
      return row as TokenRow | undefined;
    });
  }

  listTokens(userId: string): Promise<TokenRow[]> {
    return guardStorage(async () => {
      const rows = await this.#sql`
        SELECT id, user_id AS "userId", hash, label, created_at AS "createdAt" FROM tokens
        WHERE user_id = ${userId} ORDER BY created_at, id`;
      return [...rows] as TokenRow[];
    });
  }

  revokeToken(hash: string): Promise<boolean> {
    return guardStorage(async () => (await this.#sql`DELETE FROM tokens WHERE hash = ${hash} RETURNING id`).length === 1);
  }

  createStore(store: StoreRow): Promise<{ store: StoreRow; created: boolean }> {
    return guardStorage(async () => {
      const inserted = await this.#sql`
        INSERT INTO stores (id, kind, user_id, name, title, created_at, modified_at, accessed_at, general_access, schema, signing_secret)
        VALUES (${store.id}, ${store.kind}, ${store.userId}, ${store.name}, ${store.title}, ${store.createdAt}, ${store.modifiedAt},
                ${store.accessedAt}, ${store.generalAccess}, ${store.schema}, ${store.urlSigningSecretKey})
        ON CONFLICT (user_id, kind, name) WHERE name IS NOT NULL DO NOTHING RETURNING id`;
      if (inserted.length === 1) return { store, created: true };
      const existing = await this.getStoreByName(store.userId, store.name ?? '', store.kind);
      if (!existing) throw new Error('store name conflict without a store');
      return { store: existing, created: false };
    });
  }

  getStore(id: string): Promise<StoreRow | undefined> {
    return guardStorage(async () => {
      const [row] = await this.#sql`SELECT * FROM stores WHERE id = ${id}`;
      return row && rowToStore(row as StoreDbRow);
    });
  }

  getStoreByName(userId: string, name: string, kind: StorageKind): Promise<StoreRow | undefined> {
    return guardStorage(async () => {
      const [row] = await this.#sql`SELECT * FROM stores WHERE user_id = ${userId} AND kind = ${kind} AND name = ${name}`;
      return row && rowToStore(row as StoreDbRow);
    });
  }

  listStores(q: StoreListQuery): Promise<{ total: number; items: StoreRow[] }> {
    return guardStorage(async () => {
      const named = q.unnamed ? this.#sql`` : this.#sql`AND name IS NOT NULL`;
      const order = q.desc ? this.#sql`ORDER BY created_at DESC, id DESC` : this.#sql`ORDER BY created_at, id`;
      const [count] = await this.#sql`SELECT count(*) AS n FROM stores WHERE user_id = ${q.userId} AND kind = ${q.kind} ${named}`;
      const rows = await this.#sql`
        SELECT * FROM stores WHERE user_id = ${q.userId} AND kind = ${q.kind} ${named} ${order} LIMIT ${q.limit} OFFSET ${q.offset}`;
      return { total: (count?.n as number) ?? 0, items: rows.map((r) => rowToStore(r as StoreDbRow)) };
    });
  }

  updateStore(id: string, patch: StorePatch): Promise<UpdateStoreResult> {
    return guardStorage(async () => {
      try {
        const [row] = await this.#sql`
          UPDATE stores SET
            name = CASE WHEN ${patch.name !== undefined} THEN ${patch.name ?? null}::text ELSE name END,
            title = CASE WHEN ${patch.title !== undefined} THEN ${patch.title ?? null}::text ELSE title END,
            general_access = COALESCE(${patch.generalAccess ?? null}::text, general_access),
            modified_at = ${patch.modifiedAt}
          WHERE id = ${id} RETURNING *`;
        if (!row) return { ok: false, reason: 'not-found' } as const;
        return { ok: true, store: rowToStore(row as StoreDbRow) } as const;
      } catch (err) {
        if ((err as { code?: string }).code === '23505') return { ok: false, reason: 'name-conflict' } as const;
        throw err;
      }
    });
  }

  deleteStore(id: string, onlyIf?: { unnamedBefore: number }): Promise<boolean> {
    return guardStorage(() =>
      this.#sql.begin(async (tx) => {
        // A record write locks the store row first: the condition is checked on what it committed.
        const deleted = onlyIf
          ? await tx`DELETE FROM stores WHERE id = ${id} AND name IS NULL AND modified_at < ${onlyIf.unnamedBefore} RETURNING id`
          : await tx`DELETE FROM stores WHERE id = ${id} RETURNING id`;
        if (onlyIf && deleted.length === 0) return false;
        await tx`INSERT INTO value_garbage (store_id, value_id, released_at)
                 SELECT store_id, value_id, ${Date.now()} FROM records WHERE store_id = ${id} AND value_id IS NOT NULL
                 ON CONFLICT DO NOTHING`;
        await tx`DELETE FROM records WHERE store_id = ${id}`;
        await tx`DELETE FROM dataset_items WHERE store_id = ${id}`;
        await tx`DELETE FROM queue_requests WHERE store_id = ${id}`;
        return deleted.length === 1;
      }),
    );
  }

  lookupRequest(lookup: RequestLookup): Promise<RequestRows> {
    const { store, record } = lookupKinds(lookup);
    const name = `${store}:${record}`;
    let statement = this.#lookups.get(name);
    if (!statement) {
      const order: (keyof ReturnType<typeof lookupParams>)[] = [];
      const text = lookupSql(
        store,
        record,
        (p) => {
          order.push(p);
          return `$${order.length}::text`;
        },
        { bytes: 'r.value', elsewhere: 'r.value_id' },
      );
      statement = { text, order };
      this.#lookups.set(name, statement);
    }
    const values = lookupParams(lookup);
    const { text, order } = statement;
    return guardStorage(async () => {
      const [row] = await this.#sql
        .unsafe(
          text,
          order.map((p) => values[p]),
          { prepare: true },
        )
        .values();
      return lookupRows(row);
    });
  }

  /**
   * The request lookup with the write in its SELECT list, called only when the token's user owns
   * the store found: one statement, one round trip, committed before it answers. The status is
   * the first column, the lookup's columns follow.
   */
  putRecordFor(
    lookup: RequestLookup,
    key: string,
    record: NewRecord,
    data: Buffer,
    condition?: WriteCondition,
  ): Promise<{ rows: RequestRows; status?: PutResult }> {
    // Larger values are written as chunks, staged before the record: not in one statement.
    if (data.length > INLINE_MAX_BYTES) throw new RangeError(`putRecordFor takes values up to ${INLINE_MAX_BYTES} bytes`);
    const { store } = lookupKinds(lookup);
    let statement = this.#putsFor.get(store);
    if (!statement) {
      const order: (keyof ReturnType<typeof lookupParams>)[] = [];
      const select = lookupSql(
        store,
        'none',
        (p) => {
          order.push(p);
          return `$${order.length}::text`;
        },
        { bytes: 'NULL', elsewhere: 'NULL' },
      );
      if (!select.startsWith('SELECT ')) throw new Error('unexpected lookup statement');
      const n = order.length;
      const put =
        `CASE WHEN u.id = s.user_id THEN openkvs_put_record(s.id, $${n + 1}::text, $${n + 2}::bigint, $${n + 3}::text, ` +
        `$${n + 4}::text, $${n + 5}::bigint, $${n + 6}::bigint, $${n + 7}::text, $${n + 8}::bytea, NULL::text, ` +
        `$${n + 9}::text::text[], $${n + 10}::text::text[]) END`;
      statement = { text: `SELECT ${put}, ${select.slice('SELECT '.length)}`, order };
      this.#putsFor.set(store, statement);
    }
    const values = lookupParams(lookup);
    const params = [
      ...statement.order.map((p) => values[p]),
      key,
      data.length,
      record.contentType,
      record.contentEncoding,
      record.decodedSize,
      record.now,
      record.etag,
      data,
      textArray(condition?.ifMatch),
      textArray(condition?.ifNoneMatch),
    ];
    const text = statement.text;
    return guardStorage(async () => {
      const [row] = await this.#sql.unsafe(text, params as never[], { prepare: true }).values();
      const status = (row?.[0] ?? undefined) as PutResult | undefined;
      return { rows: lookupRows(row?.slice(1)), status };
    });
  }

  getRecord(storeId: string, key: string): Promise<StoredRecord | undefined> {
    return guardStorage(async () => {
      const [row] = await this.#sql`
        SELECT ${this.#sql.unsafe(META_COLS)}, value, value_id FROM records WHERE store_id = ${storeId} AND key = ${key}`;
      if (!row) return undefined;
      const meta = rowToMeta(row as RecordDbRow);
      if (row.value_id === null)
        return { ...meta, value: { kind: 'buffer', data: (row.value as Buffer | null) ?? Buffer.alloc(0) } };
      return { ...meta, value: { kind: 'stream', stream: chunkStream(this.#sql, storeId, row.value_id as string, meta.size) } };
    });
  }

  getRecordMeta(storeId: string, key: string): Promise<RecordMeta | undefined> {
    return guardStorage(async () => {
      const [row] = await this.#sql`
        SELECT ${this.#sql.unsafe(META_COLS)} FROM records WHERE store_id = ${storeId} AND key = ${key}`;
      return row && rowToMeta(row as RecordDbRow);
    });
  }

  stageValue(storeId: string, body: AsyncIterable<Buffer>): Promise<StagedValue> {
    return guardStorage(() => stageValue(this.#sql, storeId, body), false);
  }

  discardValue(value: StagedValue): Promise<void> {
    const staged = value as PgStaged;
    if (staged.kind === 'inline') return Promise.resolve();
    return guardStorage(() => deleteChunks(this.#sql, staged.storeId, staged.valueId));
  }

  putRecord(storeId: string, key: string, record: NewRecord, value: StagedValue, condition?: WriteCondition): Promise<PutResult> {
    const staged = value as PgStaged;
    const data = staged.kind === 'inline' ? staged.data : null;
    const valueId = staged.kind === 'chunks' ? staged.valueId : null;
    return guardStorage(async () => {
      const [row] = await this.#sql`
        SELECT openkvs_put_record(${storeId}, ${key}, ${staged.size}::bigint, ${record.contentType}, ${record.contentEncoding}::text,
          ${record.decodedSize}::bigint, ${record.now}::bigint, ${record.etag}, ${data}::bytea, ${valueId}::text,
          ${textArray(condition?.ifMatch)}::text[], ${textArray(condition?.ifNoneMatch)}::text[]) AS status`;
      const status = row?.status as PutResult;
      if (status !== 'ok' && valueId !== null) await deleteChunks(this.#sql, storeId, valueId);
      return status;
    });
  }

  deleteRecord(storeId: string, key: string, now: number, condition?: WriteCondition): Promise<DeleteResult> {
    return guardStorage(async () => {
      const [row] = await this.#sql`
        SELECT openkvs_delete_record(${storeId}, ${key}, ${now}::bigint,
          ${textArray(condition?.ifMatch)}::text[], ${textArray(condition?.ifNoneMatch)}::text[]) AS status`;
      return row?.status as DeleteResult;
    });
  }

  listKeys(storeId: string, query: KeyListQuery): Promise<KeyListPage> {
    return guardStorage(async () => {
      const after = query.exclusiveStartKey ?? '';
      const prefix = query.prefix ?? '';
      // Keys are ASCII and compared byte-wise (COLLATE "C"): keys with `prefix` sort below prefix + U+FFFF.
      const range = prefix
        ? prefix > after
          ? this.#sql`AND key >= ${prefix} AND key < ${`${prefix}\uffff`}`
          : this.#sql`AND key > ${after} AND key < ${`${prefix}\uffff`}`
        : this.#sql`AND key > ${after}`;
      const rows = await this.#sql`
        SELECT key, size FROM records WHERE store_id = ${storeId} ${range} ORDER BY key LIMIT ${query.limit + 1}`;
      const items = rows.map((r) => ({ key: r.key as string, size: r.size as number }));
      const isTruncated = items.length > query.limit;
      if (isTruncated) items.pop();
      return { items, isTruncated };
    });
  }

  countRequest(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }> {
    const now = Date.now();
    const windowStart = now - (now % windowMs);
    return guardStorage(async () => {
      const [row] = await this.#sql`
        INSERT INTO rate_counters (key, window_start, count) VALUES (${key}, ${windowStart}, 1)
        ON CONFLICT (key, window_start) DO UPDATE SET count = rate_counters.count + 1 RETURNING count`;
      return { count: (row?.count as number) ?? 1, resetInMs: windowStart + windowMs - now };
    });
  }

  pushItems(datasetId: string, items: readonly string[], clean: number, now: number): Promise<'ok' | 'no-store'> {
    return guardStorage(() => pushItems(this.#sql, datasetId, items, clean, now));
  }

  readItems(datasetId: string, offset: number, limit: number): Promise<string[]> {
    return guardStorage(() => readItems(this.#sql, datasetId, offset, limit));
  }

  addRequests(
    queueId: string,
    requests: readonly QueueRequestInput[],
    forefront: boolean,
    actor: QueueActor,
  ): Promise<QueueAddOutcome[] | 'no-store'> {
    return guardStorage(() => this.#requests.add(queueId, requests, forefront, actor));
  }

  getRequest(queueId: string, id: string): Promise<StoredQueueRequest | undefined> {
    return guardStorage(() => this.#requests.get(queueId, id));
  }

  updateRequest(
    queueId: string,
    request: QueueRequestInput,
    forefront: boolean,
    actor: QueueActor,
  ): Promise<QueueAddOutcome | 'locked' | 'no-store'> {
    return guardStorage(() => this.#requests.update(queueId, request, forefront, actor));
  }

  deleteRequest(queueId: string, id: string, actor: QueueActor): Promise<'deleted' | 'absent' | 'locked' | 'no-store'> {
    return guardStorage(() => this.#requests.delete(queueId, id, actor));
  }

  deleteRequests(
    queueId: string,
    refs: readonly ({ id: string } | { uniqueKey: string })[],
    actor: QueueActor,
  ): Promise<{ id: string; uniqueKey: string }[] | 'no-store'> {
    return guardStorage(() => this.#requests.deleteMany(queueId, refs, actor));
  }

  listHead(queueId: string, limit: number, actor: QueueActor): Promise<StoredQueueRequest[]> {
    return guardStorage(() => this.#requests.head(queueId, limit, actor));
  }

  lockHead(
    queueId: string,
    limit: number,
    lockMs: number,
    actor: QueueActor,
  ): Promise<{ items: StoredQueueRequest[]; queueHasLockedRequests: boolean } | 'no-store'> {
    return guardStorage(() => this.#requests.lockHead(queueId, limit, lockMs, actor));
  }

  prolongLock(
    queueId: string,
    id: string,
    lockMs: number,
    forefront: boolean,
    actor: QueueActor,
  ): Promise<{ lockExpiresAt: number } | LockRefusal> {
    return guardStorage(async () => {
      const result = await this.#requests.relock(queueId, id, lockMs, forefront, actor);
      return typeof result === 'number' ? { lockExpiresAt: result } : (result as LockRefusal);
    });
  }

  deleteLock(queueId: string, id: string, forefront: boolean, actor: QueueActor): Promise<'ok' | LockRefusal> {
    return guardStorage(async () => {
      const result = await this.#requests.relock(queueId, id, null, forefront, actor);
      return typeof result === 'string' ? result : 'ok';
    });
  }

  unlockRequests(queueId: string, actor: QueueActor): Promise<number | 'no-store'> {
    return guardStorage(() => this.#requests.unlock(queueId, actor));
  }

  listRequests(
    queueId: string,
    query: { limit: number; after?: string; filter?: 'locked' | 'pending'; now: number },
  ): Promise<{ items: StoredQueueRequest[]; isTruncated: boolean }> {
    return guardStorage(() => this.#requests.list(queueId, query));
  }

  totals(): Promise<KindTotals[]> {
    return guardStorage(async () => {
      const rows = await this.#sql`
        SELECT kind, count(*)::bigint AS stores, COALESCE(sum(storage_bytes), 0)::bigint AS bytes FROM stores GROUP BY kind`;
      const found = rows as unknown as KindTotals[];
      return STORAGE_KINDS.map((kind) => found.find((r) => r.kind === kind) ?? { kind, stores: 0, bytes: 0 });
    });
  }

  listExpiredUnnamedStores(olderThan: number, limit: number): Promise<string[]> {
    return guardStorage(async () => {
      const rows = await this.#sql`
        SELECT id FROM stores WHERE name IS NULL AND modified_at < ${olderThan} ORDER BY modified_at LIMIT ${limit}`;
      return rows.map((r) => r.id as string);
    });
  }

  applyStats(deltas: StatsDelta[]): Promise<void> {
    if (deltas.length === 0) return Promise.resolve();
    // One statement, rows taken in id order, so that nodes flushing at once do not deadlock.
    const sorted = [...deltas].sort((a, b) => (a.storeId < b.storeId ? -1 : 1));
    return guardStorage(async () => {
      await this.#sql`
        UPDATE stores s SET read_count = s.read_count + d.r, list_count = s.list_count + d.l,
          accessed_at = GREATEST(s.accessed_at, d.a)
        FROM (SELECT unnest(${sorted.map((d) => d.storeId)}::text[]) AS id,
                     unnest(${sorted.map((d) => d.readCount)}::bigint[]) AS r,
                     unnest(${sorted.map((d) => d.listCount)}::bigint[]) AS l,
                     unnest(${sorted.map((d) => d.accessedAt)}::bigint[]) AS a) d
        WHERE s.id = d.id`;
    });
  }
}

import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import {
  type RecordMeta,
  STORAGE_KINDS,
  type StorageKind,
  type StoreRow,
  type TokenRow,
  type UserRow,
  type WriteCondition,
} from '../../model.js';
import { conditionHolds } from '../conditions.js';
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
import { StorageBusyError } from '../errors.js';
import type { Durability } from '../open.js';
import {
  KEY_ITEM,
  lookupKinds,
  lookupParams,
  lookupRows,
  lookupSql,
  type RecordDbRow,
  rowToMeta,
  rowToStore,
  type StoreDbRow,
} from '../rows.js';
import { BlobFiles, type SqliteStaged } from './blobs.js';
import { createDatasetItems } from './datasets.js';
import { LookupCache } from './lookup-cache.js';
import { migrate } from './migrations.js';
import { HEARTBEAT_MS, ProcessRegistry } from './processes.js';
import { createQueueRequests } from './queues.js';
import { createStatements } from './statements.js';
import { sweepValueFiles } from './sweep.js';
import { type LogSync, WalSync } from './wal-sync.js';

type OldRecord = { size: number; blob_path: string | null; etag: string | null; value_id: number | null };

export interface SqliteDriverOptions {
  /** A file path, or `:memory:`. */
  path: string;
  /** `fsync`: every commit (and every value file's directory entry) is fsynced before a write resolves. */
  durability?: Durability;
  /** With durability `fsync`: what flushes the log after a group commit (tests stand in for it). */
  logSync?: LogSync;
  /** The clock of heartbeats and of the sweep of value files (tests move it). */
  now?: () => number;
  /** How often value files left behind are swept (default 5 minutes); 0: only when asked. */
  sweepIntervalMs?: number;
}

/** Busy timeout of every statement: a write waits this long for another process's write to end. */
const BUSY_TIMEOUT_MS = 5_000;
/** …and of the migrations at open, which may wait for another process migrating a large file. */
const MIGRATION_BUSY_TIMEOUT_MS = 120_000;

/**
 * Runs a write; SQLITE_BUSY (another process held the write lock past the busy timeout) becomes a
 * `StorageBusyError`, which the caller may retry.
 */
function busy<T>(run: () => T): T {
  try {
    return run();
  } catch (err) {
    throw busyError(err);
  }
}

function busyError(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_'))) return new StorageBusyError(err);
  return err;
}

/** A record write waiting for the next group commit. */
interface PendingWrite {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** The embedded driver: one SQLite file in WAL mode, large values as files beside it. */
export class SqliteDriver implements StorageDriver {
  readonly kind = 'sqlite';
  /** Its lookups are answered in process (mostly from the cache): the two steps cost no round trip. */
  readonly putWithLookupMaxBytes = 0;
  readonly #db: Database.Database;
  readonly #blobs: BlobFiles;
  readonly #memory: boolean;
  readonly #q: ReturnType<typeof createStatements>;
  readonly #items: ReturnType<typeof createDatasetItems>;
  readonly #requests: ReturnType<typeof createQueueRequests>;
  readonly #cache = new LookupCache();
  readonly #dataVersion: Database.Statement;
  #seenVersion = -1;
  /** `data_version` was read in this turn of the event loop (see `#refreshCache`). */
  #versionRead = false;
  readonly #endTurn = () => {
    this.#versionRead = false;
  };
  /** Record writes that arrived since the last group commit. */
  #pending: PendingWrite[] = [];
  #flushing = false;
  /** One transaction for a group of writes; each runs inside it in a savepoint of its own. */
  readonly #group: Database.Transaction<(batch: PendingWrite[], outcomes: unknown[]) => void>;
  readonly #savepoint: Database.Transaction<(run: () => unknown) => unknown>;
  /** The request lookup statements, prepared on first use (one per kind of store reference and record). */
  readonly #lookups = new Map<string, Database.Statement>();
  /** Durability `fsync`: the log's fsync after each group commit, off the event loop. */
  readonly #log: LogSync | undefined;
  readonly #syncNormal: Database.Statement | undefined;
  readonly #syncFull: Database.Statement | undefined;
  readonly #now: () => number;
  readonly #processes: ProcessRegistry;
  readonly #timers: NodeJS.Timeout[] = [];
  #sweeping: Promise<number> | undefined;

  constructor(options: SqliteDriverOptions) {
    this.#memory = options.path === ':memory:';
    this.#now = options.now ?? Date.now;
    // The busy timeout first: switching a new file to WAL mode waits for another process doing so.
    const timeout = MIGRATION_BUSY_TIMEOUT_MS;
    let file = ':memory:';
    if (this.#memory) this.#db = new Database(file, { timeout });
    else {
      file = resolve(options.path);
      mkdirSync(dirname(file), { recursive: true });
      this.#db = new Database(file, { timeout });
      if (options.durability === 'fsync') this.#log = options.logSync ?? new WalSync(file);
    }
    this.#db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode: a commit is in the log before it is acknowledged, which survives the
    // process being killed; FULL also fsyncs the log at every commit. With durability fsync, group
    // commits of records run at NORMAL and are acknowledged after `#log` has fsynced the log, so
    // that the event loop serves on while the disk works; every other commit fsyncs at FULL.
    this.#db.pragma(this.#log ? 'synchronous = FULL' : 'synchronous = NORMAL');
    this.#db.pragma('foreign_keys = ON');
    this.#db.pragma('cache_size = -65536');
    migrate(this.#db);
    this.#db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    this.#processes = new ProcessRegistry(this.#db, this.#now);
    const blobDir = this.#memory ? mkdtempSync(join(tmpdir(), 'openkvs-blobs-')) : `${file}-blobs`;
    this.#blobs = new BlobFiles(blobDir, this.#processes.id, options.durability === 'fsync');
    if (!this.#memory) this.#startHousekeeping(options.sweepIntervalMs ?? 5 * 60_000);
    this.#q = createStatements(this.#db);
    this.#items = createDatasetItems(this.#db);
    this.#requests = createQueueRequests(this.#db);
    this.#dataVersion = this.#db.prepare('PRAGMA data_version').pluck();
    if (this.#log) {
      this.#syncNormal = this.#db.prepare('PRAGMA synchronous = NORMAL');
      this.#syncFull = this.#db.prepare('PRAGMA synchronous = FULL');
    }
    this.#savepoint = this.#db.transaction((run: () => unknown) => run());
    this.#group = this.#db.transaction((batch: PendingWrite[], outcomes: unknown[]) => {
      for (const w of batch) {
        try {
          outcomes.push({ ok: true, value: this.#savepoint(w.run) });
        } catch (err) {
          outcomes.push({ ok: false, err });
        }
      }
    });
  }

  /** Runs `fn` in a transaction that takes the write lock before it reads. */
  #immediate<T>(fn: () => T): T {
    return busy(() => this.#db.transaction(fn).immediate());
  }

  /**
   * Group commit: record writes arriving in the same turn of the event loop share one transaction
   * (and, with durability fsync, one fsync). Each still runs alone in a savepoint, sees the writes
   * before it, and resolves only after the commit (with durability fsync: after the log's fsync
   * that followed it); a failed commit rejects the whole group.
   */
  #write<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ run, resolve: resolve as (value: unknown) => void, reject });
      if (!this.#flushing) {
        this.#flushing = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#flushing = false;
    const batch = this.#pending;
    this.#pending = [];
    const outcomes: unknown[] = [];
    try {
      this.#syncNormal?.run();
      // Immediate: a transaction that reads before it writes would fail at once ("database is
      // locked") when another process commits in between, instead of waiting for its turn.
      this.#group.immediate(batch, outcomes);
    } catch (err) {
      const failure = busyError(err);
      for (const w of batch) w.reject(failure);
      return;
    } finally {
      this.#syncFull?.run();
    }
    const settle = () =>
      batch.forEach((w, i) => {
        const o = outcomes[i] as { ok: true; value: unknown } | { ok: false; err: unknown };
        if (o.ok) w.resolve(o.value);
        else w.reject(o.err);
      });
    if (!this.#log) {
      settle();
      return;
    }
    // Committed, but not acknowledged before the log is on the disk; if it cannot be flushed, no
    // write of the group is acknowledged.
    this.#log.sync().then(settle, (err: unknown) => {
      for (const w of batch) w.reject(err);
    });
  }

  /** Heartbeats (several processes may share the file) and the periodic sweep of value files. */
  #startHousekeeping(sweepIntervalMs: number): void {
    const beat = setInterval(() => {
      try {
        if (!this.#processes.beat()) this.#blobs.useStaging(this.#processes.id);
      } catch {
        // The file stayed locked past the busy timeout: the next beat comes long before death.
      }
    }, HEARTBEAT_MS);
    this.#timers.push(beat);
    if (sweepIntervalMs > 0) {
      // Jittered, so that processes started together do not all sweep at once.
      const every = sweepIntervalMs * (1 + Math.random() * 0.1);
      this.#timers.push(setInterval(() => void this.sweepOrphans().catch(() => undefined), every));
    }
    for (const t of this.#timers) t.unref();
  }

  async close(): Promise<void> {
    if (!this.#db.open) return;
    for (const t of this.#timers) clearInterval(t);
    await this.#sweeping?.catch(() => undefined);
    if (!this.#db.open) return;
    if (this.#pending.length > 0) this.#flush();
    // The last group's fsync ends before the connection (the last one closes the log) goes.
    await this.#log?.close();
    if (!this.#db.open) return;
    if (this.#memory) await this.#blobs.destroy();
    else await this.#blobs.removeStaging();
    try {
      this.#processes.leave();
    } catch {
      // Locked past the busy timeout: the row ages out like a crashed process's.
    }
    this.#db.close();
  }

  /**
   * Removes value files left behind by crashed processes and failed writes, never one a live
   * process may still commit (sweep.ts has the rules). Run at start and every few minutes.
   */
  sweepOrphans(): Promise<number> {
    this.#sweeping ??= (async () => {
      const referenced = new Set(this.#q.allBlobPaths.all() as string[]);
      return sweepValueFiles({
        dir: this.#blobs.dir,
        own: this.#processes.id,
        live: () => this.#processes.live(),
        isReferenced: (rel) => referenced.has(rel),
        now: this.#now(),
      });
    })().finally(() => {
      this.#sweeping = undefined;
    });
    return this.#sweeping;
  }

  async createUser(user: UserRow): Promise<boolean> {
    this.#cache.clearTokens();
    return busy(() => this.#q.insertUser.run(user.id, user.username, user.createdAt).changes === 1);
  }

  async getUserById(id: string): Promise<UserRow | undefined> {
    return this.#q.userById.get(id) as UserRow | undefined;
  }

  async getUserByName(username: string): Promise<UserRow | undefined> {
    return this.#q.userByName.get(username) as UserRow | undefined;
  }

  async listUsers(): Promise<UserRow[]> {
    return this.#q.listUsers.all() as UserRow[];
  }

  async deleteUser(id: string): Promise<boolean> {
    this.#cache.clear();
    // The file names are read in the transaction: another process may add a record until it begins.
    const { removed, blobs } = this.#immediate(() => {
      const blobs = this.#q.userBlobPaths.all(id) as { blob_path: string }[];
      this.#q.deleteUserValues.run(id);
      this.#q.deleteUserRecords.run(id);
      this.#q.deleteUserItems.run(id);
      this.#q.deleteUserRequests.run(id);
      return { removed: this.#q.deleteUser.run(id).changes === 1, blobs };
    });
    for (const b of blobs) await this.#blobs.remove(b.blob_path);
    return removed;
  }

  async addToken(token: TokenRow): Promise<void> {
    this.#cache.clearTokens();
    busy(() => this.#q.insertToken.run(token.hash, token.id, token.userId, token.label, token.createdAt));
  }

  async findToken(hash: string): Promise<TokenRow | undefined> {
    return this.#q.tokenByHash.get(hash) as TokenRow | undefined;
  }

  async listTokens(userId: string): Promise<TokenRow[]> {
    return this.#q.tokensOfUser.all(userId) as TokenRow[];
  }

  async revokeToken(hash: string): Promise<boolean> {
    this.#cache.clearTokens();
    return busy(() => this.#q.deleteToken.run(hash).changes === 1);
  }

  async createStore(store: StoreRow): Promise<{ store: StoreRow; created: boolean }> {
    this.#cache.clearStores();
    return this.#immediate(() => {
      if (store.name !== null) {
        const existing = this.#q.storeByName.get(store.userId, store.kind, store.name) as StoreDbRow | undefined;
        if (existing) return { store: rowToStore(existing), created: false };
      }
      this.#q.insertStore.run(
        store.id,
        store.kind,
        store.userId,
        store.name,
        store.title,
        store.createdAt,
        store.modifiedAt,
        store.accessedAt,
        store.generalAccess,
        store.schema,
        store.urlSigningSecretKey,
      );
      return { store, created: true };
    });
  }

  async getStore(id: string): Promise<StoreRow | undefined> {
    const row = this.#q.storeById.get(id) as StoreDbRow | undefined;
    return row && rowToStore(row);
  }

  async getStoreByName(userId: string, name: string, kind: StorageKind): Promise<StoreRow | undefined> {
    const row = this.#q.storeByName.get(userId, kind, name) as StoreDbRow | undefined;
    return row && rowToStore(row);
  }

  async listStores(query: StoreListQuery): Promise<{ total: number; items: StoreRow[] }> {
    const named = query.unnamed ? 0 : 1;
    const { n } = this.#q.countStores.get(query.userId, query.kind, named) as { n: number };
    const list = query.desc ? this.#q.listStoresDesc : this.#q.listStoresAsc;
    const rows = list.all(query.userId, query.kind, named, query.limit, query.offset) as StoreDbRow[];
    return { total: n, items: rows.map(rowToStore) };
  }

  async updateStore(id: string, patch: StorePatch): Promise<UpdateStoreResult> {
    this.#cache.clearStores();
    return this.#immediate((): UpdateStoreResult => {
      const row = this.#q.storeById.get(id) as StoreDbRow | undefined;
      if (!row) return { ok: false, reason: 'not-found' };
      const name = patch.name === undefined ? row.name : patch.name;
      if (name !== null && name !== row.name) {
        const clash = this.#q.storeByName.get(row.user_id, row.kind, name) as StoreDbRow | undefined;
        if (clash) return { ok: false, reason: 'name-conflict' };
      }
      const title = patch.title === undefined ? row.title : patch.title;
      const access = patch.generalAccess ?? row.general_access;
      this.#q.updateStore.run(name, title, access, patch.modifiedAt, id);
      return { ok: true, store: rowToStore(this.#q.storeById.get(id) as StoreDbRow) };
    });
  }

  async deleteStore(id: string, onlyIf?: { unnamedBefore: number }): Promise<boolean> {
    this.#cache.clearStores();
    // The file names are read in the transaction: another process may add a record until it begins.
    const { removed, blobs } = this.#immediate(() => {
      if (onlyIf && this.#q.storeExpired.get(id, onlyIf.unnamedBefore) === undefined) return { removed: false, blobs: [] };
      const blobs = this.#q.storeBlobPaths.all(id) as { blob_path: string }[];
      this.#q.deleteStoreValues.run(id);
      this.#q.deleteStoreRecords.run(id);
      this.#q.deleteStoreItems.run(id);
      this.#q.deleteStoreRequests.run(id);
      return { removed: this.#q.deleteStore.run(id).changes === 1, blobs };
    });
    for (const b of blobs) await this.#blobs.remove(b.blob_path);
    return removed;
  }

  lookupRequest(lookup: RequestLookup): RequestRows {
    const { store, record } = lookupKinds(lookup);
    // Served from the cache while nothing changed it, but for a store read (whose counters must be
    // current): record reads and writes, key pages.
    const cached = lookup.fresh !== true;
    if (cached) {
      this.#refreshCache();
      const rows = this.#cache.get(lookup);
      if (rows) return rows;
    }
    const name = `${store}:${record}`;
    let statement = this.#lookups.get(name);
    if (!statement) {
      const value = { bytes: 'v.data', elsewhere: 'r.blob_path' };
      const sql = lookupSql(store, record, (p) => `@${p}`, value, 'LEFT JOIN record_values v ON v.id = r.value_id');
      statement = this.#db.prepare(sql).raw();
      this.#lookups.set(name, statement);
    }
    const row = statement.get(lookupParams(lookup)) as unknown[] | undefined;
    const rows = lookupRows(row);
    if (cached) this.#cache.put(lookup, rows);
    return rows;
  }

  /**
   * Empties the lookup cache when another connection has committed since it was last checked
   * (another openkvs process on the file, a CLI revoke, an import). Read once per turn of the event
   * loop, at its first lookup: a request read in this turn was sent before the poll that found it
   * returned, so a write acknowledged to its client before it was sent had committed by then.
   * (A read transaction per request cost about 6 µs: docs/performance.md.)
   */
  #refreshCache(): void {
    if (this.#versionRead) return;
    this.#versionRead = true;
    setImmediate(this.#endTurn);
    const version = this.#dataVersion.get() as number;
    if (version !== this.#seenVersion) {
      this.#cache.clear();
      this.#seenVersion = version;
    }
  }

  async getRecord(storeId: string, key: string): Promise<StoredRecord | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const row = this.#q.recordFull.get(storeId, key) as
        | (RecordDbRow & { blob_path: string | null; value: Buffer | null })
        | undefined;
      if (!row) return undefined;
      if (row.blob_path === null) return { ...rowToMeta(row), value: { kind: 'buffer', data: row.value ?? Buffer.alloc(0) } };
      const file = await this.#blobs.openRead(row.blob_path);
      // The file vanished between the lookup and the open: a concurrent overwrite; read again.
      if (file) return { ...rowToMeta(row), value: { kind: 'stream', stream: file.stream, positional: file.positional } };
    }
    return undefined;
  }

  async getRecordMeta(storeId: string, key: string): Promise<RecordMeta | undefined> {
    const row = this.#q.recordMeta.get(storeId, key) as RecordDbRow | undefined;
    return row && rowToMeta(row);
  }

  async stageValue(_storeId: string, body: AsyncIterable<Buffer>, sizeHint?: number): Promise<StagedValue> {
    return this.#blobs.stage(body, sizeHint);
  }

  async discardValue(value: StagedValue): Promise<void> {
    const staged = value as SqliteStaged;
    if (staged.kind === 'file') await this.#blobs.remove(staged.tmpPath, false);
  }

  async putRecord(
    storeId: string,
    key: string,
    record: NewRecord,
    value: StagedValue,
    condition?: WriteCondition,
  ): Promise<PutResult> {
    const staged = value as SqliteStaged;
    const blobPath = staged.kind === 'file' ? await this.#blobs.publish(staged.tmpPath) : null;
    const data = staged.kind === 'inline' ? staged.data : null;
    let result: { status: PutResult; oldBlob: string | null };
    try {
      result = await this.#write((): { status: PutResult; oldBlob: string | null } => {
        if (!this.#q.storeExists.get(storeId)) return { status: 'no-store', oldBlob: null };
        const old = this.#q.recordBlob.get(storeId, key) as OldRecord | undefined;
        if (!conditionHolds(old ? old.etag : undefined, condition)) return { status: 'precondition-failed', oldBlob: null };
        const delta = staged.size - (old?.size ?? 0);
        this.#q.storeWritten.run({ delta, now: record.now, id: storeId });
        this.#cache.dropRecord(storeId, key);
        // The value row is reused by an inline overwrite, deleted when the new bytes are a file.
        let valueId: number | null = null;
        if (data !== null) {
          if (old?.value_id != null) {
            this.#q.updateValue.run(data, old.value_id);
            valueId = old.value_id;
          } else valueId = Number(this.#q.insertValue.run(data).lastInsertRowid);
        } else if (old?.value_id != null) this.#q.deleteValue.run(old.value_id);
        this.#q.upsertRecord.run(
          storeId,
          key,
          staged.size,
          record.contentType,
          record.contentEncoding,
          record.decodedSize,
          record.now,
          record.etag,
          blobPath,
          valueId,
        );
        return { status: 'ok', oldBlob: old?.blob_path ?? null };
      });
    } catch (err) {
      await this.#blobs.remove(blobPath);
      throw err;
    }
    if (result.status !== 'ok') {
      await this.#blobs.remove(blobPath);
      return result.status;
    }
    await this.#blobs.remove(result.oldBlob);
    return 'ok';
  }

  async putRecordFor(
    lookup: RequestLookup,
    key: string,
    record: NewRecord,
    data: Buffer,
    condition?: WriteCondition,
  ): Promise<{ rows: RequestRows; status?: PutResult }> {
    const rows = await this.lookupRequest(lookup);
    const store = rows.store;
    if (!store || !rows.user || store.userId !== rows.user.id) return { rows };
    const staged = await this.stageValue(store.id, Readable.from([data]), data.length);
    try {
      return { rows, status: await this.putRecord(store.id, key, record, staged, condition) };
    } catch (err) {
      await this.discardValue(staged);
      throw err;
    }
  }

  async deleteRecord(storeId: string, key: string, now: number, condition?: WriteCondition): Promise<DeleteResult> {
    const result = await this.#write((): { status: DeleteResult; blob: string | null } => {
      if (!this.#q.storeExists.get(storeId)) return { status: 'no-store', blob: null };
      const old = this.#q.recordBlob.get(storeId, key) as OldRecord | undefined;
      if (!conditionHolds(old ? old.etag : undefined, condition)) return { status: 'precondition-failed', blob: null };
      this.#q.storeDeleted.run({ delta: old ? -old.size : 0, count: old ? 1 : 0, now, id: storeId });
      if (!old) return { status: 'absent', blob: null };
      this.#cache.dropRecord(storeId, key);
      if (old.value_id !== null) this.#q.deleteValue.run(old.value_id);
      this.#q.deleteRecord.run(storeId, key);
      return { status: 'deleted', blob: old.blob_path };
    });
    await this.#blobs.remove(result.blob);
    return result.status;
  }

  async listKeys(storeId: string, query: KeyListQuery): Promise<KeyListPage> {
    const after = query.exclusiveStartKey ?? '';
    const prefix = query.prefix ?? '';
    // Keys are ASCII, so every key starting with `prefix` sorts below prefix + U+FFFF.
    const inclusive = prefix > after;
    const from = inclusive ? prefix : after;
    const stmt = prefix ? (inclusive ? this.#q.keysFromPrefix : this.#q.keysAfterPrefix) : this.#q.keysAfter;
    const args = prefix ? [storeId, from, `${prefix}\uffff`, query.limit + 1] : [storeId, from, query.limit + 1];
    const rows = stmt.all(...args) as unknown[][];
    const isTruncated = rows.length > query.limit;
    const n = isTruncated ? query.limit : rows.length;
    const items = new Array<{ key: string; size: number }>(n);
    const { key, size } = KEY_ITEM.index;
    for (let i = 0; i < n; i++) {
      const row = rows[i] as unknown[];
      items[i] = { key: row[key] as string, size: row[size] as number };
    }
    return { items, isTruncated };
  }

  async pushItems(datasetId: string, items: readonly string[], clean: number, now: number): Promise<'ok' | 'no-store'> {
    // Through the group commit: pushes share commits and run one after another in the transaction.
    return this.#write(() => this.#items.push(datasetId, items, clean, now));
  }

  async readItems(datasetId: string, offset: number, limit: number): Promise<string[]> {
    return this.#items.read(datasetId, offset, limit);
  }

  // Queue writes go through the group commit: they run one after another in its transaction and
  // share its commits; reads run on their own.
  addRequests(
    queueId: string,
    requests: readonly QueueRequestInput[],
    forefront: boolean,
    actor: QueueActor,
  ): Promise<QueueAddOutcome[] | 'no-store'> {
    return this.#write(() => this.#requests.add(queueId, requests, forefront, actor));
  }

  async getRequest(queueId: string, id: string): Promise<StoredQueueRequest | undefined> {
    return this.#requests.get(queueId, id);
  }

  updateRequest(
    queueId: string,
    request: QueueRequestInput,
    forefront: boolean,
    actor: QueueActor,
  ): Promise<QueueAddOutcome | 'locked' | 'no-store'> {
    return this.#write(() => this.#requests.update(queueId, request, forefront, actor));
  }

  deleteRequest(queueId: string, id: string, actor: QueueActor): Promise<'deleted' | 'absent' | 'locked' | 'no-store'> {
    return this.#write(() => this.#requests.delete(queueId, id, actor));
  }

  deleteRequests(
    queueId: string,
    refs: readonly ({ id: string } | { uniqueKey: string })[],
    actor: QueueActor,
  ): Promise<{ id: string; uniqueKey: string }[] | 'no-store'> {
    return this.#write(() => this.#requests.deleteMany(queueId, refs, actor));
  }

  async listHead(queueId: string, limit: number, actor: QueueActor): Promise<StoredQueueRequest[]> {
    return this.#requests.head(queueId, limit, actor);
  }

  lockHead(
    queueId: string,
    limit: number,
    lockMs: number,
    actor: QueueActor,
  ): Promise<{ items: StoredQueueRequest[]; queueHasLockedRequests: boolean } | 'no-store'> {
    return this.#write(() => this.#requests.lockHead(queueId, limit, lockMs, actor));
  }

  prolongLock(
    queueId: string,
    id: string,
    lockMs: number,
    forefront: boolean,
    actor: QueueActor,
  ): Promise<{ lockExpiresAt: number } | LockRefusal> {
    return this.#write(() => this.#requests.prolong(queueId, id, lockMs, forefront, actor));
  }

  deleteLock(queueId: string, id: string, forefront: boolean, actor: QueueActor): Promise<'ok' | LockRefusal> {
    return this.#write(() => this.#requests.deleteLock(queueId, id, forefront, actor));
  }

  unlockRequests(queueId: string, actor: QueueActor): Promise<number | 'no-store'> {
    return this.#write(() => this.#requests.unlock(queueId, actor));
  }

  async listRequests(
    queueId: string,
    query: { limit: number; after?: string; filter?: 'locked' | 'pending'; now: number },
  ): Promise<{ items: StoredQueueRequest[]; isTruncated: boolean }> {
    return this.#requests.list(queueId, query);
  }

  async totals(): Promise<KindTotals[]> {
    const rows = this.#q.totals.all() as KindTotals[];
    return STORAGE_KINDS.map((kind) => rows.find((r) => r.kind === kind) ?? { kind, stores: 0, bytes: 0 });
  }

  async listExpiredUnnamedStores(olderThan: number, limit: number): Promise<string[]> {
    return (this.#q.expiredUnnamedStores.all(olderThan, limit) as { id: string }[]).map((r) => r.id);
  }

  async applyStats(deltas: StatsDelta[]): Promise<void> {
    if (deltas.length === 0) return;
    this.#immediate(() => {
      for (const d of deltas) this.#q.storeStats.run(d.readCount, d.listCount, d.accessedAt, d.storeId);
    });
  }
}

/** Parses the part after `sqlite:` of a storage URL into driver options. */
export function createSqliteDriver(path: string): SqliteDriver {
  return new SqliteDriver({ path });
}

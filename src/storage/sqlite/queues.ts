import type Database from 'better-sqlite3';
import type { LockRefusal, QueueActor, QueueAddOutcome, QueueRequestInput, StoredQueueRequest } from '../driver.js';

const COLS = 'id, unique_key, data, handled_at, lock_client, lock_expires_at';

/**
 * Up to @limit pending requests of queue @id from the front that no other client holds a live lock
 * on (the caller's own locks, `lock_client IS @client`, do not hide a request): a range of the
 * pending index, in its order.
 */
export const HEAD_SQL = `SELECT ${COLS} FROM queue_requests
  WHERE store_id = @id AND handled_at IS NULL AND (lock_expires_at IS NULL OR lock_expires_at <= @now OR lock_client IS @client)
  ORDER BY order_no LIMIT @limit`;

/** The first @limit pending requests of queue @id that hold no live lock: what a lock of the head takes. */
export const LOCK_CANDIDATES_SQL = `SELECT rowid FROM queue_requests
  WHERE store_id = @id AND handled_at IS NULL AND (lock_expires_at IS NULL OR lock_expires_at <= @now)
  ORDER BY order_no LIMIT @limit`;

/** The latest lock expiry in queue @id, expired or not: the last entry of the index of locks. */
export const LATEST_LOCK_SQL =
  'SELECT max(lock_expires_at) FROM queue_requests WHERE store_id = @id AND lock_expires_at IS NOT NULL';

/** Ends the live locks of client @client in queue @id: a range of the index of locks. */
export const UNLOCK_SQL = `UPDATE queue_requests SET lock_client = NULL, lock_expires_at = NULL
  WHERE store_id = @id AND lock_expires_at > @now AND lock_client IS @client`;

interface RequestDbRow {
  id: string;
  unique_key: string;
  data: string;
  handled_at: number | null;
  lock_client: string | null;
  lock_expires_at: number | null;
}

interface QueueState {
  first_client: string | null;
  queue_front: number;
  queue_back: number;
  had_multiple_clients: number;
}

/** A request as stored; a lock that expired by `now` (when known) is no lock. */
function toStored(r: RequestDbRow, now?: number): StoredQueueRequest {
  const live = r.lock_expires_at !== null && (now === undefined || r.lock_expires_at > now);
  return {
    id: r.id,
    uniqueKey: r.unique_key,
    json: r.data,
    handledAt: r.handled_at,
    lockClient: live ? r.lock_client : null,
    lockExpiresAt: live ? r.lock_expires_at : null,
  };
}

/** Whether a live lock on `r` belongs to a client other than `actor` (no clientKey is a client of its own). */
function lockedByOther(r: { lock_client: string | null; lock_expires_at: number | null }, actor: QueueActor): boolean {
  return r.lock_expires_at !== null && r.lock_expires_at > actor.now && r.lock_client !== (actor.clientKey ?? null);
}

/** What a write did to a queue, applied to its row in one statement at the end. */
class QueueChange {
  items = 0;
  handled = 0;
  bytes = 0;
  writes = 0;
  deletes = 0;
  front: number;
  back: number;
  first: string | null;
  multiple: number;
  constructor(state: QueueState, actor: QueueActor) {
    this.front = state.queue_front;
    this.back = state.queue_back;
    this.first = state.first_client;
    this.multiple = state.had_multiple_clients;
    const client = actor.clientKey;
    if (client !== undefined) {
      if (this.first === null) this.first = client;
      else if (this.first !== client) this.multiple = 1;
    }
  }
}

/**
 * The requests of request queues in SQLite. Writes run inside the driver's write transaction (its
 * group commit), which serializes them: the queue's counts and order counters are read and written
 * there, so that they stay exact and no request is locked twice, across processes too.
 */
export function createQueueRequests(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  const state = p(
    "SELECT first_client, queue_front, queue_back, had_multiple_clients FROM stores WHERE id = ? AND kind = 'queue'",
  );
  const changed = p(
    `UPDATE stores SET item_count = item_count + @items, handled_count = handled_count + @handled,
       storage_bytes = storage_bytes + @bytes, write_count = write_count + @writes, delete_count = delete_count + @deletes,
       queue_front = @front, queue_back = @back, first_client = @first, had_multiple_clients = @multiple,
       modified_at = CASE WHEN @touched THEN @now ELSE modified_at END, accessed_at = max(accessed_at, @now) WHERE id = @id`,
  );
  const insert = p(
    `INSERT OR IGNORE INTO queue_requests (store_id, id, unique_key, data, size, handled_at, order_no)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  const byKey = p('SELECT id, handled_at FROM queue_requests WHERE store_id = ? AND unique_key = ?');
  const byId = p(`SELECT rowid, ${COLS}, size, order_no FROM queue_requests WHERE store_id = ? AND id = ?`);
  const rewrite = p(
    `UPDATE queue_requests SET data = @data, size = @size, handled_at = @handled, order_no = @order,
       lock_client = @client, lock_expires_at = @expires WHERE rowid = @rowid`,
  );
  const setLock = p('UPDATE queue_requests SET lock_client = ?, lock_expires_at = ?, order_no = ? WHERE rowid = ?');
  const remove = p('DELETE FROM queue_requests WHERE rowid = ?');
  const byKeyFull = p(`SELECT rowid, ${COLS}, size, order_no FROM queue_requests WHERE store_id = ? AND unique_key = ?`);
  const head = p(HEAD_SQL);
  const candidates = p(LOCK_CANDIDATES_SQL).pluck();
  const lockRow = p(`UPDATE queue_requests SET lock_client = ?, lock_expires_at = ? WHERE rowid = ? RETURNING ${COLS}`);
  const latestLock = p(LATEST_LOCK_SQL).pluck();
  const unlock = p(UNLOCK_SQL);
  const get = p(`SELECT ${COLS} FROM queue_requests WHERE store_id = ? AND id = ?`);
  const pages = {
    all: p(`SELECT ${COLS} FROM queue_requests WHERE store_id = ? AND id > ? ORDER BY id LIMIT ?`),
    locked: p(`SELECT ${COLS} FROM queue_requests WHERE store_id = ? AND id > ? AND lock_expires_at > ? ORDER BY id LIMIT ?`),
    pending: p(`SELECT ${COLS} FROM queue_requests WHERE store_id = ? AND id > ? AND handled_at IS NULL ORDER BY id LIMIT ?`),
  };

  const begin = (queueId: string, actor: QueueActor): QueueChange | undefined => {
    const s = state.get(queueId) as QueueState | undefined;
    return s && new QueueChange(s, actor);
  };
  const commit = (queueId: string, c: QueueChange, now: number) =>
    changed.run({
      items: c.items,
      handled: c.handled,
      bytes: c.bytes,
      writes: c.writes,
      deletes: c.deletes,
      front: c.front,
      back: c.back,
      first: c.first,
      multiple: c.multiple,
      // A write that changed no request (a lock of nothing, an unlock of nothing) leaves modifiedAt.
      touched: c.items !== 0 || c.handled !== 0 || c.writes !== 0 || c.deletes !== 0 ? 1 : 0,
      now,
      id: queueId,
    });

  /** Inserts a new request at the front or the back; false when its id or uniqueKey is taken. */
  const add = (queueId: string, r: QueueRequestInput, order: number, c: QueueChange): boolean => {
    const size = Buffer.byteLength(r.json);
    if (insert.run(queueId, r.id, r.uniqueKey, r.json, size, r.handledAt, order).changes === 0) return false;
    c.items++;
    c.bytes += size;
    c.writes++;
    if (r.handledAt !== null) c.handled++;
    return true;
  };

  /** The outcome for a request whose uniqueKey (or id) another request of the queue already has. */
  const present = (queueId: string, r: QueueRequestInput): QueueAddOutcome => {
    const old = (byKey.get(queueId, r.uniqueKey) ?? get.get(queueId, r.id)) as { id: string; handled_at: number | null };
    return { requestId: old.id, uniqueKey: r.uniqueKey, wasAlreadyPresent: true, wasAlreadyHandled: old.handled_at !== null };
  };

  /** A request's lock checked for `prolong` and `deleteLock`: the row when the caller holds a live lock on it. */
  const ownLock = (queueId: string, id: string, actor: QueueActor) => {
    const row = byId.get(queueId, id) as (RequestDbRow & { rowid: number; order_no: number }) | undefined;
    if (!row) return 'absent' as const;
    if (row.handled_at !== null || row.lock_expires_at === null || row.lock_expires_at <= actor.now) return 'not-locked' as const;
    if (lockedByOther(row, actor)) return 'locked-by-other' as const;
    return row;
  };

  return {
    add(queueId: string, requests: readonly QueueRequestInput[], forefront: boolean, actor: QueueActor) {
      const c = begin(queueId, actor);
      if (!c) return 'no-store' as const;
      const n = requests.length;
      // Forefront: the batch takes the n numbers before the front, in the order given.
      const base = forefront ? c.front - n : c.back;
      const outcomes = requests.map((r, i): QueueAddOutcome => {
        if (add(queueId, r, base + i, c)) {
          return { requestId: r.id, uniqueKey: r.uniqueKey, wasAlreadyPresent: false, wasAlreadyHandled: false };
        }
        return present(queueId, r);
      });
      if (forefront) c.front -= n;
      else c.back += n;
      commit(queueId, c, actor.now);
      return outcomes;
    },

    update(queueId: string, r: QueueRequestInput, forefront: boolean, actor: QueueActor) {
      const c = begin(queueId, actor);
      if (!c) return 'no-store' as const;
      const old = byId.get(queueId, r.id) as (RequestDbRow & { rowid: number; size: number; order_no: number }) | undefined;
      let outcome: QueueAddOutcome;
      if (!old) {
        const front = forefront && r.handledAt === null;
        if (add(queueId, r, front ? c.front - 1 : c.back, c)) {
          if (front) c.front--;
          else c.back++;
          outcome = { requestId: r.id, uniqueKey: r.uniqueKey, wasAlreadyPresent: false, wasAlreadyHandled: false };
        } else return present(queueId, r);
      } else {
        if (lockedByOther(old, actor)) return 'locked' as const;
        const size = Buffer.byteLength(r.json);
        const pending = r.handledAt === null;
        let order = old.order_no;
        if (pending && forefront) order = --c.front;
        rewrite.run({
          data: r.json,
          size,
          handled: r.handledAt,
          order,
          client: pending ? old.lock_client : null,
          expires: pending ? old.lock_expires_at : null,
          rowid: old.rowid,
        });
        c.bytes += size - old.size;
        c.handled += (pending ? 0 : 1) - (old.handled_at === null ? 0 : 1);
        c.writes++;
        outcome = {
          requestId: old.id,
          uniqueKey: old.unique_key,
          wasAlreadyPresent: true,
          wasAlreadyHandled: old.handled_at !== null,
        };
      }
      commit(queueId, c, actor.now);
      return outcome;
    },

    delete(queueId: string, id: string, actor: QueueActor) {
      const c = begin(queueId, actor);
      if (!c) return 'no-store' as const;
      const old = byId.get(queueId, id) as (RequestDbRow & { rowid: number; size: number }) | undefined;
      if (!old) return 'absent' as const;
      if (lockedByOther(old, actor)) return 'locked' as const;
      remove.run(old.rowid);
      c.items--;
      c.bytes -= old.size;
      c.deletes++;
      if (old.handled_at !== null) c.handled--;
      commit(queueId, c, actor.now);
      return 'deleted' as const;
    },

    deleteMany(queueId: string, refs: readonly ({ id: string } | { uniqueKey: string })[], actor: QueueActor) {
      const c = begin(queueId, actor);
      if (!c) return 'no-store' as const;
      const done = refs.map((ref) => {
        const old = ('id' in ref ? byId.get(queueId, ref.id) : byKeyFull.get(queueId, ref.uniqueKey)) as
          | (RequestDbRow & { rowid: number; size: number })
          | undefined;
        if (!old) return 'id' in ref ? { id: ref.id, uniqueKey: '' } : { id: '', uniqueKey: ref.uniqueKey };
        remove.run(old.rowid);
        c.items--;
        c.bytes -= old.size;
        c.deletes++;
        if (old.handled_at !== null) c.handled--;
        return { id: old.id, uniqueKey: old.unique_key };
      });
      commit(queueId, c, actor.now);
      return done;
    },

    lockHead(queueId: string, limit: number, lockMs: number, actor: QueueActor) {
      const c = begin(queueId, actor);
      if (!c) return 'no-store' as const;
      const rowids = limit > 0 ? (candidates.all({ id: queueId, now: actor.now, limit }) as number[]) : [];
      const expires = actor.now + lockMs;
      const items = rowids.map((rowid) => toStored(lockRow.get(actor.clientKey ?? null, expires, rowid) as RequestDbRow));
      c.writes += items.length;
      commit(queueId, c, actor.now);
      const latest = latestLock.get({ id: queueId }) as number | null;
      return { items, queueHasLockedRequests: latest !== null && latest > actor.now };
    },

    prolong(queueId: string, id: string, lockMs: number, forefront: boolean, actor: QueueActor) {
      const c = begin(queueId, actor);
      if (!c) return 'no-store' as const;
      const row = ownLock(queueId, id, actor);
      if (typeof row === 'string') return row;
      const expires = actor.now + lockMs;
      setLock.run(row.lock_client, expires, forefront ? --c.front : row.order_no, row.rowid);
      c.writes++;
      commit(queueId, c, actor.now);
      return { lockExpiresAt: expires };
    },

    deleteLock(queueId: string, id: string, forefront: boolean, actor: QueueActor): 'ok' | LockRefusal {
      const c = begin(queueId, actor);
      if (!c) return 'no-store';
      const row = ownLock(queueId, id, actor);
      if (typeof row === 'string') return row;
      setLock.run(null, null, forefront ? --c.front : row.order_no, row.rowid);
      c.writes++;
      commit(queueId, c, actor.now);
      return 'ok';
    },

    unlock(queueId: string, actor: QueueActor) {
      const c = begin(queueId, actor);
      if (!c) return 'no-store' as const;
      const n = unlock.run({ id: queueId, now: actor.now, client: actor.clientKey ?? null }).changes;
      c.writes += n;
      commit(queueId, c, actor.now);
      return n;
    },

    get(queueId: string, id: string): StoredQueueRequest | undefined {
      const row = get.get(queueId, id) as RequestDbRow | undefined;
      return row && toStored(row);
    },

    head(queueId: string, limit: number, actor: QueueActor): StoredQueueRequest[] {
      if (limit <= 0) return [];
      const rows = head.all({ id: queueId, now: actor.now, client: actor.clientKey ?? null, limit }) as RequestDbRow[];
      return rows.map((r) => toStored(r, actor.now));
    },

    list(queueId: string, query: { limit: number; after?: string; filter?: 'locked' | 'pending'; now: number }) {
      const after = query.after ?? '';
      const n = query.limit + 1;
      const rows = (
        query.filter === 'locked'
          ? pages.locked.all(queueId, after, query.now, n)
          : query.filter === 'pending'
            ? pages.pending.all(queueId, after, n)
            : pages.all.all(queueId, after, n)
      ) as RequestDbRow[];
      const isTruncated = rows.length > query.limit;
      if (isTruncated) rows.length = query.limit;
      return { items: rows.map((r) => toStored(r, query.now)), isTruncated };
    },
  };
}

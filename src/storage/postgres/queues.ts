import type { Sql } from 'postgres';
import type { LockRefusal, QueueActor, QueueAddOutcome, QueueRequestInput, StoredQueueRequest } from '../driver.js';

const COLS = 'id, unique_key, data, handled_at, lock_client, lock_expires_at';

/**
 * Up to $4 pending requests of queue $1 from the front that no other client holds a live lock on
 * at $2 (the caller $3's own locks do not hide a request): a range of the pending index.
 */
export const HEAD_SQL = `SELECT ${COLS} FROM queue_requests
  WHERE store_id = $1::text AND handled_at IS NULL
    AND (lock_expires_at IS NULL OR lock_expires_at <= $2::bigint OR lock_client IS NOT DISTINCT FROM $3::text)
  ORDER BY order_no LIMIT $4::integer`;

const PAGE_SQL = {
  all: `SELECT ${COLS} FROM queue_requests WHERE store_id = $1::text AND id > $2::text ORDER BY id LIMIT $3::integer`,
  locked: `SELECT ${COLS} FROM queue_requests WHERE store_id = $1::text AND id > $2::text AND lock_expires_at > $4::bigint
           ORDER BY id LIMIT $3::integer`,
  pending: `SELECT ${COLS} FROM queue_requests WHERE store_id = $1::text AND id > $2::text AND handled_at IS NULL
            ORDER BY id LIMIT $3::integer`,
};

/** A request row: [id, uniqueKey, data, handledAt, lockClient, lockExpiresAt], from a row or the functions' jsonb. */
type RequestTuple = [string, string, string, number | null, string | null, number | null];

/** A request as stored; a lock that expired by `now` (when known) is no lock. */
function toStored(r: RequestTuple, now?: number): StoredQueueRequest {
  const [id, uniqueKey, json, handledAt, lockClient, lockExpiresAt] = r;
  const live = lockExpiresAt !== null && (now === undefined || lockExpiresAt > now);
  return { id, uniqueKey, json, handledAt, lockClient: live ? lockClient : null, lockExpiresAt: live ? lockExpiresAt : null };
}

const toOutcome = ([requestId, uniqueKey, wasAlreadyPresent, wasAlreadyHandled]: [
  string,
  string,
  boolean,
  boolean,
]): QueueAddOutcome => ({
  requestId,
  uniqueKey,
  wasAlreadyPresent,
  wasAlreadyHandled,
});

/**
 * The requests of request queues in PostgreSQL: each write is one call of a function of
 * functions.sql (one round trip), which locks the queue's row first; reads are single statements.
 */
export function queueRequests(sql: Sql) {
  const client = (actor: QueueActor) => actor.clientKey ?? null;
  /** Runs a statement prepared by its text, rows as arrays. */
  const rows = (text: string, params: unknown[]) => sql.unsafe(text, params as never[], { prepare: true }).values();
  /** Calls a queue function; its one jsonb value. */
  const call = async (text: string, params: unknown[]): Promise<unknown> => {
    const [row] = await rows(`SELECT ${text}`, params);
    return row?.[0];
  };

  return {
    async add(queueId: string, requests: readonly QueueRequestInput[], forefront: boolean, actor: QueueActor) {
      const result = await call(
        'openkvs_queue_add($1::text, $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::boolean, $8::text, $9::bigint)',
        [
          queueId,
          requests.map((r) => r.id),
          requests.map((r) => r.uniqueKey),
          requests.map((r) => r.json),
          requests.map((r) => Buffer.byteLength(r.json)),
          requests.map((r) => r.handledAt),
          forefront,
          client(actor),
          actor.now,
        ],
      );
      if (result === 'no-store') return 'no-store' as const;
      return (result as [string, string, boolean, boolean][]).map(toOutcome);
    },

    async update(queueId: string, r: QueueRequestInput, forefront: boolean, actor: QueueActor) {
      const result = await call(
        'openkvs_queue_update($1::text, $2::text, $3::text, $4::text, $5::bigint, $6::bigint, $7::boolean, $8::text, $9::bigint)',
        [queueId, r.id, r.uniqueKey, r.json, Buffer.byteLength(r.json), r.handledAt, forefront, client(actor), actor.now],
      );
      if (result === 'no-store' || result === 'locked') return result;
      return toOutcome(result as [string, string, boolean, boolean]);
    },

    async delete(queueId: string, id: string, actor: QueueActor) {
      const result = await call('openkvs_queue_delete($1::text, $2::text, $3::text, $4::bigint)', [
        queueId,
        id,
        client(actor),
        actor.now,
      ]);
      return result as 'deleted' | 'absent' | 'locked' | 'no-store';
    },

    async deleteMany(queueId: string, refs: readonly ({ id: string } | { uniqueKey: string })[], actor: QueueActor) {
      const result = await call('openkvs_queue_delete_many($1::text, $2::text[], $3::text[], $4::text, $5::bigint)', [
        queueId,
        refs.map((r) => ('id' in r ? r.id : null)),
        refs.map((r) => ('id' in r ? null : r.uniqueKey)),
        client(actor),
        actor.now,
      ]);
      if (result === 'no-store') return 'no-store' as const;
      return (result as [string, string][]).map(([id, uniqueKey]) => ({ id, uniqueKey }));
    },

    async lockHead(queueId: string, limit: number, lockMs: number, actor: QueueActor) {
      const result = await call('openkvs_queue_lock_head($1::text, $2::integer, $3::bigint, $4::text, $5::bigint)', [
        queueId,
        Math.max(0, limit),
        lockMs,
        client(actor),
        actor.now,
      ]);
      if (result === 'no-store') return 'no-store' as const;
      const { items, locked } = result as { items: RequestTuple[]; locked: boolean };
      return { items: items.map((r) => toStored(r)), queueHasLockedRequests: locked };
    },

    /** Extends the caller's lock (`lockMs`) or ends it (null). */
    async relock(
      queueId: string,
      id: string,
      lockMs: number | null,
      forefront: boolean,
      actor: QueueActor,
    ): Promise<number | null | LockRefusal> {
      const result = await call('openkvs_queue_relock($1::text, $2::text, $3::bigint, $4::boolean, $5::text, $6::bigint)', [
        queueId,
        id,
        lockMs,
        forefront,
        client(actor),
        actor.now,
      ]);
      return (result ?? null) as number | null | LockRefusal;
    },

    async unlock(queueId: string, actor: QueueActor) {
      const result = await call('openkvs_queue_unlock($1::text, $2::text, $3::bigint)', [queueId, client(actor), actor.now]);
      return result as number | 'no-store';
    },

    async get(queueId: string, id: string): Promise<StoredQueueRequest | undefined> {
      const [row] = await rows(`SELECT ${COLS} FROM queue_requests WHERE store_id = $1::text AND id = $2::text`, [queueId, id]);
      return row && toStored(row as unknown as RequestTuple);
    },

    async head(queueId: string, limit: number, actor: QueueActor): Promise<StoredQueueRequest[]> {
      if (limit <= 0) return [];
      const found = await rows(HEAD_SQL, [queueId, actor.now, client(actor), limit]);
      return found.map((r) => toStored(r as unknown as RequestTuple, actor.now));
    },

    async list(queueId: string, query: { limit: number; after?: string; filter?: 'locked' | 'pending'; now: number }) {
      const params: unknown[] = [queueId, query.after ?? '', query.limit + 1];
      if (query.filter === 'locked') params.push(query.now);
      const found = await rows(PAGE_SQL[query.filter ?? 'all'], params);
      const isTruncated = found.length > query.limit;
      const items = found.slice(0, query.limit).map((r) => toStored(r as unknown as RequestTuple, query.now));
      return { items, isTruncated };
    },
  };
}

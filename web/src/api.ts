/** The public `/v2` API, called with the signed-in token as a Bearer header (never in a URL). */

export type GeneralAccess = 'FOLLOW_USER_SETTING' | 'RESTRICTED' | 'ANYONE_WITH_ID_CAN_READ' | 'ANYONE_WITH_NAME_CAN_READ';

export const GENERAL_ACCESS: readonly GeneralAccess[] = [
  'FOLLOW_USER_SETTING',
  'RESTRICTED',
  'ANYONE_WITH_ID_CAN_READ',
  'ANYONE_WITH_NAME_CAN_READ',
];

/** How each setting reads in the console. */
export const ACCESS_LABELS: Readonly<Record<GeneralAccess, string>> = {
  FOLLOW_USER_SETTING: 'Server default',
  RESTRICTED: 'Restricted (owner only)',
  ANYONE_WITH_ID_CAN_READ: 'Anyone with the ID can read',
  ANYONE_WITH_NAME_CAN_READ: 'Anyone with the ID or name can read',
};

/** The storage kinds the console shows. */
export type StorageKind = 'kvs' | 'dataset' | 'queue';

interface StorageBase {
  id: string;
  name: string | null;
  title: string | null;
  username: string | null;
  createdAt: string;
  modifiedAt: string;
  generalAccess: GeneralAccess;
}

export interface Store extends StorageBase {
  stats: { readCount: number; writeCount: number; deleteCount: number; storageBytes: number };
}

export interface Dataset extends StorageBase {
  itemCount: number;
  cleanItemCount: number;
  /** Signed: opens the items without a token. */
  itemsPublicUrl: string;
  stats: { readCount: number; writeCount: number; storageBytes: number };
}

export interface Queue extends StorageBase {
  totalRequestCount: number;
  handledRequestCount: number;
  pendingRequestCount: number;
  /** Whether more than one client (clientKey) has used the queue. */
  hadMultipleClients: boolean;
  stats: { readCount: number; writeCount: number; deleteCount: number; headItemReadCount: number; storageBytes: number };
}

/** The API object of each kind. */
export interface Storages {
  kvs: Store;
  dataset: Dataset;
  queue: Queue;
}

export type AnyStorage = Store | Dataset | Queue;

/** A request as the head lists it. */
export interface HeadRequest {
  id: string;
  uniqueKey: string;
  url: string;
  method?: string;
  retryCount?: number;
}

export interface QueueHead {
  limit: number;
  queueModifiedAt: string;
  hadMultipleClients: boolean;
  items: HeadRequest[];
}

/** A request as stored: the fields below and whatever else the crawler put in it. */
export interface QueueRequest extends HeadRequest {
  /** Set once the request is handled. */
  handledAt?: string | null;
  userData?: Record<string, unknown>;
  [field: string]: unknown;
}

/** The states `GET …/requests` can narrow the list to. */
export type RequestFilter = 'pending' | 'locked';

export interface RequestPage {
  items: QueueRequest[];
  limit: number;
  /** Null (or absent) on the last page. */
  nextCursor?: string | null;
}

/** What `POST …/requests` takes (`uniqueKey` tells requests apart: the same one is not added twice). */
export interface RequestDraft {
  url: string;
  uniqueKey: string;
  method: string;
  userData?: Record<string, unknown>;
}

export interface AddedRequest {
  requestId: string;
  wasAlreadyPresent: boolean;
  wasAlreadyHandled: boolean;
}

export interface ListPage<T> {
  total: number;
  offset: number;
  limit: number;
  count: number;
  items: T[];
}

/** Everything a storage's settings form may change. */
export interface StoragePatch {
  name?: string | null;
  title?: string | null;
  generalAccess?: GeneralAccess;
}

/** The formats `GET /v2/datasets/{id}/items` writes. */
export const ITEM_FORMATS = ['json', 'jsonl', 'csv', 'xlsx', 'xml', 'html', 'rss'] as const;
export type ItemFormat = (typeof ITEM_FORMATS)[number];

export interface ItemsPage {
  /** The page as the server wrote it (a JSON array) and parsed. */
  text: string;
  items: unknown[];
  offset: number;
  /** Every item of the dataset, from `X-Apify-Pagination-Total`. */
  total: number;
}

export interface KeyItem {
  key: string;
  size: number;
  recordPublicUrl: string;
}

export interface KeyPage {
  items: KeyItem[];
  isTruncated: boolean;
  nextExclusiveStartKey: string | null;
}

export interface FetchedRecord {
  /** The (decoded) bytes; null when the record is larger than the caller wanted to load. */
  blob: Blob | null;
  contentType: string;
  /** As stored: the browser has already decoded the bytes in `blob`. */
  contentEncoding: string | null;
  /** Bytes on the wire (as stored), when the server said. */
  storedSize: number | null;
}

/** An error answer of the API: its HTTP status and Apify error type. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const BASES: Readonly<Record<StorageKind, string>> = {
  kvs: '/v2/key-value-stores',
  dataset: '/v2/datasets',
  queue: '/v2/request-queues',
};
const storagePath = (kind: StorageKind, id: string) => `${BASES[kind]}/${encodeURIComponent(id)}`;
const storePath = (id: string) => storagePath('kvs', id);
const recordPath = (id: string, key: string) => `${storePath(id)}/records/${encodeURIComponent(key)}`;
const itemsPath = (id: string) => `${storagePath('dataset', id)}/items`;
const requestsPath = (id: string) => `${storagePath('queue', id)}/requests`;

function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === '' || v === false) continue;
    q.set(k, v === true ? '1' : String(v));
  }
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}

/** A client of the API for one token. `onUnauthorized` runs when the token stops being accepted. */
export class Api {
  readonly #token: string;
  readonly #onUnauthorized: () => void;

  constructor(token: string, onUnauthorized: () => void = () => undefined) {
    this.#token = token;
    this.#onUnauthorized = onUnauthorized;
  }

  async #send(method: string, path: string, body?: BodyInit, contentType?: string): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}` };
    if (contentType !== undefined) headers['content-type'] = contentType;
    // no-store: records and lists change under the same URL, and a private cache would show stale ones.
    const res = await fetch(path, { method, headers, body: body ?? null, cache: 'no-store', credentials: 'omit' });
    if (res.ok) return res;
    const error = ((await res.json().catch(() => undefined)) as { error?: { type?: string; message?: string } } | undefined)
      ?.error;
    if (res.status === 401) this.#onUnauthorized();
    throw new ApiError(res.status, error?.type ?? 'unknown', error?.message ?? `${res.status} ${res.statusText}`);
  }

  async #json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res =
      body === undefined
        ? await this.#send(method, path)
        : await this.#send(method, path, JSON.stringify(body), 'application/json');
    return ((await res.json()) as { data: T }).data;
  }

  listStorages<K extends StorageKind>(
    kind: K,
    o: { offset: number; limit: number; desc: boolean; unnamed: boolean },
  ): Promise<ListPage<Storages[K]>> {
    return this.#json('GET', `${BASES[kind]}${query(o)}`);
  }

  /** Get-or-create: `created` is false when one of that name already existed. */
  async createStorage<K extends StorageKind>(kind: K, name: string): Promise<{ storage: Storages[K]; created: boolean }> {
    const res = await this.#send('POST', `${BASES[kind]}${query({ name })}`);
    return { storage: ((await res.json()) as { data: Storages[K] }).data, created: res.status === 201 };
  }

  getStorage<K extends StorageKind>(kind: K, id: string): Promise<Storages[K]> {
    return this.#json('GET', storagePath(kind, id));
  }

  updateStorage<K extends StorageKind>(kind: K, id: string, patch: StoragePatch): Promise<Storages[K]> {
    return this.#json('PUT', storagePath(kind, id), patch);
  }

  async deleteStorage(kind: StorageKind, id: string): Promise<void> {
    await this.#send('DELETE', storagePath(kind, id));
  }

  /** One page of a dataset's items, as JSON. */
  async getItems(id: string, o: { offset: number; limit: number }): Promise<ItemsPage> {
    const res = await this.#send('GET', `${itemsPath(id)}${query({ ...o, format: 'json' })}`);
    const text = await res.text();
    const items = JSON.parse(text) as unknown[];
    const header = (name: string) => {
      const value = res.headers.get(`x-apify-pagination-${name}`);
      return value === null ? undefined : Number(value);
    };
    const offset = header('offset') ?? o.offset;
    return { text, items, offset, total: header('total') ?? offset + items.length };
  }

  /** All of a dataset's items in one format, as the server's download (`attachment=1`) writes them. */
  async downloadItems(id: string, format: ItemFormat): Promise<Blob> {
    const res = await this.#send('GET', `${itemsPath(id)}${query({ format, attachment: true })}`);
    return res.blob();
  }

  listKeys(id: string, o: { prefix: string; exclusiveStartKey: string | undefined; limit: number }): Promise<KeyPage> {
    return this.#json('GET', `${storePath(id)}/keys${query(o)}`);
  }

  /** A record, its bytes loaded only when there are at most `maxBytes` of them on the wire. */
  async getRecord(id: string, key: string, maxBytes = Number.POSITIVE_INFINITY): Promise<FetchedRecord> {
    const res = await this.#send('GET', recordPath(id, key));
    const length = res.headers.get('content-length');
    const storedSize = length === null ? null : Number(length);
    const load = storedSize === null || storedSize <= maxBytes;
    if (!load) await res.body?.cancel();
    return {
      contentType: res.headers.get('content-type') ?? 'application/octet-stream',
      contentEncoding: res.headers.get('content-encoding'),
      storedSize,
      blob: load ? await res.blob() : null,
    };
  }

  async putRecord(id: string, key: string, file: Blob): Promise<void> {
    await this.#send('PUT', recordPath(id, key), file, file.type || 'application/octet-stream');
  }

  async deleteRecord(id: string, key: string): Promise<void> {
    await this.#send('DELETE', recordPath(id, key));
  }

  /** The first `limit` pending requests of a queue, in the order they would be handed out. */
  getHead(queueId: string, limit: number): Promise<QueueHead> {
    return this.#json('GET', `${storagePath('queue', queueId)}/head${query({ limit })}`);
  }

  /** A page of a queue's requests in id order; `cursor` is the previous page's `nextCursor`. */
  listRequests(
    queueId: string,
    o: { limit: number; cursor: string | undefined; filter: RequestFilter | undefined },
  ): Promise<RequestPage> {
    return this.#json('GET', `${requestsPath(queueId)}${query(o)}`);
  }

  getRequest(queueId: string, requestId: string): Promise<QueueRequest> {
    return this.#json('GET', `${requestsPath(queueId)}/${encodeURIComponent(requestId)}`);
  }

  addRequest(queueId: string, request: RequestDraft): Promise<AddedRequest> {
    return this.#json('POST', requestsPath(queueId), request);
  }
}

/** The measured operations and the wrk Lua script that drives each one. */

export const OPERATION_NAMES = [
  'get',
  'head',
  'put-new',
  'put-existing',
  'delete',
  'store',
  'keys',
  'keys-100k',
  'keys-1m',
  'mix',
  'get-9mb',
  'put-9mb',
  'push-1000',
  'items',
  'items-900k',
  'queue-add-25',
] as const;
export type OperationName = (typeof OPERATION_NAMES)[number];

export interface Operation {
  name: OperationName;
  label: string;
  /**
   * `ab` only for HEAD: wrk 4.1 (and h2load) keep waiting for the body that the Content-Length of
   * a HEAD response announces, and so never complete a request. `node` (big.ts) for the 9 MB
   * records: it counts bytes moved, where wrk counts only requests completed within the run.
   * Bare and openkvs always get the same tool.
   */
  generator: 'wrk' | 'ab' | 'node';
  /** Connections for this operation instead of the run's (the 9 MB records: 16 uploads at once). */
  connections?: number;
  /** Bytes each request moves, for MB/s: the large records. */
  bytes?: number;
  /** The bare server's operation to compare with, when it answers this one with the same bytes as another. */
  bareAs?: OperationName;
  /** Dataset items each request moves (pushes of 1000 items, pages of 1000), for items per second. */
  items?: number;
  /** Queue requests each request adds (batches of 25), for requests added per second. */
  queueRequests?: number;
  /** The server's memory is sampled during the run (the large records and the 1 MB pushes). */
  rss?: boolean;
}

/** A large record: under the 9 MiB of a JSON body, far over the 256 KiB kept inline. */
export const BIG_BYTES = 9 * 1024 * 1024;
export const BIG_CONTENT_TYPE = 'application/octet-stream';
/** The key the 9 MB GET reads; 9 MB PUTs overwrite `big-put-0` … `big-put-${BIG_PUT_KEYS - 1}`. */
export const BIG_KEY = 'big-get';
export const BIG_PUT_KEYS = 8;
export const recordPath = (store: string, key: string) => `/v2/key-value-stores/${store}/records/${key}`;
export const BIG_CONNECTIONS = 16;

/** Items per push and per page; each item is `DATASET_ITEM_BYTES` of JSON. */
export const DATASET_PAGE = 1000;
export const DATASET_ITEM_BYTES = 1024;
/** Items in the dataset whose pages are read, and the deep offset read beside offset 0. */
export const DATASET_ITEMS = 1_000_000;
export const DEEP_OFFSET = 900_000;
/** Pushes of 1 MB at once: as many as the 9 MB uploads. */
export const PUSH_CONNECTIONS = BIG_CONNECTIONS;
/** Requests in a batch add (the API's limit) and in a head lock. */
export const QUEUE_BATCH = 25;
export const itemsPath = (dataset: string, offset: number, limit = DATASET_PAGE) =>
  `/v2/datasets/${dataset}/items?offset=${offset}&limit=${limit}`;

export const OPERATIONS: readonly Operation[] = [
  { name: 'get', label: 'GET record 1 KB', generator: 'wrk' },
  { name: 'head', label: 'HEAD record', generator: 'ab' },
  { name: 'put-new', label: 'PUT 1 KB, new key', generator: 'wrk' },
  { name: 'put-existing', label: 'PUT 1 KB, existing key', generator: 'wrk' },
  { name: 'delete', label: 'DELETE record', generator: 'wrk' },
  { name: 'store', label: 'GET store', generator: 'wrk' },
  { name: 'keys', label: 'GET 1000 keys, 1k store (its one page)', generator: 'wrk' },
  // The larger stores are read through 200 pages spread over them, as a client reading through does.
  { name: 'keys-100k', label: 'GET 1000 keys, 100k store (200 pages)', generator: 'wrk', bareAs: 'keys' },
  { name: 'keys-1m', label: 'GET 1000 keys, 1M store (200 pages)', generator: 'wrk', bareAs: 'keys' },
  { name: 'mix', label: 'mix 80 GET/15 PUT/5 list', generator: 'wrk' },
  { name: 'get-9mb', label: 'GET 9 MB record', generator: 'node', connections: BIG_CONNECTIONS, bytes: BIG_BYTES },
  { name: 'put-9mb', label: 'PUT 9 MB record', generator: 'node', connections: BIG_CONNECTIONS, bytes: BIG_BYTES },
  // Datasets (issue 21): 1 KB items, as crawlers push them, 1000 to a request.
  {
    name: 'push-1000',
    label: 'POST 1000 items of 1 KB (1 MB)',
    generator: 'wrk',
    connections: PUSH_CONNECTIONS,
    items: DATASET_PAGE,
    rss: true,
  },
  { name: 'items', label: 'GET 1000 items, offset 0 of 1M', generator: 'wrk', items: DATASET_PAGE },
  { name: 'items-900k', label: 'GET 1000 items, offset 900k of 1M', generator: 'wrk', items: DATASET_PAGE, bareAs: 'items' },
  // Request queues (issue 22): batches of new requests, as a crawler enqueues the links of a page.
  { name: 'queue-add-25', label: 'POST 25 new requests (batch)', generator: 'wrk', queueRequests: QUEUE_BATCH },
];

/** The dataset rows: what `--only datasets` runs. */
export const DATASET_OP_NAMES: readonly OperationName[] = ['push-1000', 'items', 'items-900k'];
export const isDatasetOp = (op: OperationName) => DATASET_OP_NAMES.includes(op);
/** The request queue rows under load: what `--only queues` runs with wrk (the rest is in queue-runs.ts). */
export const QUEUE_OP_NAMES: readonly OperationName[] = ['queue-add-25'];
export const isQueueOp = (op: OperationName) => QUEUE_OP_NAMES.includes(op);

/** The key-page operations and the size of the store each one reads. */
export const KEY_PAGE_OPS: Partial<Record<OperationName, number>> = { keys: 1000, 'keys-100k': 100_000, 'keys-1m': 1_000_000 };

export const RECORD_BYTES = 1024;
export const RECORD_CONTENT_TYPE = 'application/json; charset=utf-8';
/** The key every GET and HEAD reads. */
export const RECORD_KEY = 'record-1k';
/** Keys `hot-0` … `hot-999` exist before the run; PUT over existing keys and the mix cycle through them. */
export const HOT_KEYS = 1000;
/** Keys in the store whose first page `GET …/keys?limit=1000` reads: the page is the whole store. */
export const PAGE_KEYS = 1000;

/** A 1 KB JSON document, the typical shape of what crawlers store. */
export function recordBody(bytes = RECORD_BYTES): Buffer {
  const head = '{"url":"https://example.com/catalog/item/12345","status":200,"title":"An example page","text":"';
  const tail = '"}';
  const filler = 'lorem ipsum dolor sit amet '.repeat(Math.ceil(bytes / 27)).slice(0, bytes - head.length - tail.length);
  return Buffer.from(head + filler + tail);
}

/** What a script needs to know about the target: the stores and keys it works on. */
export interface ScriptContext {
  token: string;
  /** Store holding `record-1k` and the hot keys; new keys are written here too. */
  recordsStore: string;
  /** Store of exactly `PAGE_KEYS` keys. */
  keysStore: string;
  /** Stores of 100,000 and 1,000,000 keys (when the run reads them). */
  keys100kStore?: { id: string; spreadKeys: readonly string[] };
  keys1mStore?: { id: string; spreadKeys: readonly string[] };
  /** Store whose keys `${deletePrefix}0` … the DELETE run removes, one each. */
  deleteStore: string;
  deletePrefix: string;
  /** Unique to the run, so that every PUT to a new key is to a key that never existed. */
  runTag: string;
  /** wrk threads; each takes its own share of the key sequence. */
  threads: number;
  /** The dataset the pushes go to, the file holding a push's body, and the dataset of `DATASET_ITEMS` items. */
  pushDataset?: string;
  pushBodyFile?: string;
  itemsDataset?: string;
  /** The queue the batch adds go to. */
  addQueue?: string;
}

/** A Lua string literal for any bytes (decimal escapes outside printable ASCII). */
export function luaString(value: string | Buffer): string {
  let out = '"';
  for (const b of typeof value === 'string' ? Buffer.from(value) : value) {
    if (b === 0x22 || b === 0x5c) out += `\\${String.fromCharCode(b)}`;
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\${String(b).padStart(3, '0')}`;
  }
  return `${out}"`;
}

const keysPath = (store: string) => `/v2/key-value-stores/${store}/keys?limit=${PAGE_KEYS}`;

function need<T>(store: T | undefined, op: OperationName): T {
  if (store === undefined) throw new Error(`${op}: the store was not created for this run`);
  return store;
}

/** Reports the run as one JSON line that `load.ts` picks out of wrk's output. */
const DONE = `
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '@@wrk {"requests":%d,"durationUs":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"meanUs":%.1f,"p50Us":%d,"p90Us":%d,"p99Us":%d,"maxUs":%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`;

/** Numbers the wrk threads, so that with several threads each walks its own keys (i * threads + tid). */
const THREADS = (threads: number) => `
local next_tid = 0
function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end
tid = 0
local threads = ${threads}
local n = 0
local function seq()
  local i = n * threads + tid
  n = n + 1
  return i
end
`;

/** Pages of a large store, one after another from the spread of start keys, formatted once in init. */
function spreadPages(store: { id: string; spreadKeys: readonly string[] }, threads: number): string {
  const starts = store.spreadKeys.map((k) => luaString(k)).join(', ');
  return `${THREADS(threads)}
local starts = { ${starts} }
local pages = {}
function init(args)
  for i, k in ipairs(starts) do
    pages[i - 1] = wrk.format("GET", ${luaString(keysPath(store.id))} .. "&exclusiveStartKey=" .. k)
  end
end
function request()
  return pages[seq() % #starts]
end
`;
}

/** A PUT's headers: wrk.format takes either its own headers or wrk.headers, never both. */
const PUT = `
local body = ${luaString(recordBody())}
local ph
local function put_headers()
  ph = ph or { ["Authorization"] = wrk.headers["Authorization"], ["Content-Type"] = ${luaString(RECORD_CONTENT_TYPE)} }
  return ph
end
`;

/**
 * The hot-key PUT requests, formatted once in init (wrk sets the Host header just before init, so
 * nothing can be formatted earlier): the request function then only picks one.
 */
const HOT_PUTS = (c: ScriptContext) => `${PUT}
local hot = {}
local function format_hot()
  for i = 0, ${HOT_KEYS - 1} do
    hot[i] = wrk.format("PUT", ${luaString(recordPath(c.recordsStore, 'hot-'))} .. i, put_headers(), body)
  end
end
`;

function scriptBody(op: OperationName, c: ScriptContext): string {
  const staticGet = (path: string) => `wrk.method = "GET"\nwrk.path = ${luaString(path)}\n`;
  switch (op) {
    case 'get':
      return staticGet(recordPath(c.recordsStore, RECORD_KEY));
    case 'store':
      return staticGet(`/v2/key-value-stores/${c.keysStore}`);
    case 'keys':
      return staticGet(keysPath(c.keysStore));
    case 'keys-100k':
      return spreadPages(need(c.keys100kStore, op), c.threads);
    case 'keys-1m':
      return spreadPages(need(c.keys1mStore, op), c.threads);
    case 'put-new':
      return `${THREADS(c.threads)}${PUT}
local base = ${luaString(recordPath(c.recordsStore, `new-${c.runTag}-`))}
function request()
  return wrk.format("PUT", base .. seq(), put_headers(), body)
end
`;
    case 'put-existing':
      return `${THREADS(c.threads)}${HOT_PUTS(c)}
function init(args)
  format_hot()
end
function request()
  return hot[seq() % ${HOT_KEYS}]
end
`;
    case 'delete':
      return `${THREADS(c.threads)}
local base = ${luaString(recordPath(c.deleteStore, c.deletePrefix))}
function request()
  return wrk.format("DELETE", base .. seq())
end
`;
    case 'mix':
      // A fixed pattern of 20 (16 GET, 3 PUT, 1 list) rather than dice: every run does the same work.
      return `${THREADS(c.threads)}${HOT_PUTS(c)}
local get, list
function init(args)
  format_hot()
  get = wrk.format("GET", ${luaString(recordPath(c.recordsStore, RECORD_KEY))})
  list = wrk.format("GET", ${luaString(`/v2/key-value-stores/${c.keysStore}/keys?limit=${PAGE_KEYS}`)})
end
local puts = 0
function request()
  local slot = seq() % 20
  if slot == 19 then return list end
  if slot == 3 or slot == 9 or slot == 15 then
    puts = puts + 1
    return hot[(puts * threads + tid) % ${HOT_KEYS}]
  end
  return get
end
`;
    case 'push-1000':
      // The 1 MB body is read from a file rather than written into the script as a literal.
      return `local f = assert(io.open(${luaString(need(c.pushBodyFile, op))}, "rb"))
local body = f:read("*a")
f:close()
local push
function init(args)
  push = wrk.format("POST", ${luaString(`/v2/datasets/${need(c.pushDataset, op)}/items`)}, {
    ["Authorization"] = wrk.headers["Authorization"], ["Content-Type"] = "application/json" }, body)
end
function request()
  return push
end
`;
    case 'items':
      return staticGet(itemsPath(need(c.itemsDataset, op), 0));
    case 'items-900k':
      return staticGet(itemsPath(need(c.itemsDataset, op), DEEP_OFFSET));
    case 'queue-add-25':
      // Keys unique to the run, thread and request: every batch adds 25 requests the queue has not seen.
      return `${THREADS(c.threads)}
local path = ${luaString(`/v2/request-queues/${need(c.addQueue, op)}/requests/batch`)}
local base = ${luaString(`https://example.com/catalog/${c.runTag}/`)}
local qh
function request()
  qh = qh or { ["Authorization"] = wrk.headers["Authorization"], ["Content-Type"] = "application/json" }
  local first = seq() * ${QUEUE_BATCH}
  local parts = {}
  for j = 0, ${QUEUE_BATCH - 1} do
    local url = base .. (first + j)
    parts[j + 1] = '{"uniqueKey":"' .. url .. '","url":"' .. url .. '","method":"GET","userData":{"label":"DETAIL"}}'
  end
  return wrk.format("POST", path, qh, "[" .. table.concat(parts, ",") .. "]")
end
`;
    case 'head':
      throw new Error('HEAD is measured with ab, not wrk');
    case 'get-9mb':
    case 'put-9mb':
      throw new Error('the 9 MB records are moved by big.ts, not wrk');
  }
}

/** The complete wrk script of one run. */
export function wrkScript(op: OperationName, c: ScriptContext): string {
  return `wrk.headers["Authorization"] = ${luaString(`Bearer ${c.token}`)}\n${scriptBody(op, c)}${DONE}`;
}

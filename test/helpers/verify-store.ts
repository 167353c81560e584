import { type Answer, eachLimit, type KeepAliveClient } from './keep-alive.js';
import { type Ledger, type Observed, sha256 } from './ledger.js';

/** What a full read-back of a store found. */
export interface StoreCheck {
  /** Everything a user would notice: lost or mangled records, phantom keys, stats that disagree. */
  problems: string[];
  /** Records present and absent among the keys the ledger knows. */
  present: number;
  absent: number;
  /** Records holding a write that was never acknowledged (cut off after its commit): allowed, and counted. */
  unacknowledgedFound: number;
  /** Sum of the sizes in the key list. */
  listedBytes: number;
  stats: { writeCount: number; storageBytes: number } | undefined;
}

const base = (storeId: string) => `/v2/key-value-stores/${storeId}`;

async function listAll(client: KeepAliveClient, storeId: string, problems: string[]): Promise<Map<string, number>> {
  const listed = new Map<string, number>();
  let start: string | null = null;
  do {
    const query: string = start === null ? '' : `&exclusiveStartKey=${encodeURIComponent(start)}`;
    const res = await client.send('GET', `${base(storeId)}/keys?limit=1000${query}`);
    if (res.status !== 200) {
      problems.push(`GET keys: ${res.status} ${res.body.toString().slice(0, 200)}`);
      return listed;
    }
    const page = (JSON.parse(res.body.toString('utf8')) as { data: DataPage }).data;
    for (const item of page.items) listed.set(item.key, item.size);
    start = page.isTruncated ? page.nextExclusiveStartKey : null;
  } while (start !== null);
  return listed;
}

interface DataPage {
  items: { key: string; size: number }[];
  isTruncated: boolean;
  nextExclusiveStartKey: string | null;
}

function observe(res: Answer): Observed {
  return {
    sha: sha256(res.body),
    size: res.body.length,
    contentType: res.headers['content-type'],
    encoding: res.headers['content-encoding'],
  };
}

/**
 * Reads every key the ledger knows back over HTTP (as stored: `Accept-Encoding: gzip`), lists the
 * store's keys and reads its stats, and compares all of it with the ledger: each record is a value
 * it may hold, byte for byte, the key list shows exactly the records present with their sizes,
 * `storageBytes` is the sum of those sizes and `writeCount` lies between the acknowledged and the
 * attempted writes (plus `writesBefore`, made before the ledger started). Then the ledger takes
 * what was found as settled (call it only when nothing writes).
 */
export async function verifyStore(
  client: KeepAliveClient,
  storeId: string,
  ledger: Ledger,
  writesBefore = 0,
): Promise<StoreCheck> {
  const problems: string[] = [];
  const listed = await listAll(client, storeId, problems);
  const found = new Map<string, Observed | undefined>();
  let unacknowledgedFound = 0;
  await eachLimit(ledger.keys(), 16, async (key) => {
    const res = await client.send('GET', `${base(storeId)}/records/${key}`, { headers: { 'accept-encoding': 'gzip' } });
    if (res.status !== 200 && res.status !== 404) {
      problems.push(`GET ${key}: ${res.status} ${res.body.toString().slice(0, 200)}`);
      return;
    }
    const observed = res.status === 200 ? observe(res) : undefined;
    found.set(key, observed);
    if (ledger.isNewUnacknowledged(key, observed)) unacknowledgedFound++;
    const problem = ledger.check(key, observed);
    if (problem) problems.push(problem);
    const size = listed.get(key);
    if (observed && size !== observed.size) problems.push(`${key}: listed with size ${size}, read ${observed.size} bytes`);
    if (!observed && size !== undefined) problems.push(`${key}: listed (size ${size}) but GET is 404`);
  });
  for (const key of listed.keys()) if (!ledger.has(key)) problems.push(`${key}: listed, but never written`);
  const listedBytes = [...listed.values()].reduce((a, b) => a + b, 0);

  let stats: StoreCheck['stats'];
  const res = await client.send('GET', base(storeId));
  if (res.status === 200) {
    stats = (JSON.parse(res.body.toString('utf8')) as { data: { stats: { writeCount: number; storageBytes: number } } }).data
      .stats;
    if (stats.storageBytes !== listedBytes)
      problems.push(`stats: storageBytes ${stats.storageBytes}, key list sums to ${listedBytes}`);
    if (stats.writeCount < writesBefore + ledger.acks)
      problems.push(`stats: writeCount ${stats.writeCount} < ${writesBefore + ledger.acks} acknowledged writes`);
    if (stats.writeCount > writesBefore + ledger.attempts)
      problems.push(`stats: writeCount ${stats.writeCount} > ${writesBefore + ledger.attempts} writes sent`);
  } else {
    problems.push(`GET store: ${res.status} ${res.body.toString().slice(0, 200)}`);
  }

  for (const [key, observed] of found) ledger.settle(key, observed);
  const present = [...found.values()].filter(Boolean).length;
  return { problems, present, absent: found.size - present, unacknowledgedFound, listedBytes, stats };
}

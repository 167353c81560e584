/**
 * The request queue rows measured by clients of their own (issue 22): queues drained by 1 and by 8
 * clients at once, each locking the head 25 requests at a time and marking each handled (requests
 * handled per second), and a head lock on a queue of 1M requests (900k handled) beside one on a
 * queue of 1000, read alone.
 */
import { HttpTimer, median } from '../measure.js';
import { machineCpu, treeCpuSeconds, waitForQuiet } from './cpu.js';
import { type Operation, QUEUE_BATCH } from './operations.js';
import { createQueue, HANDLED_SHARE, queueCounts, SMALL_QUEUE, seedQueue } from './queues.js';
import type { Summary } from './report.js';
import { TARGET_LABELS, type Target, type TargetName } from './targets.js';

/** The numbers of clients that drain a queue at once. */
export const DRAIN_CLIENTS = [1, 8] as const;
const LOCK_SECS = 60;

export interface QueueRunOptions {
  /** Requests in each queue drained (a multiple of 25). */
  drainRequests: number;
  drainRounds: number;
  /** Rounds × locks of the head-lock latencies. */
  lockRounds: number;
  lockRequests: number;
  /** No waiting for a quiet machine. */
  quick: boolean;
}

/** A queue drained by `clients` clients at once: lock 25, mark each handled, again. */
export interface QueueDrain {
  target: TargetName;
  clients: number;
  /** Requests handled per second of the drain; the median round. */
  handledPerSecond: number;
  spread: [number, number];
  /** CPU the server and its database used per request handled (a 25th of a lock and one PUT), ms. */
  serverCpuMs: number;
  dbCpuMs: number;
  /** CPU the clients (this process) used per request handled, ms. */
  clientCpuMs: number;
  /** Mean cores used by anything else on the machine during the drains. */
  otherCores: number;
}

export type QueueKind = 'small' | 'large';

/** One head lock of 25 read alone (one keep-alive connection, each lock released before the next). */
export interface HeadLockLatency {
  target: TargetName;
  queue: QueueKind;
  /** Requests in the queue, and how many of them are handled. */
  requests: number;
  handled: number;
  /** Median of the round medians, ms. */
  ms: number;
  spread: [number, number];
  /** CPU the server (and its database) used per lock and its release, ms. */
  cpuMs: number;
}

export interface QueueRuns {
  drains: QueueDrain[];
  locks: HeadLockLatency[];
}

interface LockItem {
  id: string;
  uniqueKey: string;
  url: string;
  method: string;
  retryCount?: number;
}

const lockPath = (queue: string, clientKey: string) =>
  `/v2/request-queues/${queue}/head/lock?limit=${QUEUE_BATCH}&lockSecs=${LOCK_SECS}&clientKey=${clientKey}`;

/** Parses a head lock's answer; stops the run unless it holds `QUEUE_BATCH` requests. */
function lockedItems(res: { status: number; body: Buffer }, what: string): LockItem[] {
  const items = res.status < 300 ? (JSON.parse(res.body.toString()) as { data: { items: LockItem[] } }).data.items : undefined;
  if (items?.length !== QUEUE_BATCH) {
    throw new Error(`${what}: status ${res.status}, ${items?.length ?? 0} requests locked, not ${QUEUE_BATCH}`);
  }
  return items;
}

/**
 * Drains `queue` with `clients` clients at once, each on its own keep-alive connection with its
 * own clientKey: lock the head (25), PUT each request back with `handledAt`, again, `locks` locks
 * in all. Returns the seconds and the ids handled.
 */
async function drain(origin: string, token: string, queue: string, clients: number, locks: number) {
  let left = locks;
  const ids: string[] = [];
  const client = async (c: number) => {
    const http = new HttpTimer(token);
    const clientKey = `bench-client-${c}`;
    try {
      while (left > 0) {
        left--;
        const items = lockedItems(await http.send('POST', `${origin}${lockPath(queue, clientKey)}`), `lock of ${queue}`);
        for (const item of items) {
          const body = JSON.stringify({
            id: item.id,
            uniqueKey: item.uniqueKey,
            url: item.url,
            method: item.method,
            retryCount: item.retryCount ?? 0,
            handledAt: new Date().toISOString(),
          });
          const url = `${origin}/v2/request-queues/${queue}/requests/${item.id}?clientKey=${clientKey}`;
          const res = await http.send('PUT', url, body);
          if (res.status >= 300) throw new Error(`PUT ${url}: status ${res.status} ${res.body.toString().slice(0, 200)}`);
          ids.push(item.id);
        }
      }
    } finally {
      http.close();
    }
  };
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, ids };
}

interface DrainCase {
  t: Target;
  clients: number;
  rates: number[];
  server: number;
  db: number;
  client: number;
  other: number;
  seconds: number;
  handled: number;
}

/**
 * Drains queues of `drainRequests` requests on every target with 1 and with 8 clients, in rounds
 * that interleave the cases. openkvs gets a fresh queue each time, seeded before the clock starts,
 * and must hand out every request once and count it handled; the baselines answer every lock with
 * the same 25 requests and every PUT alike, so their clients make the same requests.
 */
async function measureDrains(targets: readonly Target[], token: string, o: QueueRunOptions): Promise<QueueDrain[]> {
  const cases: DrainCase[] = DRAIN_CLIENTS.flatMap((clients) =>
    targets.map((t) => ({ t, clients, rates: [], server: 0, db: 0, client: 0, other: 0, seconds: 0, handled: 0 })),
  );
  const locks = o.drainRequests / QUEUE_BATCH;
  let queues = 0;
  for (let r = -1; r < o.drainRounds; r++) {
    for (let i = 0; i < cases.length; i++) {
      // Each round starts with another case, so that none always follows the same neighbour; round -1 warms up.
      const c = cases[(i + Math.max(r, 0)) % cases.length]!;
      const api = c.t.openkvs?.api;
      let queue = 'baseline';
      if (api) {
        queue = await createQueue(api, `bench-drain-${queues++}`);
        await seedQueue(api, queue, `drain-${queues}`, 0, r < 0 ? QUEUE_BATCH * c.clients : o.drainRequests);
      }
      if (!o.quick) await waitForQuiet(0.2, 3000);
      const cpu = { server: treeCpuSeconds(c.t.pid), db: treeCpuSeconds(c.t.dbPid), client: process.cpuUsage() };
      const machine = machineCpu().busy;
      const run = await drain(c.t.origin, token, queue, c.clients, r < 0 ? c.clients : locks);
      const server = treeCpuSeconds(c.t.pid) - cpu.server;
      const db = Math.max(0, treeCpuSeconds(c.t.dbPid) - cpu.db);
      const used = process.cpuUsage(cpu.client);
      const client = (used.user + used.system) / 1e6;
      const other = Math.max(0, machineCpu().busy - machine - server - db - client);
      if (api) {
        const counts = await queueCounts(api, queue);
        const handled = r < 0 ? QUEUE_BATCH * c.clients : o.drainRequests;
        if (new Set(run.ids).size !== handled || counts.handledRequestCount !== handled || counts.pendingRequestCount !== 0) {
          throw new Error(
            `${TARGET_LABELS[c.t.name]}, ${c.clients} clients: ${new Set(run.ids).size} distinct requests handed out, ` +
              `${counts.handledRequestCount} counted handled, ${counts.pendingRequestCount} pending, of ${handled}`,
          );
        }
      }
      if (r < 0) continue;
      const rate = run.ids.length / run.seconds;
      c.rates.push(rate);
      Object.assign(c, {
        server: c.server + server,
        db: c.db + db,
        client: c.client + client,
        other: c.other + other,
        seconds: c.seconds + run.seconds,
        handled: c.handled + run.ids.length,
      });
      console.log(
        `[round ${r + 1}/${o.drainRounds}] lock 25 + mark handled, ${c.clients} client${c.clients > 1 ? 's' : ' '} ` +
          `${TARGET_LABELS[c.t.name].padEnd(18)} ${Math.round(rate).toLocaleString('en').padStart(6)} handled/s` +
          `  server ${((server / run.seconds) * 100).toFixed(0)}%  db ${((db / run.seconds) * 100).toFixed(0)}%` +
          `  client ${((client / run.seconds) * 100).toFixed(0)}%  other ${((other / run.seconds) * 100).toFixed(0)}%`,
      );
    }
  }
  return cases.map((c) => ({
    target: c.t.name,
    clients: c.clients,
    handledPerSecond: median(c.rates),
    spread: [Math.min(...c.rates), Math.max(...c.rates)],
    serverCpuMs: (c.server / c.handled) * 1000,
    dbCpuMs: (c.db / c.handled) * 1000,
    clientCpuMs: (c.client / c.handled) * 1000,
    otherCores: c.other / c.seconds,
  }));
}

/**
 * Locks the head (25) of each openkvs target's small and large queue, one lock after another on
 * one connection, each released (POST …/requests/unlock, not timed) before the next, so that
 * every lock finds the same head; rounds interleave the cases. The first lock of each checks what
 * it got: 25 requests, from the large queue none of the handled ones.
 */
async function measureHeadLocks(targets: readonly Target[], token: string, o: QueueRunOptions): Promise<HeadLockLatency[]> {
  interface LockCase {
    t: Target;
    queue: QueueKind;
    id: string;
    requests: number;
    handled: number;
    medians: number[];
    cpu: number;
    locks: number;
  }
  const cases: LockCase[] = targets.flatMap((t) => {
    const q = t.openkvs!.stores.queues!;
    const handled = Math.round(q.largeSize * HANDLED_SHARE);
    return [
      { t, queue: 'small' as const, id: q.small, requests: SMALL_QUEUE, handled: 0, medians: [], cpu: 0, locks: 0 },
      { t, queue: 'large' as const, id: q.large, requests: q.largeSize, handled, medians: [], cpu: 0, locks: 0 },
    ];
  });
  const http = new HttpTimer(token);
  const clientKey = 'bench-head-lock';
  const lockOnce = async (c: LockCase) => {
    const res = await http.send('POST', `${c.t.origin}${lockPath(c.id, clientKey)}`);
    const items = lockedItems(res, `lock of ${TARGET_LABELS[c.t.name]}'s ${c.queue} queue`);
    const unlock = await http.send('POST', `${c.t.origin}/v2/request-queues/${c.id}/requests/unlock?clientKey=${clientKey}`);
    const unlocked =
      unlock.status < 300 ? (JSON.parse(unlock.body.toString()) as { data: { unlockedCount: number } }) : undefined;
    if (unlocked?.data.unlockedCount !== QUEUE_BATCH) {
      throw new Error(`unlock of ${c.id}: status ${unlock.status} ${unlock.body.toString().slice(0, 200)}`);
    }
    return { ms: res.ms, items };
  };
  try {
    for (const c of cases) {
      const { items } = await lockOnce(c);
      // The handled requests are numbered below `handled`: none may be locked.
      const first = Math.min(...items.map((item) => Number(item.uniqueKey.split('/').pop())));
      if (!(first >= c.handled)) throw new Error(`lock of ${c.id}: request ${first} is handled, yet it was locked`);
      for (let i = 0; i < Math.max(5, o.lockRequests); i++) await lockOnce(c);
    }
    for (let r = 0; r < o.lockRounds; r++) {
      for (const c of cases) {
        const before = treeCpuSeconds(c.t.pid) + treeCpuSeconds(c.t.dbPid);
        const times: number[] = [];
        for (let i = 0; i < o.lockRequests; i++) times.push((await lockOnce(c)).ms);
        c.medians.push(median(times));
        c.cpu += treeCpuSeconds(c.t.pid) + treeCpuSeconds(c.t.dbPid) - before;
        c.locks += o.lockRequests;
      }
    }
  } finally {
    http.close();
  }
  return cases.map((c) => ({
    target: c.t.name,
    queue: c.queue,
    requests: c.requests,
    handled: c.handled,
    ms: median(c.medians),
    spread: [Math.min(...c.medians), Math.max(...c.medians)],
    cpuMs: (c.cpu / c.locks) * 1000,
  }));
}

/** The queue rows measured by their own clients: the head locks read alone first, then the drains. */
export async function measureQueueRuns(targets: readonly Target[], token: string, o: QueueRunOptions): Promise<QueueRuns> {
  const openkvs = targets.filter((t) => t.openkvs?.stores.queues);
  const locks = await measureHeadLocks(openkvs, token, o);
  const drains = await measureDrains(
    targets.filter((t) => !t.openkvs || openkvs.includes(t)),
    token,
    o,
  );
  printQueueRuns({ drains, locks }, o);
  return { drains, locks };
}

function printQueueRuns(r: QueueRuns, o: QueueRunOptions): void {
  console.log(
    `\nHead locks read alone (limit=${QUEUE_BATCH}, each released before the next; one connection,` +
      ` medians of ${o.lockRounds} rounds × ${o.lockRequests} locks)`,
  );
  for (const l of r.locks) {
    const small = r.locks.find((b) => b.target === l.target && b.queue === 'small');
    console.log(
      `  ${TARGET_LABELS[l.target].padEnd(18)} ${`${l.requests.toLocaleString('en')} requests, ${l.handled.toLocaleString('en')} handled`.padEnd(34)}` +
        `  ${l.ms.toFixed(2).padStart(6)} ms  (${l.spread[0].toFixed(2)}–${l.spread[1].toFixed(2)})  CPU ${l.cpuMs.toFixed(2)} ms a lock and unlock` +
        (small && l !== small ? `  × ${(l.ms / small.ms).toFixed(2)} the small queue` : ''),
    );
  }
  console.log(
    `\nQueues of ${o.drainRequests.toLocaleString('en')} requests drained: lock ${QUEUE_BATCH} (lockSecs=${LOCK_SECS}), PUT each with handledAt;` +
      ` medians of ${o.drainRounds} rounds`,
  );
  for (const d of r.drains) {
    const bare = r.drains.find((b) => b.target === 'bare' && b.clients === d.clients);
    const one = r.drains.find((b) => b.target === d.target && b.clients === 1);
    console.log(
      `  ${TARGET_LABELS[d.target].padEnd(18)} ${`${d.clients} client${d.clients > 1 ? 's' : ''}`.padEnd(9)}` +
        ` ${Math.round(d.handledPerSecond).toLocaleString('en').padStart(6)} handled/s` +
        ` (${Math.round(d.spread[0]).toLocaleString('en')}–${Math.round(d.spread[1]).toLocaleString('en')})` +
        (bare && d.target !== 'bare' ? `  ${(d.handledPerSecond / bare.handledPerSecond).toFixed(2)}× bare` : '') +
        (one && d.clients > 1 ? `  ${(d.handledPerSecond / one.handledPerSecond).toFixed(2)}× 1 client` : '') +
        `  server CPU ${d.serverCpuMs.toFixed(2)} ms` +
        (d.target === 'postgres' ? `  db ${d.dbCpuMs.toFixed(2)} ms` : '') +
        `  client ${d.clientCpuMs.toFixed(2)} ms a request  other cores ${d.otherCores.toFixed(2)}`,
    );
  }
}

/** The batch-add rows with requests added per second, from the suite's summaries. */
export function printQueueAddRows(summaries: readonly Summary[], ops: readonly Operation[]): void {
  const rows = summaries.filter((s) => ops.find((o) => o.name === s.op)?.queueRequests !== undefined);
  if (rows.length === 0) return;
  console.log('\nRequest queue rows (wrk)');
  for (const s of rows) {
    const op = ops.find((o) => o.name === s.op)!;
    console.log(
      `  ${op.label.padEnd(30)} ${TARGET_LABELS[s.target].padEnd(18)} ${Math.round(s.rps).toLocaleString('en').padStart(6)} req/s` +
        `  ${Math.round(s.rps * op.queueRequests!)
          .toLocaleString('en')
          .padStart(7)} requests added/s` +
        (s.vsBare === undefined || s.target === 'bare' ? '' : `  ${s.vsBare.toFixed(2)}× bare`) +
        `  server CPU ${(s.serverCpuUsPerRequest / 1000).toFixed(2)} ms/req` +
        (s.target === 'postgres' ? `  db ${(s.dbCpuUsPerRequest / 1000).toFixed(2)} ms/req` : ''),
    );
  }
}

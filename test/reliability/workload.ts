import { type Answer, failureCode, type KeepAliveClient } from '../helpers/keep-alive.js';
import { type Ledger, makeValue, sha256, type TestValue, type ValueKind } from '../helpers/ledger.js';

/** How often each kind of value is written (weights). */
const KINDS: [ValueKind, number][] = [
  ['small', 52],
  ['empty', 3],
  ['large', 10],
  ['edge', 4],
  ['gzip', 18],
  ['gzip-large', 8],
];
const KIND_TOTAL = KINDS.reduce((a, [, w]) => a + w, 0);

function pickKind(): ValueKind {
  let r = Math.random() * KIND_TOTAL;
  for (const [kind, w] of KINDS) {
    r -= w;
    if (r < 0) return kind;
  }
  return 'small';
}

/** One request of the workload and how it ended. */
export interface Outcome {
  method: 'PUT' | 'GET';
  key: string;
  /** Bytes sent (PUT). */
  bytes: number;
  /** performance.now() when it was sent and when it ended. */
  startedAt: number;
  endedAt: number;
  answer?: Answer;
  /** Why there was no answer (`ECONNRESET`, `TIMEOUT`, …). */
  failure?: string;
}

export interface WorkloadOptions {
  storeId: string;
  workers: number;
  /** Distinguishes the unique keys of one run of the workload from those of the others. */
  tag: string;
  /** Share of requests that overwrite the worker's own `hot-<worker>` key instead of writing a new key. */
  hotShare?: number;
  /** Share of requests that read one of the worker's own keys back. */
  readShare?: number;
  /** Gives up on a request after this long (default 30 s). */
  timeoutMs?: number;
  /** Called with every finished request. */
  onOutcome?: (outcome: Outcome) => void;
}

export interface Workload {
  /** Ends the workload after the requests in flight. */
  stop(): void;
  done: Promise<void>;
}

/**
 * Writers over keep-alive connections: each of `workers` loops until stopped, writing a new unique
 * key or overwriting its own hot key (so that writes of one key stay sequential), with small,
 * empty, large, limit-sized and gzip-encoded values, and optionally reading its own keys back. The
 * ledger learns every value before it is sent and every 201.
 */
export function runWorkload(client: KeepAliveClient, ledger: Ledger, options: WorkloadOptions): Workload {
  let stopped = false;
  const records = `/v2/key-value-stores/${options.storeId}/records`;
  const hotShare = options.hotShare ?? 0.25;
  const readShare = options.readShare ?? 0;
  const worker = async (w: number) => {
    const mine: string[] = [];
    for (let n = 0; !stopped; n++) {
      const reading = mine.length > 0 && Math.random() < readShare;
      let value: TestValue | undefined;
      let key: string;
      let send: () => Promise<Answer>;
      if (reading) {
        key = mine[Math.floor(Math.random() * mine.length)] as string;
        send = () =>
          client.send('GET', `${records}/${key}`, { headers: { 'accept-encoding': 'gzip' }, timeoutMs: options.timeoutMs });
      } else {
        key = Math.random() < hotShare ? `hot-${w}` : `${options.tag}-w${w}-${n}`;
        const v = makeValue(key, `${options.tag}/${w}/${n}`, pickKind());
        value = v;
        const headers: Record<string, string> = { 'content-type': v.contentType };
        if (v.encoding) headers['content-encoding'] = v.encoding;
        ledger.attempt(v);
        send = () => client.send('PUT', `${records}/${key}`, { headers, body: v.body, timeoutMs: options.timeoutMs });
      }
      const outcome: Outcome = {
        method: reading ? 'GET' : 'PUT',
        key,
        bytes: value?.body.length ?? 0,
        startedAt: performance.now(),
        endedAt: 0,
      };
      try {
        outcome.answer = await send();
        if (value && outcome.answer.status === 201) {
          ledger.ack(value);
          if (!mine.includes(key)) mine.push(key);
        }
      } catch (err) {
        outcome.failure = failureCode(err);
      }
      outcome.endedAt = performance.now();
      options.onOutcome?.(outcome);
    }
  };
  const done = Promise.all(Array.from({ length: options.workers }, (_, w) => worker(w))).then(() => undefined);
  return {
    stop: () => {
      stopped = true;
    },
    done,
  };
}

/** Why a 200 read back during the workload is not what the ledger says the key holds; undefined when it is. */
export function readProblem(ledger: Ledger, outcome: Outcome): string | undefined {
  const res = outcome.answer;
  if (outcome.method !== 'GET' || res?.status !== 200) return undefined;
  return ledger.check(outcome.key, {
    sha: sha256(res.body),
    size: res.body.length,
    contentType: res.headers['content-type'],
    encoding: res.headers['content-encoding'],
  });
}

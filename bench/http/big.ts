import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { median } from '../measure.js';
import type { LoadResult } from './load.js';
import { BIG_BYTES, BIG_CONTENT_TYPE } from './operations.js';

export interface BigLoad {
  origin: string;
  token: string;
  method: 'GET' | 'PUT';
  /** Paths the connections cycle through. */
  paths: readonly string[];
  connections: number;
  seconds: number;
}

/** Until the socket buffers are full and every connection is busy; not counted. */
const RAMP_MS = 1000;
/** Each PUT body is written in chunks of this size, as a client streaming a file does. */
const CHUNK = 1024 * 1024;

/**
 * One keep-alive connection that GETs records one after another on a raw socket, reading into one
 * 1 MiB buffer and only counting the body: node's HTTP client would cost more CPU than the server
 * it measures. Needs a Content-Length (openkvs and bare both send one).
 */
function rawGetter(o: BigLoad, onBytes: (n: number) => void, onDone: (us: number, status: number) => void) {
  const url = new URL(o.origin);
  let socket: Socket | undefined;
  let head = '';
  let remaining = -1;
  let status = 0;
  let start = 0n;
  let n = 0;
  let finished: (() => void) | undefined;
  let failed: ((err: Error) => void) | undefined;
  const send = () => {
    head = '';
    remaining = -1;
    start = process.hrtime.bigint();
    const path = o.paths[n++ % o.paths.length]!;
    socket!.write(`GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${o.token}\r\n\r\n`);
  };
  const take = (buf: Buffer, from: number, to: number) => {
    let i = from;
    while (i < to) {
      if (remaining < 0) {
        // The head: small, read as latin1 until the blank line.
        const text = buf.toString('latin1', i, to);
        const end = (head + text).indexOf('\r\n\r\n');
        if (end < 0) {
          head += text;
          return;
        }
        const consumed = end + 4 - head.length;
        head = (head + text).slice(0, end);
        status = Number(head.slice(9, 12));
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        if (!length) {
          failed?.(new Error(`GET: no Content-Length in ${head.slice(0, 200)}`));
          return;
        }
        remaining = Number(length[1]);
        i += consumed;
      }
      const body = Math.min(remaining, to - i);
      remaining -= body;
      i += body;
      onBytes(body);
      if (remaining === 0) {
        onDone(Number(process.hrtime.bigint() - start) / 1000, status);
        if (finished) {
          finished();
          return;
        }
        send();
      }
    }
  };
  return {
    run: () =>
      new Promise<void>((resolve, reject) => {
        failed = reject;
        const buffer = Buffer.allocUnsafe(1024 * 1024);
        socket = connect({
          host: url.hostname,
          port: Number(url.port),
          onread: {
            buffer,
            callback: (bytes: number, buf: Uint8Array) => {
              take(buf as Buffer, 0, bytes);
              return true;
            },
          },
        });
        socket.on('connect', send);
        socket.on('error', reject);
        socket.on('close', () => resolve());
      }),
    stop: () => {
      finished = () => socket?.destroy();
      socket?.destroy();
    },
  };
}

/**
 * Moves 9 MB records (GET or PUT) over `connections` keep-alive connections and counts the bytes
 * that went through in a window of `seconds` after a ramp, in-flight requests included: a server
 * that takes longer than the window per record still shows its rate (wrk counts only whole
 * requests, and would show 0). Requests still running at the end are aborted. `requests` and
 * `rps` are in records' worth of bytes; the latencies are those of the records completed.
 */
export async function runBig(o: BigLoad): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: o.connections });
  const body = Buffer.alloc(BIG_BYTES, 'openkvs 9 MB upload\n');
  let moved = 0;
  let errors = 0;
  let stopped = false;
  let next = 0;
  const latencies: number[] = [];
  const inFlight = new Set<{ destroy(): void }>();
  const cpuBefore = process.cpuUsage();

  const one = (path: string) =>
    new Promise<void>((resolve) => {
      const start = process.hrtime.bigint();
      const headers: Record<string, string | number> = { authorization: `Bearer ${o.token}` };
      if (o.method === 'PUT') Object.assign(headers, { 'content-type': BIG_CONTENT_TYPE, 'content-length': BIG_BYTES });
      const req = request(`${o.origin}${path}`, { method: o.method, agent, headers }, (res) => {
        res.resume();
        res.on('end', () => {
          inFlight.delete(req);
          if ((res.statusCode ?? 500) >= 400) errors++;
          else if (!stopped) latencies.push(Number(process.hrtime.bigint() - start) / 1000);
          resolve();
        });
        res.on('error', () => resolve());
      });
      inFlight.add(req);
      req.on('close', () => {
        inFlight.delete(req);
        resolve();
      });
      req.on('error', () => {
        inFlight.delete(req);
        if (!stopped) errors++;
        resolve();
      });
      let offset = 0;
      const write = () => {
        while (offset < BIG_BYTES && !stopped) {
          const chunk = body.subarray(offset, offset + CHUNK);
          offset += chunk.length;
          const more = req.write(chunk, () => {
            moved += chunk.length;
          });
          if (!more) {
            req.once('drain', write);
            return;
          }
        }
        if (offset >= BIG_BYTES) req.end();
      };
      write();
    });

  const getters =
    o.method === 'GET'
      ? Array.from({ length: o.connections }, () =>
          rawGetter(
            o,
            (n) => {
              moved += n;
            },
            (us, status) => {
              if (status >= 400) errors++;
              else if (!stopped) latencies.push(us);
            },
          ),
        )
      : [];
  const loops =
    o.method === 'GET'
      ? getters.map((g) =>
          g.run().catch(() => {
            if (!stopped) errors++;
          }),
        )
      : Array.from({ length: o.connections }, async () => {
          while (!stopped) await one(o.paths[next++ % o.paths.length]!);
        });
  await new Promise((r) => setTimeout(r, RAMP_MS));
  const from = { bytes: moved, time: process.hrtime.bigint(), completed: latencies.length };
  await new Promise((r) => setTimeout(r, o.seconds * 1000));
  const seconds = Number(process.hrtime.bigint() - from.time) / 1e9;
  const bytes = moved - from.bytes;
  stopped = true;
  for (const req of inFlight) req.destroy();
  for (const g of getters) g.stop();
  await Promise.all(loops);
  agent.destroy();
  const cpu = process.cpuUsage(cpuBefore);
  const window = latencies.slice(from.completed).sort((a, b) => a - b);
  return {
    requests: bytes / BIG_BYTES,
    seconds,
    rps: bytes / BIG_BYTES / seconds,
    errors,
    latencyUs: {
      p50: window.length ? median(window) : 0,
      p99: window.length ? window[Math.min(window.length - 1, Math.floor(window.length * 0.99))]! : 0,
    },
    generatorCpu: (cpu.user + cpu.system) / 1e6,
  };
}

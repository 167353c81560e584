import { connect, type Socket } from 'node:net';

/**
 * Bytes on a bare TCP connection, for requests that node:http would refuse to send (malformed,
 * trickled, oversized) and for the answers a server gives them.
 */

export interface ParsedResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * The first complete HTTP/1.x response in `buf` (interim 1xx answers skipped); `undefined` while
 * it is incomplete. Without a length, a body is complete only once the connection has `ended`.
 */
export function parseResponse(buf: Buffer, noBody: boolean, ended: boolean): ParsedResponse | undefined {
  let rest = buf;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const [statusLine = '', ...lines] = rest.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? Number.NaN);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const after = rest.subarray(end + 4);
    if (status >= 100 && status < 200) {
      rest = after;
      continue;
    }
    if (noBody || status === 204 || status === 304) return { status, headers, body: Buffer.alloc(0) };
    if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      return after.length >= length ? { status, headers, body: after.subarray(0, length) } : undefined;
    }
    if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const body = dechunk(after);
      return body ? { status, headers, body } : undefined;
    }
    return ended ? { status, headers, body: after } : undefined;
  }
}

function dechunk(buf: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const size = Number.parseInt(buf.subarray(at, eol).toString('latin1'), 16);
    if (Number.isNaN(size)) return undefined;
    if (size === 0) return Buffer.concat(parts);
    if (buf.length < eol + 2 + size + 2) return undefined;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

export interface Exchange {
  /** The first response, when one arrived complete. */
  response?: ParsedResponse;
  /** Whether the server closed the connection (before `timeoutMs`). */
  closed: boolean;
  /** Everything received. */
  raw: Buffer;
  /** Milliseconds from the first byte sent to the response, the close or the timeout. */
  ms: number;
}

export interface ExchangeOptions {
  /** Give up after this long (the socket is then destroyed). */
  timeoutMs: number;
  /** The request was HEAD: a response has no body whatever its headers say. */
  head?: boolean;
  /** Sends the parts one by one with this pause between them (a slow client). */
  pauseMs?: number;
}

/** Opens a connection, sends `parts`, and waits for a response, the server closing, or the timeout. */
export function exchange(port: number, parts: (Buffer | string)[], options: ExchangeOptions): Promise<Exchange> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket: Socket = connect({ port, host: '127.0.0.1' });
    const received: Buffer[] = [];
    let settled = false;
    let pacer: NodeJS.Timeout | undefined;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(pacer);
      const raw = Buffer.concat(received);
      const response = parseResponse(raw, options.head ?? false, closed);
      socket.destroy();
      resolve({ response, closed, raw, ms: Date.now() - started });
    };
    const timer = setTimeout(() => finish(false), options.timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      if (parseResponse(Buffer.concat(received), options.head ?? false, false)) finish(false);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => finish(true));
    let next = 0;
    const send = () => {
      if (settled || socket.destroyed) return;
      const part = parts[next++];
      if (part === undefined) return;
      socket.write(part, () => undefined);
      if (options.pauseMs) pacer = setTimeout(send, options.pauseMs);
      else send();
    };
    socket.once('connect', send);
  });
}

/** Opens a connection and resolves once it is established (for tests that hold many open). */
export function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

import { connect, type Socket } from 'node:net';
import { type ParsedResponse, parseResponse } from './raw-socket.js';
import { sleep } from './time.js';

/**
 * An upload on a bare TCP connection that goes on sending after the server answered and half
 * closed (as curl or a client writing a file does), recording when the answer came and when the
 * server ended the connection, measured from when the request headers were sent.
 */
export interface UploadSocket {
  /** The first complete response and how long after the headers it came. */
  readonly answered: Promise<{ response: ParsedResponse; ms: number }>;
  /** When the connection ended for good (closed or reset), after the headers. */
  readonly closed: Promise<number>;
  /** When the server ended its side (or the connection closed), after the headers. */
  readonly ended: Promise<number>;
  /** The first error of the connection (EPIPE, ECONNRESET…), if any. */
  readonly error: () => NodeJS.ErrnoException | undefined;
  /** Everything received so far. */
  readonly received: () => Buffer;
  /**
   * Writes `total` bytes in `size` pieces, waiting `pauseMs` between them (0: as fast as the
   * connection takes them); stops early when a write fails or the connection ends. Returns the
   * bytes whose write succeeded.
   */
  send(total: number, size: number, pauseMs: number, fill?: Buffer | string): Promise<number>;
  /** Writes raw bytes at once; resolves when they were handed to the kernel (false if the write failed). */
  write(bytes: Buffer | string): Promise<boolean>;
  /** Ends the client's side (FIN). */
  end(): void;
  readonly socket: Socket;
}

/** Connects to `port` and sends `head` (a request line and headers, with the blank line). */
export async function openUpload(port: number, head: string): Promise<UploadSocket> {
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const chunks: Buffer[] = [];
  let firstError: NodeJS.ErrnoException | undefined;
  let ended = false;
  const started = Date.now();
  socket.write(head);
  const answered = new Promise<{ response: ParsedResponse; ms: number }>((resolve, reject) => {
    const check = (done: boolean) => {
      const response = parseResponse(Buffer.concat(chunks), false, done);
      if (response) resolve({ response, ms: Date.now() - started });
      else if (done) reject(new Error(`no complete response; received ${JSON.stringify(Buffer.concat(chunks).toString())}`));
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      check(false);
    });
    socket.once('close', () => check(true));
  });
  answered.catch(() => undefined);
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - started)));
  const serverEnded = new Promise<number>((resolve) => {
    socket.once('end', () => resolve(Date.now() - started));
    socket.once('close', () => resolve(Date.now() - started));
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    firstError ??= err;
  });
  socket.once('close', () => {
    ended = true;
  });
  const write = (bytes: Buffer | string) =>
    new Promise<boolean>((resolve) => {
      if (ended || firstError || socket.destroyed) return resolve(false);
      socket.write(bytes, (err) => resolve(!err));
    });
  return {
    answered,
    closed,
    ended: serverEnded,
    error: () => firstError,
    received: () => Buffer.concat(chunks),
    write,
    async send(total, size, pauseMs, fill = 'a') {
      const piece = Buffer.alloc(size, fill);
      let sent = 0;
      while (sent < total) {
        const next = piece.subarray(0, Math.min(size, total - sent));
        if (!(await write(next))) break;
        sent += next.length;
        if (pauseMs > 0) await sleep(pauseMs);
      }
      return sent;
    },
    end: () => socket.end(),
    socket,
  };
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { declaredLength } from './body.js';

/**
 * What happens to the unread rest of a refused request's body. The answer goes out whole at once,
 * but the response ends only once node has read and dropped the rest of the body (or a limit below
 * passes): node closes a `Connection: close` connection when its response ends, and closing under a
 * client still sending resets the connection, so that a client such as node's own sees ECONNRESET
 * or EPIPE instead of its answer. Then:
 * - a declared body of at most `KEEP_ALIVE_BYTES` keeps the connection for the next request;
 * - anything larger (or of unknown length) is answered with `Connection: close`.
 * Past a limit, the connection is closed with the body unread; a reverse proxy's lingering close
 * (nginx) goes further (see the README).
 */

/** A refused body declared at most this long is dropped on a connection kept alive. */
export const KEEP_ALIVE_BYTES = 1024 * 1024;
/** The longest the rest of a refused body is read (nginx's lingering_time). */
export const DROP_MS = 5000;
/** A silence this long ends the reading sooner (nginx's lingering_timeout). */
export const DROP_IDLE_MS = 1500;
/** The most that is read (a fast client sends gigabytes in `DROP_MS`). */
export const DROP_BYTES = 256 * 1024 * 1024;

/** Connections reading (and dropping) the rest of a refused body: their server, and what stops it. */
const dropping = new Map<Socket, { server: object; cut: () => void }>();
/** Connections whose answer said `Connection: close`: no request that follows on them is served. */
const closing = new WeakSet<object>();

/** Closes `socket` once `res` is finished and what was written to the socket is flushed. */
function closeAfter(res: ServerResponse, socket: Socket): void {
  const close = () => {
    socket.end();
    if (socket.writableFinished) socket.destroy();
    else socket.once('finish', () => socket.destroy());
  };
  if (res.writableFinished) close();
  else res.once('finish', close);
}

/** How the answer to a request with an unread body goes out. */
export interface UnreadBody {
  /** Whether the answer must say `Connection: close`. */
  readonly close: boolean;
  /** The answer's body, `text` at once, ended once the rest of the request body is dropped. */
  hold(text: string): Readable;
}

/**
 * Starts dropping the unread rest of `raw`'s body, whose answer `res` (from `server`) is about to
 * be sent. Returns how to send that answer, or `undefined` when nothing is left to wait for.
 */
export function dropUnreadBody(raw: IncomingMessage, res: ServerResponse, server: object): UnreadBody | undefined {
  if (raw.complete) return undefined;
  raw.resume();
  const { socket } = raw;
  // In-process requests (inject) have no connection to keep or close.
  if (!(socket instanceof Socket) || socket.destroyed) return undefined;
  const length = declaredLength(raw);
  const close = length === undefined || length > KEEP_ALIVE_BYTES;
  if (close) closing.add(socket);
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  let read = 0;
  const stop = (cut: boolean) => {
    clearTimeout(total);
    clearTimeout(idle);
    raw.off('data', onData);
    raw.off('end', ended);
    socket.off('close', ended);
    dropping.delete(socket);
    // A body not read to its end leaves nothing to keep the connection for.
    if (cut && !close) closeAfter(res, socket);
    finish();
  };
  const ended = () => stop(false);
  const onData = (chunk: Buffer) => {
    read += chunk.length;
    if (read > DROP_BYTES) stop(true);
    else idle.refresh();
  };
  const total = setTimeout(() => stop(true), DROP_MS);
  const idle = setTimeout(() => stop(true), DROP_IDLE_MS);
  raw.on('data', onData);
  raw.once('end', ended);
  socket.once('close', ended);
  dropping.set(socket, { server, cut: () => stop(true) });
  return {
    close,
    hold(text) {
      const body = new Readable({ read() {} });
      body.push(text);
      done.then(() => body.push(null));
      return body;
    },
  };
}

/** Whether `socket` had an answer that said `Connection: close` (a request after it is not served). */
export const isClosing = (socket: object): boolean => closing.has(socket);

/** Stops dropping refused bodies on `server`'s connections: a stopping server waits for none. */
export function stopDropping(server: object): void {
  for (const [, entry] of [...dropping]) if (entry.server === server) entry.cut();
}

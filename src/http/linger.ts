import type { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { declaredLength } from './body.js';

/**
 * What happens to the unread rest of a refused request's body. The answer never waits for it:
 * - a declared body of at most `KEEP_ALIVE_BYTES` is read and dropped after the answer by node's
 *   HTTP parser, and the connection stays open for the next request (unless the client asked to
 *   close it: then as below);
 * - anything larger (or of unknown length) is answered with `Connection: close`, then closed the
 *   way nginx's lingering close does: the server stops writing (FIN once the answer is flushed),
 *   then reads and drops what the client still sends until it closes its side, goes quiet, or a
 *   limit below passes. Closing at once would reset the connection under a client still sending,
 *   which then sees ECONNRESET or EPIPE instead of the answer.
 */

/** nginx's lingering_time: the longest a client may go on sending after its answer. */
export const LINGER_MS = 5000;
/** nginx's lingering_timeout: a silence this long ends the lingering sooner. */
export const LINGER_IDLE_MS = 1500;
/** The most a lingering connection reads (a fast client sends gigabytes in `LINGER_MS`). */
export const LINGER_BYTES = 256 * 1024 * 1024;
/** A refused body declared at most this long is dropped on a connection kept alive. */
export const KEEP_ALIVE_BYTES = 1024 * 1024;

/** Connections reading (and dropping) the rest of a refused body, each with what closes it soon. */
const dropping = new Map<Socket, () => void>();
/** Servers being closed: they let no connection linger. */
const stopping = new WeakSet<object>();

/** The server that accepted `socket` (node sets `socket.server` on every accepted connection). */
const serverOf = (socket: Socket): object | undefined => (socket as Socket & { server?: object }).server;
const isStopping = (socket: Socket): boolean => stopping.has(serverOf(socket) ?? socket);

/** Closes `socket` as soon as what was written to it is flushed. */
function closeWhenFlushed(socket: Socket): void {
  socket.end();
  if (socket.writableFinished) socket.destroy();
  else socket.once('finish', () => socket.destroy());
}

/**
 * Half-closes `socket` once its pending writes are flushed, then reads and drops whatever the
 * client still sends, and closes when the client closes its side, after `LINGER_IDLE_MS` of silence,
 * after `LINGER_MS`, or past `LINGER_BYTES`. Node's HTTP parser is detached first: those bytes must
 * never be taken for a request (the answer said `Connection: close`).
 */
export function lingeringClose(socket: Socket): void {
  if (socket.destroyed || dropping.has(socket)) return;
  if (socket.readableEnded || isStopping(socket)) {
    closeWhenFlushed(socket);
    return;
  }
  // Node's own 'data' listener feeds the parser. Adding a 'data' listener through node's wrapper of
  // `socket.on` also stops the parser from reading the socket's handle directly (as an upgrade does).
  socket.removeAllListeners('data');
  const close = () => socket.destroy();
  const total = setTimeout(close, LINGER_MS);
  const idle = setTimeout(close, LINGER_IDLE_MS);
  let read = 0;
  socket.on('data', (chunk: Buffer) => {
    read += chunk.length;
    if (read > LINGER_BYTES) close();
    else idle.refresh();
  });
  // Before node's 'end' listener, which would ask the parser to finish a message cut short.
  socket.prependListener('end', close);
  socket.once('close', () => {
    clearTimeout(total);
    clearTimeout(idle);
    dropping.delete(socket);
  });
  dropping.set(socket, () => closeWhenFlushed(socket));
  socket.end();
  resumeReading(socket);
}

/** The libuv handle under a socket, whose reading node's HTTP server starts and stops by itself. */
type Handle = { reading: boolean; readStart(): number };

/**
 * Starts reading `socket` again. Node's HTTP server stops the handle when a request body is not
 * read; `socket.resume()` alone does not restart it then, as the stream never saw that stop.
 */
function resumeReading(socket: Socket): void {
  socket.resume();
  const handle = (socket as Socket & { _handle?: Handle | null })._handle;
  if (handle && !handle.reading) {
    handle.reading = true;
    if (handle.readStart() !== 0) socket.destroy();
  }
}

/**
 * Arranges for the unread rest of `raw`'s body to be dropped without delaying the answer `res`,
 * which is about to be sent. Returns whether that answer must say `Connection: close`.
 */
export function dropUnreadBody(raw: IncomingMessage, res: ServerResponse): boolean {
  if (raw.complete) return false;
  // A reader that gave up (an abandoned async iterator) may still listen for 'readable', which keeps resume() from flowing.
  raw.removeAllListeners('readable');
  raw.resume();
  const { socket } = raw;
  // In-process requests (inject) have no connection to keep or close.
  if (!(socket instanceof Socket) || socket.destroyed) return false;
  // Node closes a connection after an answer that says `Connection: close` (because of this
  // refusal, or because the client asked for it) with `destroySoon()`, which resets it under a
  // client still sending: linger instead.
  const length = declaredLength(raw);
  if (length === undefined || length > KEEP_ALIVE_BYTES || isStopping(socket)) {
    socket.destroySoon = () => lingeringClose(socket);
    return true;
  }
  // Node's parser reads the rest and drops it (the request is resumed); a client that stalls
  // mid-body is not waited for longer than a lingering one.
  const guard = setTimeout(() => socket.destroy(), LINGER_MS);
  const done = () => {
    clearTimeout(guard);
    dropping.delete(socket);
    raw.off('end', done);
    socket.off('close', done);
    Reflect.deleteProperty(socket, 'destroySoon');
  };
  raw.once('end', done);
  socket.once('close', done);
  socket.destroySoon = () => {
    done();
    lingeringClose(socket);
  };
  dropping.set(socket, () => {
    if (res.writableFinished) closeWhenFlushed(socket);
    else res.once('finish', () => closeWhenFlushed(socket));
  });
  return false;
}

/** Closes `server`'s connections dropping a refused body once their answers are flushed, and lets none linger from now on. */
export function stopLingering(server: object): void {
  stopping.add(server);
  for (const [socket, closeSoon] of [...dropping]) if (serverOf(socket) === server) closeSoon();
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { declaredLength } from './body.js';

/**
 * What happens to the unread rest of a refused request's body. The answer never waits for it:
 * - a declared body of at most `KEEP_ALIVE_BYTES` is read and dropped by node once the request is
 *   resumed, and the connection stays open for the next request;
 * - anything larger (or of unknown length) is answered with `Connection: close`, and node closes
 *   the connection once the answer is flushed. A client still sending then sees its connection
 *   reset after the answer; a lingering close (reading on until the client stops) is a reverse
 *   proxy's job (see the README: nginx's `lingering_close`).
 */

/** A refused body declared at most this long is dropped on a connection kept alive. */
export const KEEP_ALIVE_BYTES = 1024 * 1024;
/** The longest a kept-alive connection waits for the rest of a refused body before it is closed. */
export const DROP_MS = 5000;

/** Connections reading (and dropping) the rest of a refused body: their server and the answer. */
const dropping = new Map<Socket, { server: object; res: ServerResponse }>();

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

/**
 * Arranges for the unread rest of `raw`'s body to be dropped without delaying the answer `res`,
 * which is about to be sent; `server` is the HTTP server that took the request. Returns whether
 * that answer must say `Connection: close`.
 */
export function dropUnreadBody(raw: IncomingMessage, res: ServerResponse, server: object): boolean {
  if (raw.complete) return false;
  // A reader that gave up (an abandoned async iterator) may still listen for 'readable', which keeps resume() from flowing.
  raw.removeAllListeners('readable');
  raw.resume();
  const { socket } = raw;
  // In-process requests (inject) have no connection to keep or close.
  if (!(socket instanceof Socket) || socket.destroyed) return false;
  const length = declaredLength(raw);
  if (length === undefined || length > KEEP_ALIVE_BYTES) return true;
  // A client that stalls mid-body is not waited for as long as a slow upload would be.
  const guard = setTimeout(() => socket.destroy(), DROP_MS);
  const done = () => {
    clearTimeout(guard);
    dropping.delete(socket);
    raw.off('end', done);
    socket.off('close', done);
  };
  raw.once('end', done);
  socket.once('close', done);
  dropping.set(socket, { server, res });
  return false;
}

/** Closes `server`'s connections still dropping a refused body, once their answers are flushed (a stopping server waits for none). */
export function stopDropping(server: object): void {
  for (const [socket, entry] of [...dropping]) if (entry.server === server) closeAfter(entry.res, socket);
}

import { type OutgoingHttpHeader, type OutgoingHttpHeaders, type Server, ServerResponse } from 'node:http';

/**
 * The drain of a stopping server. Once it starts, every answer whose headers are not yet written
 * says `Connection: close` (node then closes its connection after it), and a connection left idle
 * by an answer that finishes is closed then; at the deadline, whatever is still open is cut. Until
 * the drain, it costs a flag check per answer. It also knows which connections have an answer
 * under way, for the answers node's `clientError` leaves to us.
 */
export interface Drain {
  /** The response class to give `http.createServer` (its documented `ServerResponse` option). */
  readonly Response: typeof ServerResponse;
  /** Whether the drain has started. */
  readonly active: boolean;
  /** Starts the drain of `server`, before it stops listening; what is still open after `deadlineMs` is cut. */
  start(server: Server, deadlineMs: number): void;
  /** Whether an answer on `socket` has its headers out and is not finished (more bytes would corrupt it). */
  underWay(socket: object): boolean;
}

export function createDrain(): Drain {
  let server: Server | undefined;
  /** The last answer on each connection whose headers were written. */
  const lastAnswer = new WeakMap<object, ServerResponse>();
  /** Answers ended during the drain and not yet flushed (or cut). */
  let flushing = 0;
  const settled = () => {
    flushing--;
    // Node's closeIdleConnections() also destroys a connection whose answer is ended but not yet
    // flushed (it would be cut short): only once no answer is.
    if (flushing === 0) server?.closeIdleConnections();
  };

  class DrainingResponse extends ServerResponse {
    // Every answer passes here, hijacked ones too (node's implicit headers call writeHead).
    override writeHead(
      status: number,
      message?: string | OutgoingHttpHeaders | OutgoingHttpHeader[],
      headers?: OutgoingHttpHeaders | OutgoingHttpHeader[],
    ): this {
      if (server && !this.headersSent) this.setHeader('connection', 'close');
      lastAnswer.set(this.req.socket, this);
      return super.writeHead(status, message as string, headers);
    }

    // An answer whose headers went out before the drain leaves its connection open once done.
    override end(chunk?: unknown, encoding?: unknown, callback?: unknown): this {
      // A destroyed answer has had (or is about to have) its 'close' without being counted.
      if (server && !this.writableEnded && !this.destroyed) {
        flushing++;
        // 'close' follows 'finish' (after node detached the connection), or comes alone when cut.
        this.once('close', settled);
      }
      return super.end(chunk, encoding as BufferEncoding, callback as () => void);
    }
  }

  return {
    // The generic request type of the base class is lost by extending it; the instances are the same.
    Response: DrainingResponse as typeof ServerResponse,
    get active() {
      return server !== undefined;
    },
    start(s, deadlineMs) {
      server = s;
      const deadline = setTimeout(() => s.closeAllConnections(), deadlineMs);
      s.once('close', () => clearTimeout(deadline));
    },
    underWay(socket) {
      const answer = lastAnswer.get(socket);
      return answer?.headersSent === true && !answer.writableFinished;
    },
  };
}

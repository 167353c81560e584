import type { IncomingMessage } from 'node:http';

const DECLARED = Symbol('openkvs.contentType');

type Holding = IncomingMessage & { [DECLARED]?: string };

/**
 * Takes the `Content-Type` header off a request before Fastify sees it. Record bodies are stored
 * with their Content-Type verbatim, whatever its shape, and bodies are read raw by the handlers,
 * so Fastify's media-type parsing (which refuses unusual but legal values) must not run.
 */
export function holdContentType(req: IncomingMessage): void {
  const value = req.headers['content-type'];
  if (value === undefined) return;
  (req as Holding)[DECLARED] = value;
  // Set to undefined (what Fastify tests for) rather than deleted: a deleted property would turn
  // the headers object into a slower dictionary for every later header read of the request.
  req.headers['content-type'] = undefined;
}

/** The `Content-Type` the client sent, if any. */
export function declaredContentType(req: IncomingMessage): string | undefined {
  return (req as Holding)[DECLARED];
}

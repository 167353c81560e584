import type { IncomingMessage } from 'node:http';

const declared = new WeakMap<IncomingMessage, string>();

/**
 * Takes the `Content-Type` header off a request before Fastify sees it. Record bodies are stored
 * with their Content-Type verbatim, whatever its shape, and bodies are read raw by the handlers,
 * so Fastify's media-type parsing (which refuses unusual but legal values) must not run.
 */
export function holdContentType(req: IncomingMessage): void {
  const value = req.headers['content-type'];
  if (value === undefined) return;
  declared.set(req, value);
  delete req.headers['content-type'];
}

/** The `Content-Type` the client sent, if any. */
export function declaredContentType(req: IncomingMessage): string | undefined {
  return declared.get(req);
}

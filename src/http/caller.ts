import type { FastifyRequest } from 'fastify';
import type { Caller } from '../domain/access.js';
import type { Kvs } from '../domain/index.js';
import { InvalidTokenError, TokenNotProvidedError } from '../errors.js';

/** The token of a request: `Authorization: Bearer …` first, then `?token=`. Never from cookies. */
export function requestToken(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw new InvalidTokenError();
    return m[1];
  }
  const query = (req.query as Record<string, unknown> | undefined)?.token;
  if (query === undefined || query === '') return undefined;
  if (typeof query !== 'string') throw new InvalidTokenError();
  return query;
}

/** Authenticates the request; a bad token is always a 401, never anonymous access. */
export async function resolveCaller(kvs: Kvs, req: FastifyRequest): Promise<Caller> {
  const token = requestToken(req);
  if (token === undefined) return { user: undefined };
  return { user: await kvs.users.authenticate(token) };
}

/** Like `resolveCaller`, for endpoints that always need a token. */
export async function requireUser(kvs: Kvs, req: FastifyRequest) {
  const caller = await resolveCaller(kvs, req);
  if (!caller.user) throw new TokenNotProvidedError();
  return caller.user;
}

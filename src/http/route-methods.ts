import type { FastifyInstance } from 'fastify';

/** The order methods are listed in an `Allow` header; others follow. */
const ORDER = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'];

/** A registered URL pattern as a regular expression (`:param` one segment, `*` the rest, a trailing `/` optional). */
function patternOf(url: string): RegExp {
  const parts = url.replace(/\/$/, '').split('/');
  const body = parts
    .map((part) => {
      if (part === '*') return '.*';
      if (part.startsWith(':')) return '[^/]+';
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${body}/?$`);
}

/**
 * Collects the URL pattern and methods of every route registered on `app` from now on (Fastify's
 * `onRoute` hook), and returns what tells, for a path, the methods its routes answer (none: no
 * route). For 405 versus 404, so the answer never drifts from the routes.
 */
export function collectRouteMethods(app: FastifyInstance): (path: string) => string[] {
  const routes = new Map<string, { pattern: RegExp; methods: Set<string> }>();
  app.addHook('onRoute', (route) => {
    // CORS preflights (OPTIONS on `*`) are not an API method of any path.
    const methods = [route.method].flat().filter((m) => m !== 'OPTIONS');
    if (methods.length === 0 || route.url === '*') return;
    let entry = routes.get(route.url);
    if (!entry) {
      entry = { pattern: patternOf(route.url), methods: new Set() };
      routes.set(route.url, entry);
    }
    for (const m of methods) entry.methods.add(m);
    // HEAD is answered wherever GET is.
    if (entry.methods.has('GET')) entry.methods.add('HEAD');
  });
  return (path) => {
    const methods = new Set<string>();
    for (const { pattern, methods: those } of routes.values()) if (pattern.test(path)) for (const m of those) methods.add(m);
    const rank = (m: string) => (ORDER.includes(m) ? ORDER.indexOf(m) : ORDER.length);
    return [...methods].sort((a, b) => rank(a) - rank(b));
  };
}

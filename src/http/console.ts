import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { projectRoot } from '../paths.js';
import { binary, errorResponses } from './schemas.js';

/** `dist/web/` of the project, where `npm run build:web` puts the console. */
const WEB_ROOT = `${join(projectRoot(), 'dist', 'web')}${sep}`;

/** Asset names are flat, as the web build writes them; nothing else (`..`, `/`, `%`) is looked up. */
const ASSET_NAME = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9]+)+$/;

const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

/**
 * The page's policy: nothing from other hosts, scripts only with this response's nonce (so a record
 * shown as a blob URL or opened from one can run none of the console's neighbours on this origin,
 * such as a JavaScript record under `/v2`), previews only from blob URLs of fetched bytes.
 */
function pagePolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    "style-src 'self'",
    "img-src 'self' blob: data:",
    "connect-src 'self'",
    'frame-src blob:',
    'object-src blob:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  // Each answer has its own nonce.
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
} as const;

const NOT_BUILT = 'The openkvs console is not built. Run `npm run build` (or `npm run build:web`) and reload.\n';

/** Reads a file of the built console; `undefined` when it is not there. */
async function readWeb(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(WEB_ROOT + path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

const PAGE_SCHEMA = {
  operationId: 'console_get',
  summary: 'The web console',
  tags: ['Console'],
  security: [],
  response: {
    200: binary('The page.', 'text/html'),
    503: { description: 'The console is not built.', content: { 'text/plain': { schema: { type: 'string' } } } },
  },
};

const ASSET_SCHEMA = {
  operationId: 'console_asset_get',
  summary: 'A file of the web console',
  tags: ['Console'],
  security: [],
  params: { type: 'object', properties: { file: { type: 'string' } }, required: ['file'] },
  response: { 200: binary('The file, cached for a year.', '*/*'), ...errorResponses(404) },
};

/** The browser console: `GET /` (the page) and `GET /assets/{file}` (content-hashed, cached for a year). */
export function consoleRoutes(app: FastifyInstance): void {
  app.get('/', { schema: PAGE_SCHEMA }, async (_req, reply) => {
    const page = await readWeb('index.html');
    if (page === undefined)
      return reply.code(503).type('text/plain; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT);
    const nonce = randomBytes(18).toString('base64');
    return reply
      .headers({ ...PAGE_HEADERS, 'content-security-policy': pagePolicy(nonce) })
      .send(page.toString('utf8').replaceAll('__CSP_NONCE__', nonce));
  });

  app.get<{ Params: { file: string } }>('/assets/:file', { schema: ASSET_SCHEMA }, async (req, reply) => {
    const { file } = req.params;
    const type = TYPES[extname(file)];
    if (type === undefined || !ASSET_NAME.test(file)) return reply.callNotFound();
    const body = await readWeb(`assets/${file}`);
    if (body === undefined) return reply.callNotFound();
    return reply
      .headers({
        'content-type': type,
        'cache-control': 'public, max-age=31536000, immutable',
        'x-content-type-options': 'nosniff',
        'cross-origin-resource-policy': 'same-origin',
      })
      .send(body);
  });
}

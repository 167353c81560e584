// Bundles the compiled CLI (dist/cli/index.js, from `tsc`) and the libraries it loads into
// dist/bin/: one file for the start (openkvs.js) and chunks for what is loaded later (the
// PostgreSQL driver, import/export). Node then reads a few files instead of several hundred
// modules, which is most of the time from start to the first answer. Run by `npm run build`.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = join(root, 'dist', 'bin');

await rm(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { openkvs: 'dist/cli/index.js' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir,
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: 'linked',
  // Native code, and packages that read their own files next to their modules at run time.
  external: ['better-sqlite3', '@fastify/swagger-ui', '@sematext/gc-stats'],
  // The CommonJS libraries inside an ES module bundle still call require() for Node's own modules.
  banner: {
    js: "import { createRequire as openkvsCreateRequire } from 'node:module'; const require = openkvsCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});

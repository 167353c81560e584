// Bundles the compiled CLI (dist/cli/index.js, from `tsc`) and the libraries it loads into
// dist/bin/: one file for the start (openkvs.js) and chunks for what is loaded later (the
// PostgreSQL driver, import/export). Node then reads a few files instead of several hundred
// modules, which is most of the time from start to the first answer. Run by `npm run build`.
import { readFile, rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = join(root, 'dist', 'bin');
const swaggerUiRoot = join(root, 'node_modules', '@fastify', 'swagger-ui');

/**
 * - `yaml` (a third of the documentation plugins' start-up) is needed only to answer
 *   `/docs/yaml`: @fastify/swagger and @fastify/swagger-ui get a stand-in that loads it on first use.
 * - @fastify/swagger-ui serves files of its own package folder, found by `__dirname`, which a
 *   bundle does not have: its modules get the folder they came from, found at run time.
 */
const startLight = {
  name: 'openkvs-start-light',
  setup(b) {
    b.onResolve({ filter: /^yaml$/ }, (args) =>
      /[\\/]@fastify[\\/]swagger(-ui)?[\\/]/.test(args.importer) ? { path: 'lazy-yaml', namespace: 'openkvs' } : undefined,
    );
    b.onLoad({ filter: /^lazy-yaml$/, namespace: 'openkvs' }, () => ({
      contents:
        "let yaml; const load = () => (yaml ??= require('yaml'));\n" +
        'module.exports = { parse: (...args) => load().parse(...args), stringify: (...args) => load().stringify(...args) };',
      loader: 'js',
      resolveDir: root,
    }));
    b.onLoad({ filter: /[\\/]@fastify[\\/]swagger-ui[\\/].*\.js$/ }, async (args) => {
      const folder = relative(swaggerUiRoot, dirname(args.path)).split(/[\\/]/).filter(Boolean);
      const here =
        "require('node:path').join(require('node:path').dirname(require.resolve('@fastify/swagger-ui/package.json'))" +
        folder.map((part) => `, ${JSON.stringify(part)}`).join('') +
        ')';
      return { contents: `var __dirname = ${here};\n${await readFile(args.path, 'utf8')}`, loader: 'js' };
    });
  },
};

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
  // Less source to parse at every start; names kept (plugins and errors are known by them).
  minify: true,
  keepNames: true,
  // Native code, and an optional module prom-client looks for.
  external: ['better-sqlite3', '@sematext/gc-stats'],
  plugins: [startLight],
  // The CommonJS libraries inside an ES module bundle still call require() for Node's own modules.
  banner: {
    js: "import { createRequire as openkvsCreateRequire } from 'node:module'; const require = openkvsCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});

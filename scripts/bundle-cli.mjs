// Bundles the compiled CLI (dist/cli/index.js, from `tsc`) and the libraries it loads into
// dist/bin/openkvs-bundle.js, and writes the program that runs it with Node's compile cache,
// dist/bin/openkvs.js (scripts/cli-loader.cjs). Node then reads two files instead of several
// hundred modules. Run by `npm run build`.
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
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
  entryPoints: { 'openkvs-bundle': 'dist/cli/index.js' },
  bundle: true,
  // CommonJS, loaded by the program's require(). What is loaded later (the PostgreSQL driver,
  // import/export, zip) stays in the file, evaluated on first use.
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  outdir,
  sourcemap: 'linked',
  // Less source to parse; names kept (plugins and errors are known by them).
  minify: true,
  keepNames: true,
  // Native code, an optional module prom-client looks for, and a file found at run time.
  external: ['better-sqlite3', '@sematext/gc-stats', '@fastify/swagger-ui/package.json'],
  plugins: [startLight],
  define: { 'import.meta.url': 'openkvsModuleUrl' },
  banner: { js: "var openkvsModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});

// dist/bin's files are CommonJS; the project's (package.json "type") are ES modules.
await writeFile(join(outdir, 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
const loader = await readFile(join(root, 'scripts', 'cli-loader.cjs'), 'utf8');
const program = join(outdir, 'openkvs.js');
await writeFile(program, `#!/usr/bin/env node\n${loader}`);
await chmod(program, 0o755);

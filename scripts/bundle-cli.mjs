// Bundles the compiled CLI (dist/cli/index.js, from `tsc`) and the libraries it loads into
// dist/bin/openkvs-bundle.js, and writes the program that runs it with Node's compile cache,
// dist/bin/openkvs.js (scripts/cli-loader.cjs). Node then reads two files instead of several
// hundred modules. Run by `npm run build`.
import { chmod, copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = join(root, 'dist', 'bin');

/**
 * `yaml` (a third of @fastify/swagger's start-up) is needed only to answer `/docs/yaml`: the bundled
 * @fastify/swagger gets a stand-in that loads it on first use.
 */
const startLight = {
  name: 'openkvs-start-light',
  setup(b) {
    b.onResolve({ filter: /^yaml$/ }, (args) =>
      /[\\/]@fastify[\\/]swagger[\\/]/.test(args.importer) ? { path: 'lazy-yaml', namespace: 'openkvs' } : undefined,
    );
    b.onLoad({ filter: /^lazy-yaml$/, namespace: 'openkvs' }, () => ({
      contents:
        "let yaml; const load = () => (yaml ??= require('yaml'));\n" +
        'module.exports = { parse: (...args) => load().parse(...args), stringify: (...args) => load().stringify(...args) };',
      loader: 'js',
      resolveDir: root,
    }));
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
  // Less source to parse, names kept (plugins and errors are known by them): whitespace and syntax
  // only, so identifiers keep their names without esbuild's keepNames, whose wrapper redefines
  // `name` on every closure as it is made (per request: GET 1 KB 70–88 µs of CPU with it, 50–62 without).
  minifyWhitespace: true,
  minifySyntax: true,
  // Native code, an optional module prom-client looks for, @fastify/swagger-ui, which serves
  // files of its own package folder (found by its `__dirname`) and so runs from node_modules, and
  // exceljs (1.6 MB, loaded at the first xlsx export; bundled, its archiver warns of `Buffer()`).
  external: ['better-sqlite3', '@sematext/gc-stats', '@fastify/swagger-ui', 'exceljs'],
  plugins: [startLight],
  define: { 'import.meta.url': 'openkvsModuleUrl' },
  banner: { js: "var openkvsModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});

// The PostgreSQL functions file is read beside the module that applies it: tsc's, and the bundle.
for (const dir of [join(root, 'dist', 'storage', 'postgres'), outdir])
  await copyFile(join(root, 'src', 'storage', 'postgres', 'functions.sql'), join(dir, 'functions.sql'));

// dist/bin's files are CommonJS; the project's (package.json "type") are ES modules.
await writeFile(join(outdir, 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
const loader = await readFile(join(root, 'scripts', 'cli-loader.cjs'), 'utf8');
const program = join(outdir, 'openkvs.js');
await writeFile(program, `#!/usr/bin/env node\n${loader}`);
await chmod(program, 0o755);

// Builds the console into dist/web/: content-hashed assets under assets/ and an index.html that
// names them. Run by `npm run build:web` after web/ is typechecked. Every file is written under a
// temporary name and renamed, so a server (or a second build) never reads a half-written one.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = join(root, 'dist', 'web');
const assets = join(outdir, 'assets');

async function writeAtomic(path, contents) {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, contents);
  await rename(tmp, path);
}

const result = await build({
  absWorkingDir: root,
  entryPoints: ['web/src/main.tsx'],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022', 'chrome111', 'firefox115', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: assets,
  entryNames: '[name]-[hash]',
  legalComments: 'none',
  write: false,
  logLevel: 'warning',
});

await mkdir(assets, { recursive: true });
const written = new Set();
for (const file of result.outputFiles) {
  await writeAtomic(file.path, file.contents);
  written.add(basename(file.path));
}
const script = [...written].find((f) => f.endsWith('.js'));
const style = [...written].find((f) => f.endsWith('.css'));
if (!script || !style) throw new Error(`web build: expected one .js and one .css output, got ${[...written].join(', ')}`);

const icon = await readFile(join(root, 'web', 'favicon.svg'));
const iconName = `favicon-${createHash('sha256').update(icon).digest('hex').slice(0, 8)}.svg`;
await writeAtomic(join(assets, iconName), icon);
written.add(iconName);

const template = await readFile(join(root, 'web', 'index.html'), 'utf8');
await writeAtomic(
  join(outdir, 'index.html'),
  template.replace('%SCRIPT%', script).replace('%STYLE%', style).replace('%ICON%', iconName),
);

// Assets of earlier builds; another build's temporary files are left to it.
for (const name of await readdir(assets)) {
  if (!written.has(name) && !name.endsWith('.tmp')) await rm(join(assets, name), { force: true });
}

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/**
 * The project folder (the one with openkvs's `package.json`), found upwards from this module: the
 * same answer from `src/` under the tests, from `dist/` after `tsc` and from the bundled CLI in
 * `dist/bin/`, whose modules sit at other depths.
 */
export function projectRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && readPackage(pkg).name === 'openkvs') {
      root = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('openkvs: package.json of openkvs not found above the program');
    dir = parent;
  }
}

function readPackage(path: string): { name?: string; version?: string } {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as { name?: string; version?: string };
  } catch {
    return {};
  }
}

/** openkvs's version from its `package.json`. */
export function packageVersion(): string {
  return readPackage(join(projectRoot(), 'package.json')).version ?? '0.0.0';
}

'use strict';
// The `openkvs` program (dist/bin/openkvs.js, written by scripts/bundle-cli.mjs): runs the bundled
// CLI (openkvs-bundle.js) with V8's code cache, as Node 22's module.enableCompileCache() does.
// Compiling the 1.5 MB bundle and the functions the start runs is about a third of the time from
// spawn to the first answer; with the cache V8 reads the compiled code instead.
//
// - The cache is one file per bundle (its hash, set at build time), Node version, architecture and
//   V8 flags, in the folder of this program if it can be written, else in a folder of the user's own
//   in the system's temporary folder (a read-only install); OPENKVS_COMPILE_CACHE_DIR chooses another.
// - It is written once, a second after a start without a usable cache (or at exit, if sooner), so
//   it holds the functions the start compiled. `npm run build` writes it by starting a server once
//   (scripts/warm-compile-cache.mjs). V8 checks it before use and compiles as usual when it does
//   not fit.
// - NODE_DISABLE_COMPILE_CACHE=1 (Node's own switch) turns it off.
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const { createRequire } = require('node:module');
const os = require('node:os');
const path = require('node:path');
const { debuglog } = require('node:util');
const { Script } = require('node:vm');

// NODE_DEBUG=openkvs-compile-cache tells on standard error what became of the cache.
const debug = debuglog('openkvs-compile-cache');

const BUNDLE_HASH = '__OPENKVS_BUNDLE_HASH__';
const file = path.join(__dirname, 'openkvs-bundle.js');
const source = fs.readFileSync(file, 'utf8');

/**
 * A folder of this user's own under the system's temporary folder, made if missing. The cache is
 * code that will be run, so a folder another user made or can write to is not used.
 */
function temporaryDir() {
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const tmp = path.join(os.tmpdir(), `openkvs-compile-cache-${uid ?? 'user'}`);
  try {
    fs.mkdirSync(tmp, { mode: 0o700 });
  } catch {
    // There already, or cannot be made: checked below.
  }
  try {
    const st = fs.lstatSync(tmp);
    if (!st.isDirectory() || (st.mode & 0o022) !== 0 || (uid !== undefined && st.uid !== uid)) return undefined;
    return tmp;
  } catch {
    return undefined;
  }
}

function writable(dir) {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The folders the cache is looked for in, the one it is written to first. */
function cacheDirs() {
  if (process.env.NODE_DISABLE_COMPILE_CACHE) return [];
  if (process.env.OPENKVS_COMPILE_CACHE_DIR) return [process.env.OPENKVS_COMPILE_CACHE_DIR];
  // A read-only install (a container's image) keeps the cache `npm run build` wrote beside the program.
  if (writable(__dirname)) return [__dirname];
  const tmp = temporaryDir();
  return tmp ? [tmp, __dirname] : [__dirname];
}

const flags = createHash('sha256')
  .update(`${process.execArgv.join('\0')}\n${process.env.NODE_OPTIONS ?? ''}`)
  .digest('hex')
  .slice(0, 12);
const cacheName = `openkvs-${BUNDLE_HASH}-${process.version}-${process.arch}-${flags}.v8cache`;
const dirs = cacheDirs();

let cachedData;
for (const dir of dirs) {
  try {
    cachedData = fs.readFileSync(path.join(dir, cacheName));
    break;
  } catch {
    // Not here (or unreadable).
  }
}
// The CommonJS wrapper Node's loader puts around a file, so the bundle runs as if `require`d.
const wrapped = `(function (exports, require, module, __filename, __dirname) { ${source.replace(/^#!.*/, '')}\n});`;
const script = new Script(wrapped, { filename: file, cachedData });
const state = cachedData === undefined ? 'none' : script.cachedDataRejected === false ? 'accepted' : 'rejected';
debug('%s: %s', cacheName, state);

if (dirs.length > 0 && state !== 'accepted') {
  let written = false;
  const write = () => {
    if (written) return;
    written = true;
    try {
      const cacheFile = path.join(dirs[0], cacheName);
      fs.mkdirSync(dirs[0], { recursive: true });
      const temporary = `${cacheFile}.${process.pid}.tmp`;
      fs.writeFileSync(temporary, script.createCachedData());
      fs.renameSync(temporary, cacheFile);
      debug('written to %s', cacheFile);
    } catch {
      // A cache that cannot be written only costs the next start its compile time.
    }
  };
  setTimeout(write, 1000).unref();
  process.once('exit', write);
}

// createRequire resolves from the bundle's folder, as Node's own loader would; the bundle (esbuild's
// CommonJS output) uses nothing of its `module` but `exports`, and the documented fields are there.
const bundleRequire = createRequire(file);
const bundle = { exports: {}, id: file, filename: file, path: __dirname, loaded: false, children: [], require: bundleRequire };
bundle.paths = bundleRequire.resolve.paths('openkvs') ?? [];
script.runInThisContext()(bundle.exports, bundleRequire, bundle, file, __dirname);

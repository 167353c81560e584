'use strict';
// The `openkvs` program (dist/bin/openkvs.js, written by scripts/bundle-cli.mjs): runs the bundled
// CLI with Node's compile cache where Node has one (22.8 and later), so that a start reads compiled
// code instead of compiling the bundle again. Node 20 has none and compiles as usual.
// NODE_COMPILE_CACHE names the cache folder; NODE_DISABLE_COMPILE_CACHE=1 turns it off.
const { enableCompileCache } = require('node:module');

enableCompileCache?.();
require('./openkvs-bundle.js');

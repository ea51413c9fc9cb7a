// The shared start of the kernel-twin child processes (conv-twin.js, layer-norm-twin.js, quant-paths.js,
// backend-fuzz.js): `node <script> <dist dir> <seed> ...` gives the built package's directory, the seed,
// the C++ backend with every call crossing N-API, the TS twin, and a seeded LCG in [0, 1).
'use strict';
const path = require('path');

function twinChild() {
  const dist = path.resolve(process.argv[2]);
  const seed = Number(process.argv[3]) >>> 0;
  const { loadNative } = require(path.join(dist, 'backend', 'native.js'));
  const { jsBackend } = require(path.join(dist, 'backend', 'js', 'index.js'));
  let state = seed || 1;
  const rnd = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
  return { dist, seed, C: loadNative({ smallCallsInJs: false }), J: jsBackend, rnd };
}

module.exports = { twinChild };

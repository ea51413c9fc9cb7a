// The shared start of the kernel-twin child processes (attention-twin.js, conv-twin.js, layer-norm-twin.js,
// recurrent-twin.js, quant-paths.js, backend-fuzz.js): `node <script> <dist dir> <seed> ...` gives the built
// package's directory, the seed, the C++ backend with every call crossing N-API, the TS twin, a seeded LCG in
// [0, 1), random Float32Arrays from it, and the elementwise comparison of a C++ result with its twin's.
'use strict';
const path = require('path');

/**
 * @param {{ sameValue?: boolean, sameNaN?: boolean }} [agree] what compare() takes as agreement besides
 *   |c - t| <= tol * (1 + |t|): identical values (sameValue: equal infinities), NaN on both sides (sameNaN).
 *   Anything else, NaN included, is a disagreement.
 */
function twinChild(agree = {}) {
  const dist = path.resolve(process.argv[2]);
  const seed = Number(process.argv[3]) >>> 0;
  const { loadNative } = require(path.join(dist, 'backend', 'native.js'));
  const { jsBackend } = require(path.join(dist, 'backend', 'js', 'index.js'));
  let state = seed || 1;
  const rnd = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
  /** n values shift + scale * u, u uniform in [-1, 1). */
  const arr = (n, scale = 1, shift = 0) => Float32Array.from({ length: n }, () => shift + scale * (2 * rnd() - 1));
  /** The checks made and the disagreements found (each compare() records at most its first differing index). */
  const results = { checked: 0, disagreements: [] };
  /** Counts one check of the C++ result c against the twin's t; records the first index where they differ. */
  const compare = (what, c, t, tol) => {
    results.checked++;
    for (let i = 0; i < c.length; i++) {
      if (agree.sameValue && c[i] === t[i]) continue;
      if (agree.sameNaN && Number.isNaN(c[i]) && Number.isNaN(t[i])) continue;
      if (!(Math.abs(c[i] - t[i]) <= tol * (1 + Math.abs(t[i])))) {
        results.disagreements.push({ what, index: i, cxx: c[i], ts: t[i] });
        return;
      }
    }
  };
  return { dist, seed, C: loadNative({ smallCallsInJs: false }), J: jsBackend, rnd, arr, compare, results };
}

module.exports = { twinChild };

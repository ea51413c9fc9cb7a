// Child process of attention-kernel.test.ts: the C++ fused attention kernels (every call in C++) against their
// TypeScript twin on awkward shapes, with and without masks and dropout, at the SIMD level MYELIN_SIMD selects.
//
//   [MYELIN_SIMD=avx2|scalar] node test/helpers/attention-twin.js <dist dir> <seed>
//
// Prints one JSON line: the level the dispatch used, the cases checked, and the first disagreements.
'use strict';
const { C, J, rnd } = require('./twin-child').twinChild();

const arr = (n, scale = 1) => Float32Array.from({ length: n }, () => scale * (2 * rnd() - 1));
const bad = [];
let checked = 0;
function compare(what, c, t, tol) {
  checked++;
  for (let i = 0; i < c.length; i++) {
    const same = c[i] === t[i] || Math.abs(c[i] - t[i]) <= tol * (1 + Math.abs(t[i]));
    if (!same) {
      if (bad.length < 10) bad.push({ what, index: i, cxx: c[i], ts: t[i] });
      return;
    }
  }
}

const LENGTHS = [1, 3, 17, 65, 257];
const HEAD_DIMS = [8, 16, 64];
for (const T of LENGTHS) {
  for (const D of HEAD_DIMS) {
    for (const [B, H] of T >= 65 ? [[2, 1]] : [[1, 1], [2, 3]]) {
      // Cross-attention lengths too: S = T, a shorter and a longer source.
      for (const S of [...new Set([T, Math.max(1, T >> 1), T + 5])]) {
        for (const causal of [false, true]) {
          for (const padded of [false, true]) {
            for (const dropout of [0, 0.25]) {
              if (T * S > 65 * 70 && (dropout > 0 || padded) && D !== 16) continue; // keep the largest cases to the plain forms
              const BH = B * H;
              const shape = `B=${B} H=${H} T=${T} S=${S} D=${D} causal=${causal} padded=${padded} dropout=${dropout}`;
              const query = arr(BH * T * D, 2), key = arr(BH * S * D, 2), value = arr(BH * S * D);
              // Padding hides about a third of the keys, and every key of batch 1's last row when S is small.
              const keyPadding = padded ? Float32Array.from({ length: B * S }, (_, i) => (rnd() < 0.33 || (i >= S && S <= 3) ? 1 : 0)) : null;
              const call = { BH, B, T, S, D, query, key, value, keyPadding, causal, scale: 1 / Math.sqrt(D), dropout, seed: 1 + Math.floor(rnd() * 1e6) };
              const fwd = (K) => {
                const out = new Float32Array(BH * T * D).fill(NaN);
                const lse = new Float32Array(BH * T).fill(NaN);
                K.attentionForward({ ...call, out, lse });
                return { out, lse };
              };
              const fc = fwd(C), ft = fwd(J);
              compare(`attentionForward ${shape} out`, fc.out, ft.out, 2e-5);
              compare(`attentionForward ${shape} lse`, fc.lse, ft.lse, 2e-5);
              const dOut = arr(BH * T * D);
              const bwd = (K) => {
                const dQuery = new Float32Array(BH * T * D).fill(NaN);
                const dKey = new Float32Array(BH * S * D).fill(NaN);
                const dValue = new Float32Array(BH * S * D).fill(NaN);
                K.attentionBackward({ ...call, out: ft.out, lse: ft.lse, dOut, dQuery, dKey, dValue });
                return { dQuery, dKey, dValue };
              };
              const bc = bwd(C), bt = bwd(J);
              for (const k of ['dQuery', 'dKey', 'dValue']) compare(`attentionBackward ${shape} ${k}`, bc[k], bt[k], 1e-4);
            }
          }
        }
      }
    }
  }
}
// BH not a multiple of B is an Error, not a crash.
let heads = null;
try {
  C.attentionForward({ BH: 3, B: 2, T: 1, S: 1, D: 1, query: new Float32Array(3), key: new Float32Array(3), value: new Float32Array(3),
    keyPadding: null, causal: false, scale: 1, dropout: 0, seed: 0, out: new Float32Array(3), lse: null });
} catch (e) {
  heads = String(e.message);
}
process.stdout.write(JSON.stringify({ gemmSimd: C.info().gemmSimd, checked, disagreements: bad, headsError: heads }) + '\n');

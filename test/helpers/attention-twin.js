// Child process of attention-kernel.test.ts: the C++ fused attention kernels (every call in C++) against their
// TypeScript twin on awkward shapes, with and without masks and dropout, at the SIMD level MYELIN_SIMD selects.
//
//   [MYELIN_SIMD=avx2|scalar] node test/helpers/attention-twin.js <dist dir> <seed>
//
// Prints one JSON line: the level the dispatch used, the cases checked, and the first disagreements.
'use strict';
// sameValue: a fully masked row's -Infinity log-sum-exp agrees with the twin's.
const { C, J, rnd, arr, compare, results } = require('./twin-child').twinChild({ sameValue: true });

/** attentionForward and attentionBackward of one heads-contiguous call: C++ against the twin (the backward from the twin's forward). */
function checkHeads(shape, call) {
  const { BH, T, S, D } = call;
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
              checkHeads(shape, call);
            }
          }
        }
      }
    }
  }
}
// Short heads (every key in one vector: S <= 16 keys with AVX-512, <= 8 with AVX2, at most 64 query rows) take
// a path of their own in C++: key counts around one vector, query counts around its 64-row bound, head dims that
// are not a multiple of the vector (the scalar tail) or below one, masks, and rows that see no key (causal with
// T > S, padding hiding all keys).
for (const T of [1, 5, 16, 40, 64, 65]) {
  for (const S of [1, 7, 8, 9, 15, 16, 17]) {
    for (const D of [1, 8, 24, 33]) {
      for (const causal of [false, true]) {
        for (const padded of [false, true]) {
          const B = 2, H = 2, BH = B * H;
          const shape = `short B=${B} H=${H} T=${T} S=${S} D=${D} causal=${causal} padded=${padded}`;
          const query = arr(BH * T * D, 2), key = arr(BH * S * D, 2), value = arr(BH * S * D);
          const keyPadding = padded ? Float32Array.from({ length: B * S }, (_, i) => (rnd() < 0.33 || (i >= S && S <= 3) ? 1 : 0)) : null;
          const call = { BH, B, T, S, D, query, key, value, keyPadding, causal, scale: 1 / Math.sqrt(D), dropout: 0, seed: 1 };
          checkHeads(shape, call);
        }
      }
    }
  }
}
// The packed self-attention kernels (qkv [B, T, 3E] in, [B, T, E] out): C++ against the twin, and against the
// heads-contiguous kernels on the same data permuted into [B*H, T, D] (the layouts must not change the numbers).
const split = (qkv, B, T, H, D, part) => {
  const E = H * D, o = new Float32Array(B * H * T * D);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) for (let d = 0; d < D; d++) {
    o[((b * H + h) * T + t) * D + d] = qkv[(b * T + t) * 3 * E + part * E + h * D + d];
  }
  return o;
};
const merge = (x, B, T, H, D) => {
  const o = new Float32Array(B * T * H * D);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) for (let d = 0; d < D; d++) {
    o[(b * T + t) * H * D + h * D + d] = x[((b * H + h) * T + t) * D + d];
  }
  return o;
};
for (const T of [1, 3, 16, 17, 33, 65, 257]) {
  for (const D of [8, 32, 64]) {
    for (const [B, H] of T >= 65 ? [[2, 2]] : [[1, 1], [2, 3]]) {
      for (const causal of [false, true]) {
        for (const padded of [false, true]) {
          for (const dropout of [0, 0.25]) {
            if (T >= 65 && (padded || dropout > 0) && D !== 32) continue;
            const E = H * D, Q = 3 * E, BH = B * H;
            const shape = `packed B=${B} H=${H} T=${T} D=${D} causal=${causal} padded=${padded} dropout=${dropout}`;
            const qkv = arr(B * T * Q, 2);
            const keyPadding = padded ? Float32Array.from({ length: B * T }, (_, i) => (rnd() < 0.33 || (i >= T && T <= 3) ? 1 : 0)) : null;
            const call = { B, T, H, E, Q, qkv, keyPadding, causal, scale: 1 / Math.sqrt(D), dropout, seed: 1 + Math.floor(rnd() * 1e6) };
            const fwd = (K) => {
              const out = new Float32Array(B * T * E).fill(NaN);
              const lse = new Float32Array(BH * T).fill(NaN);
              K.attentionQkvForward({ ...call, out, lse });
              return { out, lse };
            };
            const fc = fwd(C), ft = fwd(J);
            compare(`attentionQkvForward ${shape} out`, fc.out, ft.out, 2e-5);
            compare(`attentionQkvForward ${shape} lse`, fc.lse, ft.lse, 2e-5);
            const heads = { BH, B, T, S: T, D, query: split(qkv, B, T, H, D, 0), key: split(qkv, B, T, H, D, 1), value: split(qkv, B, T, H, D, 2),
              keyPadding, causal, scale: call.scale, dropout, seed: call.seed };
            const hOut = new Float32Array(BH * T * D), hLse = new Float32Array(BH * T);
            C.attentionForward({ ...heads, out: hOut, lse: hLse });
            compare(`attentionQkvForward ${shape} vs heads layout`, fc.out, merge(hOut, B, T, H, D), 1e-6);
            const dOut = arr(B * T * E);
            const bwd = (K) => {
              const dQkv = new Float32Array(B * T * Q).fill(NaN);
              K.attentionQkvBackward({ ...call, out: ft.out, lse: ft.lse, dOut, dQkv });
              return dQkv;
            };
            const bc = bwd(C);
            compare(`attentionQkvBackward ${shape} dQkv`, bc, bwd(J), 1e-4);
            const dq = new Float32Array(BH * T * D), dk = new Float32Array(BH * T * D), dv = new Float32Array(BH * T * D);
            const dOutHeads = split(Float32Array.from({ length: B * T * Q }, (_, i) => (i % Q < E ? dOut[Math.floor(i / Q) * E + (i % Q)] : 0)), B, T, H, D, 0);
            C.attentionBackward({ ...heads, out: hOut, lse: hLse, dOut: dOutHeads, dQuery: dq, dKey: dk, dValue: dv });
            for (const [part, g] of [[0, dq], [1, dk], [2, dv]]) {
              compare(`attentionQkvBackward ${shape} part ${part} vs heads layout`, split(bc, B, T, H, D, part), g, 1e-5);
            }
          }
        }
      }
    }
  }
}
// Bad packed geometry is an Error, not a crash.
const packedErrors = [];
for (const [E, Q] of [[5, 15], [6, 12]]) {
  try {
    C.attentionQkvForward({ B: 1, T: 1, H: 2, E, Q, qkv: new Float32Array(Q), keyPadding: null, causal: false, scale: 1, dropout: 0, seed: 0,
      out: new Float32Array(E), lse: null });
  } catch (e) {
    packedErrors.push(String(e.message));
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
process.stdout.write(JSON.stringify({ gemmSimd: C.info().gemmSimd, checked: results.checked, disagreements: results.disagreements.slice(0, 10), headsError: heads, packedErrors }) + '\n');

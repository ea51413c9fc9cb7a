// Child process of mixed-bf16.test.ts: gemmMixedBf16 and the mixed-precision dense layer on the SIMD path this
// process runs at (MYELIN_SIMD=avx2|scalar forces the portable one) against their TS twins.
//
//   [MYELIN_SIMD=avx2|scalar] node test/helpers/mixed-bf16-twin.js <dist dir> <seed>
//
// Tolerance: both sides sum the same exact products of bf16 values (a product of two bf16 fits a float32), in
// different orders, in float32 (C++) or float64 (TS): per element (K + 8) * 2^-24 * (|alpha| sum_k |a_k b_k| +
// |beta c|), the bound of K float32 additions plus the alpha / beta / block steps. Designed inputs then check
// that the operands really are rounded to bf16 (nearest even, denormals to zero): a kernel multiplying in
// float32 gives other values there. Prints one JSON line: { path, checked, disagreements, designed }.
'use strict';
const path = require('path');
const { dist, C, J, rnd, arr } = require('./twin-child').twinChild();
const { roundToBf16 } = require(path.join(dist, 'backend', 'js', 'mixed-bf16.js'));

const U = 2 ** -24;
const SIZES = [1, 3, 17, 65, 257];
const disagreements = [];
let checked = 0;

/** sum_k |op(A)(i,k) op(B)(k,j)| of the rounded operands, for the tolerance. */
function absProducts(ta, tb, M, N, K, A, B) {
  const a = roundToBf16(M * K, A), b = roundToBf16(K * N, B);
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let k = 0; k < K; k++) {
      const av = Math.abs(ta ? a[k * M + i] : a[i * K + k]);
      if (av === 0) continue;
      for (let j = 0; j < N; j++) out[i * N + j] += av * Math.abs(tb ? b[j * K + k] : b[k * N + j]);
    }
  }
  return out;
}

function checkGemm(ta, tb, M, N, K, alpha, beta) {
  const A = arr(M * K, 2), B = arr(K * N, 2), C0 = arr(M * N);
  const c = C0.slice(), t = C0.slice();
  C.gemmMixedBf16(ta, tb, M, N, K, alpha, A, B, beta, c);
  J.gemmMixedBf16(ta, tb, M, N, K, alpha, A, B, beta, t);
  const s = absProducts(ta, tb, M, N, K, A, B);
  checked++;
  for (let i = 0; i < M * N; i++) {
    const tol = (K + 8) * U * (Math.abs(alpha) * s[i] + Math.abs(beta * C0[i])) + 1e-30;
    if (!(Math.abs(c[i] - t[i]) <= tol)) {
      disagreements.push({ what: `gemmMixedBf16 ${ta ? 'T' : 'N'}${tb ? 'T' : 'N'} ${M}x${N}x${K} alpha ${alpha} beta ${beta}`, index: i, cxx: c[i], ts: t[i], tol });
      return;
    }
  }
}

for (const M of SIZES) for (const N of SIZES) for (const K of [1, 2, 17, 65, 257]) {
  for (const ta of [false, true]) for (const tb of [false, true]) checkGemm(ta, tb, M, N, K, 1, rnd() < 0.5 ? 0 : 1);
}
// Shapes of the MLP's products (K blocks, several panels, thread splits), scaled alpha and beta.
for (const [M, N, K] of [[128, 256, 784], [256, 784, 128], [128, 128, 256], [130, 100, 515], [520, 40, 33], [9, 600, 31]]) {
  for (const ta of [false, true]) for (const tb of [false, true]) checkGemm(ta, tb, M, N, K, rnd() < 0.5 ? 1 : -0.75, rnd() < 0.5 ? 0 : 0.5);
}

// The dense layer: forward (bias, activation, preact) and backward (dX, dW, dB; accumulate) against the twin.
for (const [M, N, K] of [[1, 1, 1], [3, 17, 65], [65, 3, 17], [33, 257, 31], [128, 256, 784]]) {
  for (const act of ['none', 'relu', 'gelu']) {
    const X = arr(M * K), W = arr(N * K, 0.2), bias = arr(N), dY = arr(M * N);
    const fwd = (B) => {
      const out = new Float32Array(M * N), preact = act === 'gelu' ? new Float32Array(M * N) : null;
      B.linearForwardMixedBf16({ M, N, K, X, W, bias, act, alpha: 0.01, out, preact });
      return { out, preact };
    };
    const fc = fwd(C), ft = fwd(J);
    // The forward's tolerance: K float32 additions of |x w| <= 0.2 * 2 each, plus the bias and activation steps.
    checked++;
    for (let i = 0; i < M * N; i++) {
      if (!(Math.abs(fc.out[i] - ft.out[i]) <= (K + 8) * U * (K * 0.21 + 1) + 1e-6 * Math.abs(ft.out[i]))) {
        disagreements.push({ what: `linearForwardMixedBf16 ${act} ${M}x${N}x${K}`, index: i, cxx: fc.out[i], ts: ft.out[i] });
        break;
      }
    }
    // Backward from the twin's forward outputs on both sides, so dZ is the same array on both.
    const bwd = (B, accumulate) => {
      const dX = new Float32Array(M * K), dW = arr(N * K), dB = arr(N);
      const dW0 = dW.slice(), dB0 = dB.slice();
      B.linearBackwardMixedBf16({ M, N, K, X, W, Y: ft.out, preact: ft.preact, dY, act, alpha: 0.01, dZ: new Float32Array(M * N),
        dX, dW: accumulate ? dW : dW.fill(0), dB: accumulate ? dB : dB.fill(0), accumulate, accumulateX: false });
      return { dX, dW, dB, dW0, dB0 };
    };
    for (const accumulate of [false, true]) {
      const bc = bwd(C, accumulate), bt = bwd(J, accumulate);
      checked++;
      // gelu: dZ = dY * gelu'(preact) comes from each side's own activation gradient (C++ and TS round it
      // differently, a few float32 steps), and a dZ element that lands on the other side of a bf16 rounding
      // boundary moves its products by one bf16 step (2^-8 relative): allow two such steps of the largest term.
      const flips = act === 'gelu' ? 2 * 2 ** -8 : 0;
      // terms products per element, each at most maxTerm in size.
      const close = (what, c, t, terms, maxTerm) => {
        for (let i = 0; i < c.length; i++) {
          if (!(Math.abs(c[i] - t[i]) <= (terms + 8) * U * (terms * maxTerm + 4) + flips * maxTerm + 2e-6 * Math.abs(t[i]) + 1e-6)) {
            disagreements.push({ what: `linearBackwardMixedBf16 ${what} ${act} ${M}x${N}x${K} accumulate ${accumulate}`, index: i, cxx: c[i], ts: t[i] });
            return;
          }
        }
      };
      close('dX', bc.dX, bt.dX, N, 1.2 * 0.2); // |dZ| <= 1.2 |dY| (gelu' < 1.13), |W| <= 0.2
      // accumulate: the kernels add into the same starting values (arr() draws in the same order on both sides? no:
      // each side drew its own), so compare the increments.
      const inc = (r) => ({ dW: r.dW.map((v, i) => v - (accumulate ? r.dW0[i] : 0)), dB: r.dB.map((v, i) => v - (accumulate ? r.dB0[i] : 0)) });
      const ic = inc(bc), it = inc(bt);
      close('dW', ic.dW, it.dW, M, 1.2); // |X| <= 1
      close('dB', ic.dB, it.dB, M, 1.2);
    }
  }
}

// Designed inputs: what bf16 rounding gives, and a float32 product would not.
const designed = [];
const expectEq = (what, got, want) => {
  if (!(Object.is(got, want) || got === want)) designed.push(`${what}: got ${got}, want ${want}`);
};
for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]]) {
  const tag = `${ta ? 'T' : 'N'}${tb ? 'T' : 'N'}`;
  // 1 + 3 * 2^-10 rounds to 1 in bf16 (7 fraction bits): 40 products of 1 sum to exactly 40 (float32: 40.117...).
  for (const [M, N, K] of [[1, 1, 40], [9, 33, 40], [64, 64, 40]]) {
    const A = new Float32Array(M * K).fill(1 + 3 * 2 ** -10), B = new Float32Array(K * N).fill(1);
    const c = new Float32Array(M * N);
    C.gemmMixedBf16(ta, tb, M, N, K, 1, A, B, 0, c);
    expectEq(`${tag} ${M}x${N}x${K} sum of bf16(1 + 3 * 2^-10)`, c[M * N - 1], 40);
    expectEq(`${tag} ${M}x${N}x${K} first`, c[0], 40);
  }
  // Ties to even: 1 + 2^-8 -> 1 (even), 1 + 3 * 2^-8 -> 1 + 2^-6 (even); a float32 denormal times 1e30 -> 0.
  // Shape 12 x 40 x 2: a full tile and an edge on both sides; row i of op(A) is [tie1, tie2] or [denormal, 0].
  const M = 12, N = 40, K = 2;
  const rowOf = (i) => (i % 2 === 0 ? [1 + 2 ** -8, 1 + 3 * 2 ** -8] : [1e-39, 0]);
  const A = new Float32Array(M * K);
  for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) A[ta ? k * M + i : i * K + k] = rowOf(i)[k];
  const B = new Float32Array(K * N).fill(1);
  for (let j = 0; j < N; j++) B[tb ? j * K + 0 : 0 * N + j] = 1e30 * (j % 2) + 1 * ((j + 1) % 2);
  const c = new Float32Array(M * N);
  C.gemmMixedBf16(ta, tb, M, N, K, 1, A, B, 0, c);
  // Column j even: B[:, j] = [1, 1]; odd: [1e30, 1] (1e30 rounds to its bf16, 1000000015047466219876688855040 -> bf16).
  const big = roundToBf16(1, new Float32Array([1e30]))[0];
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      const want = i % 2 === 0 ? (j % 2 === 0 ? 1 + (1 + 2 ** -6) : Math.fround(big + (1 + 2 ** -6))) : 0;
      expectEq(`${tag} ties/denormal (${i}, ${j})`, c[i * N + j], want);
    }
  }
}

const info = C.info();
console.log(JSON.stringify({ path: info.mixedBf16Path, gemmSimd: info.gemmSimd, checked, disagreements: disagreements.slice(0, 10), designed: designed.slice(0, 10) }));

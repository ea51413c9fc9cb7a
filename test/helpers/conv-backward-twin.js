// Child process of conv-backward-kernels.test.ts: the convolutions' training kernels (the Winograd weight gradient,
// max pooling's backward through a ReLU)
// against their TS twins and against the direct weight gradient, on random geometries.
//
//   [MYELIN_SIMD=scalar|avx2] node test/helpers/conv-backward-twin.js <dist dir> <seed> [iterations]
//
// Prints one JSON line: { simd, checked, disagreements: [...] }.
'use strict';
// sameValue: bit-equal results agree (the pooling checks ask for tolerance 0).
const { C, J, rnd, arr, compare, results } = require('./twin-child').twinChild({ sameNaN: true, sameValue: true });

const iterations = Number(process.argv[4] || 60);
const int = (n) => Math.floor(rnd() * n);
const pick = (xs) => xs[int(xs.length)];

// Winograd F(2x2, 3x3) weight gradient (native conv_winograd_dw.cc; conv2dBackward takes it where conv2dForward takes
// Winograd): conv2dWinogradWeightGrad forces it on any channel count. Odd and tiny planes (1, 3, 17), padding 0-2,
// groups, channel counts 1, 3, 17, 32, 33, 65, overwrite and accumulate; C++ against the TS twin, the TS twin against
// the direct weight gradient (TS conv2dBackward), and C++ conv2dBackward's dW around the Winograd threshold.
for (let it = 0; it < iterations; it++) {
  const groups = pick([1, 1, 1, 2]);
  const cg = pick([1, 3, 17, 32, 33]), ocg = pick([1, 3, 17, 32, 64, 65]);
  const Cin = groups * cg, OC = groups * ocg;
  const PH = pick([0, 1, 1, 2]), PW = pick([0, 1, 1, 2]);
  const H = Math.max(1, 3 - 2 * PH) + pick([0, 1, 2, 14, 16]), W = Math.max(1, 3 - 2 * PW) + pick([0, 1, 2, 3, 14]);
  const N = pick([1, 2, 3, 5]);
  const OH = H + 2 * PH - 2, OW = W + 2 * PW - 2;
  const geom = Int32Array.from([Cin, H, W, OC, OH, OW, 3, 3, 1, 1, PH, PW, 1, 1, groups]);
  const kArea = cg * 9;
  const base = { N, C: Cin, OC, inPlane: H * W, outPlane: OH * OW, kArea, G: 15, geom };
  const X = arr(N * Cin * H * W), dY = arr(N * OC * OH * OW), Wt = arr(OC * kArea), seedW = arr(OC * kArea);
  const accumulate = rnd() < 0.5;
  const what = `winograd dW N${N} C${Cin} OC${OC} ${H}x${W} p${PH}x${PW} g${groups} accumulate=${accumulate}`;
  // A dW element sums K = N * tiles * 4 products x * dy (inputs in [-1, 1)); through the transforms each term of the
  // 16 float32 tile sums is at most 16 in size, so their rounding is ~ 6e-8 * 16 * sqrt(K) (a few 1e-6 here), on a
  // result of typical size sqrt(K) / 3: 1e-5 * sqrt(K) relative to (1 + |t|) leaves a margin of 3x or more, and a
  // lost or wrong tile (an error of the size of a term, 0.1-1) still exceeds it for every K here (K <= 5 * 81 * 4).
  const K = N * Math.ceil(OH / 2) * Math.ceil(OW / 2) * 4;
  const tol = 1e-5 * Math.sqrt(K);
  const run = (B, kernel) => {
    const dW = accumulate ? seedW.slice() : new Float32Array(OC * kArea).fill(NaN);
    if (kernel === 'conv2dWinogradWeightGrad') B.conv2dWinogradWeightGrad({ ...base, X, dY, dW, accumulate });
    else B.conv2dBackward({ ...base, X, W: Wt, dY, dX: null, dW, dB: null, accumulate });
    return dW;
  };
  const tsWino = run(J, 'conv2dWinogradWeightGrad');
  const direct = run(J, 'conv2dBackward');
  compare(`${what} C++ winograd vs TS winograd`, run(C, 'conv2dWinogradWeightGrad'), tsWino, tol);
  compare(`${what} TS winograd vs TS direct`, tsWino, direct, tol);
  compare(`${what} C++ conv2dBackward vs TS direct`, run(C, 'conv2dBackward'), direct, tol);
}
// Max pooling's backward through a ReLU (native conv_backward.cc): on the ReLU's output of random planes (zeros,
// negatives turned to 0, ties, NaN), any window (1-5, strides 1-3 so windows overlap or skip, padding, dilation, ceil
// mode); C++ against the TS twin and against maxPool2dBackward followed by the ReLU's backward, bit for bit.
const poolOut = (n, k, s, p, d, ceil) => {
  const span = n + 2 * p - d * (k - 1) - 1;
  let o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  if (ceil && (o - 1) * s >= n + p) o--;
  return o;
};
for (let it = 0; it < iterations; it++) {
  const KH = pick([1, 2, 3, 5]), KW = pick([1, 2, 3]);
  const SH = pick([1, 2, 3]), SW = pick([1, 2]);
  const DH = pick([1, 1, 2]), DW = 1;
  const PH = int(Math.floor(KH / 2) + 1), PW = int(Math.floor(KW / 2) + 1);
  const ceil = rnd() < 0.3;
  const H = DH * (KH - 1) + 1 + pick([0, 1, 2, 16, 27]), W = KW + pick([0, 1, 2, 16, 27]);
  const OH = poolOut(H, KH, SH, PH, DH, ceil), OW = poolOut(W, KW, SW, PW, DW, ceil);
  const NC = pick([1, 3, 17, 65]);
  const geom = Int32Array.from([1, H, W, 1, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW, 1]);
  const inPlane = H * W, outPlane = OH * OW, outTotal = NC * outPlane;
  // relu of values in [-1, 1), a quarter rounded to 0 or to one tenth (ties), a few NaN
  const Y = arr(NC * inPlane).map((v) => (rnd() < 0.25 ? Math.round(v * 10) / 10 : v)).map((v) => (rnd() < 0.01 ? NaN : Math.max(0, v)));
  const pooled = new Float32Array(outTotal), argmax = new Int32Array(outTotal);
  C.maxPool2dForward({ NC, inPlane, outPlane, outTotal, G: 15, geom, X: Y, out: pooled, argmax });
  const dY = arr(outTotal);
  const what = `maxPool2dReluBackward NC${NC} ${H}x${W} k${KH}x${KW} s${SH}x${SW} p${PH}x${PW} d${DH} ceil=${ceil}`;
  const run = (B) => {
    const dX = new Float32Array(NC * inPlane).fill(NaN);
    B.maxPool2dReluBackward({ NC, inPlane, outPlane, outTotal, argmax, pooled, dY, dX });
    return dX;
  };
  const ts = run(J);
  compare(`${what} C++ vs TS`, run(C), ts, 0);
  const unfused = new Float32Array(NC * inPlane);
  J.maxPool2dBackward({ NC, inPlane, outPlane, outTotal, argmax, dY, dX: unfused });
  J.activationBackward('relu', unfused.length, Y, Y, unfused, unfused, 0);
  compare(`${what} TS vs maxPool2dBackward then relu's backward`, ts, unfused, 0);
}

{ // other geometries are an error on both sides, naming the kernel and the geometry
  const g = Int32Array.from([2, 6, 6, 2, 3, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1]);
  const errs = [C, J].map((B) => {
    try {
      B.conv2dWinogradWeightGrad({ N: 1, C: 2, OC: 2, inPlane: 36, outPlane: 9, kArea: 18, G: 15, geom: g, X: new Float32Array(72), dY: new Float32Array(18), dW: new Float32Array(36), accumulate: false });
      return 'no error';
    } catch (e) {
      return String(e.message);
    }
  });
  results.checked++;
  if (!errs.every((m) => m.includes('conv2dWinogradWeightGrad: needs a 3x3 kernel, stride 1') && m.includes('stride 2x2'))) {
    results.disagreements.push({ what: 'winograd dW stride 2', cxx: errs[0], ts: errs[1] });
  }
}
{ // a dW buffer of the wrong length is refused before any memory is touched
  const g = Int32Array.from([2, 5, 5, 2, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1]);
  const errs = [C, J].map((B) => {
    try {
      B.conv2dWinogradWeightGrad({ N: 1, C: 2, OC: 2, inPlane: 25, outPlane: 25, kArea: 18, G: 15, geom: g, X: new Float32Array(50), dY: new Float32Array(50), dW: new Float32Array(35), accumulate: false });
      return 'no error';
    } catch (e) {
      return String(e.message);
    }
  });
  results.checked++;
  if (!errs.every((m) => m.includes('conv2dWinogradWeightGrad') && m.includes('dW'))) results.disagreements.push({ what: 'winograd dW short buffer', cxx: errs[0], ts: errs[1] });
}

console.log(JSON.stringify({ simd: `${C.info().simd}/gemm ${C.info().gemmSimd}`, checked: results.checked, disagreements: results.disagreements.slice(0, 10), total: results.disagreements.length }));

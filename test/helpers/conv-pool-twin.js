// Child process of conv-pool-kernels.test.ts: the C++ conv2dMaxPoolForward (convolution + activation + max
// pooling in one kernel) against the C++ conv2dForward then maxPool2dForward (the same bits) and against its
// TS twin, on random geometries: the Winograd path (3x3 stride 1, >= 32 channels, 2x2 stride-2 pooling of
// even and odd planes), the other convolution paths, other poolings (3x3, strides, padding, dilation, ceil
// mode), NaN inputs, and errors.
//
//   [MYELIN_SIMD=scalar|avx2] node test/helpers/conv-pool-twin.js <dist dir> <seed> [iterations]
//
// Prints one JSON line: { simd, checked, disagreements: [...] }.
'use strict';
const { C, J, rnd, arr, compare, results } = require('./twin-child').twinChild({ sameNaN: true });

const iterations = Number(process.argv[4] || 60);
const int = (n) => Math.floor(rnd() * n);
const pick = (xs) => xs[int(xs.length)];
const outSize = (n, k, s, p, d) => Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1;
const poolSize = (n, k, s, p, d, ceil) => {
  const span = n + 2 * p - d * (k - 1) - 1;
  let o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  if (ceil && (o - 1) * s >= n + p) o--;
  return o;
};

/** The same bits (every NaN counts as the same). */
const sameBits = (what, a, b) => {
  results.checked++;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length), ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < a.length; i++) {
    if (ua[i] === ub[i] || (Number.isNaN(a[i]) && Number.isNaN(b[i]))) continue;
    results.disagreements.push({ what, index: i, fused: a[i], separate: b[i] });
    return;
  }
};

for (let it = 0; it < iterations; it++) {
  const wino = rnd() < 0.5;
  const groups = pick([1, 1, 2]);
  const cg = wino ? pick([32, 33, 64]) : pick([1, 3, 4, 17]);
  const ocg = wino ? pick([32, 64, 65]) : pick([1, 5, 8, 17, 32]);
  const Cin = groups * cg, OC = groups * ocg;
  const KH = wino ? 3 : pick([1, 3, 5]), KW = wino ? 3 : pick([1, 2, 3]);
  const SH = wino ? 1 : pick([1, 1, 2]), SW = wino ? 1 : pick([1, 2]);
  const DH = wino ? 1 : pick([1, 1, 2]), DW = 1;
  const PH = wino ? pick([0, 1, 1, 2]) : int(KH), PW = wino ? pick([0, 1, 1, 2]) : int(KW);
  // Winograd needs output planes of >= 12x12: 12-17 rows and columns (odd ones leave a partial tile).
  const H = wino ? 14 - 2 * PH + pick([0, 1, 2, 3]) : Math.max(1, DH * (KH - 1) + 1 - 2 * PH) + 1 + int(pick([3, 17, 30]));
  const W = wino ? 14 - 2 * PW + pick([0, 1, 3]) : Math.max(1, DW * (KW - 1) + 1 - 2 * PW) + 1 + int(pick([3, 17, 29]));
  const N = pick([1, 2, 3, 5]);
  const OH = outSize(H, KH, SH, PH, DH), OW = outSize(W, KW, SW, PW, DW);
  if (OH < 1 || OW < 1) continue;
  // The pooling: mostly the 2x2 stride-2 one (the Winograd fusion), else any window the layer allows.
  const two = rnd() < 0.6;
  const pk = two ? [2, 2] : [pick([1, 2, 3]), pick([2, 3])];
  const ps = two ? [2, 2] : [pick([1, 2, 3]), pick([1, 2])];
  const pp = two ? [0, 0] : [int(Math.floor(pk[0] / 2) + 1), int(Math.floor(pk[1] / 2) + 1)];
  const pd = two || rnd() < 0.7 ? [1, 1] : [2, 1];
  const ceil = rnd() < 0.3;
  if (OH < pd[0] * (pk[0] - 1) + 1 - 2 * pp[0] || OW < pd[1] * (pk[1] - 1) + 1 - 2 * pp[1]) continue;
  const POH = poolSize(OH, pk[0], ps[0], pp[0], pd[0], ceil), POW = poolSize(OW, pk[1], ps[1], pp[1], pd[1], ceil);
  if (POH < 1 || POW < 1) continue;
  const geom = Int32Array.from([Cin, H, W, OC, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW, groups]);
  const pgeom = Int32Array.from([1, OH, OW, 1, POH, POW, pk[0], pk[1], ps[0], ps[1], pp[0], pp[1], pd[0], pd[1], 1]);
  const kArea = cg * KH * KW, inPlane = H * W, outPlane = OH * OW, poolPlane = POH * POW;
  const X = arr(N * Cin * inPlane), Wt = arr(OC * kArea), bias = rnd() < 0.7 ? arr(OC) : null;
  if (rnd() < 0.2) X[int(X.length)] = NaN;
  const act = pick(['none', 'relu', 'relu', 'leakyRelu', 'tanh']);
  const what = `conv+pool N${N} C${Cin} OC${OC} ${H}x${W} k${KH}x${KW} s${SH}x${SW} p${PH}x${PW} d${DH}x${DW} g${groups} ${act}` +
    ` | pool k${pk} s${ps} p${pp} d${pd} ceil ${ceil}`;
  const fused = (B) => {
    const out = new Float32Array(N * OC * poolPlane).fill(7);
    B.conv2dMaxPoolForward({ N, C: Cin, OC, inPlane, outPlane, kArea, poolPlane, G: 15, geom, pgeom, X, W: Wt, bias, act, alpha: 0.1, out });
    return out;
  };
  const separate = (B) => {
    const planes = new Float32Array(N * OC * outPlane).fill(7);
    B.conv2dForward({ N, C: Cin, OC, inPlane, outPlane, kArea, G: 15, geom, X, W: Wt, bias, act, alpha: 0.1, out: planes });
    const out = new Float32Array(N * OC * poolPlane).fill(7);
    const outTotal = out.length;
    B.maxPool2dForward({ NC: N * OC, inPlane: outPlane, outPlane: poolPlane, outTotal, G: 15, geom: pgeom, X: planes, out, argmax: new Int32Array(outTotal) });
    return out;
  };
  const c = fused(C);
  sameBits(`${what}: C++ fused vs C++ conv then pool`, c, separate(C));
  // Against the twin: conv-twin.js's tolerances for the convolution (Winograd's rounding grows with sqrt of
  // the channels summed, 1e-5 per sqrt channel, at most 8.1e-5 here; the other paths' 1e-4), as pooling
  // only selects values (the same ones wherever the convolutions agree to the tolerance, or one within it).
  compare(`${what}: C++ vs TS twin`, c, fused(J), wino ? 1e-5 * Math.sqrt(Math.max(cg, ocg)) : 1e-4);
}

{ // A pooling whose input is not the convolution's output, and a bad pooling geometry, are errors on both sides.
  const geom = Int32Array.from([2, 6, 6, 3, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1]);
  const cases = [
    ['pool input 5x6', Int32Array.from([1, 5, 6, 1, 2, 3, 2, 2, 2, 2, 0, 0, 1, 1, 1]), 6, 'differs from the convolution'],
    ['pool padding 2 of a 2x2 window', Int32Array.from([1, 6, 6, 1, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1, 1]), 25, 'padding'],
  ];
  for (const [name, pgeom, poolPlane, message] of cases) {
    const errs = [C, J].map((B) => {
      try {
        B.conv2dMaxPoolForward({ N: 1, C: 2, OC: 3, inPlane: 36, outPlane: 36, kArea: 18, poolPlane, G: 15, geom, pgeom,
          X: new Float32Array(72), W: new Float32Array(54), bias: null, act: 'none', alpha: 0, out: new Float32Array(3 * poolPlane) });
        return 'no error';
      } catch (e) {
        return String(e.message);
      }
    });
    results.checked++;
    if (!errs.every((m) => m.includes('conv2dMaxPoolForward') && m.includes(message))) results.disagreements.push({ what: name, cxx: errs[0], ts: errs[1] });
  }
}

console.log(JSON.stringify({ simd: `${C.info().simd}/gemm ${C.info().gemmSimd}`, checked: results.checked, disagreements: results.disagreements.slice(0, 10), total: results.disagreements.length }));

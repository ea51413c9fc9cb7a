// Child process of conv-kernels.test.ts: the C++ conv/pool kernels against their TS twins on random geometries.
//
//   [MYELIN_SIMD=scalar|avx2] node test/helpers/conv-twin.js <dist dir> <seed> [iterations]
//
// Prints one JSON line: { simd, checked, disagreements: [...] }.
'use strict';
// sameNaN: a NaN propagated on both sides agrees.
const { C, J, rnd, arr, compare, results } = require('./twin-child').twinChild({ sameNaN: true });

const iterations = Number(process.argv[4] || 120);

const int = (n) => Math.floor(rnd() * n);
const pick = (xs) => xs[int(xs.length)];

const outSize = (n, k, s, p, d) => Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1;

for (let it = 0; it < iterations; it++) {
  // ---- conv ----
  const groups = pick([1, 1, 1, 2, 3, 17]);
  const depthwise = rnd() < 0.15;
  const cg = depthwise ? 1 : pick([1, 3, 17, 2]);
  const ocg = depthwise ? pick([1, 2]) : pick([1, 3, 16, 17, 32]);
  const Cin = groups * cg, OC = groups * ocg;
  const KH = pick([1, 3, 5, 2]), KW = pick([1, 3, 4]);
  const SH = pick([1, 2, 3]), SW = pick([1, 2]);
  const DH = pick([1, 1, 2]), DW = pick([1, 3]);
  const PH = int(3), PW = int(3);
  const H = Math.max(1, DH * (KH - 1) + 1 - 2 * PH) + int(pick([3, 17, 30]));
  const W = Math.max(1, DW * (KW - 1) + 1 - 2 * PW) + int(pick([3, 17, 30]));
  const N = pick([1, 2, 3, 5]);
  const OH = outSize(H, KH, SH, PH, DH), OW = outSize(W, KW, SW, PW, DW);
  if (OH < 1 || OW < 1) continue;
  const geom = Int32Array.from([Cin, H, W, OC, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW, groups]);
  const kArea = cg * KH * KW;
  const base = { N, C: Cin, OC, inPlane: H * W, outPlane: OH * OW, kArea, G: 15, geom };
  const X = arr(N * Cin * H * W), Wt = arr(OC * kArea), bias = rnd() < 0.7 ? arr(OC) : null;
  const act = pick(['none', 'relu', 'none']);
  const what = `conv N${N} C${Cin} OC${OC} ${H}x${W} k${KH}x${KW} s${SH}x${SW} p${PH}x${PW} d${DH}x${DW} g${groups}`;
  const outs = [C, J].map((B) => {
    const out = new Float32Array(N * OC * OH * OW).fill(NaN);
    B.conv2dForward({ ...base, X, W: Wt, bias, act, alpha: 0, out });
    return out;
  });
  compare(`${what} forward ${act}`, outs[0], outs[1], 1e-4);
  const dY = arr(N * OC * OH * OW);
  const accumulate = rnd() < 0.5;
  const seedW = arr(OC * kArea), seedB = arr(OC);
  const grads = [C, J].map((B) => {
    const dX = new Float32Array(N * Cin * H * W).fill(NaN);
    const dW = accumulate ? seedW.slice() : new Float32Array(OC * kArea).fill(NaN);
    const dB = accumulate ? seedB.slice() : new Float32Array(OC).fill(NaN);
    B.conv2dBackward({ ...base, X, W: Wt, dY, dX, dW, dB, accumulate });
    return [dX, dW, dB];
  });
  compare(`${what} dX`, grads[0][0], grads[1][0], 1e-4);
  compare(`${what} dW accumulate=${accumulate}`, grads[0][1], grads[1][1], 1e-4);
  compare(`${what} dB`, grads[0][2], grads[1][2], 1e-4);

  // ---- pooling ----
  const pk = [pick([1, 2, 3, 5]), pick([1, 2, 3])];
  const ps = [pick([1, 2, 3]), pick([1, 2])];
  const pp = [int(Math.floor(pk[0] / 2) + 1), int(Math.floor(pk[1] / 2) + 1)];
  const pd = rnd() < 0.3 ? [2, pick([1, 2])] : [1, 1];
  const ph = pd[0] * (pk[0] - 1) + 1 + int(pick([3, 17, 30])), pw = pd[1] * (pk[1] - 1) + 1 + int(pick([3, 17]));
  const ceil = rnd() < 0.5;
  const po = (n, k, s, p, d) => {
    const span = n + 2 * p - d * (k - 1) - 1;
    let o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
    if (ceil && (o - 1) * s >= n + p) o--;
    return o;
  };
  const POH = po(ph, pk[0], ps[0], pp[0], pd[0]), POW = po(pw, pk[1], ps[1], pp[1], pd[1]);
  const NC = pick([1, 3, 17, 64]);
  const pgeom = Int32Array.from([1, ph, pw, 1, POH, POW, pk[0], pk[1], ps[0], ps[1], pp[0], pp[1], pd[0], pd[1], 1]);
  const PX = arr(NC * ph * pw);
  const pwhat = `pool NC${NC} ${ph}x${pw} k${pk} s${ps} p${pp} d${pd} ceil ${ceil}`;
  const outTotal = NC * POH * POW;
  const maxes = [C, J].map((B) => {
    const out = new Float32Array(outTotal).fill(NaN);
    const argmax = new Int32Array(outTotal).fill(-7);
    B.maxPool2dForward({ NC, inPlane: ph * pw, outPlane: POH * POW, outTotal, G: 15, geom: pgeom, X: PX, out, argmax });
    const dX = new Float32Array(NC * ph * pw).fill(NaN);
    const pdY = arr(outTotal);
    B.maxPool2dBackward({ NC, inPlane: ph * pw, outPlane: POH * POW, outTotal, argmax, dY: pdY.map((_, i) => Math.sin(i)), dX });
    return [out, Float32Array.from(argmax), dX];
  });
  compare(`${pwhat} max out`, maxes[0][0], maxes[1][0], 0);
  compare(`${pwhat} max argmax`, maxes[0][1], maxes[1][1], 0);
  compare(`${pwhat} max dX`, maxes[0][2], maxes[1][2], 1e-6);
  if (pd[0] === 1 && pd[1] === 1) {
    const cip = rnd() < 0.5;
    const avgs = [C, J].map((B) => {
      const out = new Float32Array(outTotal).fill(NaN);
      B.avgPool2dForward({ NC, inPlane: ph * pw, outPlane: POH * POW, G: 15, geom: pgeom, countIncludePad: cip, X: PX, out });
      const dX = new Float32Array(NC * ph * pw).fill(NaN);
      B.avgPool2dBackward({ NC, inPlane: ph * pw, outPlane: POH * POW, G: 15, geom: pgeom, countIncludePad: cip, dY: out, dX });
      return [out, dX];
    });
    compare(`${pwhat} avg out cip ${cip}`, avgs[0][0], avgs[1][0], 1e-5);
    compare(`${pwhat} avg dX cip ${cip}`, avgs[0][1], avgs[1][1], 1e-5);
  }
}

// The direct loop of native conv.cc (stride 1, few output channels per group, patches of <= 32):
// depthwise and near-depthwise convolutions with padding, dilation and every activation.
for (let it = 0; it < iterations; it++) {
  const groups = pick([1, 2, 5, 16]);
  const cg = pick([1, 1, 2, 3]), ocg = pick([1, 2, 4]);
  const Cin = groups * cg, OC = groups * ocg;
  const KH = pick([1, 2, 3, 5]), KW = pick([2, 3, 4]);
  const DH = pick([1, 2]), DW = pick([1, 2]);
  const PH = int(3), PW = int(3);
  const H = Math.max(1, DH * (KH - 1) + 1 - 2 * PH) + int(pick([2, 9, 30]));
  const W = Math.max(1, DW * (KW - 1) + 1 - 2 * PW) + int(pick([2, 17, 33]));
  const N = pick([1, 2, 3]);
  const OH = outSize(H, KH, 1, PH, DH), OW = outSize(W, KW, 1, PW, DW);
  if (OH < 1 || OW < 1) continue;
  const geom = Int32Array.from([Cin, H, W, OC, OH, OW, KH, KW, 1, 1, PH, PW, DH, DW, groups]);
  const kArea = cg * KH * KW;
  const X = arr(N * Cin * H * W), Wt = arr(OC * kArea), bias = rnd() < 0.7 ? arr(OC) : null;
  const act = pick(['none', 'relu', 'leakyRelu', 'tanh']);
  const outs = [C, J].map((B) => {
    const out = new Float32Array(N * OC * OH * OW).fill(NaN);
    B.conv2dForward({ N, C: Cin, OC, inPlane: H * W, outPlane: OH * OW, kArea, G: 15, geom, X, W: Wt, bias, act, alpha: 0.1, out });
    return out;
  });
  compare(`direct conv N${N} C${Cin} OC${OC} ${H}x${W} k${KH}x${KW} p${PH}x${PW} d${DH}x${DW} g${groups} forward ${act}`, outs[0], outs[1], 1e-4);
}

// The register-blocked direct kernels of native conv.cc (stride 1): the forward, dX as the convolution
// of dY with the flipped weights (input channels per group >= 4, padding <= dilation*(kernel-1)) and dW
// (patches <= 32 by sums, larger by outer products over 1-4 vectors of output channels): channel counts
// around the register tiles (4, 8 output channels; 24, 32, 48 plane
// floats), padding past the flip limit, dX or dW not asked for, and accumulation into dW and dB.
for (let it = 0; it < iterations; it++) {
  const groups = pick([1, 1, 2, 3]);
  const cg = pick([1, 3, 4, 5, 8, 17, 33]), ocg = pick([1, 3, 4, 5, 7, 8, 9, 16, 17, 32, 49, 64]);
  const Cin = groups * cg, OC = groups * ocg;
  const KH = pick([1, 2, 3, 5]), KW = pick([1, 3, 4]);
  if (KH === 1 && KW === 1) continue; // pointwise convolutions take the GEMM path
  const DH = pick([1, 1, 2]), DW = pick([1, 1, 3]);
  const PH = int(DH * (KH - 1) + 2), PW = int(DW * (KW - 1) + 2);
  const H = Math.max(1, DH * (KH - 1) + 1 - 2 * PH) + int(pick([2, 7, 15, 30]));
  const W = Math.max(1, DW * (KW - 1) + 1 - 2 * PW) + int(pick([1, 7, 14, 29]));
  const N = pick([1, 2, 3, 5]);
  const OH = outSize(H, KH, 1, PH, DH), OW = outSize(W, KW, 1, PW, DW);
  if (OH < 1 || OW < 1) continue;
  const geom = Int32Array.from([Cin, H, W, OC, OH, OW, KH, KW, 1, 1, PH, PW, DH, DW, groups]);
  const kArea = cg * KH * KW;
  const base = { N, C: Cin, OC, inPlane: H * W, outPlane: OH * OW, kArea, G: 15, geom };
  const X = arr(N * Cin * H * W), Wt = arr(OC * kArea), bias = rnd() < 0.7 ? arr(OC) : null;
  // NaN passes through the fused relu. (Its gradients are not compared: the blocked dW also multiplies
  // the dropped columns' zeros by input values, so a non-finite input reaches more of dW than in GEMM.)
  const nanInput = rnd() < 0.2;
  if (nanInput) X[int(X.length)] = NaN;
  const act = pick(['none', 'relu', 'relu', 'leakyRelu']);
  const what = `blocked conv N${N} C${Cin} OC${OC} ${H}x${W} k${KH}x${KW} p${PH}x${PW} d${DH}x${DW} g${groups}`;
  const outs = [C, J].map((B) => {
    const out = new Float32Array(N * OC * OH * OW).fill(NaN);
    B.conv2dForward({ ...base, X, W: Wt, bias, act, alpha: 0.1, out });
    return out;
  });
  compare(`${what} forward ${act}`, outs[0], outs[1], 1e-4);
  const dY = arr(N * OC * OH * OW);
  const accumulate = rnd() < 0.5;
  const wantX = rnd() < 0.8, wantW = rnd() < 0.8;
  const seedW = arr(OC * kArea), seedB = arr(OC);
  const grads = [C, J].map((B) => {
    const dX = wantX ? new Float32Array(N * Cin * H * W).fill(NaN) : null;
    const dW = wantW ? (accumulate ? seedW.slice() : new Float32Array(OC * kArea).fill(NaN)) : null;
    const dB = accumulate ? seedB.slice() : new Float32Array(OC).fill(NaN);
    B.conv2dBackward({ ...base, X, W: Wt, dY, dX, dW, dB, accumulate });
    return [dX, dW, dB];
  });
  if (wantX) compare(`${what} dX`, grads[0][0], grads[1][0], 1e-4);
  if (wantW && !nanInput) compare(`${what} dW accumulate=${accumulate}`, grads[0][1], grads[1][1], 1e-4);
  compare(`${what} dB`, grads[0][2], grads[1][2], 1e-4);
}

// Winograd F(2x2, 3x3) (native conv_winograd.cc, taken by conv2dForward and dX for 3x3 stride-1
// dilation-1 convolutions with >= 32 channels in and out per group on planes of >= 12x12): conv2dWinogradForward forces it on
// any channel count, against its TS twin and against the direct convolution (TS im2col + GEMM); odd
// and tiny planes (1, 3, 17), padding 0-2, groups; conv2dForward and dX around the channel threshold.
for (let it = 0; it < iterations; it++) {
  const groups = pick([1, 1, 1, 2]);
  const cg = pick([1, 3, 7, 17, 32, 33, 64]), ocg = pick([1, 5, 17, 32, 64, 65]);
  const Cin = groups * cg, OC = groups * ocg;
  const PH = pick([0, 1, 1, 2]), PW = pick([0, 1, 1, 2]);
  const H = Math.max(1, 3 - 2 * PH) + pick([0, 1, 2, 3, 14, 16]), W = Math.max(1, 3 - 2 * PW) + pick([0, 1, 2, 3, 14]);
  const N = pick([1, 2, 3, 5]);
  const OH = outSize(H, 3, 1, PH, 1), OW = outSize(W, 3, 1, PW, 1);
  const geom = Int32Array.from([Cin, H, W, OC, OH, OW, 3, 3, 1, 1, PH, PW, 1, 1, groups]);
  const base = { N, C: Cin, OC, inPlane: H * W, outPlane: OH * OW, kArea: cg * 9, G: 15, geom };
  const X = arr(N * Cin * H * W), Wt = arr(OC * cg * 9), bias = rnd() < 0.7 ? arr(OC) : null;
  const act = pick(['none', 'relu', 'relu', 'leakyRelu']);
  const what = `winograd conv N${N} C${Cin} OC${OC} ${H}x${W} p${PH}x${PW} g${groups} ${act}`;
  const run = (B, kernel) => {
    const out = new Float32Array(N * OC * OH * OW).fill(NaN);
    B[kernel]({ ...base, X, W: Wt, bias, act, alpha: 0.1, out });
    return out;
  };
  const ref = run(J, 'conv2dForward');
  const tsWino = run(J, 'conv2dWinogradForward');
  // Winograd's rounding grows with the terms summed per output (like a float32 dot product's: about
  // sqrt(length) units of the typical term), unlike the direct kernel's, which follows the reference's
  // order: the tolerance scales with sqrt of the channels summed (forward: cg, dX: ocg; at most 65 here,
  // so at most 8e-5, far below a wrong tap's error of the order of a term, 0.1-1). Seed 746330789 had a
  // dX over 65 channels off by 1.05e-5 at 1e-5.
  const tol = 1e-5 * Math.sqrt(Math.max(cg, ocg));
  compare(`${what} C++ winograd vs TS winograd`, run(C, 'conv2dWinogradForward'), tsWino, tol);
  compare(`${what} TS winograd vs direct`, tsWino, ref, tol);
  compare(`${what} C++ conv2dForward`, run(C, 'conv2dForward'), ref, tol);
  const dY = arr(N * OC * OH * OW);
  const dXs = [C, J].map((B) => {
    const dX = new Float32Array(N * Cin * H * W).fill(NaN);
    B.conv2dBackward({ ...base, X, W: Wt, dY, dX, dW: null, dB: null, accumulate: false });
    return dX;
  });
  compare(`${what} dX`, dXs[0], dXs[1], tol);
}
{ // other geometries are an error on both sides
  const g = Int32Array.from([2, 6, 6, 2, 3, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1]);
  const errs = [C, J].map((B) => {
    try {
      B.conv2dWinogradForward({ N: 1, C: 2, OC: 2, inPlane: 36, outPlane: 9, kArea: 18, G: 15, geom: g, X: new Float32Array(72), W: new Float32Array(36), bias: null, act: 'none', alpha: 0, out: new Float32Array(18) });
      return 'no error';
    } catch (e) {
      return String(e.message);
    }
  });
  results.checked++;
  if (!errs.every((m) => m.includes('conv2dWinogradForward: needs a 3x3 kernel, stride 1') && m.includes('stride 2x2'))) results.disagreements.push({ what: 'winograd stride 2', cxx: errs[0], ts: errs[1] });
}

// The 2x2 stride-2 max pooling fast path (native pool.cc): odd and even sizes, floor and ceil mode,
// ties (the first wins) and NaNs (the last wins) in the input.
for (let it = 0; it < iterations; it++) {
  const ceil = rnd() < 0.5;
  const ph = 2 + int(pick([3, 16, 31])), pw = 2 + int(pick([4, 9, 30]));
  const po = (n) => (ceil ? Math.ceil((n - 2) / 2) : Math.floor((n - 2) / 2)) + 1;
  const POH = po(ph), POW = po(pw);
  const NC = pick([1, 3, 17]);
  const pgeom = Int32Array.from([1, ph, pw, 1, POH, POW, 2, 2, 2, 2, 0, 0, 1, 1, 1]);
  const PX = Float32Array.from({ length: NC * ph * pw }, () => {
    const u = rnd();
    return u < 0.05 ? NaN : u < 0.4 ? Math.floor(u * 8) / 4 : 2 * rnd() - 1; // many exact ties
  });
  const outTotal = NC * POH * POW;
  const res = [C, J].map((B) => {
    const out = new Float32Array(outTotal).fill(7);
    const argmax = new Int32Array(outTotal).fill(-7);
    B.maxPool2dForward({ NC, inPlane: ph * pw, outPlane: POH * POW, outTotal, G: 15, geom: pgeom, X: PX, out, argmax });
    return [out, Float32Array.from(argmax)];
  });
  const what = `pool 2x2 s2 NC${NC} ${ph}x${pw} ceil ${ceil}`;
  compare(`${what} max out`, res[0][0], res[1][0], 0);
  compare(`${what} max argmax`, res[0][1], res[1][1], 0);
}

// A geometry that disagrees with the sizes is an error on both sides, before any memory is touched.
const bad = Int32Array.from([3, 8, 8, 4, 6, 6, 3, 3, 1, 1, 0, 0, 1, 1, 1]);
for (const [name, change] of [['OH', [4, 7]], ['C', [0, 2]], ['groups', [14, 2]], ['pad', [10, -1]]]) {
  const g = bad.slice();
  g[change[0]] = change[1];
  const errs = [C, J].map((B) => {
    try {
      B.conv2dForward({ N: 1, C: 3, OC: 4, inPlane: 64, outPlane: 36, kArea: 27, G: 15, geom: g, X: new Float32Array(192), W: new Float32Array(108), bias: null, act: 'none', alpha: 0, out: new Float32Array(144) });
      return 'no error';
    } catch (e) {
      return String(e.message);
    }
  });
  results.checked++;
  if (!errs.every((m) => m.includes('conv2dForward') && m !== 'no error')) results.disagreements.push({ what: `bad geometry ${name}`, cxx: errs[0], ts: errs[1] });
}

console.log(JSON.stringify({ simd: `${C.info().simd}/gemm ${C.info().gemmSimd}`, checked: results.checked, disagreements: results.disagreements.slice(0, 10), total: results.disagreements.length }));

// Child process of quant-kernels.test.ts: the low-precision kernels on the SIMD path this process
// runs at (MYELIN_SIMD=avx2|scalar forces the lower ones), against their TS twins and a float64
// reference of the quantised maths.
//
//   [MYELIN_SIMD=avx2|scalar] node test/helpers/quant-paths.js <dist dir> <seed>
//
// int8: native and TS must agree bit for bit for act none/relu/leakyRelu (and both lie within a
// few float32 roundings of the float64 reference for every activation); quantizeRowsI8 and toBf16
// bit for bit; gemmBf16 within float32 accumulation error of the float64 reference. Prints one
// JSON line: { int8Path, bf16Path, qconvPath, qconvBf16Path, amx, checked, failures }.
'use strict';
const path = require('path');
const { dist, C, J, rnd } = require('./twin-child').twinChild();

const { bf16Value } = require(path.join(dist, 'backend', 'js', 'quant.js'));

const int8s = (n) => Int8Array.from({ length: n }, () => Math.floor(rnd() * 256) - 128);
const floats = (n, lo, hi) => Float32Array.from({ length: n }, () => lo + (hi - lo) * rnd());
const U24 = 2 ** -24;

const SHAPES = [[1, 1, 1], [1, 3, 17], [3, 17, 1], [17, 3, 257], [65, 65, 65], [257, 17, 3], [1, 257, 65],
  [13, 33, 100], [40, 130, 300], [150, 70, 784]];

function act(name, x, alpha) {
  switch (name) {
    case 'none': return x;
    case 'relu': return x < 0 ? 0 : x;
    case 'leakyRelu': return x > 0 ? x : alpha * x;
    case 'sigmoid': return 1 / (1 + Math.exp(-x));
    case 'tanh': return Math.tanh(x);
    default: throw new Error(`no reference for ${name}`);
  }
}

const failures = [];
let checked = 0;
const fail = (what) => {
  if (failures.length < 10) failures.push(what);
};

// ---- int8 ----------------------------------------------------------------------------------
for (const [M, N, K] of SHAPES) {
  for (const a of ['none', 'relu', 'leakyRelu', 'sigmoid', 'tanh']) {
    const A = int8s(M * K);
    const W = int8s(N * K);
    const aScale = floats(M, 1e-3, 2e-2);
    const wScale = floats(N, 1e-3, 2e-2);
    const bias = rnd() < 0.5 ? null : floats(N, -1, 1);
    const alpha = 0.1;
    const o = { M, N, K, A, aScale, W, wScale, bias, act: a, alpha };
    const outC = new Float32Array(M * N);
    const outJ = new Float32Array(M * N);
    C.qgemmI8({ ...o, out: outC });
    J.qgemmI8({ ...o, out: outJ });
    const exact = a === 'none' || a === 'relu' || a === 'leakyRelu';
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let k = 0; k < K; k++) acc += Math.max(-127, A[i * K + k]) * Math.max(-127, W[j * K + k]);
        const z = acc * aScale[i] * wScale[j] + (bias ? bias[j] : 0);
        const ref = act(a, z, alpha);
        const at = i * N + j;
        const tol = 6 * U24 * (Math.abs(acc * aScale[i] * wScale[j]) + Math.abs(bias ? bias[j] : 0)) + 4e-6 * Math.abs(ref) + 1e-7;
        checked++;
        if (exact && !Object.is(outC[at], outJ[at])) fail(`qgemmI8 ${a} M=${M} N=${N} K=${K} [${i},${j}]: native ${outC[at]} != ts ${outJ[at]}`);
        if (!(Math.abs(outC[at] - ref) <= tol)) fail(`qgemmI8 ${a} M=${M} N=${N} K=${K} [${i},${j}]: native ${outC[at]}, reference ${ref}`);
        if (!(Math.abs(outJ[at] - ref) <= tol)) fail(`qgemmI8 ${a} M=${M} N=${N} K=${K} [${i},${j}]: ts ${outJ[at]}, reference ${ref}`);
      }
    }
  }
}

// ---- packed-weight cache: the same arrays with new contents, called again ----------------------
// The native kernels keep packed weights between calls (keyed by the array, checked against a copy):
// weights changed in place must be repacked, never served stale. A NaN row scale stays NaN through relu.
for (const [M, N, K] of [[13, 33, 100], [1, 17, 3], [40, 130, 300]]) {
  const A = int8s(M * K), W = int8s(N * K);
  const aScale = floats(M, 1e-3, 2e-2), wScale = floats(N, 1e-3, 2e-2);
  aScale[0] = NaN;
  const Ah = new Uint16Array(M * K), Wh = new Uint16Array(N * K);
  C.toBf16(M * K, floats(M * K, -1, 1), Ah);
  C.toBf16(N * K, floats(N * K, -1, 1), Wh);
  for (let round = 0; round < 3; round++) {
    if (round > 0) {
      W[(round * 7919) % W.length] ^= 0x55; // one weight changed in place
      Wh[(round * 7919) % Wh.length] ^= 0x0100;
    }
    for (const a of ['relu', 'leakyRelu', 'none']) {
      const o = { M, N, K, A, aScale, W, wScale, bias: null, act: a, alpha: 0.25 };
      const outC = new Float32Array(M * N), outJ = new Float32Array(M * N);
      C.qgemmI8({ ...o, out: outC });
      J.qgemmI8({ ...o, out: outJ });
      for (let i = 0; i < M * N; i++) {
        checked++;
        if (!Object.is(outC[i], outJ[i])) fail(`qgemmI8 (weights changed, round ${round}) ${a} M=${M} N=${N} K=${K} at ${i}: native ${outC[i]} != ts ${outJ[i]}`);
      }
      const b = { M, N, K, A: Ah, W: Wh, bias: null, act: a, alpha: 0.25 };
      const hC = new Float32Array(M * N), hJ = new Float32Array(M * N);
      C.gemmBf16({ ...b, out: hC });
      J.gemmBf16({ ...b, out: hJ });
      for (let i = 0; i < M * N; i++) {
        checked++;
        // Both sum float32 products; the orders differ, so compare within accumulation error.
        if (!(Math.abs(hC[i] - hJ[i]) <= 1e-5 * (1 + Math.abs(hJ[i])) * K)) fail(`gemmBf16 (weights changed, round ${round}) ${a} M=${M} N=${N} K=${K} at ${i}: native ${hC[i]} vs ts ${hJ[i]}`);
      }
    }
  }
}

// ---- quantizeRowsI8 ------------------------------------------------------------------------
for (const [M, K] of [[1, 1], [3, 17], [17, 65], [5, 257]]) {
  for (const scale of [0, 0.01, 1e-4]) {
    const X = floats(M * K, -3, 3);
    if (M > 2) X[K + 1] = NaN; // row 1 holds a NaN
    if (M > 3) X.fill(0, 2 * K, 3 * K); // row 2 is zero
    if (M > 4) X[3 * K + K - 1] = -Infinity; // row 3 holds an infinity (in the tail)
    const qC = new Int8Array(M * K), qJ = new Int8Array(M * K);
    const sC = new Float32Array(M), sJ = new Float32Array(M);
    C.quantizeRowsI8(M, K, X, scale, qC, sC);
    J.quantizeRowsI8(M, K, X, scale, qJ, sJ);
    for (let i = 0; i < M; i++) {
      checked++;
      if (!Object.is(sC[i], sJ[i])) fail(`quantizeRowsI8 scale=${scale} M=${M} K=${K} row ${i}: native scale ${sC[i]} != ts ${sJ[i]}`);
      for (let k = 0; k < K; k++) {
        const at = i * K + k;
        if (qC[at] !== qJ[at]) fail(`quantizeRowsI8 scale=${scale} [${i},${k}] x=${X[at]}: native ${qC[at]} != ts ${qJ[at]}`);
        // float64 reference: the nearest integer to x / scale, clamped (f32 steps move it by < 1e-5)
        if (Number.isNaN(sC[i]) || sC[i] === 0) continue;
        const want = Math.max(-127, Math.min(127, X[at] / sC[i]));
        if (!(Math.abs(qC[at] - want) <= 0.5 + 1e-4)) fail(`quantizeRowsI8 scale=${scale} [${i},${k}]: ${qC[at]} vs ${want}`);
      }
    }
  }
}

// ---- bf16 ----------------------------------------------------------------------------------
{
  const specials = [0, -0, 1, -1, 1.00390625, 1.01171875, 3.4e38, -3.4e38, 3.3895313892515355e38, 3.39e38, 1e-40, -1e-40,
    1.1754943508222875e-38, Infinity, -Infinity, NaN, 0.1, 65504, 1 + 2 ** -8, 1 + 3 * 2 ** -8];
  const x = Float32Array.from([...specials, ...floats(2000, -1e4, 1e4), ...floats(500, -1e-37, 1e-37)]);
  // NaNs with payloads (signalling and quiet, both signs), written as bits.
  new Uint32Array(x.buffer).set([0x7f800001, 0xff812345, 0x7fc0ffff, 0xffbfffff], 4);
  const hC = new Uint16Array(x.length), hJ = new Uint16Array(x.length);
  C.toBf16(x.length, x, hC);
  J.toBf16(x.length, x, hJ);
  for (let i = 0; i < x.length; i++) {
    checked++;
    if (hC[i] !== hJ[i]) fail(`toBf16 x=${x[i]}: native 0x${hC[i].toString(16)} != ts 0x${hJ[i].toString(16)}`);
  }
}
for (const [M, N, K] of SHAPES) {
  const X = floats(M * K, -1, 1), Wf = floats(N * K, -1, 1);
  const A = new Uint16Array(M * K), W = new Uint16Array(N * K);
  C.toBf16(M * K, X, A);
  C.toBf16(N * K, Wf, W);
  const bias = floats(N, -1, 1);
  const out = new Float32Array(M * N);
  C.gemmBf16({ M, N, K, A, W, bias, act: 'relu', alpha: 0, out });
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = bias[j], mag = Math.abs(bias[j]);
      for (let k = 0; k < K; k++) {
        const p = bf16Value(A[i * K + k]) * bf16Value(W[j * K + k]);
        s += p;
        mag += Math.abs(p);
      }
      const ref = Math.max(0, s);
      checked++;
      if (!(Math.abs(out[i * N + j] - ref) <= 2 * (K + 2) * U24 * mag + 1e-30)) {
        fail(`gemmBf16 M=${M} N=${N} K=${K} [${i},${j}]: native ${out[i * N + j]}, reference ${ref}`);
      }
    }
  }
}

// ---- im2colQuantizeI8, im2colBf16, planesFromRows (QuantizedConv2d) -------------------------
// Geometries [N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW]: 1x1, padding wider than the input's edge, strides,
// dilations, non-square, a 17-channel and a 65-wide input. Native and TS agree bit for bit; a patch element
// is the input value at its position (or 0 outside), read back through the bf16 rows.
const out1 = (n, k, s, p, d) => Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1;
for (const [N, Cc, H, W, KH, KW, SH, SW, PH, PW, DH, DW] of [
  [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1], [2, 3, 5, 7, 3, 3, 1, 1, 1, 1, 1, 1], [3, 2, 9, 8, 3, 2, 2, 3, 2, 0, 1, 2],
  [1, 17, 6, 5, 2, 3, 1, 2, 0, 1, 2, 1], [2, 4, 3, 65, 1, 5, 1, 1, 0, 2, 1, 3], [1, 1, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1],
]) {
  const OH = out1(H, KH, SH, PH, DH), OW = out1(W, KW, SW, PW, DW), P = OH * OW, K = Cc * KH * KW, M = N * P;
  const geom = Int32Array.of(Cc, H, W, 1, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW, 1);
  const X = floats(N * Cc * H * W, -3, 3);
  for (const scale of [0, 0.02]) {
    const qC = new Int8Array(M * K), qJ = new Int8Array(M * K), sC = new Float32Array(M), sJ = new Float32Array(M);
    C.im2colQuantizeI8(N, Cc, H * W, P, K, 15, geom, X, scale, qC, sC);
    J.im2colQuantizeI8(N, Cc, H * W, P, K, 15, geom, X, scale, qJ, sJ);
    for (let i = 0; i < M; i++) {
      checked++;
      if (!Object.is(sC[i], sJ[i])) fail(`im2colQuantizeI8 ${geom} scale=${scale} row ${i}: native scale ${sC[i]} != ts ${sJ[i]}`);
    }
    for (let i = 0; i < M * K; i++) if (qC[i] !== qJ[i]) fail(`im2colQuantizeI8 ${geom} scale=${scale} at ${i}: native ${qC[i]} != ts ${qJ[i]}`);
  }
  const hC = new Uint16Array(M * K), hJ = new Uint16Array(M * K);
  C.im2colBf16(N, Cc, H * W, P, K, 15, geom, X, hC);
  J.im2colBf16(N, Cc, H * W, P, K, 15, geom, X, hJ);
  for (let n = 0; n < N; n++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
    for (let c = 0; c < Cc; c++) for (let i = 0; i < KH; i++) for (let j = 0; j < KW; j++) {
      const at = ((n * P + oh * OW + ow) * Cc + c) * KH * KW + i * KW + j;
      const ih = oh * SH - PH + i * DH, iw = ow * SW - PW + j * DW;
      const x = ih >= 0 && ih < H && iw >= 0 && iw < W ? X[((n * Cc + c) * H + ih) * W + iw] : 0;
      checked++;
      if (hC[at] !== hJ[at]) fail(`im2colBf16 ${geom} at ${at}: native ${hC[at]} != ts ${hJ[at]}`);
      if (!(Math.abs(bf16Value(hC[at]) - x) <= Math.abs(x) * 2 ** -8)) fail(`im2colBf16 ${geom} [${n},${oh},${ow},${c},${i},${j}]: ${bf16Value(hC[at])} vs x ${x}`);
    }
  }
  const Y = floats(M * 5, -1, 1), pC = new Float32Array(M * 5), pJ = new Float32Array(M * 5);
  C.planesFromRows(N, P, 5, Y, pC);
  J.planesFromRows(N, P, 5, Y, pJ);
  for (let n = 0; n < N; n++) for (let p = 0; p < P; p++) for (let oc = 0; oc < 5; oc++) {
    checked++;
    const at = (n * 5 + oc) * P + p;
    if (pC[at] !== Y[(n * P + p) * 5 + oc] || pJ[at] !== pC[at]) fail(`planesFromRows N=${N} P=${P} [${n},${oc},${p}]: native ${pC[at]}, ts ${pJ[at]}`);
  }
}
// ---- qconvI8 (the direct int8 convolution; strided geometries and lower levels take im2col + qgemmI8) ----
// Geometries [N, C, H, W, OC, KH, KW, SH, SW, PH, PW, DH, DW]: sizes 1, 3, 17, 65, 257, 1 and 17 channels,
// dilations, asymmetric kernels and padding, a stride; images of one NaN and of zeros. Native and TS agree bit for
// bit (act none/relu/leakyRelu); both lie within float32 rounding of the float64 conv of the quantised values.
const roundEven = (v) => {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
};
for (const [N, Cc, H, W, OC, KH, KW, SH, SW, PH, PW, DH, DW] of [
  [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1], [2, 3, 5, 7, 17, 3, 3, 1, 1, 1, 1, 1, 1], [1, 17, 6, 5, 65, 2, 3, 1, 1, 0, 1, 2, 1],
  [2, 4, 3, 65, 3, 1, 5, 1, 1, 0, 2, 1, 3], [1, 2, 1, 257, 5, 1, 3, 1, 1, 0, 1, 1, 1], [3, 2, 9, 8, 9, 3, 2, 2, 3, 2, 0, 1, 2],
  [2, 1, 28, 28, 32, 3, 3, 1, 1, 1, 1, 1, 1], [1, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1], [4, 3, 17, 3, 8, 3, 3, 1, 1, 1, 1, 1, 1],
  // 1 and 2 input channels: the direct kernels fold kernel columns into a channel group (with a dilation, shifted by it).
  [2, 1, 6, 19, 5, 3, 5, 1, 1, 1, 3, 1, 2], [1, 2, 7, 9, 3, 2, 3, 1, 1, 0, 2, 2, 2],
]) {
  const OH = out1(H, KH, SH, PH, DH), OW = out1(W, KW, SW, PW, DW), P = OH * OW, K = Cc * KH * KW, img = Cc * H * W;
  const geom = Int32Array.of(Cc, H, W, OC, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW, 1);
  const X = floats(N * img, -3, 3);
  if (N >= 3) X[img + 1] = NaN; // image 1: NaN outputs
  if (N >= 4) X.fill(0, 2 * img, 3 * img); // image 2: zeros (scale 0)
  const Wq = int8s(OC * K), wScale = floats(OC, 1e-3, 2e-2);
  const bias = rnd() < 0.3 ? null : floats(OC, -1, 1);
  const pools = [[1, 1, 1, 1], [2, 2, 2, 2], [3, 2, 2, 1]].filter(([ph, pw]) => ph <= OH && pw <= OW);
  for (const [scale, a] of [[0, 'relu'], [0.03, 'none'], [0, 'leakyRelu'], [0, 'tanh']]) {
    // The float64 reference of the conv (and its tolerance), from the image's quantisation with the kernel's float32
    // steps (scale, inverse, x * inverse, round half to even); NaN for an image holding a NaN.
    const ref = new Float64Array(N * OC * P), tol = new Float64Array(N * OC * P);
    for (let n = 0; n < N; n++) {
      let m = 0, nan = false;
      for (let t = n * img; t < (n + 1) * img; t++) {
        m = Math.max(m, Math.abs(X[t]));
        nan = nan || Number.isNaN(X[t]);
      }
      const s = scale > 0 ? Math.fround(scale) : Math.fround(m / 127);
      const inv = scale > 0 ? Math.fround(1 / Math.fround(scale)) : m === 0 ? 0 : Math.fround(127 / m);
      const q = (c, ih, iw) => (ih < 0 || ih >= H || iw < 0 || iw >= W ? 0
        : roundEven(Math.max(-127, Math.min(127, Math.fround(X[n * img + (c * H + ih) * W + iw] * inv)))));
      for (let oc = 0; oc < OC; oc++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
        const at = (n * OC + oc) * P + oh * OW + ow;
        if (nan) {
          ref[at] = NaN;
          continue;
        }
        let acc = 0;
        for (let c = 0; c < Cc; c++) for (let i = 0; i < KH; i++) for (let j = 0; j < KW; j++) {
          acc += q(c, oh * SH - PH + i * DH, ow * SW - PW + j * DW) * Math.max(-127, Wq[((oc * Cc + c) * KH + i) * KW + j]);
        }
        const prod = acc * s * wScale[oc], b = bias ? bias[oc] : 0;
        ref[at] = act(a, prod + b, 0.1);
        tol[at] = 6 * U24 * (Math.abs(prod) + Math.abs(b)) + 4e-6 * Math.abs(ref[at]) + 1e-7;
      }
    }
    for (const pool of pools) {
      const PHo = Math.floor((OH - pool[0]) / pool[2]) + 1, PWo = Math.floor((OW - pool[1]) / pool[3]) + 1, Q = PHo * PWo;
      const o = { N, C: Cc, OC, inPlane: H * W, convPlane: P, outPlane: Q, kArea: K, G: 15, geom, PG: 4, pool: Int32Array.from(pool), X, scale, W: Wq, wScale, bias, act: a, alpha: 0.1 };
      const outC = new Float32Array(N * OC * Q), outJ = new Float32Array(N * OC * Q);
      C.qconvI8({ ...o, out: outC });
      J.qconvI8({ ...o, out: outJ });
      for (let pl = 0; pl < N * OC; pl++) for (let ph = 0; ph < PHo; ph++) for (let pw = 0; pw < PWo; pw++) {
        let want = -Infinity, t = 0;
        for (let i = 0; i < pool[0]; i++) for (let j = 0; j < pool[1]; j++) {
          const at = pl * P + (ph * pool[2] + i) * OW + pw * pool[3] + j;
          want = Number.isNaN(ref[at]) || Number.isNaN(want) ? NaN : Math.max(want, ref[at]);
          t = Math.max(t, tol[at]);
        }
        const at = pl * Q + ph * PWo + pw;
        const where = `qconvI8 ${a} ${geom} pool ${pool} scale=${scale} [plane ${pl}, ${ph}, ${pw}]`;
        checked++;
        if (a !== 'tanh' && !Object.is(outC[at], outJ[at])) fail(`${where}: native ${outC[at]} != ts ${outJ[at]}`);
        if (Number.isNaN(want)) {
          if (!Number.isNaN(outC[at]) || !Number.isNaN(outJ[at])) fail(`${where}: image holds a NaN, outputs ${outC[at]}, ${outJ[at]}`);
          continue;
        }
        if (!(Math.abs(outC[at] - want) <= t)) fail(`${where}: native ${outC[at]}, reference ${want}`);
        if (!(Math.abs(outJ[at] - want) <= t)) fail(`${where}: ts ${outJ[at]}, reference ${want}`);
      }
    }
  }
}
// ---- qconvBf16: the same geometries and pools in bf16, against the float64 conv of the bfloat16-rounded values ----
for (const [N, Cc, H, W, OC, KH, KW, SH, SW, PH, PW, DH, DW] of [
  [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1], [2, 3, 5, 7, 17, 3, 3, 1, 1, 1, 1, 1, 1], [1, 17, 6, 5, 65, 2, 3, 1, 1, 0, 1, 2, 1],
  [1, 2, 1, 257, 5, 1, 3, 1, 1, 0, 1, 1, 1], [3, 2, 9, 8, 9, 3, 2, 2, 3, 2, 0, 1, 2], [1, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1],
  [2, 1, 6, 19, 5, 3, 5, 1, 1, 1, 3, 1, 2], [2, 1, 28, 28, 32, 3, 3, 1, 1, 1, 1, 1, 1],
]) {
  const OH = out1(H, KH, SH, PH, DH), OW = out1(W, KW, SW, PW, DW), P = OH * OW, K = Cc * KH * KW, img = Cc * H * W;
  const geom = Int32Array.of(Cc, H, W, OC, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW, 1);
  const X = floats(N * img, -3, 3);
  const Wh = new Uint16Array(OC * K);
  C.toBf16(OC * K, floats(OC * K, -1, 1), Wh);
  const Xh = new Uint16Array(N * img);
  C.toBf16(N * img, X, Xh);
  const bias = rnd() < 0.3 ? null : floats(OC, -1, 1);
  const ref = new Float64Array(N * OC * P), mag = new Float64Array(N * OC * P);
  for (let n = 0; n < N; n++) for (let oc = 0; oc < OC; oc++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
    let sum = bias ? bias[oc] : 0, m = Math.abs(sum);
    for (let c = 0; c < Cc; c++) for (let i = 0; i < KH; i++) for (let j = 0; j < KW; j++) {
      const ih = oh * SH - PH + i * DH, iw = ow * SW - PW + j * DW;
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
      const p = bf16Value(Xh[n * img + (c * H + ih) * W + iw]) * bf16Value(Wh[((oc * Cc + c) * KH + i) * KW + j]);
      sum += p;
      m += Math.abs(p);
    }
    const at = (n * OC + oc) * P + oh * OW + ow;
    ref[at] = Math.max(0, sum);
    mag[at] = m;
  }
  for (const pool of [[1, 1, 1, 1], [2, 2, 2, 2]].filter(([ph, pw]) => ph <= OH && pw <= OW)) {
    const PHo = Math.floor((OH - pool[0]) / pool[2]) + 1, PWo = Math.floor((OW - pool[1]) / pool[3]) + 1, Q = PHo * PWo;
    const o = { N, C: Cc, OC, inPlane: H * W, convPlane: P, outPlane: Q, kArea: K, G: 15, geom, PG: 4, pool: Int32Array.from(pool), X, W: Wh, bias, act: 'relu', alpha: 0 };
    const outC = new Float32Array(N * OC * Q), outJ = new Float32Array(N * OC * Q);
    C.qconvBf16({ ...o, out: outC });
    J.qconvBf16({ ...o, out: outJ });
    for (let pl = 0; pl < N * OC; pl++) for (let ph = 0; ph < PHo; ph++) for (let pw = 0; pw < PWo; pw++) {
      let want = -Infinity, t = 0;
      for (let i = 0; i < pool[0]; i++) for (let j = 0; j < pool[1]; j++) {
        const at = pl * P + (ph * pool[2] + i) * OW + pw * pool[3] + j;
        want = Math.max(want, ref[at]);
        // float32 products and sums in any order: (K + 2) roundings of at most 2^-24 of the magnitude each, twice.
        t = Math.max(t, 2 * (K + 2) * U24 * mag[at] + 1e-30);
      }
      const at = pl * Q + ph * PWo + pw;
      checked++;
      if (!(Math.abs(outC[at] - want) <= t)) fail(`qconvBf16 ${geom} pool ${pool} [plane ${pl}, ${ph}, ${pw}]: native ${outC[at]}, reference ${want}`);
      if (!(Math.abs(outJ[at] - want) <= t)) fail(`qconvBf16 ${geom} pool ${pool} [plane ${pl}, ${ph}, ${pw}]: ts ${outJ[at]}, reference ${want}`);
    }
  }
}

for (const [what, fn] of [
  ['a geometry whose OC disagrees', () => C.qconvI8({ N: 1, C: 1, OC: 2, inPlane: 9, convPlane: 9, outPlane: 9, kArea: 9, G: 15, geom: Int32Array.of(1, 3, 3, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1), PG: 4, pool: Int32Array.of(1, 1, 1, 1), X: new Float32Array(9), scale: 0, W: new Int8Array(18), wScale: new Float32Array(2), bias: null, act: 'none', alpha: 0, out: new Float32Array(18) })],
  ['a negative scale', () => C.qconvI8({ N: 1, C: 1, OC: 1, inPlane: 9, convPlane: 9, outPlane: 9, kArea: 9, G: 15, geom: Int32Array.of(1, 3, 3, 1, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1), PG: 4, pool: Int32Array.of(1, 1, 1, 1), X: new Float32Array(9), scale: -1, W: new Int8Array(9), wScale: new Float32Array(1), bias: null, act: 'none', alpha: 0, out: new Float32Array(9) })],
  ['a pool window larger than the output', () => C.qconvI8({ N: 1, C: 1, OC: 1, inPlane: 9, convPlane: 9, outPlane: 1, kArea: 9, G: 15, geom: Int32Array.of(1, 3, 3, 1, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1), PG: 4, pool: Int32Array.of(4, 1, 1, 1), X: new Float32Array(9), scale: 0, W: new Int8Array(9), wScale: new Float32Array(1), bias: null, act: 'none', alpha: 0, out: new Float32Array(9) })],
  ['an outPlane the pool does not give', () => C.qconvI8({ N: 1, C: 1, OC: 1, inPlane: 9, convPlane: 9, outPlane: 2, kArea: 9, G: 15, geom: Int32Array.of(1, 3, 3, 1, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1), PG: 4, pool: Int32Array.of(2, 2, 1, 1), X: new Float32Array(9), scale: 0, W: new Int8Array(9), wScale: new Float32Array(1), bias: null, act: 'none', alpha: 0, out: new Float32Array(9) })],
]) {
  let msg = '';
  try {
    fn();
  } catch (err) {
    msg = err.message;
  }
  checked++;
  if (!/^qconvI8: /.test(msg)) fail(`qconvI8 with ${what}: '${msg}'`);
}

let rejected = '';
try {
  C.im2colBf16(1, 1, 9, 4, 9, 15, Int32Array.of(1, 3, 3, 1, 2, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1), new Float32Array(9), new Uint16Array(36));
} catch (err) {
  rejected = err.message;
}
if (!/^im2colBf16: the geometry .* disagrees with/.test(rejected)) fail(`im2colBf16 with a 3x3 -> 2x2 geometry that padding 1 makes 3x3: '${rejected}'`);

const info = C.info();
console.log(JSON.stringify({ int8Path: info.int8Path, bf16Path: info.bf16Path, qconvPath: info.qconvPath, qconvBf16Path: info.qconvBf16Path, amx: info.amx, checked, failures }));

// Child process of conv-threads.test.ts, run at several MYELIN_NUM_THREADS: one image's convolution split across
// the threads by output channels (conv2dMaxPoolForward's Winograd and register-blocked paths at batch 1), and the
// packed few-row GEMV split by columns (a frozen Linear at batch 1), must give the bits of the unsplit paths.
//
//   [MYELIN_NUM_THREADS=n] [MYELIN_SIMD=avx2|scalar] node test/helpers/conv-threads-child.js <dist dir> <seed>
//
// Prints one JSON line: { simd, threads, digests: { case: sha1 of the output bytes }, problems: [...] }. Within the
// process it checks that each image's output at batch 1 equals its row of the batch-N output (batch N splits by
// images, not channels) and that no output element kept the NaN the output was filled with (every channel written).
'use strict';
const crypto = require('crypto');
const path = require('path');
const { C, rnd, arr } = require('./twin-child').twinChild();
const m = require(path.resolve(process.argv[2]));

const digests = {};
const problems = [];
const digest = (a) => crypto.createHash('sha1').update(Buffer.from(a.buffer, a.byteOffset, a.byteLength)).digest('hex');
const sameBits = (a, b) => Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

// conv2dMaxPoolForward, 3x3 padding 1 then a 2x2 stride-2 pool: Winograd for >= 32 channels in and out (and a
// product >= 2048), the register-blocked direct kernel for few input channels (patch < 64) and > 4 output channels.
const convCases = [
  ['winograd 32->64 14x14', 32, 64, 14],
  ['winograd 33->65 14x14', 33, 65, 14],
  ['winograd 64->33 15x13', 64, 33, 15, 13],
  ['winograd 48->48 12x12', 48, 48, 12],
  ['blocked 1->32 28x28', 1, 32, 28],
  ['blocked 3->17 28x28', 3, 17, 28],
  ['blocked 3->65 14x14', 3, 65, 14],
  ['blocked 2->5 27x25', 2, 5, 27, 25],
];
const N = 3;
for (const [name, Cin, OC, H, W0] of convCases) {
  const W = W0 ?? H;
  const POH = Math.floor(H / 2), POW = Math.floor(W / 2);
  const geom = Int32Array.from([Cin, H, W, OC, H, W, 3, 3, 1, 1, 1, 1, 1, 1, 1]);
  const pgeom = Int32Array.from([1, H, W, 1, POH, POW, 2, 2, 2, 2, 0, 0, 1, 1, 1]);
  const X = arr(N * Cin * H * W), Wt = arr(OC * Cin * 9, 0.3), bias = arr(OC, 0.1);
  const run = (n, x) => {
    const out = new Float32Array(n * OC * POH * POW).fill(NaN);
    C.conv2dMaxPoolForward({ N: n, C: Cin, OC, inPlane: H * W, outPlane: H * W, kArea: Cin * 9, poolPlane: POH * POW, G: 15,
      geom, pgeom, X: x, W: Wt, bias, act: 'relu', alpha: 0, out });
    return out;
  };
  const batch = run(N, X);
  const image = Cin * H * W, pooled = OC * POH * POW;
  for (let n = 0; n < N; n++) {
    const one = run(1, X.slice(n * image, (n + 1) * image));
    digests[`${name} image ${n}`] = digest(one);
    const firstNaN = one.findIndex(Number.isNaN);
    if (firstNaN >= 0) problems.push(`${name}: image ${n} alone left channel ${Math.floor(firstNaN / (POH * POW))} unwritten`);
    if (!sameBits(one, batch.subarray(n * pooled, (n + 1) * pooled))) problems.push(`${name}: image ${n} alone differs from its row of batch ${N}`);
  }
  digests[`${name} batch ${N}`] = digest(batch);
}

// Whole networks through predict: the Fashion CNN and one with odd channel counts everywhere (3 -> 33 -> 65
// channels, a Linear of 129 outputs: a partial last panel in the GEMV split), batch 1 against rows of batch 4.
const { nn } = m;
const nets = {
  fashion: [[1, 28, 28], () => new nn.Sequential(
    new nn.Conv2d(1, 32, 3, { padding: 1, seed: 11 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(32, 64, 3, { padding: 1, seed: 12 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Flatten(), new nn.Linear(64 * 7 * 7, 128, { seed: 13 }), new nn.ReLU(), new nn.Linear(128, 10, { seed: 14 }))],
  odd: [[3, 28, 28], () => new nn.Sequential(
    new nn.Conv2d(3, 33, 3, { padding: 1, seed: 21 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(33, 65, 3, { padding: 1, seed: 22 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Flatten(), new nn.Linear(65 * 7 * 7, 129, { seed: 23 }), new nn.ReLU(), new nn.Linear(129, 10, { seed: 24 }))],
};
for (const [name, [shape, make]] of Object.entries(nets)) {
  const model = make();
  model.eval();
  const B = 4, size = shape.reduce((a, b) => a * b);
  const xs = arr(B * size, 0.5, 0.5);
  const batch = model.predict(new m.Tensor(xs, [B, ...shape])).data;
  const outs = batch.length / B;
  for (let b = 0; b < B; b++) {
    const x = new m.Tensor(xs.slice(b * size, (b + 1) * size), [1, ...shape]);
    let y;
    for (let i = 0; i < 3; i++) y = model.predict(x).data;  // the third call runs on the packed frozen weights
    digests[`${name} predict row ${b}`] = digest(y);
    if (!sameBits(y, batch.subarray(b * outs, (b + 1) * outs))) problems.push(`${name}: predict of row ${b} alone differs from its row of batch ${B}`);
  }
}
void rnd;
console.log(JSON.stringify({ simd: `${C.info().simd}/gemm ${C.info().gemmSimd}`, threads: process.env.MYELIN_NUM_THREADS, digests, problems }));

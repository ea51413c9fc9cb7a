// Child process of layer-norm-kernel.test.ts: the C++ LayerNorm kernels (every call in C++) against
// their TypeScript twins on awkward shapes, at the SIMD level MYELIN_SIMD selects.
//
//   [MYELIN_SIMD=avx2|scalar] node test/helpers/layer-norm-twin.js <dist dir> <seed>
//
// Prints one JSON line: the level the GEMM/LayerNorm dispatch used, the cases checked, and the first
// disagreements (kernel, shape, output, index, C++ and TS values).
'use strict';
const { C, J, arr, compare, results } = require('./twin-child').twinChild();

const FEATURES = [1, 3, 8, 16, 17, 33, 65, 257, 1000];
const ROWS = [1, 2, 7, 64, 300];
for (const N of FEATURES) {
  for (const M of ROWS) {
    for (const affine of ['both', 'weight', 'bias', 'none']) {
      const shape = `M=${M} N=${N} affine=${affine}`;
      // rows offset from 0 (mean 3) and scaled (std ~2), so centring matters
      const x = arr(M * N, 2, 3);
      const weight = affine === 'both' || affine === 'weight' ? arr(N, 1, 0.5) : null;
      const bias = affine === 'both' || affine === 'bias' ? arr(N) : null;
      const eps = N === 1 ? 1e-3 : 1e-5;
      const fwd = (B) => {
        const y = new Float32Array(M * N);
        const mean = new Float32Array(M);
        const rstd = new Float32Array(M);
        B.layerNormForward({ M, N, x, weight, bias, eps, y, mean, rstd });
        return { y, mean, rstd };
      };
      const fc = fwd(C);
      const ft = fwd(J);
      compare(`layerNormForward ${shape} mean`, fc.mean, ft.mean, 1e-5);
      compare(`layerNormForward ${shape} rstd`, fc.rstd, ft.rstd, 1e-4);
      compare(`layerNormForward ${shape} y`, fc.y, ft.y, 1e-4);

      const dy = arr(M * N);
      for (const accumulate of [false, true]) {
        const start = arr(M * N);
        const startW = arr(N);
        const startB = arr(N);
        const bwd = (B) => {
          const dx = start.slice();
          const dWeight = weight ? startW.slice() : null;
          const dBias = bias ? startB.slice() : null;
          B.layerNormBackward({ M, N, x, weight, mean: ft.mean, rstd: ft.rstd, dy, dx, dWeight, dBias, accumulate });
          return { dx, dWeight, dBias };
        };
        const bc = bwd(C);
        const bt = bwd(J);
        const where = `layerNormBackward ${shape} accumulate=${accumulate}`;
        compare(`${where} dx`, bc.dx, bt.dx, 1e-4);
        // column sums over M rows: float32 accumulation in C++, float64 in TS
        if (weight) compare(`${where} dWeight`, bc.dWeight, bt.dWeight, 2e-6 * Math.sqrt(M) * 8);
        if (bias) compare(`${where} dBias`, bc.dBias, bt.dBias, 2e-6 * Math.sqrt(M) * 8);
      }
    }
  }
}
// dx aliasing dy, y aliasing x
{
  const [M, N] = [5, 65];
  const x = arr(M * N, 2, 1);
  const weight = arr(N);
  const y = new Float32Array(M * N);
  const mean = new Float32Array(M);
  const rstd = new Float32Array(M);
  J.layerNormForward({ M, N, x, weight, bias: null, eps: 1e-5, y, mean, rstd });
  const inPlace = x.slice();
  C.layerNormForward({ M, N, x: inPlace, weight, bias: null, eps: 1e-5, y: inPlace, mean: null, rstd: null });
  compare('layerNormForward y aliasing x', inPlace, y, 1e-4);
  const dy = arr(M * N);
  const dxT = new Float32Array(M * N);
  J.layerNormBackward({ M, N, x, weight, mean, rstd, dy, dx: dxT, dWeight: null, dBias: null, accumulate: false });
  const dyC = dy.slice();
  C.layerNormBackward({ M, N, x, weight, mean, rstd, dy: dyC, dx: dyC, dWeight: new Float32Array(N), dBias: null, accumulate: false });
  compare('layerNormBackward dx aliasing dy', dyC, dxT, 1e-4);
}
// Row blocks (M x N >= 65536): dx aliasing dy, and the same bits at 1, 2 and 3 threads (the dw/db partials are
// summed per fixed block of rows, whatever the thread count).
for (const [M, N] of [[512, 128], [300, 257]]) {
  const x = arr(M * N, 2, 1);
  const weight = arr(N);
  const mean = new Float32Array(M);
  const rstd = new Float32Array(M);
  J.layerNormForward({ M, N, x, weight, bias: null, eps: 1e-5, y: new Float32Array(M * N), mean, rstd });
  const dy = arr(M * N);
  const dxT = new Float32Array(M * N);
  J.layerNormBackward({ M, N, x, weight, mean, rstd, dy, dx: dxT, dWeight: null, dBias: null, accumulate: false });
  const dyC = dy.slice();
  C.layerNormBackward({ M, N, x, weight, mean, rstd, dy: dyC, dx: dyC, dWeight: new Float32Array(N), dBias: new Float32Array(N), accumulate: false });
  compare(`layerNormBackward M=${M} N=${N} dx aliasing dy`, dyC, dxT, 1e-4);
  const before = C.info().threads;
  const start = { dx: arr(M * N), dWeight: arr(N), dBias: arr(N) };
  const runs = [1, 2, 3].map((threads) => {
    C.setNumThreads(threads);
    const r = { dx: start.dx.slice(), dWeight: start.dWeight.slice(), dBias: start.dBias.slice() };
    C.layerNormBackward({ M, N, x, weight, mean, rstd, dy, ...r, accumulate: true });
    return r;
  });
  C.setNumThreads(before);
  for (const k of ['dx', 'dWeight', 'dBias']) {
    for (const t of [1, 2]) compare(`layerNormBackward M=${M} N=${N} ${k} at ${t + 1} threads vs 1 (bits)`, runs[t][k], runs[0][k], 0);
  }
}
process.stdout.write(JSON.stringify({ gemmSimd: C.info().gemmSimd, checked: results.checked, disagreements: results.disagreements.slice(0, 10) }) + '\n');

// GEMM case: C = A * B on square sizes 64..2048 and the MLP's layer shapes; native vs pure TS vs naive JS.
'use strict';
const { measureCase, randomArray } = require('../lib/cases');
const { naiveGemm } = require('../lib/naive');

/** Sizes per mode; each entry [M, N, K, label]. */
function gemmShapes(quick) {
  const squares = quick ? [64, 128, 256] : [64, 128, 256, 512, 1024, 2048];
  const shapes = squares.map((s) => [s, s, s, `gemm ${s}³`, `gemm ${s}³`]);
  // The reference MLP's first layer forward at batch 128: [128,784] x [784,256].
  shapes.push([128, 256, 784, 'gemm 128x256x784 (MLP layer 1 fwd)', 'gemm 128x256x784']);
  return shapes;
}

async function runGemm(ctx) {
  const records = [];
  const { maxJsGemm, maxNaiveGemm } = ctx.opts;
  for (const [M, N, K, label, short] of gemmShapes(ctx.opts.quick)) {
    const A = randomArray(M * K, 1);
    const B = randomArray(K * N, 2);
    const big = Math.max(M, N, K);
    const cands = [];
    for (const name of ['native', 'js']) {
      const b = ctx.backends[name];
      const C = new Float32Array(M * N);
      if (!b) cands.push({ name, skip: `backend unavailable: ${ctx.backendErrors[name] || 'not loaded'}` });
      else if (name === 'js' && big > maxJsGemm) cands.push({ name, skip: `size > --max-js-gemm ${maxJsGemm}` });
      else cands.push({ name, fn: () => b.gemm(false, false, M, N, K, 1, A, B, 0, C) });
    }
    const Cn = new Float32Array(M * N);
    if (big > maxNaiveGemm) cands.push({ name: 'naive', skip: `size > --max-naive-gemm ${maxNaiveGemm}` });
    else cands.push({ name: 'naive', fn: () => naiveGemm(M, N, K, A, B, Cn) });
    records.push(
      await measureCase(
        ctx,
        {
          id: `gemm-${M}x${N}x${K}`,
          group: 'gemm',
          label,
          short,
          shape: { M, N, K },
          display: { kind: 'rate', unit: 'GFLOP/s', work: (2 * M * N * K) / 1e9 },
          baseline: 'naive',
          fallbackBaseline: 'js',
        },
        cands,
      ),
    );
  }
  return records;
}

module.exports = { runGemm, gemmShapes };

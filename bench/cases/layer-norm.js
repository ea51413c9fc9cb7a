// LayerNorm case: the fused layerNormForward/layerNormBackward kernels (nn.LayerNorm) against the
// same normalisation composed from ops (mean, sub, mul, sqrt, div, add: what nn.LayerNorm ran before),
// forward only (inference) and forward + backward (a training step), on each backend.
'use strict';
const { measureCase, randomArray, backendCandidate } = require('../lib/cases');

const SHAPES = [[256, 512], [1024, 64]]; // rows x features

/** The composed LayerNorm (the ops nn.LayerNorm was made of before the fused kernels). */
function composed(m, x, weight, bias, eps) {
  const { add, div, mul, sqrt, sub, mean } = m.ops;
  const centred = sub(x, mean(x, -1, true));
  const variance = mean(mul(centred, centred), -1, true);
  return add(mul(div(centred, sqrt(add(variance, eps))), weight), bias);
}

async function runLayerNorm(ctx) {
  const m = ctx.myelin;
  const records = [];
  for (const [rows, features] of SHAPES) {
    for (const mode of ['inference', 'training']) {
      const cands = [];
      for (const backend of ['native', 'js']) {
        for (const impl of ['fused', 'composed']) {
          const ln = new m.nn.LayerNorm(features);
          ln.weight.data.set(randomArray(features, 5, 0.5, 1.5));
          ln.bias.data.set(randomArray(features, 6, -0.5, 0.5));
          const x = m.tensor(randomArray(rows * features, 7, -2, 3), [rows, features], { requiresGrad: mode === 'training' });
          const upstream = m.tensor(randomArray(rows * features, 8, -1, 1), [rows, features]);
          const forward = impl === 'fused' ? () => ln.forward(x) : () => composed(m, x, ln.weight, ln.bias, ln.eps);
          const fn = mode === 'inference'
            ? () => m.noGrad(forward)
            : () => {
              x.grad = null;
              ln.weight.grad = null;
              ln.bias.grad = null;
              m.sum(m.mul(forward(), upstream)).backward();
            };
          cands.push({ ...backendCandidate(ctx, backend, fn), name: `${backend} ${impl}` });
        }
      }
      records.push(
        await measureCase(
          ctx,
          {
            id: `layernorm-${mode}-${rows}x${features}`,
            group: 'layernorm',
            label: `LayerNorm ${mode === 'inference' ? 'forward' : 'forward + backward'}, ${rows} x ${features}`,
            short: `LayerNorm ${mode} ${rows}x${features}`,
            display: { kind: 'rate', unit: 'rows/s', work: rows },
            baseline: 'native composed',
            note: 'nn.LayerNorm (fused kernels) vs the same normalisation composed from ops; training adds sum(y * r).backward()',
          },
          cands,
        ),
      );
    }
  }
  return records;
}

module.exports = { runLayerNorm };

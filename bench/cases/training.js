// Training cases: MLP 784-256-128-10 step (batch 32/128/512), the same step in bf16 mixed precision against fp32
// (batch 128/512), one epoch, and the XOR 2-8-1 step.
'use strict';
const { measureCase, randomArray, randomLabels, backendCandidate } = require('../lib/cases');
const { api, buildMlp, buildXor, trainStep } = require('../lib/mlp');
const { loadFashion } = require('../lib/fashion');
const { NaiveMlp } = require('../lib/naive-mlp');
const { rng } = require('../lib/cases');

const MLP = [784, 256, 128, 10];
const POOL = 4; // distinct pre-built batches cycled through by the step benchmark

function stepCandidate(ctx, a, name, batch, precision = 'fp32') {
  const model = buildMlp(a, MLP, 7);
  const opt = new a.Adam(model.parameters(), { lr: 1e-3 });
  const xs = [];
  const ys = [];
  for (let p = 0; p < POOL; p++) {
    xs.push(a.tensor(randomArray(batch * MLP[0], 100 + p, 0, 1), [batch, MLP[0]]));
    ys.push(randomLabels(batch, MLP[MLP.length - 1], 200 + p));
  }
  let i = 0;
  const step = () => {
    const k = i++ % POOL;
    trainStep(model, opt, xs[k], ys[k], a.crossEntropy);
  };
  return backendCandidate(ctx, name, precision === 'fp32' ? step : () => ctx.myelin.autocast(precision, step));
}

/** The naive pure-JS MLP (plain loops, no library) on the same pool of batches. */
function naiveStepCandidate(batch) {
  const net = new NaiveMlp(MLP, rng(7));
  const xs = [];
  const ys = [];
  for (let p = 0; p < POOL; p++) {
    xs.push(randomArray(batch * MLP[0], 100 + p, 0, 1));
    ys.push(randomLabels(batch, MLP[MLP.length - 1], 200 + p));
  }
  let i = 0;
  return {
    name: 'naive',
    fn: () => {
      const k = i++ % POOL;
      net.trainStep(xs[k], ys[k], batch);
    },
  };
}

async function runTrainStep(ctx) {
  const a = api(ctx.myelin);
  const records = [];
  for (const batch of [32, 128, 512]) {
    const cands = ['native', 'js'].map((name) => (ctx.backends[name] ? stepCandidate(ctx, a, name, batch) : backendCandidate(ctx, name, null)));
    cands.push(naiveStepCandidate(batch));
    records.push(
      await measureCase(
        ctx,
        {
          id: `train-step-${batch}`,
          group: 'training',
          label: `MLP train step, batch ${batch}`,
          short: `MLP train step, batch ${batch}`,
          display: { kind: 'rate', unit: 'samples/s', work: batch },
          baseline: 'naive',
          note: 'MLP 784-256-128-10 ReLU, Adam lr 1e-3, softmax cross-entropy; steps on synthetic data of Fashion-MNIST shape',
        },
        cands,
      ),
    );
  }
  return records;
}

/**
 * bf16 mixed precision (autocast('bf16'): the matrix products on bf16 operands, fp32 weights, gradients and Adam
 * state) against fp32 on the same step, native backend, interleaved in one run: candidate 'native' is fp32,
 * 'bf16' the mixed-precision step; speedup.bf16 is their ratio.
 */
async function runTrainStepBf16(ctx) {
  const m = ctx.myelin;
  if (typeof m.autocast !== 'function') return [];
  if (!ctx.backends.native) return [];
  const a = api(m);
  const info = ctx.backends.native.info();
  const records = [];
  for (const batch of [128, 512]) {
    const cands = [stepCandidate(ctx, a, 'native', batch), { ...stepCandidate(ctx, a, 'native', batch, 'bf16'), name: 'bf16' }];
    records.push(
      await measureCase(
        ctx,
        {
          id: `train-step-bf16-${batch}`,
          group: 'training',
          label: `MLP train step, batch ${batch}, bf16 mixed precision vs fp32`,
          short: `MLP train step bf16, batch ${batch}`,
          display: { kind: 'rate', unit: 'samples/s', work: batch },
          baseline: 'native',
          note: `native backend: fp32 ('native') vs autocast('bf16') ('bf16'; mixed bf16 path ${info.mixedBf16Path}, ${info.threads} threads); ` +
            'MLP 784-256-128-10 ReLU, Adam lr 1e-3, synthetic batches of Fashion-MNIST shape',
          paths: { mixedBf16: info.mixedBf16Path },
        },
        cands,
      ),
    );
  }
  return records;
}

async function runEpoch(ctx) {
  const a = api(ctx.myelin);
  const data = await loadFashion(ctx);
  const batchSize = 128;
  const nNative = ctx.opts.quick ? Math.min(data.n, 10000) : data.n;
  const nJs = Math.min(data.n, Math.round(nNative * ctx.opts.jsEpochFraction));
  const make = (name, n) => {
    if (!ctx.backends[name]) return backendCandidate(ctx, name, null);
    const model = buildMlp(a, MLP, 11);
    const opt = new a.Adam(model.parameters(), { lr: 1e-3 });
    const x = a.tensor(data.x.subarray(0, n * MLP[0]), [n, MLP[0]]);
    const y = data.y.subarray(0, n);
    let fn;
    if (a.fit) {
      fn = () => a.fit(model, { x, y }, { epochs: 1, batchSize, shuffle: true, seed: 1, optimizer: opt, loss: 'crossEntropy', verbose: 0 });
    } else {
      // fit() not in this build yet: the same epoch as a plain loop over sequential batches.
      const batches = [];
      for (let s = 0; s < n; s += batchSize) {
        const e = Math.min(n, s + batchSize);
        batches.push([a.tensor(data.x.slice(s * MLP[0], e * MLP[0]), [e - s, MLP[0]]), data.y.slice(s, e)]);
      }
      fn = async () => {
        for (const [bx, by] of batches) trainStep(model, opt, bx, by, a.crossEntropy);
      };
    }
    // Samples/s is what is compared; the pure-TS candidate runs on a fraction of the epoch.
    return backendCandidate(ctx, name, fn, { async: true, iters: 1, opsPerCall: n });
  };
  const native = make('native', nNative);
  const js = make('js', nJs);
  const records = [];
  const rec = await measureCase(
    ctx,
    {
      id: `epoch-${batchSize}`,
      group: 'training',
      label: `MLP epoch, batch ${batchSize}`,
      short: `MLP epoch (${data.real ? 'Fashion-MNIST' : 'synthetic'}), batch ${batchSize}`,
      display: { kind: 'rate', unit: 'samples/s', work: 1 },
      baseline: 'js',
      note: `epoch: ${data.source}; native runs ${nNative} samples per epoch, pure TS ${nJs} (scaled to samples/s); ${a.fit ? 'myelin fit()' : 'plain batch loop (fit() not in this build)'}`,
      dataSource: data.source,
      samples: { native: nNative, js: nJs },
      fullEpochSamples: data.n,
    },
    [native, js],
    { reps: ctx.opts.epochReps, warmup: 0 },
  );
  if (rec.candidates.native && rec.candidates.native.status === 'ok') {
    rec.epochSeconds = { native: (rec.candidates.native.time.median * data.n) };
  }
  if (rec.candidates.js && rec.candidates.js.status === 'ok') {
    rec.epochSeconds = { ...(rec.epochSeconds || {}), js: rec.candidates.js.time.median * data.n };
  }
  records.push(rec);
  return records;
}

async function runXor(ctx) {
  const a = api(ctx.myelin);
  const X = a.tensor(new Float32Array([0, 0, 0, 1, 1, 0, 1, 1]), [4, 2]);
  const Y = a.tensor(new Float32Array([0, 1, 1, 0]), [4, 1]);
  const cands = ['native', 'js'].map((name) => {
    if (!ctx.backends[name]) return backendCandidate(ctx, name, null);
    const model = buildXor(a, 5);
    const opt = new a.SGD(model.parameters(), { lr: 0.5, momentum: 0.9 });
    return backendCandidate(ctx, name, () => trainStep(model, opt, X, Y, a.mseLoss));
  });
  return [
    await measureCase(
      ctx,
      {
        id: 'xor-step',
        group: 'training',
        label: 'XOR 2-8-1 train step (batch 4, SGD)',
        short: 'XOR 2-8-1 train step',
        display: { kind: 'time', unit: 'µs/step', scale: 1e6 },
        baseline: 'js',
      },
      cands,
    ),
  ];
}

module.exports = { runTrainStep, runTrainStepBf16, runEpoch, runXor, stepCandidate, MLP };

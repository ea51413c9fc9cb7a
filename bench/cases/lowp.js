// Low-precision inference: the 784-256-128-10 MLP at batch 1024 and the example CNN at batches 256 and 1024, float32 vs
// quantize(model, int8 / bf16), all on the native backend, and onnxruntime-node on the QDQ exports, interleaved
// in one run (samples/s, medians).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { measureCase, randomArray, backendCandidate } = require('../lib/cases');
const { api, buildMlp } = require('../lib/mlp');
const { MLP } = require('./training');

const BATCH = 1024;

async function runLowp(ctx) {
  const m = ctx.myelin;
  if (typeof m.quantize !== 'function') return [skipped(ctx, 'quantize() not in this build')];
  if (!ctx.backends.native) return [skipped(ctx, `native backend unavailable: ${ctx.backendErrors.native}`)];
  ctx.setBackend('native');
  const a = api(m);
  const model = buildMlp(a, MLP, 13);
  model.eval();
  const x = a.tensor(randomArray(BATCH * MLP[0], 1300, 0, 1), [BATCH, MLP[0]]);
  const info = ctx.backends.native.info();
  const cands = await lowpCandidates(ctx, model, x);
  const rec = await measureCase(
    ctx,
    {
      id: 'lowp-1024',
      group: 'lowp',
      label: `MLP ${MLP.join('-')} inference, batch ${BATCH}`,
      short: `MLP inference, batch ${BATCH}`,
      display: { kind: 'rate', unit: 'samples/s', work: BATCH },
      baseline: 'native',
      note: `model.predict: float32 vs quantize(model, { dtype }) (int8: dynamic per-row scales, int8static: calibrated; ` +
        'ort-*: onnxruntime-node 2 threads on the same models exported as QDQ ONNX; ' +
        `int8 path ${info.int8Path}, bf16 path ${info.bf16Path}, gemm ${info.gemmSimd}, AMX ${info.amx ?? 'not reported'}, ${info.threads} threads)`,
      paths: { int8: info.int8Path, bf16: info.bf16Path, amx: info.amx },
    },
    cands,
  );
  return [rec, await runLowpCnn(ctx, info, 256), await runLowpCnn(ctx, info, 1024)];
}

/**
 * The lowp group's candidates for one float32 model and input: float32, int8 (dynamic and calibrated on `x`) and bf16,
 * every one on the native backend (selected before each timed block), and the peer: onnxruntime-node running the
 * int8 models exported as QDQ ONNX (2 threads, all optimisations; left out of --quick smoke runs: two more sessions
 * to build and time).
 */
async function lowpCandidates(ctx, model, x) {
  const m = ctx.myelin;
  const int8 = m.quantize(model, { dtype: 'int8' });
  const int8Static = m.quantize(model, { dtype: 'int8', calibration: x });
  const bf16 = m.quantize(model, { dtype: 'bf16' });
  const onNative = (name, fn) => ({ ...backendCandidate(ctx, 'native', fn), name });
  return [
    onNative('native', () => model.predict(x)),
    onNative('int8', () => int8.predict(x)),
    onNative('int8static', () => int8Static.predict(x)),
    onNative('bf16', () => bf16.predict(x)),
    ...(ctx.opts.quick ? [] : await ortCandidates(m, { 'ort-int8': int8, 'ort-int8static': int8Static }, x)),
  ];
}

/** The example CNN (conv 32 - pool - conv 64 - pool - linear 128 - linear 10) on 28x28 images at batch batch. */
async function runLowpCnn(ctx, info, batch) {
  const m = ctx.myelin;
  const { nn } = m;
  const model = new nn.Sequential([
    new nn.Conv2d(1, 32, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(32, 64, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Flatten(), new nn.Linear(64 * 7 * 7, 128), new nn.ReLU(), new nn.Linear(128, 10),
  ], { seed: 13 });
  model.eval();
  const x = m.tensor(randomArray(batch * 784, 1301, 0, 1), [batch, 1, 28, 28]);
  // The peer runs the QDQ exports (Q/DQ around each Conv, which onnxruntime may fuse into its int8 convolution; the
  // dynamic per-image scale is computed in the graph on the image reshaped to one row; the fused pool is a MaxPool).
  const cands = await lowpCandidates(ctx, model, x);
  return measureCase(
    ctx,
    {
      id: `lowp-cnn-${batch}`,
      group: 'lowp',
      label: `CNN (conv 32 - pool - conv 64 - pool - 128 - 10) inference, batch ${batch}`,
      short: `CNN inference, batch ${batch}`,
      display: { kind: 'rate', unit: 'samples/s', work: batch },
      baseline: 'native',
      note: `model.predict on 28x28 images: float32 vs quantize(model, { dtype }) (int8: dynamic per-image scales, int8static: calibrated; direct int8 convolution with the max pooling fused; ` +
        'ort-*: onnxruntime-node 2 threads on the same models exported as QDQ ONNX; ' +
        `int8 path ${info.int8Path}, int8 conv ${info.qconvPath}, bf16 path ${info.bf16Path}, AMX ${info.amx ?? 'not reported'}, ${info.threads} threads)`,
      paths: { int8: info.int8Path, bf16: info.bf16Path, qconv: info.qconvPath, amx: info.amx },
    },
    cands,
  );
}

/** onnxruntime-node sessions on the QDQ exports of the quantised models, as async candidates (or skips). */
async function ortCandidates(m, models, x) {
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (err) {
    return Object.keys(models).map((name) => ({ name, skip: `onnxruntime-node unavailable: ${err.message.split('\n')[0]}` }));
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-lowp-'));
  try {
    const out = [];
    for (const [name, q] of Object.entries(models)) {
      const file = path.join(dir, `${name}.onnx`);
      await m.onnx.exportModel(q, file, { inputShape: [1, ...x.shape.slice(1)] });
      const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 2, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
      const feeds = { input: new ort.Tensor('float32', x.data, x.shape) };
      out.push({ name, async: true, fn: () => session.run(feeds) });
    }
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function skipped(ctx, reason) {
  const rec = { id: 'lowp-1024', group: 'lowp', label: `MLP inference, batch ${BATCH}`, display: { kind: 'rate', unit: 'samples/s', work: BATCH }, candidates: { native: { status: 'skipped', reason } }, speedup: {} };
  ctx.log(`  lowp skipped: ${reason}`);
  return rec;
}

module.exports = { runLowp };

// Inference cases: MLP 784-256-128-10 batch-1 latency (µs) and batch-1024 throughput (samples/s).
'use strict';
const { measureCase, randomArray, backendCandidate } = require('../lib/cases');
const { api, buildMlp, predictor } = require('../lib/mlp');
const { MLP } = require('./training');
const { NaiveMlp } = require('../lib/naive-mlp');
const { rng } = require('../lib/cases');

async function runInference(ctx) {
  const a = api(ctx.myelin);
  const records = [];
  const models = {};
  const asyncModels = {};
  for (const name of ['native', 'js']) {
    const model = buildMlp(a, MLP, 13);
    if (typeof model.eval === 'function') model.eval();
    models[name] = predictor(a, model);
    if (typeof model.predictAsync === 'function') asyncModels[name] = (x) => model.predictAsync(x);
  }
  for (const batch of [1, 1024]) {
    const x = a.tensor(randomArray(batch * MLP[0], 300 + batch, 0, 1), [batch, MLP[0]]);
    const cands = ['native', 'js'].map((name) => backendCandidate(ctx, name, () => models[name](x)));
    const naive = new NaiveMlp(MLP, rng(13));
    cands.push({ name: 'naive', fn: () => naive.forward(x.data, batch) });
    const latency = batch === 1;
    records.push(
      await measureCase(
        ctx,
        {
          id: `infer-${batch}`,
          group: 'inference',
          label: latency ? 'MLP inference latency, batch 1' : 'MLP inference throughput, batch 1024',
          short: latency ? 'MLP inference, batch 1' : 'MLP inference, batch 1024',
          display: latency ? { kind: 'time', unit: 'µs', scale: 1e6 } : { kind: 'rate', unit: 'samples/s', work: batch },
          baseline: 'naive',
          note: 'model.predict (eval mode, no autograd tape)',
        },
        cands,
      ),
    );
    if (!asyncModels.native && !asyncModels.js) continue;
    // The non-blocking serving path: backend.forwardAsync (a native pool worker; js runs in slices).
    const asyncCands = ['native', 'js'].map((name) =>
      asyncModels[name] ? backendCandidate(ctx, name, () => asyncModels[name](x), { async: true }) : { name, skip: 'predictAsync not in this build' },
    );
    records.push(
      await measureCase(
        ctx,
        {
          id: `infer-async-${batch}`,
          group: 'inference',
          label: latency ? 'MLP predictAsync latency, batch 1' : 'MLP predictAsync throughput, batch 1024',
          short: latency ? 'MLP predictAsync, batch 1' : 'MLP predictAsync, batch 1024',
          display: latency ? { kind: 'time', unit: 'µs', scale: 1e6 } : { kind: 'rate', unit: 'samples/s', work: batch },
          baseline: 'js',
          note: 'predictAsync: fused dense-layer plan run by backend.forwardAsync, awaited',
        },
        asyncCands,
      ),
    );
  }
  return records;
}

module.exports = { runInference };

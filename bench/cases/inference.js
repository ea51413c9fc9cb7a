// Inference cases: MLP 784-256-128-10 batch-1 latency (µs) and batch-1024 throughput (samples/s).
'use strict';
const { measureCase, randomArray, backendCandidate } = require('../lib/cases');
const { pairedRatio, summarize } = require('../lib/stats');
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
    if (asyncModels.native && ctx.backends.native) records.push(await pairedAsyncCase(ctx, batch, () => models.native(x), () => asyncModels.native(x)));
  }
  return records;
}

/** The regression guard's thresholds: predictAsync's throughput at batch 1024 and its extra latency at batch 1. */
const ASYNC_MIN_RATIO = 0.9;
const ASYNC_MAX_EXTRA_US = 15;

/**
 * predict and predictAsync of one native model in the same interleaved run (adjacent blocks), compared pair by pair:
 * at batch 1024 predictAsync's throughput relative to predict's (flagged below 0.9), at batch 1 its extra latency
 * (flagged above 15 µs). The separate infer-* and infer-async-* records above are measured apart, so their ratio mixes
 * in whatever the machine did between them; this one is the guard.
 */
async function pairedAsyncCase(ctx, batch, predict, predictAsync) {
  const latency = batch === 1;
  const rec = await measureCase(
    ctx,
    {
      id: `infer-async-paired-${batch}`,
      group: 'inference',
      chart: false,
      label: latency ? 'predictAsync vs predict, batch 1 (paired blocks)' : 'predictAsync vs predict, batch 1024 (paired blocks)',
      short: latency ? 'predictAsync - predict, batch 1' : 'predictAsync / predict, batch 1024',
      display: latency ? { kind: 'time', unit: 'µs', scale: 1e6 } : { kind: 'rate', unit: 'samples/s', work: batch },
      baseline: 'predict',
      note: 'native backend, one model, predict and predictAsync in alternating blocks; the ratio is the median over pairs of adjacent blocks',
    },
    [
      backendCandidate(ctx, 'native', predict, {}),
      backendCandidate(ctx, 'native', predictAsync, { async: true }),
    ].map((c, i) => ({ ...c, name: i === 0 ? 'predict' : 'predictAsync' })),
  );
  const p = rec.candidates.predict;
  const a = rec.candidates.predictAsync;
  if (!p || !a || p.status !== 'ok' || a.status !== 'ok') return rec;
  if (latency) {
    const extra = summarize(a.samples.map((t, i) => (t - p.samples[i]) * 1e6));
    rec.paired = { kind: 'extra-latency', unit: 'µs', median: extra.median, halfIqr: extra.iqr / 2, min: extra.min, max: extra.max, n: extra.n, limit: ASYNC_MAX_EXTRA_US, flagged: extra.median > ASYNC_MAX_EXTRA_US };
    ctx.log(`  predictAsync - predict at batch 1: ${extra.median >= 0 ? '+' : ''}${extra.median.toFixed(1)} µs ±${(extra.iqr / 2).toFixed(1)} over ${extra.n} pairs${rec.paired.flagged ? ` ABOVE the ${ASYNC_MAX_EXTRA_US} µs limit` : ''}`);
  } else {
    const r = pairedRatio(a.samples, p.samples);
    rec.paired = { kind: 'throughput-ratio', median: r.median, halfIqr: r.halfIqr, min: r.min, max: r.max, n: r.n, limit: ASYNC_MIN_RATIO, flagged: r.median < ASYNC_MIN_RATIO };
    ctx.log(`  predictAsync / predict at batch ${batch}: ${r.median.toFixed(3)}x ±${(r.halfIqr * 100).toFixed(1)}% over ${r.n} pairs${rec.paired.flagged ? ` BELOW ${ASYNC_MIN_RATIO}` : ''}`);
  }
  return rec;
}

module.exports = { runInference };

// Input pipeline cases: samples/s of data.Dataset over the reference pixel CSV (parse, scale by 1/255, batch) with 0, 1 and 2 worker threads, and fit() over it against fit() over the same batches in memory.
'use strict';
const fs = require('fs');
const { measureCase } = require('../lib/cases');
const { pixelCsv } = require('./csv-predict');

/**
 * The map stage: pixels to [0, 1] in a new batch, and a class label per row (the first pixel mod 10:
 * the file has no label column). Self-contained: it runs on worker threads as source text.
 */
function scalePixels(b) {
  const x = new Float32Array(b.x.length);
  for (let i = 0; i < x.length; i++) x[i] = b.x[i] * (1 / 255);
  const y = new Int32Array(b.n);
  for (let r = 0; r < b.n; r++) y[r] = b.x[r * b.features] % 10;
  return { x, y, n: b.n, features: b.features };
}

/** The reference MLP (784-256-128-10 ReLU), seeded. */
function mlp(nn) {
  return new nn.Sequential(
    new nn.Linear(784, 256, { seed: 1 }), new nn.ReLU(), new nn.Linear(256, 128, { seed: 2 }), new nn.ReLU(), new nn.Linear(128, 10, { seed: 3 }),
  );
}

async function runPipeline(ctx) {
  const rows = ctx.opts.quick ? 10_000 : 100_000;
  const file = pixelCsv(rows);
  const mb = fs.statSync(file).size / 1e6;
  const { Dataset } = ctx.myelin.data;
  if (typeof Dataset !== 'function') throw new Error('pipeline bench: this build has no data.Dataset');
  const records = [];
  for (const workers of [0, 1, 2]) {
    const pipeline = Dataset.fromCsv(file, { batchSize: 256, workers }).map(scalePixels, { workers }).prefetch(4);
    const busy = []; // main-thread busy ms per pass (event-loop utilisation): what workers take off the training thread
    const record = await measureCase(
      ctx,
      {
        id: `pipeline-csv-${rows / 1000}k-w${workers}`,
        group: 'pipeline',
        chart: false,
        label: `Dataset.fromCsv(...).map(scale).prefetch(4), ${workers} worker${workers === 1 ? '' : 's'}: ${rows.toLocaleString('en-US')} x 784 pixel rows (${mb.toFixed(0)} MB)`,
        short: `pipeline ${workers}w ${rows / 1000}k x 784`,
        note: 'one pass over the reference pixel CSV (the csvpredict file): parsing (the CSV reader, its parse pool with workers > 0), a map that scales each batch of 256 rows to [0, 1] (on worker threads with workers > 0, batches transferred), prefetch 4; samples/s reaching the consumer',
        display: { kind: 'rate', unit: 'samples/s', work: rows },
        baseline: 'native',
      },
      [{
        name: 'native', async: true, iters: 1,
        fn: async () => {
          let n = 0;
          const elu = performance.eventLoopUtilization();
          for await (const b of pipeline) n += b.n;
          busy.push(performance.eventLoopUtilization(elu).active);
          if (n !== rows) throw new Error(`pipeline bench: read ${n} rows, expected ${rows}`);
        },
      }],
      { warmup: 0, reps: Math.min(ctx.opts.reps, 3) },
    );
    busy.sort((a, b) => a - b);
    record.mainThreadBusyMs = busy[Math.floor(busy.length / 2)];
    ctx.log(`    main thread busy ${record.mainThreadBusyMs.toFixed(0)} ms per pass (median of ${busy.length})`);
    records.push(record);
  }
  // Does the pipeline keep up with training? fit() over the pipeline (0 and 2 workers) against fit()
  // over the same batches already in memory (the training step alone).
  const fitRows = ctx.opts.quick ? 5_120 : 20_480;
  const { nn, fit } = ctx.myelin;
  const stream = (workers) => Dataset.fromCsv(file, { batchSize: 256, workers }).map(scalePixels, { workers }).take(fitRows / 256).prefetch(4);
  const inMemory = await stream(0).toArray();
  const fitCase = (name, ds, background = false) => ({
    name, async: true, iters: 1,
    fn: async () => {
      let n = 0;
      await fit(mlp(nn), ds, { epochs: 1, verbose: 0, background, onBatchEnd: (_b, logs) => { n += logs.size; } });
      if (n !== fitRows) throw new Error(`pipeline bench: trained on ${n} rows, expected ${fitRows}`);
    },
  });
  const cases = [
    ['memory', 'batches already in memory (the training step alone)', Dataset.fromGenerator(() => inMemory, { batched: true })],
    ['w0', 'the pipeline, 0 workers', stream(0)],
    ['w2', 'the pipeline, 2 workers', stream(2)],
    // Training on a worker thread (fit's background option): the pipeline is read here and fed to it.
    ['w2-background', 'the pipeline, 2 workers, background training', stream(2), true],
  ];
  for (const [id, what, ds, background] of cases) {
    records.push(
      await measureCase(
        ctx,
        {
          id: `pipeline-fit-${id}`,
          group: 'pipeline',
          chart: false,
          label: `fit(784-256-128-10 MLP, batch 256) on ${fitRows.toLocaleString('en-US')} pixel rows: ${what}`,
          short: `fit pipeline ${id}`,
          note: 'one epoch of fit over the first rows of the reference pixel CSV; when the pipeline rows come close to the in-memory row, the input keeps up with training',
          display: { kind: 'rate', unit: 'samples/s', work: fitRows },
          baseline: 'native',
        },
        [fitCase('native', ds, background === true)],
        { warmup: 0, reps: Math.min(ctx.opts.reps, 3) },
      ),
    );
  }
  return records;
}

module.exports = { runPipeline };

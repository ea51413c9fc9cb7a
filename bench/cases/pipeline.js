// Input pipeline case: samples/s of data.Dataset over the reference pixel CSV (parse, scale by 1/255, batch) with 0, 1 and 2 worker threads.
'use strict';
const fs = require('fs');
const { measureCase } = require('../lib/cases');
const { pixelCsv } = require('./csv-predict');

/** The map stage: pixels to [0, 1] in a new batch (self-contained: it runs on worker threads as source text). */
function scalePixels(b) {
  const x = new Float32Array(b.x.length);
  for (let i = 0; i < x.length; i++) x[i] = b.x[i] * (1 / 255);
  return { x, n: b.n, features: b.features };
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
    records.push(
      await measureCase(
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
            for await (const b of pipeline) n += b.n;
            if (n !== rows) throw new Error(`pipeline bench: read ${n} rows, expected ${rows}`);
          },
        }],
        { warmup: 0, reps: Math.min(ctx.opts.reps, 3) },
      ),
    );
  }
  return records;
}

module.exports = { runPipeline };

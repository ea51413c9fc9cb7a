// One rank of the streamed-dataset distributed tests (test/distributed-dataset.test.ts): trains a small MLP
// with fit(model, data.Dataset.fromCsv(csv).shuffle(64, { seed: 3 }), { distributed }) and writes its final
// weights and history as JSON. argv: csvFile outFile batchSize epochs [stepsPerEpoch] [csvBatch];
// csvBatch: read the CSV as the parser's batches of that many rows (a dataset of batches) instead of rows.
// RANK / WORLD_SIZE / MYELIN_RENDEZVOUS from the environment (as `myelin run` sets them), or a world of one.
'use strict';
const fs = require('fs');
const m = require(process.env.MYELIN_DIST_ENTRY || '../../dist/index.js');

async function main() {
  const [csv, outFile, batchSize, epochs, stepsPerEpoch, csvBatch] = process.argv.slice(2);
  const g = m.distributed.init({ timeoutMs: Number(process.env.TEST_TIMEOUT_MS || 20000) });
  let ds = m.data.Dataset.fromCsv(csv, { labelColumn: 'label', task: 'classification', ...(csvBatch ? { batchSize: Number(csvBatch) } : {}) });
  if (!csvBatch) ds = ds.shuffle(64, { seed: 3 });
  // Each rank initialises differently: rank 0's weights must win (broadcast).
  const model = new m.nn.Sequential(new m.nn.Linear(64, 24), new m.nn.ReLU(), new m.nn.Linear(24, 10), { seed: 11 + g.rank });
  let steps = 0;
  const history = await m.fit(model, ds, {
    epochs: Number(epochs), ...(csvBatch ? {} : { batchSize: Number(batchSize) }), optimizer: 'adam', lr: 0.01, verbose: 0,
    ...(stepsPerEpoch && stepsPerEpoch !== '0' ? { stepsPerEpoch: Number(stepsPerEpoch) } : {}),
    distributed: g.worldSize > 1 ? { bucketBytes: 2048 } : undefined,
    onBatchEnd: () => { steps++; },
  });
  const weights = model.parameters().map((p) => Array.from(p.data));
  fs.writeFileSync(outFile.replace('RANK', String(g.rank)), JSON.stringify({ rank: g.rank, steps, loss: history.loss, weights }));
  m.distributed.destroy();
}

main().catch((err) => {
  process.stderr.write(`rank ${process.env.RANK}: ${err && err.message}\n`);
  process.exit(1);
});

// One rank of the synchronised-BatchNorm tests (test/distributed-bn.test.ts): trains a small CNN with
// BatchNorm2d and BatchNorm1d on the embedded digits (8x8 images) with fit({ distributed }), optionally
// after distributed.syncBatchNorm(model), and writes its final weights and BatchNorm running statistics.
// argv: outFile batchSize epochs sync(0|1) [rows]; RANK / WORLD_SIZE / MYELIN_RENDEZVOUS from the environment.
'use strict';
const fs = require('fs');
const m = require(process.env.MYELIN_DIST_ENTRY || '../../dist/index.js');

async function main() {
  const [outFile, batchSize, epochs, sync, rows = '203'] = process.argv.slice(2);
  const g = m.distributed.init({ timeoutMs: Number(process.env.TEST_TIMEOUT_MS || 20000) });
  const digits = m.data.loadDigits({ seed: 1 });
  const n = Number(rows);
  const x = m.tensor(digits.train.x.slice(0, n * 64), [n, 1, 8, 8]);
  const y = digits.train.y.slice(0, n);
  const { nn } = m;
  const model = new nn.Sequential(
    new nn.Conv2d(1, 4, 3, { padding: 1, bias: false }), new nn.BatchNorm2d(4), new nn.ReLU(),
    new nn.Flatten(), new nn.Linear(256, 16, { bias: false }), new nn.BatchNorm1d(16), new nn.ReLU(), new nn.Linear(16, 10), { seed: 5 + g.rank },
  );
  const synced = sync === '1' ? m.distributed.syncBatchNorm(model) : 0;
  const history = await m.fit(model, { x, y }, {
    epochs: Number(epochs), batchSize: Number(batchSize), seed: 2, optimizer: 'adam', lr: 0.01, verbose: 0,
    distributed: g.worldSize > 1 ? { bucketBytes: 1024 } : undefined,
  });
  const weights = model.parameters().map((p) => Array.from(p.data));
  const buffers = model.namedBuffers().map(([, t]) => Array.from(t.data));
  fs.writeFileSync(outFile.replace('RANK', String(g.rank)), JSON.stringify({ rank: g.rank, synced, loss: history.loss, weights, buffers }));
  m.distributed.destroy();
}

main().catch((err) => {
  process.stderr.write(`rank ${process.env.RANK}: ${err && err.stack}\n`);
  process.exit(1);
});

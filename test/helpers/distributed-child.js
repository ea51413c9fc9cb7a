// One rank of the distributed-training tests (test/distributed.test.ts): trains a small MLP on the
// embedded digits with fit({ distributed }) and writes its final weights (and reducer stats) as JSON.
// argv: outFile batchSize epochs [failAtStep [exit|kill|hang]] (the last rank exits with code 7, is killed by SIGKILL, or hangs, at that step); RANK / WORLD_SIZE / MYELIN_RENDEZVOUS from the environment
// (as `myelin run` sets them), or a world of one; TEST_BACKEND=mpi: the ranks mpirun started. TEST_VERBOSE, TEST_CHECKPOINT_DIR and TEST_RESUME_FROM
// set fit's verbose, checkpointDir and resumeFrom.
'use strict';
const fs = require('fs');
const m = require(process.env.MYELIN_DIST_ENTRY || '../../dist/index.js');

async function main() {
  const [outFile, batchSize, epochs, dieAt, how = 'exit'] = process.argv.slice(2);
  const g = m.distributed.init({ timeoutMs: Number(process.env.TEST_TIMEOUT_MS || 20000), ...(process.env.TEST_BACKEND ? { backend: process.env.TEST_BACKEND } : {}) });
  const digits = m.data.loadDigits({ seed: 1 });
  const n = 203; // not a multiple of 2 or 3: the last batch is ragged and some ranks run out first
  const x = m.tensor(digits.train.x.slice(0, n * 64), [n, 64]);
  const y = digits.train.y.slice(0, n);
  // Each rank initialises differently: rank 0's weights must win (broadcast).
  const model = new m.nn.Sequential(new m.nn.Linear(64, 32), new m.nn.ReLU(), new m.nn.Linear(32, 10), { seed: 7 + g.rank });
  let step = 0;
  const history = await m.fit(model, { x, y }, {
    epochs: Number(epochs), batchSize: Number(batchSize), seed: 5, optimizer: 'adam', lr: 0.01, verbose: Number(process.env.TEST_VERBOSE || 0),
    ...(process.env.TEST_CHECKPOINT_DIR ? { checkpointDir: process.env.TEST_CHECKPOINT_DIR } : {}),
    ...(process.env.TEST_RESUME_FROM ? { resumeFrom: process.env.TEST_RESUME_FROM } : {}),
    distributed: { bucketBytes: 4096 },
    onBatchEnd: () => {
      step++;
      if (dieAt === undefined || g.rank !== g.worldSize - 1 || step !== Number(dieAt)) return;
      if (how === 'kill') process.kill(process.pid, 'SIGKILL'); // dies without any exit code or handler
      if (how === 'hang') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120000); // stuck, sockets open
      process.exit(7);
    },
  });
  const weights = model.parameters().map((p) => Array.from(p.data));
  const file = outFile.replace('RANK', String(g.rank));
  fs.writeFileSync(file, JSON.stringify({ rank: g.rank, worldSize: g.worldSize, loss: history.loss, weights }));
  m.distributed.destroy();
}

main().catch((err) => {
  process.stderr.write(`rank ${process.env.RANK ?? process.env.OMPI_COMM_WORLD_RANK}: ${err && err.message}\n`);
  process.exit(1);
});

#!/usr/bin/env node
// predictAsync against predict on quantised models: the int8 reference MLP (784-256-128-10) and the example
// CNN (conv 32 - pool - conv 64 - pool - linear 128 - linear 10), at batch 1024 (throughput) and batch 1
// (latency), interleaved rounds, medians. Wall time per call and process CPU time per call (user+sys, all
// threads: steadier on a loaded machine).
//
//   node bench/lowp-async.js [--rounds 15] [--dtype int8|bf16|float32] [--cnn-batch 1024]
'use strict';
const os = require('os');
const m = require('..');

function opt(name, fallback) {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : process.argv[i + 1];
}

async function main() {
  const rounds = Number(opt('--rounds', 15));
  const dtype = opt('--dtype', 'int8');
  const cnnBatch = Number(opt('--cnn-batch', 1024));
  m.setBackend('native');
  const { nn } = m;
  const mlp = new nn.Sequential([new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 128), new nn.ReLU(), new nn.Linear(128, 10)], { seed: 13 });
  const cnn = new nn.Sequential([
    new nn.Conv2d(1, 32, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(32, 64, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Flatten(), new nn.Linear(64 * 7 * 7, 128), new nn.ReLU(), new nn.Linear(128, 10),
  ], { seed: 13 });
  mlp.eval();
  cnn.eval();
  let s = 1300;
  const rand = (n) => Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32));
  const q = (model) => (dtype === 'float32' ? model : m.quantize(model, { dtype }));
  const cases = [
    { name: 'MLP', model: q(mlp), shape: [784], batches: [1024, 1] },
    { name: 'CNN', model: q(cnn), shape: [1, 28, 28], batches: [cnnBatch, 1] },
  ];
  console.log(`CPU ${os.cpus()[0].model}, ${dtype}, int8 path ${m.info().int8Path}, threads ${m.info().threads}, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const median = (a) => a.slice().sort((p, r) => p - r)[a.length >> 1];
  for (const c of cases) {
    for (const batch of c.batches) {
      const x = m.tensor(rand(batch * c.shape.reduce((a, b) => a * b, 1)), [batch, ...c.shape]);
      // Enough calls per timed block for ~20 ms of work.
      const calls = batch === 1 ? 200 : c.name === 'CNN' ? 1 : 5;
      const cands = { predict: async () => c.model.predict(x), predictAsync: () => m.predictAsync(c.model, x) };
      const a = await cands.predict(), b = await cands.predictAsync();
      let diff = 0;
      for (let i = 0; i < a.size; i++) diff = Math.max(diff, Math.abs(a.data[i] - b.data[i]));
      const wall = { predict: [], predictAsync: [] }, cpu = { predict: [], predictAsync: [] };
      for (let r = 0; r < rounds; r++) {
        for (const name of r % 2 === 0 ? ['predict', 'predictAsync'] : ['predictAsync', 'predict']) {
          const u0 = process.cpuUsage();
          const t0 = process.hrtime.bigint();
          for (let k = 0; k < calls; k++) await cands[name]();
          const t = Number(process.hrtime.bigint() - t0) / 1e3 / calls;
          const u = process.cpuUsage(u0);
          wall[name].push(t);
          cpu[name].push((u.user + u.system) / calls);
        }
      }
      const line = (name) => `${name.padEnd(12)} wall ${median(wall[name]).toFixed(1).padStart(9)} us/call (${(batch / median(wall[name]) * 1e6).toFixed(0).padStart(8)} samples/s)  cpu ${median(cpu[name]).toFixed(1).padStart(9)} us/call`;
      console.log(`${c.name} batch ${batch} (max |predict - predictAsync| ${diff}):`);
      console.log(`  ${line('predict')}`);
      console.log(`  ${line('predictAsync')}`);
      console.log(`  predictAsync/predict: wall ${(median(wall.predictAsync) / median(wall.predict)).toFixed(3)}x time (${(median(wall.predictAsync) - median(wall.predict)).toFixed(1)} us), cpu ${(median(cpu.predictAsync) / median(cpu.predict)).toFixed(3)}x`);
    }
  }
  console.log(`load after: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
}

main().catch((err) => {
  console.error(`lowp-async: ${err.stack}`);
  process.exit(1);
});

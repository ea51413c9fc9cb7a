#!/usr/bin/env node
// bf16 mixed-precision training accuracy on Fashion-MNIST: the reference MLP (784-256-128-10, ReLU, Adam 1e-3,
// batch 128) trained with fit() in fp32 and in bf16 (fit's precision option: the matrix products on bf16
// operands, weights / gradients / optimizer state in float32) from the same initial weights and shuffle seed,
// each evaluated on the 10,000 test images in float32 after every epoch. Prints one line per epoch and a JSON line.
//
//   node bench/bf16-train-accuracy.js [--dir DIR] [--epochs 5] [--seeds 1,2,3] [--batch 128]
//
// Runs on the built package (npm run build:ts) and the native backend.
'use strict';
const os = require('os');
const myelin = require('..');
const { nn, data, fit, tensor } = myelin;

function args(argv) {
  const o = { dir: undefined, epochs: 5, seeds: [1], batch: 128 };
  for (let i = 2; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (v === undefined) throw new Error(`${k} needs a value`);
    if (k === '--dir') o.dir = v;
    else if (k === '--epochs') o.epochs = Number(v);
    else if (k === '--seeds') o.seeds = v.split(',').map(Number);
    else if (k === '--batch') o.batch = Number(v);
    else throw new Error(`unknown option ${k}`);
  }
  return o;
}

async function train(precision, seed, o, flat, testX) {
  const model = new nn.Sequential([new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 128), new nn.ReLU(), new nn.Linear(128, 10)], { seed });
  const epochs = [];
  const onEpochEnd = (epoch) => {
    model.eval();
    epochs.push(myelin.metrics.accuracyScore(flat.test.y, model.predict(testX)));
    model.train();
  };
  const t0 = process.cpuUsage();
  const w0 = Date.now();
  await fit(model, flat.train, { epochs: o.epochs, batchSize: o.batch, optimizer: 'adam', lr: 1e-3, seed, verbose: 0, precision, onEpochEnd });
  const cpu = process.cpuUsage(t0);
  return { precision, seed, accuracy: epochs, cpuSeconds: (cpu.user + cpu.system) / 1e6, wallSeconds: (Date.now() - w0) / 1000 };
}

async function main() {
  const o = args(process.argv);
  myelin.setBackend('native');
  const info = myelin.info();
  console.log(`CPU: ${os.cpus()[0].model}, mixed bf16 path ${info.mixedBf16Path}, ${info.threads} threads, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const flat = data.loadFashionMnist({ dir: o.dir });
  const values = (t) => (t instanceof Float32Array ? t : t.data);
  const testX = tensor(values(flat.test.x), [flat.test.y.length, 784]);
  const results = [];
  for (const seed of o.seeds) {
    const f32 = await train('fp32', seed, o, flat, testX);
    const b16 = await train('bf16', seed, o, flat, testX);
    for (let e = 0; e < o.epochs; e++) {
      const d = (b16.accuracy[e] - f32.accuracy[e]) * 100;
      console.log(`seed ${seed} epoch ${e + 1}: fp32 ${(f32.accuracy[e] * 100).toFixed(2)}%  bf16 ${(b16.accuracy[e] * 100).toFixed(2)}%  (${d >= 0 ? '+' : ''}${d.toFixed(2)} points)`);
    }
    console.log(`seed ${seed}: fit CPU seconds fp32 ${f32.cpuSeconds.toFixed(1)}, bf16 ${b16.cpuSeconds.toFixed(1)} (wall ${f32.wallSeconds.toFixed(1)} / ${b16.wallSeconds.toFixed(1)}; evaluation included)`);
    results.push({ seed, fp32: f32, bf16: b16, finalDifferencePoints: (b16.accuracy[o.epochs - 1] - f32.accuracy[o.epochs - 1]) * 100 });
  }
  const diffs = results.map((r) => r.finalDifferencePoints);
  console.log(`final bf16 - fp32 accuracy (points): ${diffs.map((d) => d.toFixed(2)).join(', ')}; mean ${(diffs.reduce((a, b) => a + b, 0) / diffs.length).toFixed(2)}`);
  console.log(JSON.stringify({ cpu: os.cpus()[0].model, load: os.loadavg(), epochs: o.epochs, batch: o.batch, results }));
}

main().catch((err) => {
  console.error(`bf16-train-accuracy: ${err.message}`);
  process.exit(1);
});

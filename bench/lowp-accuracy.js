#!/usr/bin/env node
// Accuracy of quantize() on Fashion-MNIST: the reference MLP (784-256-128-10, ReLU) and the example CNN
// (examples/fashion-cnn.js: conv 32 - pool - conv 64 - pool - linear 128 - linear 10) trained in float32,
// then evaluated on the 10,000 test images in float32, int8 with dynamic input scales, int8 calibrated on
// 1,024 training images, and bf16. Prints one line per model and precision, and a JSON line.
//
//   node bench/lowp-accuracy.js [--dir DIR] [--mlp-epochs 5] [--cnn-epochs 2] [--cnn-limit 20000] [--seed 1]
//
// Runs on the built package (npm run build:ts) and the native backend.
'use strict';
const os = require('os');
const myelin = require('..');
const { nn, data, fit, quantize, tensor } = myelin;

function args(argv) {
  const o = { dir: undefined, mlpEpochs: 5, cnnEpochs: 2, cnnLimit: 20000, seed: 1 };
  for (let i = 2; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (v === undefined) throw new Error(`${k} needs a value`);
    if (k === '--dir') o.dir = v;
    else if (k === '--mlp-epochs') o.mlpEpochs = Number(v);
    else if (k === '--cnn-epochs') o.cnnEpochs = Number(v);
    else if (k === '--cnn-limit') o.cnnLimit = Number(v);
    else if (k === '--seed') o.seed = Number(v);
    else throw new Error(`unknown option ${k}`);
  }
  return o;
}

/** The fraction of rows whose highest score is the label's class. */
const accuracy = (scores, labels) => myelin.metrics.accuracyScore(labels, scores);

async function measure(name, model, train, test, epochs, seed, shape) {
  const t0 = Date.now();
  await fit(model, train, { epochs, batchSize: 128, optimizer: 'adam', lr: 1e-3, seed, verbose: 0 });
  const trainSeconds = (Date.now() - t0) / 1000;
  model.eval();
  const values = (t) => (t instanceof Float32Array ? t : t.data);
  const x = tensor(values(test.x), [test.y.length, ...shape]);
  const calibration = tensor(values(train.x).slice(0, 1024 * shape.reduce((a, b) => a * b, 1)), [1024, ...shape]);
  const rows = { float32: accuracy(model.predict(x), test.y) };
  for (const [label, q] of [
    ['int8 dynamic', quantize(model, { dtype: 'int8' })],
    ['int8 calibrated', quantize(model, { dtype: 'int8', calibration })],
    ['bf16', quantize(model, { dtype: 'bf16' })],
  ]) rows[label] = accuracy(q.predict(x), test.y);
  for (const [label, acc] of Object.entries(rows)) {
    const gap = label === 'float32' ? '' : `  (${((acc - rows.float32) * 100).toFixed(2)} points)`;
    console.log(`${name.padEnd(4)} ${label.padEnd(16)} ${(acc * 100).toFixed(2)}%${gap}`);
  }
  return { model: name, epochs, trainImages: train.y.length, trainSeconds, accuracy: rows };
}

async function main() {
  const o = args(process.argv);
  myelin.setBackend('native');
  const info = myelin.info();
  console.log(`CPU: ${os.cpus()[0].model}, int8 path ${info.int8Path}, bf16 path ${info.bf16Path}, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const flat = data.loadFashionMnist({ dir: o.dir });
  const mlp = new nn.Sequential([new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 128), new nn.ReLU(), new nn.Linear(128, 10)], { seed: o.seed });
  const results = [await measure('MLP', mlp, flat.train, flat.test, o.mlpEpochs, o.seed, [784])];
  const img = data.loadFashionMnist({ dir: o.dir, shape: 'image' });
  const limit = Math.min(o.cnnLimit, img.train.y.length);
  const trainCnn = { x: tensor(img.train.x.data.subarray(0, limit * 784), [limit, 1, 28, 28]), y: img.train.y.subarray(0, limit) };
  const cnn = new nn.Sequential([
    new nn.Conv2d(1, 32, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(32, 64, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Flatten(), new nn.Linear(64 * 7 * 7, 128), new nn.ReLU(), new nn.Linear(128, 10),
  ], { seed: o.seed });
  results.push(await measure('CNN', cnn, trainCnn, img.test, o.cnnEpochs, o.seed, [1, 28, 28]));
  console.log(JSON.stringify({ cpu: os.cpus()[0].model, load: os.loadavg(), results }));
}

main().catch((err) => {
  console.error(`lowp-accuracy: ${err.message}`);
  process.exit(1);
});

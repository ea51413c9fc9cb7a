// Fashion-MNIST with a two-convolution network: conv 32 - pool - conv 64 - pool - linear 128 - linear 10,
// ReLU, Adam 1e-3, batch 128, 5 epochs; prints test accuracy and training throughput.
// The dataset is read from --dir / MYELIN_DATA / /usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist).
// Usage: node examples/fashion-cnn.js [--dir DIR] [--epochs N] [--limit ROWS]
'use strict';
const { datasetArgs } = require('./lib/args');
const myelin = require('..');
const { nn, data, fit, evaluate } = myelin;

/** The network of the target (PyTorch's default init; `seed` makes it reproducible). */
function fashionCnn(seed) {
  return new nn.Sequential(
    new nn.Conv2d(1, 32, 3, { padding: 1, seed: seed + 1 }),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Conv2d(32, 64, 3, { padding: 1, seed: seed + 2 }),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Flatten(),
    new nn.Linear(64 * 7 * 7, 128, { seed: seed + 3 }),
    new nn.ReLU(),
    new nn.Linear(128, 10, { seed: seed + 4 }),
  );
}

async function main() {
  let args;
  let fashion;
  try {
    args = datasetArgs(process.argv.slice(2));
    fashion = data.loadFashionMnist({ dir: args.dir, limit: args.limit, shape: 'image' });
  } catch (err) {
    console.error(`fashion-cnn example: ${err.message}`); // bad option or missing dataset
    process.exit(2);
  }
  const info = myelin.info();
  console.log(`fashion-cnn: ${fashion.train.n} train / ${fashion.test.n} test images [1, 28, 28] from ${fashion.dir}, ${info.backend} backend`);
  // Pixels standardised with the train set's mean and std (one for all pixels).
  const px = fashion.train.x.data;
  let mean = 0;
  for (let i = 0; i < px.length; i++) mean += px[i];
  mean /= px.length;
  let v = 0;
  for (let i = 0; i < px.length; i++) v += (px[i] - mean) ** 2;
  const std = Math.sqrt(v / px.length);
  for (const set of [fashion.train, fashion.test]) {
    const d = set.x.data;
    for (let i = 0; i < d.length; i++) d[i] = (d[i] - mean) / std;
  }
  const model = fashionCnn(0);
  const started = Date.now();
  await fit(model, fashion.train, { epochs: args.epochs, batchSize: 128, optimizer: 'adam', lr: 1e-3, seed: 1 });
  const seconds = (Date.now() - started) / 1000;
  const { loss, accuracy } = evaluate(model, fashion.test);
  console.log(`trained ${args.epochs} epochs in ${seconds.toFixed(1)}s (${Math.round((fashion.train.n * args.epochs) / seconds)} samples/s)`);
  console.log(`test loss: ${loss.toFixed(4)}`);
  console.log(`test accuracy: ${accuracy.toFixed(4)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

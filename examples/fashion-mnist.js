// Fashion-MNIST: a 784-256-128-10 ReLU MLP, Adam 1e-3 (cosine-decayed), batch 128, 5 epochs; prints test accuracy.
// The dataset is read from --dir / MYELIN_DATA / /usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist).
// Usage: node examples/fashion-mnist.js [--dir DIR] [--epochs N] [--limit ROWS]
'use strict';
const { datasetArgs } = require('./lib/args');
const myelin = require('..');
const { nn, data, fit, evaluate, cosineDecay } = myelin;

async function main() {
  let args;
  let fashion;
  try {
    args = datasetArgs(process.argv.slice(2));
    fashion = data.loadFashionMnist({ dir: args.dir, limit: args.limit });
  } catch (err) {
    console.error(`fashion-mnist example: ${err.message}`); // bad option or missing dataset
    process.exit(2);
  }
  const info = myelin.info();
  console.log(`fashion-mnist: ${fashion.train.n} train / ${fashion.test.n} test images from ${fashion.dir}, ${info.backend} backend`);
  data.standardize(fashion.train, [fashion.test], { per: 'global' }); // pixels: one mean and std (train statistics)
  const model = new nn.Sequential(
    new nn.Linear(784, 256, { seed: 1 }),
    new nn.ReLU(),
    new nn.Linear(256, 128, { seed: 2 }),
    new nn.ReLU(),
    new nn.Linear(128, 10, { seed: 3 }),
  );
  const started = Date.now();
  await fit(model, fashion.train, {
    epochs: args.epochs, batchSize: 128, optimizer: 'adam', lr: 1e-3, seed: 1, callbacks: cosineDecay(),
  });
  const seconds = (Date.now() - started) / 1000;
  const { loss, accuracy } = evaluate(model, fashion.test);
  console.log(`trained ${args.epochs} epochs in ${seconds.toFixed(1)}s`);
  console.log(`test loss: ${loss.toFixed(4)}`);
  console.log(`test accuracy: ${accuracy.toFixed(4)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

// The demo (README, docs/training.md): trains a 64-128-10 MLP with Adam on the embedded digits dataset and prints test accuracy.
'use strict';
const myelin = require('..');
const { nn, data, fit, evaluate } = myelin;

async function main() {
  const digits = data.loadDigits({ split: 0.2, seed: 42 });
  const info = myelin.info();
  console.log(
    `digits: ${digits.train.n} training and ${digits.test.n} test images (8x8), ` +
      `${info.backend} backend (${info.simd}, ${info.threads} thread${info.threads === 1 ? '' : 's'})`,
  );
  const model = new nn.Sequential(
    new nn.Linear(64, 128, { seed: 1 }),
    new nn.ReLU(),
    new nn.Linear(128, 10, { seed: 2 }),
  );
  console.log(model.toString());
  const started = Date.now();
  await fit(model, digits.train, {
    epochs: 25, batchSize: 32, optimizer: 'adam', lr: 3e-3, seed: 7, validationData: digits.test,
  });
  const seconds = (Date.now() - started) / 1000;
  const { loss, accuracy } = evaluate(model, digits.test);
  console.log(`trained in ${seconds.toFixed(1)}s`);
  console.log(`test loss: ${loss.toFixed(4)}`);
  console.log(`test accuracy: ${accuracy.toFixed(4)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

// Regression: an MLP fits a smooth 2-D function (MSE loss) from noisy samples and prints the final test MSE.
'use strict';
const myelin = require('..');
const { nn, data, fit, evaluate, tensor } = myelin;

/** The function to learn on [-1, 1]^2. */
function target(a, b) {
  return Math.sin(Math.PI * a) * Math.cos(0.5 * Math.PI * b) + 0.5 * a * b;
}

function sample(n, seed, noise) {
  const rng = new data.SeededRandom(seed);
  const x = new Float32Array(n * 2);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = rng.next() * 2 - 1;
    const b = rng.next() * 2 - 1;
    x[2 * i] = a;
    x[2 * i + 1] = b;
    y[i] = target(a, b) + noise * (rng.next() - 0.5);
  }
  return { x: tensor(x, [n, 2]), y: tensor(y, [n, 1]) };
}

async function main() {
  const train = sample(4000, 1, 0.05);
  const test = sample(1000, 2, 0);
  let mean = 0;
  for (const v of test.y.data) mean += v / test.y.size;
  let variance = 0;
  for (const v of test.y.data) variance += (v - mean) ** 2 / test.y.size;
  const model = new nn.Sequential(
    new nn.Linear(2, 64, { seed: 1 }),
    new nn.Tanh(),
    new nn.Linear(64, 64, { seed: 2 }),
    new nn.Tanh(),
    new nn.Linear(64, 1, { seed: 3 }),
  );
  await fit(model, train, { epochs: 40, batchSize: 64, loss: 'mse', optimizer: 'adam', lr: 3e-3, seed: 5, verbose: 2 });
  const { loss } = evaluate(model, test, { loss: 'mse' });
  console.log(`target variance: ${variance.toFixed(4)}`);
  console.log(`final MSE: ${loss.toFixed(5)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

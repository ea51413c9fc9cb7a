// Quality: a 784-256-128-10 ReLU MLP (Adam, batch 128) reaches >= 0.88 Fashion-MNIST test accuracy in 5 epochs (native).
import { describe, it, expect } from 'vitest';
import { setBackend, info } from '../lib/backend/select';
import { loadFashionMnist, fashionMnistSearchDirs } from '../lib/data/fashion-mnist';
import { Sequential } from '../lib/nn/sequential';
import { Linear } from '../lib/nn/linear';
import { ReLU } from '../lib/nn/activations';
import { Adam } from '../lib/optim';
import { fit, evaluate, cosineDecay } from '../lib/train';
import { standardize } from '../lib/data/normalize';

const seed = (Date.now() ^ Math.floor(Math.random() * 2 ** 31)) >>> 0;
const skip = process.env.MYELIN_SKIP_FASHION === '1';
const jsOnly = process.env.MYELIN_BACKEND === 'js';

describe.skipIf(skip)(`Fashion-MNIST quality (seed ${seed})`, () => {
  it('784-256-128-10 ReLU MLP, Adam, batch 128: >= 0.88 test accuracy within 5 epochs', async () => {
    let data;
    try {
      data = loadFashionMnist();
    } catch (err) {
      throw new Error(
        `${(err as Error).message}\nThis test needs the dataset (looked in ${fashionMnistSearchDirs().join(', ')}): ` +
          'run `apt-get install dataset-fashion-mnist`, or set MYELIN_SKIP_FASHION=1 to skip it.',
      );
    }
    // Native unless the whole run is pinned to js (then this measures the js backend instead).
    setBackend(jsOnly ? 'js' : 'native');
    // Standardise the pixels with the training set's mean and standard deviation.
    standardize(data.train, [data.test], { per: 'global' });
    const model = new Sequential([new Linear(784, 256), new ReLU(), new Linear(256, 128), new ReLU(), new Linear(128, 10)], { seed });
    const optimizer = new Adam(model.parameters(), { lr: 2e-3 });
    const started = Date.now();
    // Cosine decay of the learning rate to 0 over all steps: the usual recipe for a short budget.
    const history = await fit(model, data.train, { epochs: 5, batchSize: 128, optimizer, seed, verbose: 2, callbacks: cosineDecay() });
    const { accuracy, loss } = evaluate(model, data.test, { batchSize: 1000 });
    console.log(
      `fashion-mnist ${info().backend}: test accuracy ${(accuracy as number).toFixed(4)}, loss ${loss.toFixed(4)}, ` +
        `train accuracy ${history.accuracy.at(-1)?.toFixed(4)}, ${((Date.now() - started) / 1000).toFixed(1)}s (seed ${seed})`,
    );
    expect(history.epoch.length).toBe(5);
    expect(accuracy, `seed ${seed}`).toBeGreaterThanOrEqual(0.88);
  });
});

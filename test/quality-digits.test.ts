// Quality: a 64-128-10 MLP trained with Adam reaches >= 96% on a seeded held-out 20% of digits, on both backends.
import { describe, it, expect } from 'vitest';
import { setBackend, info } from '../lib/backend/select';
import { loadDigits } from '../lib/data/digits';
import { Sequential } from '../lib/nn/sequential';
import { Linear } from '../lib/nn/linear';
import { ReLU } from '../lib/nn/activations';
import { fit, evaluate } from '../lib/train';

// The held-out split is fixed (seed 42, as in the demo); initialisation and shuffling get a fresh seed.
const seed = (Date.now() ^ Math.floor(Math.random() * 2 ** 31)) >>> 0;
const jsOnly = process.env.MYELIN_BACKEND === 'js';

async function trainDigits(): Promise<{ accuracy: number; loss: number }> {
  const digits = loadDigits({ split: 0.2, seed: 42 });
  const model = new Sequential([new Linear(64, 128), new ReLU(), new Linear(128, 10)], { seed });
  await fit(model, digits.train, { epochs: 30, batchSize: 32, optimizer: 'adam', lr: 1e-3, seed, verbose: 0 });
  const r = evaluate(model, digits.test);
  return { accuracy: r.accuracy as number, loss: r.loss };
}

describe(`digits quality (seed ${seed})`, () => {
  for (const backend of ['js', 'native'] as const) {
    it.skipIf(backend === 'native' && jsOnly)(`reaches >= 96% test accuracy on the ${backend} backend`, async () => {
      setBackend(backend); // throws (failing the test) if the native addon cannot be loaded
      expect(info().backend).toBe(backend);
      const { accuracy, loss } = await trainDigits();
      console.log(`digits ${backend}: test accuracy ${accuracy.toFixed(4)}, loss ${loss.toFixed(4)} (seed ${seed})`);
      expect(accuracy, `seed ${seed}`).toBeGreaterThanOrEqual(0.96);
    });
  }
});

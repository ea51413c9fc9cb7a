// Runs the training example of docs/training.md (once the README's) verbatim (through the public index) so it cannot rot.
import { expect, it } from 'vitest';

it('README fit example runs and does what it says', async () => {
  const logs: unknown[] = [];
  const log = (...a: unknown[]): void => void logs.push(a.length === 1 ? a[0] : a);
  // --- README example start (require('myelin') -> import('../lib'), console.log -> log) ---
  const { nn, data, fit, evaluate, earlyStopping } = await import('../lib');

  const digits = data.loadDigits({ split: 0.2, seed: 42 }); // embedded 8x8 digits, seeded stratified split
  const model = new nn.Sequential(new nn.Linear(64, 128), new nn.ReLU(), new nn.Linear(128, 10), { seed: 1 });

  const history = await fit(model, digits.train, {
    epochs: 30, batchSize: 32, optimizer: 'adam', lr: 1e-3, seed: 7, // same seeds -> same weights
    validationSplit: 0.1, // the last 10% of the training rows
    callbacks: [earlyStopping({ monitor: 'valLoss', patience: 5, restoreBestWeights: true })],
    verbose: 0, // 1 (default): a progress bar on a TTY, one line per epoch otherwise
  });
  log(history.epoch.length, history.stopReason); // 30 null (fewer and 'earlyStopping' if it stopped early)
  log(evaluate(model, digits.test)); // { loss: 0.134..., accuracy: 0.980... }
  const probabilities = model.predict(digits.test.x, { features: 64 }).softmax(); // [359, 10]: a flat array needs its row width
  // --- README example end ---
  if (process.env.SHOW_README_LOGS) console.log(logs);

  const [epochs, reason] = logs[0] as [number, string | null];
  expect(epochs).toBeGreaterThan(5);
  expect(epochs).toBeLessThanOrEqual(30);
  expect(reason === null || reason === 'earlyStopping').toBe(true);
  expect((logs[1] as { accuracy: number }).accuracy).toBeGreaterThanOrEqual(0.96);
  expect(probabilities.shape).toEqual([359, 10]);
});

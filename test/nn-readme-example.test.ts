// Runs the Tensor/autograd/nn/optim example of docs/tensors.md (once the README's) verbatim (through the public index) so it cannot rot.
import { expect, it } from 'vitest';

it('README core example runs and does what it says', async () => {
  const logs: unknown[] = [];
  const log = (...a: unknown[]): void => void logs.push(a.length === 1 ? a[0] : a);
  // --- README example start (console.log -> log) ---
  const { tensor, randn, nn, optim } = await import('../lib');

  // Tensors and autograd
  const x = tensor([[1, 2], [3, 4]], undefined, { requiresGrad: true });
  const y = x.matmul(x.transpose()).relu().sum(); // sum of all x_i . x_j
  y.backward();
  log(x.grad!.toArray()); // [[8, 12], [8, 12]]

  // A model, a loss, an optimizer with a schedule
  const model = new nn.Sequential(
    new nn.Linear(4, 32), new nn.ReLU(), // Linear+ReLU run as one fused kernel call
    new nn.Dropout(0.1),
    new nn.Linear(32, 3),
    { seed: 42 }, // same seed, same initial weights and dropout masks
  );
  log(model.toString());
  const opt = new optim.Adam(model.parameters(), { lr: 0.01 });
  const schedule = new optim.StepLR(opt, { stepSize: 100, gamma: 0.5 });

  const inputs = randn([256, 4], { seed: 1 });
  const labels = Int32Array.from({ length: 256 }, (_, i) =>
    (inputs.data[i * 4] > 0 ? 1 : 0) + (inputs.data[i * 4 + 1] > 0 ? 1 : 0)); // classes 0..2
  for (let step = 0; step < 200; step++) {
    opt.zeroGrad();
    const loss = nn.crossEntropy(model.forward(inputs), labels);
    loss.backward();
    optim.clipGradNorm(model.parameters(), 1.0);
    opt.step();
    schedule.step(); // per batch here; stepSize counts steps
  }
  const predicted = model.predict(inputs).toArray() as number[][]; // eval mode, no grad, batched
  const accuracy = predicted.filter((row, i) => row.indexOf(Math.max(...row)) === labels[i]).length / 256;
  log(`train accuracy ${accuracy}`); // about 0.99

  const restored = nn.fromConfig(JSON.parse(JSON.stringify(model.toConfig())));
  restored.loadStateDict(model.stateDict());
  // --- README example end ---
  if (process.env.SHOW_README_LOGS) console.log(logs.slice(1).join("\n"));

  expect(logs[0]).toEqual([[8, 12], [8, 12]]);
  expect(logs[1]).toContain('Total parameters: 259');
  expect(accuracy).toBeGreaterThan(0.9);
  expect(Array.from(restored.predict(inputs).data)).toEqual(Array.from(model.predict(inputs).data));
  expect(opt.lr).toBeCloseTo(0.0025, 10);
});

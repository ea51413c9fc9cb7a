// nn.ResidualBlock: a ResNet basic block (Linear + BatchNorm1d here) that trains, saves, loads and predicts; gradients by finite differences.
import * as path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor } from '../lib/tensor';
import { BatchNorm1d, Linear, ReLU, ResidualBlock, Sequential, Tanh, fromConfig } from '../lib/nn';
import { save, load } from '../lib/io/model-file';
import { exportModel } from '../lib/io/onnx';
import { fit, evaluate } from '../lib/train';
import { Rng } from '../lib/random';
import { freshRng, gradcheck, randomTensor } from './helpers/gradcheck';
import { maxViolation, runOrt, tempDir } from './helpers/onnx';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** A basic block on features: Linear-BN-ReLU-Linear-BN + skip, then ReLU. */
function basicBlock(width: number, seed: number): ResidualBlock {
  return new ResidualBlock([
    new Linear(width, width, { seed, bias: false }), new BatchNorm1d(width), new ReLU(),
    new Linear(width, width, { seed: seed + 1, bias: false }), new BatchNorm1d(width),
  ]);
}

/** Two spirals-like classes in 2-D lifted to 6 features (needs a non-linear model). */
function dataset(n: number, seed: number): { x: Tensor; y: Int32Array } {
  const r = new Rng(seed);
  const x = new Float32Array(n * 6);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const a = 2 * r.next() - 1;
    const b = 2 * r.next() - 1;
    y[i] = a * a + b * b < 0.45 ? 1 : 0;
    x.set([a, b, a * b, a + b, a - b, r.next() * 0.1], i * 6);
  }
  return { x: new Tensor(x, [n, 6]), y };
}

describe('ResidualBlock (ResNet basic block)', () => {
  it('trains, saves, loads and predicts (sync and async); parameters named body.* like PyTorch submodules', async () => {
    const model = new Sequential(new Linear(6, 16, { seed: 1 }), new BatchNorm1d(16), new ReLU(), basicBlock(16, 3), basicBlock(16, 7), new Linear(16, 2, { seed: 9 }));
    expect(Object.keys(model.stateDict()).filter((k) => k.startsWith('3.'))).toEqual([
      '3.body.0.weight', '3.body.1.weight', '3.body.1.bias', '3.body.1.running_mean', '3.body.1.running_var', '3.body.1.num_batches_tracked',
      '3.body.3.weight', '3.body.4.weight', '3.body.4.bias', '3.body.4.running_mean', '3.body.4.running_var', '3.body.4.num_batches_tracked',
    ]);
    const train = dataset(600, 1);
    const test = dataset(300, 2);
    const before = evaluate(model, test);
    await fit(model, train, { epochs: 15, batchSize: 32, lr: 0.01, verbose: 0, seed: 3 });
    const after = evaluate(model, test);
    expect(after.accuracy).toBeGreaterThan(0.9);
    expect(after.accuracy).toBeGreaterThan(before.accuracy as number);
    const expected = model.predict(test.x);
    const dir = path.join(tmp.dir, 'resnet-mlp');
    save(model, dir);
    const loaded = load(dir);
    expect(loaded.toConfig()).toEqual(model.toConfig());
    expect(Array.from(loaded.predict(test.x).data)).toEqual(Array.from(expected.data));
    expect(Array.from((await loaded.predictAsync(test.x)).data)).toEqual(Array.from(expected.data));
    expect(loaded.predictClasses(test.x.slice(0, 3))).toHaveLength(3);
    // ONNX by tracing (the block's Add and ReLU, the layers' own exports inside it): onnxruntime agrees.
    const file = path.join(tmp.dir, 'resnet-mlp.onnx');
    await exportModel(loaded, file, { inputShape: [1, 6] });
    const ort = await runOrt(file, test.x.data, [300, 6]);
    const v = maxViolation(ort.data, expected.data, 1e-5, 1e-5);
    expect(v.excess, `onnxruntime at ${v.at}: ${v.a} vs ${v.b}`).toBeLessThanOrEqual(0);
  });

  it('gradients of the input and every parameter match finite differences', () => {
    const { seed, rng } = freshRng();
    const block = new ResidualBlock([new Linear(3, 3, { seed: 1 }), new BatchNorm1d(3, { eps: 0.5 }), new Tanh(), new Linear(3, 3, { seed: 2 })], { activation: 'none' });
    // BatchNorm's eps 0.5 bounds its curvature (a channel whose values sit close would defeat 1e-2 finite differences).
    const x = randomTensor(rng, [8, 3], { scale: 2 });
    gradcheck(() => block.forward(x), [x, ...block.parameters()], { label: `seed ${seed} ResidualBlock` });
    const projected = new ResidualBlock([new Linear(3, 4, { seed: 3 })], { shortcut: new Linear(3, 4, { seed: 4, bias: false }), activation: 'none' });
    gradcheck(() => projected.forward(x), [x, ...projected.parameters()], { label: `seed ${seed} ResidualBlock with projection` });
  });

  it('config checks and shape errors', () => {
    const block = new ResidualBlock([new Linear(4, 5)]);
    expect(() => block.forward(new Tensor(new Float32Array(8), [2, 4]))).toThrow(/ResidualBlock.forward: the body gives \[2,5\] but the shortcut gives \[2,4\]/);
    expect(() => new ResidualBlock([new Linear(2, 2)], { activation: 'gelu' as never })).toThrow(/ResidualBlock: activation/);
    expect(() => fromConfig({ type: 'ResidualBlock', body: { type: 'Nope' }, shortcut: null, activation: 'relu' })).toThrow(/ResidualBlock key 'body' must be a valid layer config/);
    const withShortcut = new ResidualBlock([new Linear(4, 5)], { shortcut: new Linear(4, 5), activation: 'none' });
    expect(fromConfig(withShortcut.toConfig()).toConfig()).toEqual(withShortcut.toConfig());
  });
});

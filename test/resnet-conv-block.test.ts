// A ResNet basic block with convolutions (Conv2d-BN-ReLU-Conv2d-BN + identity skip, ReLU): trains, saves, loads, predicts, exports; Conv+BN folding matches.
import * as path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor } from '../lib/tensor';
import { noGrad } from '../lib/autograd';
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Flatten, Linear, ReLU, ResidualBlock, Sequential } from '../lib/nn';
import { foldBatchNorm } from '../lib/nn/fold-bn';
import { save, load } from '../lib/io/model-file';
import { exportModel } from '../lib/io/onnx';
import { fit, evaluate } from '../lib/train';
import { imageAugmenter } from '../lib/data';
import { maxViolation, runOrt, tempDir } from './helpers/onnx';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const basicBlock = (c: number): ResidualBlock => new ResidualBlock([
  new Conv2d(c, c, 3, { padding: 1, bias: false }), new BatchNorm2d(c), new ReLU(),
  new Conv2d(c, c, 3, { padding: 1, bias: false }), new BatchNorm2d(c),
]);

/** 8x8 images with a horizontal (class 0) or vertical (class 1) bar. */
function bars(n: number, offset: number): { x: Tensor; y: Int32Array } {
  const x = new Float32Array(n * 64);
  const y = Int32Array.from({ length: n }, (_, i) => (i + offset) % 2);
  for (let i = 0; i < n; i++) for (let j = 1; j < 7; j++) x[i * 64 + (y[i] ? j * 8 + ((i + offset) % 6) + 1 : (((i + offset) % 6) + 1) * 8 + j)] = 1;
  return { x: new Tensor(x, [n, 1, 8, 8]), y };
}

describe('ResNet basic block with Conv2d and BatchNorm2d', () => {
  it('trains (with augmentation), saves, loads, predicts, and exports to ONNX (onnxruntime agrees)', async () => {
    const model = new Sequential(
      new Conv2d(1, 4, 3, { padding: 1, bias: false }), new BatchNorm2d(4), new ReLU(), basicBlock(4),
      new AdaptiveAvgPool2d(1), new Flatten(), new Linear(4, 2), { seed: 5 },
    );
    const train = bars(64, 0);
    await fit(model, train, { epochs: 25, batchSize: 16, lr: 0.02, verbose: 0, seed: 1, transform: imageAugmenter({ flip: true, seed: 2 }) });
    const test = bars(32, 1);
    expect(evaluate(model, test).accuracy).toBeGreaterThanOrEqual(0.9);
    const expected = model.predict(test.x);
    const dir = path.join(tmp.dir, 'resnet-conv');
    save(model, dir);
    const loaded = load(dir);
    expect(Array.from(loaded.predict(test.x).data)).toEqual(Array.from(expected.data));
    // predictAsync runs the Linear head on the native worker (forwardAsync): float32 rounding may differ from predict's path.
    expect(maxViolation((await loaded.predictAsync(test.x)).data, expected.data, 2e-5, 2e-5).excess).toBeLessThanOrEqual(0);
    const file = path.join(tmp.dir, 'resnet-conv.onnx');
    await exportModel(loaded, file, { inputShape: [1, 1, 8, 8] });
    const v = maxViolation((await runOrt(file, test.x.data, [32, 1, 8, 8])).data, expected.data, 1e-5, 1e-5);
    expect(v.excess, `onnxruntime at ${v.at}: ${v.a} vs ${v.b}`).toBeLessThanOrEqual(0);
  });

  it('folding BatchNorm2d into the Conv2d before it gives the eval-mode outputs (1e-5)', () => {
    const layers = [new Conv2d(3, 5, 3, { padding: 1, bias: false, seed: 1 }), new BatchNorm2d(5), new ReLU(), new Conv2d(5, 4, 1, { seed: 2 }), new BatchNorm2d(4)];
    const model = new Sequential(layers);
    const r = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + s) * 2 + 0.5);
    model.train();
    for (let i = 0; i < 3; i++) noGrad(() => model.forward(new Tensor(r(4 * 3 * 6 * 6, i), [4, 3, 6, 6])));
    model.eval();
    const x = new Tensor(r(2 * 3 * 6 * 6, 9), [2, 3, 6, 6]);
    const reference = noGrad(() => model.forward(x));
    const fold = foldBatchNorm(layers);
    expect(fold!.layers.map((l) => l.constructor.name)).toEqual(['Conv2d', 'ReLU', 'Conv2d']);
    const folded = noGrad(() => new Sequential(fold!.layers).forward(x));
    const v = maxViolation(folded.data, reference.data, 1e-5, 1e-5);
    expect(v.excess, `folded at ${v.at}: ${v.a} vs ${v.b}`).toBeLessThanOrEqual(0);
  });
});

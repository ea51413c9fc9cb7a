// BatchNorm1d/2d, GroupNorm, Dropout2d, Upsample, Identity as layers: config, state (buffers), save/load, ONNX export in onnxruntime, import, predict; image augmentation and fit's transform hook.
import * as path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor } from '../lib/tensor';
import { BatchNorm1d, BatchNorm2d, Dropout2d, Flatten, GroupNorm, Identity, Linear, ReLU, Sequential, Upsample, fromConfig } from '../lib/nn';
import { save, load } from '../lib/io/model-file';
import { encodeSafetensorsBuffer, decodeSafetensors } from '../lib/io/safetensors';
import { exportModel, importModel } from '../lib/io/onnx';
import { augmentImages, imageAugmenter } from '../lib/data';
import { fit } from '../lib/train';
import { Rng } from '../lib/random';
import { runOrt, maxViolation, tempDir } from './helpers/onnx';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  const v = maxViolation(a, b, rtol, atol);
  expect(v.excess, `${what}: at ${v.at}: ${v.a} vs ${v.b}`).toBeLessThanOrEqual(0);
}

function randomInput(shape: number[], seed: number, scale = 1, offset = 0): Tensor {
  const r = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(Float32Array.from({ length: n }, () => offset + scale * (2 * r.next() - 1)), shape);
}

/** A few training-mode forwards so the running statistics move away from 0 and 1. */
function warmUp(model: Sequential, shape: number[]): void {
  model.train();
  for (let i = 0; i < 3; i++) model.forward(randomInput(shape, 100 + i, 2, 0.5));
  model.eval();
}

describe('BatchNorm layers', () => {
  it('checks options and inputs, naming the layer', () => {
    expect(() => new BatchNorm1d(0)).toThrow(/BatchNorm1d: numFeatures must be a positive integer, got 0/);
    expect(() => new BatchNorm2d(3, { momentum: 2 })).toThrow(/BatchNorm2d: momentum/);
    expect(() => new BatchNorm2d(3, { eps: -1 })).toThrow(/BatchNorm2d: eps/);
    expect(() => new BatchNorm1d(3, { moment: 0.1 } as never)).toThrow(/BatchNorm1d/);
    expect(() => new BatchNorm1d(3).forward(new Tensor(new Float32Array(8), [2, 4]))).toThrow(/expected input \[N, C\] or \[N, C, L\] with C = 3, got \[2,4\]/);
    expect(() => new BatchNorm2d(2).forward(new Tensor(new Float32Array(8), [2, 2, 2]))).toThrow(/expected input \[N, C, H, W\] with C = 2, got \[2,2,2\]/);
    expect(() => new BatchNorm1d(2).forward(new Tensor(new Float32Array(2), [1, 2]))).toThrow(/BatchNorm1d\(2.*more than 1 value per channel/);
    expect(() => fromConfig({ type: 'BatchNorm2d', numFeatures: 3, eps: 1e-5, momentum: 'x', affine: true, trackRunningStats: true })).toThrow(/momentum' must be a number in \[0, 1\] or null/);
  });

  it('state dict uses PyTorch names; running statistics and num_batches_tracked survive save/load and safetensors', () => {
    const model = new Sequential(new Linear(5, 4, { seed: 1 }), new BatchNorm1d(4, { momentum: 0.2 }), new ReLU(), new Linear(4, 2, { seed: 2 }));
    expect(Object.keys(model.stateDict())).toEqual([
      '0.weight', '0.bias', '1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked', '3.weight', '3.bias',
    ]);
    // Buffers are not trained: the optimizer's list leaves them out.
    expect(model.parameters().length).toBe(6);
    warmUp(model, [8, 5]);
    const bn = model.layers[1] as BatchNorm1d;
    expect(bn.numBatchesTracked!.data[0]).toBe(3);
    expect(Array.from(bn.runningMean!.data).some((v) => v !== 0)).toBe(true);
    const x = randomInput([6, 5], 7);
    const expected = model.predict(x);
    const dir = path.join(tmp.dir, 'bn-mlp');
    save(model, dir);
    const loaded = load(dir) as Sequential;
    const lbn = loaded.layers[1] as BatchNorm1d;
    expect(Array.from(lbn.runningMean!.data)).toEqual(Array.from(bn.runningMean!.data));
    expect(Array.from(lbn.runningVar!.data)).toEqual(Array.from(bn.runningVar!.data));
    expect(lbn.numBatchesTracked!.data[0]).toBe(3);
    expect(Array.from(loaded.predict(x).data)).toEqual(Array.from(expected.data));
    // A state dict without the running statistics is refused.
    const partial = Object.fromEntries(Object.entries(model.stateDict()).filter(([k]) => k !== '1.running_var'));
    expect(() => loaded.loadStateDict(partial)).toThrow(/missing key\(s\) '1.running_var'/);
    // Through safetensors bytes, as a PyTorch state_dict would be written.
    const bytes = encodeSafetensorsBuffer(Object.entries(model.stateDict()).map(([name, t]) => ({ name, shape: t.shape.slice(), data: t.data })));
    const { tensors } = decodeSafetensors(bytes, 'memory');
    expect(tensors.get('1.num_batches_tracked')!.shape).toEqual([]);
    const fresh = fromConfig(model.toConfig());
    fresh.loadStateDict(Object.fromEntries([...tensors].map(([k, t]) => [k, t.data])));
    expect(Array.from(fresh.predict(x).data)).toEqual(Array.from(expected.data));
  });

  it('train vs eval: batch statistics in training, running statistics in eval; no update in eval', () => {
    const bn = new BatchNorm2d(2);
    const x = randomInput([4, 2, 3, 3], 3, 1, 5);
    const yTrain = bn.forward(x);
    // Batch statistics: each channel's output has mean ~0.
    for (let c = 0; c < 2; c++) {
      let s = 0;
      for (let n = 0; n < 4; n++) for (let j = 0; j < 9; j++) s += yTrain.data[(n * 2 + c) * 9 + j];
      expect(Math.abs(s / 36)).toBeLessThan(1e-5);
    }
    const before = Array.from(bn.runningMean!.data);
    bn.eval();
    const yEval = bn.forward(x);
    expect(Array.from(bn.runningMean!.data)).toEqual(before);
    expect(bn.numBatchesTracked!.data[0]).toBe(1);
    // Eval uses running mean 0.5 (0.1 * ~5): outputs are far from zero-mean.
    expect(Math.abs(yEval.data[0] - yTrain.data[0])).toBeGreaterThan(0.1);
    const noTrack = new BatchNorm2d(2, { trackRunningStats: false }).eval();
    expectClose(noTrack.forward(x).data, new BatchNorm2d(2).forward(x).data, 1e-6, 1e-6, 'trackRunningStats false uses batch statistics in eval');
    expect(Object.keys(noTrack.stateDict())).toEqual(['weight', 'bias']);
  });

  it('ONNX: BatchNorm2d exports and imports back (as BatchNorm2d, with its running statistics); trackRunningStats false is refused', async () => {
    const model = new Sequential(new BatchNorm2d(2, { momentum: 0.25, eps: 1e-3 }), new Flatten(), new Linear(18, 3, { seed: 2 }));
    warmUp(model, [5, 2, 3, 3]);
    const x = randomInput([4, 2, 3, 3], 21, 2, 1);
    const file = path.join(tmp.dir, 'bn2d.onnx');
    await exportModel(model, file, { inputShape: [1, 2, 3, 3] });
    const back = await importModel(file);
    expect(back.toConfig()).toEqual(model.toConfig());
    const sd = back.stateDict();
    expect(Array.from(sd['0.running_var'].data)).toEqual(Array.from(model.stateDict()['0.running_var'].data));
    expectClose(back.predict(x).data, model.predict(x).data, 1e-6, 1e-6, 'imported BatchNorm2d');
    expectClose((await runOrt(file, x.data, [4, 2, 3, 3])).data, model.predict(x).data, 1e-5, 1e-6, 'onnxruntime BatchNorm2d');
    // Upsample by scale factors reads back from Resize (the shape it makes reaches the Linear after it).
    const up = new Sequential(new BatchNorm2d(2), new Upsample({ scaleFactor: [2, 3] }), new Flatten(), new Linear(2 * 6 * 9, 2, { seed: 4 }));
    warmUp(up, [5, 2, 3, 3]);
    const upFile = path.join(tmp.dir, 'up.onnx');
    await exportModel(up, upFile, { inputShape: [1, 2, 3, 3] });
    const upBack = await importModel(upFile);
    expect(upBack.toConfig()).toEqual(up.toConfig());
    expectClose(upBack.predict(x).data, up.predict(x).data, 1e-6, 1e-6, 'imported Upsample');
    const batchOnly = new Sequential(new BatchNorm1d(3, { trackRunningStats: false }), new Linear(3, 1));
    await expect(exportModel(batchOnly, path.join(tmp.dir, 'no-track.onnx'))).rejects.toThrow(/batch statistics \(trackRunningStats false\) has no ONNX inference form/);
  });

  it('ONNX: BatchNorm1d in an MLP and BatchNorm2d/GroupNorm/Upsample/Identity/Dropout2d in a conv-free image net run in onnxruntime like predict (1e-5)', async () => {
    const mlp = new Sequential(new Linear(6, 8, { seed: 3 }), new BatchNorm1d(8), new ReLU(), new Linear(8, 3, { seed: 4 }));
    (mlp.layers[1] as BatchNorm1d).weight!.data.set([1, 2, 0.5, -1, 1.5, 0.25, 1, 3]);
    warmUp(mlp, [16, 6]);
    const x = randomInput([5, 6], 9, 2);
    const ours = mlp.predict(x);
    const file = path.join(tmp.dir, 'bn1d.onnx');
    await exportModel(mlp, file, { opset: 13 });
    expectClose((await runOrt(file, x.data, [5, 6])).data, ours.data, 1e-5, 1e-6, 'onnxruntime BatchNorm1d');
    const back = await importModel(file);
    expect(back.toConfig()).toEqual(mlp.toConfig());
    expectClose(back.predict(x).data, ours.data, 1e-5, 1e-6, 'imported BatchNorm1d');

    const net = new Sequential(
      new BatchNorm2d(3), new Dropout2d(0.3), new GroupNorm(3, 3), new Upsample({ scaleFactor: 2 }), new Identity(),
      new Upsample({ size: [5, 7] }), new BatchNorm2d(3, { affine: false }), new Flatten(), new Linear(105, 4, { seed: 5 }),
    );
    (net.layers[2] as GroupNorm).weight!.data.set([0.5, 2, -1]);
    warmUp(net, [6, 3, 3, 4]);
    const xi = randomInput([2, 3, 3, 4], 11, 3, 1);
    const expected = net.predict(xi);
    for (const opset of [13, 18]) {
      const f = path.join(tmp.dir, `image-${opset}.onnx`);
      await exportModel(net, f, { inputShape: [1, 3, 3, 4], opset });
      expectClose((await runOrt(f, xi.data, [2, 3, 3, 4])).data, expected.data, 1e-5, 1e-5, `onnxruntime image net opset ${opset}`);
    }
  });
});

describe('GroupNorm, Dropout2d, Upsample, Identity layers', () => {
  it('GroupNorm: arguments, config round trip and save/load', () => {
    expect(() => new GroupNorm(4, 6)).toThrow(/GroupNorm: numGroups must be a divisor of numChannels \(6\), got 4/);
    expect(() => new GroupNorm(2, 4).forward(new Tensor(new Float32Array(6), [2, 3]))).toThrow(/expected input \[N, 4, \.\.\.\], got \[2,3\]/);
    const model = new Sequential(new Linear(4, 6, { seed: 1 }), new GroupNorm(3, 6, { eps: 1e-4 }), new ReLU());
    (model.layers[1] as GroupNorm).bias!.data.set([0.1, 0.2, 0.3, -0.1, 0, 1]);
    const x = randomInput([3, 4], 5);
    const dir = path.join(tmp.dir, 'gn');
    save(model, dir);
    const loaded = load(dir);
    expect(loaded.toConfig()).toEqual(model.toConfig());
    expect(Array.from(loaded.predict(x).data)).toEqual(Array.from(model.predict(x).data));
  });

  it('Dropout2d zeroes whole channels with probability p, scales the rest, repeats with a seed, is the identity in eval', () => {
    const x = new Tensor(new Float32Array(8 * 16 * 9).fill(1), [8, 16, 3, 3]);
    const a = new Dropout2d(0.5, { seed: 7 }).forward(x);
    const b = new Dropout2d(0.5, { seed: 7 }).forward(x);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    let zeroed = 0;
    for (let p = 0; p < 8 * 16; p++) {
      const plane = Array.from(a.data.subarray(p * 9, p * 9 + 9));
      expect(new Set(plane).size, `channel ${p} is all dropped or all kept`).toBe(1);
      expect([0, 2]).toContain(plane[0]);
      if (plane[0] === 0) zeroed++;
    }
    expect(zeroed).toBeGreaterThan(30);
    expect(zeroed).toBeLessThan(98);
    const d = new Dropout2d(0.5, { seed: 7 }).eval();
    expect(d.forward(x)).toBe(x);
    expect(() => new Dropout2d(1)).toThrow(/Dropout2d: p/);
    expect(() => new Dropout2d(0.5).forward(new Tensor(new Float32Array(4), [2, 2]))).toThrow(/expected input \[N, C, H, W\] or \[N, C, L\], got \[2,2\]/);
  });

  it('Upsample and Identity: shapes, config, errors', () => {
    const x = randomInput([1, 2, 2, 3], 1);
    expect(new Upsample({ scaleFactor: 2 }).forward(x).shape).toEqual([1, 2, 4, 6]);
    expect(new Upsample({ scaleFactor: [1, 3] }).forward(x).shape).toEqual([1, 2, 2, 9]);
    expect(new Upsample({ size: 5 }).forward(x).shape).toEqual([1, 2, 5, 5]);
    expect(() => new Upsample({})).toThrow(/give exactly one of size and scaleFactor/);
    expect(() => new Upsample({ size: [2, 2], scaleFactor: 2 })).toThrow(/give exactly one/);
    expect(() => new Upsample({ scaleFactor: [1, 2, 3] }).forward(x)).toThrow(/scaleFactor has 3 values but the input has 2 spatial dim/);
    expect(() => new Upsample({ size: 0 })).toThrow(/Upsample: size must be a positive integer or a list/);
    const up = new Upsample({ scaleFactor: [2, 1] });
    expect(fromConfig(up.toConfig()).toConfig()).toEqual({ type: 'Upsample', size: null, scaleFactor: [2, 1], mode: 'nearest' });
    const id = new Identity();
    expect(id.forward(x)).toBe(x);
    expect(fromConfig({ type: 'Identity' })).toBeInstanceOf(Identity);
  });
});

describe('image augmentation', () => {
  const img = new Tensor(Float32Array.from({ length: 2 * 1 * 3 * 4 }, (_, i) => i + 1), [2, 1, 3, 4]);

  it('flip mirrors rows; crop with padding shifts and fills zeros; same seed, same result', () => {
    const flipped = augmentImages(img, { flip: true }, new Rng(1));
    for (let i = 0; i < 2; i++) {
      const rows = [0, 1, 2].map((r) => Array.from(flipped.data.subarray(i * 12 + r * 4, i * 12 + r * 4 + 4)));
      const orig = [0, 1, 2].map((r) => Array.from(img.data.subarray(i * 12 + r * 4, i * 12 + r * 4 + 4)));
      const same = rows.every((r, k) => r.join() === orig[k].join());
      const mirrored = rows.every((r, k) => r.join() === [...orig[k]].reverse().join());
      expect(same || mirrored).toBe(true);
    }
    const a = augmentImages(img, { padding: 2, flip: true }, new Rng(5));
    const b = augmentImages(img, { padding: 2, flip: true }, new Rng(5));
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(Array.from(img.data)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1)); // input untouched
    // Over many draws, every value either is 0 (padding) or comes from the same image.
    const r = new Rng(9);
    let sawShift = false;
    for (let t = 0; t < 20; t++) {
      const c = augmentImages(img, { padding: 1 }, r);
      for (let i = 0; i < 24; i++) {
        const v = c.data[i];
        const image = Math.floor(i / 12);
        expect(v === 0 || Math.floor((v - 1) / 12) === image).toBe(true);
        if (v !== img.data[i]) sawShift = true;
      }
    }
    expect(sawShift).toBe(true);
    expect(() => augmentImages(new Tensor(new Float32Array(4), [2, 2]), {}, new Rng(1))).toThrow(/expected a batch of images \[n, C, H, W\], got \[2,2\]/);
    expect(() => imageAugmenter({ padding: -1 })).toThrow(/padding/);
  });

  it("fit's transform hook gets every training batch with its position (and is seeded)", async () => {
    const X = randomInput([12, 1, 3, 4], 3);
    const y = Int32Array.from({ length: 12 }, (_, i) => i % 2);
    const seen: string[] = [];
    const aug = imageAugmenter({ padding: 1, flip: true, seed: 4 });
    const model = new Sequential(new BatchNorm2d(1), new Flatten(), new Linear(12, 2, { seed: 1 }));
    await fit(model, { x: X, y }, {
      epochs: 2, batchSize: 5, verbose: 0, seed: 1,
      transform: (input, at) => {
        seen.push(`${at.epoch}.${at.batch}:${input.shape[0]}`);
        return aug(input, at);
      },
    });
    expect(seen).toEqual(['0.0:5', '0.1:5', '0.2:2', '1.0:5', '1.1:5', '1.2:2']);
    expect(Array.from(aug(X, { epoch: 1, batch: 2 }).data)).toEqual(Array.from(aug(X, { epoch: 1, batch: 2 }).data));
    await expect(fit(model, { x: X, y }, { verbose: 0, transform: 3 as never })).rejects.toThrow(/fit: transform must be a function/);
  });
});

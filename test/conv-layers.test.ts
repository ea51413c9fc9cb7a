// nn.Conv1d/Conv2d and the pooling layers as layers: init, argument checks, config round trip, save/load, ONNX export (onnxruntime) and import, predict/predictAsync, training.
import * as path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor } from '../lib/tensor';
import {
  AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, Conv1d, Conv2d, Flatten, Linear, MaxPool1d, MaxPool2d, ReLU, Sequential, fromConfig,
} from '../lib/nn';
import * as ops from '../lib/ops';
import { save, load } from '../lib/io/model-file';
import { predictAsync } from '../lib/serve';
import { exportModel, importModel } from '../lib/io/onnx';
import { fit } from '../lib/train';
import { runOrt, maxViolation, tempDir } from './helpers/onnx';
import { backendsUnderTest, setBackend } from './helpers/gradcheck';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  const v = maxViolation(a, b, rtol, atol);
  expect(v.excess, `${what}: at ${v.at}: ${v.a} vs ${v.b}`).toBeLessThanOrEqual(0);
}

const input = (shape: number[]): Tensor => new Tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.7) * 2), shape);

/** A small CNN using every 2-d layer of this issue. */
function cnn(): Sequential {
  return new Sequential(
    new Conv2d(2, 6, 3, { padding: 1, seed: 1 }),
    new ReLU(),
    new MaxPool2d(2, { ceilMode: true }),
    new Conv2d(6, 6, [3, 1], { stride: [1, 2], padding: [1, 0], groups: 3, seed: 2 }),
    new AvgPool2d(3, { stride: 1, padding: 1, countIncludePad: false }),
    new Conv2d(6, 6, 3, { padding: 'same', groups: 6, dilation: 2, bias: false, seed: 3 }),
    new AdaptiveAvgPool2d([1, 2]), // 5x2 -> 1x2: AveragePool in ONNX
    new Flatten(),
    new Linear(12, 3, { seed: 4 }),
  );
}

describe('conv and pool layers', () => {
  it('PyTorch default init: weight and bias uniform in +-1/sqrt(fanIn), state_dict names and shapes', () => {
    const c = new Conv2d(4, 8, [3, 5], { groups: 2, seed: 7 });
    expect(c.namedParameters().map(([n, t]) => [n, t.shape])).toEqual([['weight', [8, 2, 3, 5]], ['bias', [8]]]);
    const bound = 1 / Math.sqrt(2 * 3 * 5);
    const w = Array.from(c.weight.data);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.8 * bound); // spread over the range, not a narrower one
    expect(Math.max(...Array.from(c.bias!.data).map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Array.from(new Conv2d(4, 8, [3, 5], { groups: 2, seed: 7 }).weight.data)).toEqual(w);
    const k = new Conv1d(3, 5, 4, { init: 'kaiming', seed: 1 });
    expect(k.weight.shape).toEqual([5, 3, 4]);
    expect(Array.from(k.bias!.data)).toEqual([0, 0, 0, 0, 0]);
  });

  it('reject bad arguments and inputs with clear errors', () => {
    expect(() => new Conv2d(3, 4, 0)).toThrow(/Conv2d: kernelSize must be an integer >= 1 or a pair/);
    expect(() => new Conv2d(3, 4, 3, { groups: 2 })).toThrow(/Conv2d: groups 2 must divide inChannels 3 and outChannels 4/);
    expect(() => new Conv2d(3, 4, 3, { stride: 2, padding: 'same' })).toThrow(/Conv2d: padding .*'same' needs stride 1/);
    expect(() => new Conv2d(3, 4, 3, { padding: -1 })).toThrow(/Conv2d: padding/);
    expect(() => new Conv2d(3, 4, 3, { pad: 1 } as never)).toThrow(/Conv2d/);
    expect(() => new Conv2d(3, 4, 3).forward(input([2, 2, 5, 5]))).toThrow(/Conv2d\(3 -> 4, kernel 3x3\)\.forward: input of shape \[2,2,5,5\], expected \[batch, channels, height, width\] with 3 channels/);
    expect(() => new Conv2d(3, 4, 5).forward(input([1, 3, 3, 3]))).toThrow(/conv2d: input \[1,3,3,3\] is smaller than the kernel 5x5/);
    expect(() => new MaxPool2d(2, { padding: 2 })).toThrow(/MaxPool2d: padding must be at most half the kernel size/);
    expect(() => new AvgPool2d(2, { dilation: 2 } as never)).toThrow(/AvgPool2d/);
    expect(() => new MaxPool1d(3).forward(input([2, 3, 4, 4]))).toThrow(/MaxPool1d\(3\)\.forward: input of shape \[2,3,4,4\], expected \[batch, channels, length\]/);
    expect(() => fromConfig({ type: 'Conv2d', inChannels: 1, outChannels: 2, kernelSize: [3, 0], stride: 1, padding: 0, dilation: 1, groups: 1, bias: true }))
      .toThrow(/Conv2d key 'kernelSize' must be an integer >= 1 or a pair \[h, w\] of them/);
    expect(() => fromConfig({ type: 'MaxPool2d', kernelSize: 2, stride: 2, padding: 0, dilation: 1, ceilMode: 'yes' }))
      .toThrow(/MaxPool2d key 'ceilMode' must be true or false/);
  });

  it('ops.conv1d names the option that is a pair (it blamed stride, showing its value, for a dilation pair)', () => {
    const x = input([1, 2, 8]);
    const w = input([3, 2, 3]);
    expect(() => ops.conv1d(x, w, null, { dilation: [1, 2] as never })).toThrow(/conv1d: dilation must be an integer .*got \[1,2\]/);
    expect(() => ops.conv1d(x, w, null, { stride: [2, 2] as never })).toThrow(/conv1d: stride must be an integer .*got \[2,2\]/);
    expect(ops.conv1d(x, w, null, { stride: 2, dilation: 2 }).shape).toEqual([1, 3, 2]);
  });

  it('config round trip, save/load, predict and predictAsync on a CNN', async () => {
    const model = cnn();
    const x = input([5, 2, 9, 8]);
    const expected = model.predict(x);
    expect(expected.shape).toEqual([5, 3]);
    const rebuilt = fromConfig(model.toConfig());
    expect(rebuilt.toConfig()).toEqual(model.toConfig());
    const dir = path.join(tmp.dir, 'cnn');
    await save(model, dir);
    const loaded = await load(dir);
    expect(Object.keys(loaded.stateDict())).toEqual(['0.weight', '0.bias', '3.weight', '3.bias', '5.weight', '8.weight', '8.bias']);
    expect(Array.from(loaded.predict(x).data)).toEqual(Array.from(expected.data));
    expect(Array.from(loaded.predict(x, { batchSize: 2 }).data)).toEqual(Array.from(expected.data));
    // predictAsync runs the planner's native segments (the final Linear through forwardAsync) and the conv/pool layers through their ops.
    expectClose((await predictAsync(loaded, x)).data, expected.data, 2e-5, 2e-5, 'predictAsync');
    expectClose((await loaded.predictAsync(x, { batchSize: 2 })).data, expected.data, 2e-5, 2e-5, 'predictAsync batch 2');
  });

  it('ONNX export runs in onnxruntime like predict (1e-5), and imports back', async () => {
    const model = cnn();
    const x = input([3, 2, 9, 8]);
    const ours = model.predict(x);
    const file = path.join(tmp.dir, 'cnn.onnx');
    await exportModel(model, file, { inputShape: [1, 2, 9, 8] });
    const ort = await runOrt(file, x.data, x.shape);
    expectClose(ort.data, ours.data, 1e-5, 1e-5, 'onnxruntime');
    const back = await importModel(file);
    expect(back.layers.map((l) => l.toConfig().type)).toEqual(['Conv2d', 'ReLU', 'MaxPool2d', 'Conv2d', 'AvgPool2d', 'Conv2d', 'AvgPool2d', 'Flatten', 'Linear']);
    expectClose(back.predict(x).data, ours.data, 1e-5, 1e-6, 'imported');

    const seq = new Sequential(new Conv1d(3, 4, 3, { stride: 2, padding: 1, seed: 5 }), new ReLU(), new MaxPool1d(2), new AvgPool1d(2, { padding: 1 }),
      new Flatten(), new Linear(12, 2, { seed: 6 }));
    const x1 = input([4, 3, 15]);
    const ours1 = seq.predict(x1);
    const file1 = path.join(tmp.dir, 'cnn1d.onnx');
    await exportModel(seq, file1, { inputShape: [1, 3, 15] });
    expectClose((await runOrt(file1, x1.data, x1.shape)).data, ours1.data, 1e-5, 1e-5, 'onnxruntime 1-d');
    const back1 = await importModel(file1);
    expectClose(back1.predict(x1).data, ours1.data, 1e-5, 1e-6, 'imported 1-d');

    const global = new Sequential(new Conv2d(2, 3, 3, { seed: 8 }), new AdaptiveAvgPool2d(1), new Flatten(), new Linear(3, 2, { seed: 9 }));
    const file2 = path.join(tmp.dir, 'gap.onnx');
    await exportModel(global, file2, { inputShape: [1, 2, 6, 7] });
    const x2 = input([2, 2, 6, 7]);
    expectClose((await runOrt(file2, x2.data, x2.shape)).data, global.predict(x2).data, 1e-5, 1e-5, 'onnxruntime GlobalAveragePool');
    expect((await importModel(file2)).layers.map((l) => l.toConfig().type)).toEqual(['Conv2d', 'AdaptiveAvgPool2d', 'Flatten', 'Linear']);
  });

  for (const backend of backendsUnderTest()) {
    it(`a small CNN learns a shape task with fit (${backend} backend)`, async () => {
      setBackend(backend);
      // Class 0: a horizontal bar, class 1: a vertical bar, at random places in 8x8 images.
      const n = 96;
      const xs = new Float32Array(n * 64);
      const ys = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        ys[i] = i % 2;
        const at = (i * 5) % 6 + 1;
        for (let j = 1; j < 7; j++) xs[i * 64 + (ys[i] === 0 ? at * 8 + j : j * 8 + at)] = 1;
      }
      const model = new Sequential(new Conv2d(1, 4, 3, { padding: 1, seed: 1 }), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(64, 2, { seed: 2 }));
      const hist = await fit(model, { x: new Tensor(xs, [n, 1, 8, 8]), y: ys }, { epochs: 15, batchSize: 16, optimizer: 'adam', lr: 0.01, seed: 1, verbose: 0 });
      expect(hist.loss[hist.loss.length - 1]).toBeLessThan(0.2 * hist.loss[0]);
      const pred = model.predict(new Tensor(xs, [n, 1, 8, 8]));
      let correct = 0;
      for (let i = 0; i < n; i++) correct += (pred.data[2 * i + 1] > pred.data[2 * i] ? 1 : 0) === ys[i] ? 1 : 0;
      expect(correct / n).toBeGreaterThan(0.95);
    });
  }
});

// quantize(model, { dtype, calibration }): int8 and bf16 copies of an MLP predict like the float32
// model (accuracy on the embedded digits set (all rows) within 0.5 points on both backends), through predict,
// predictAsync and evaluate; bad arguments get clear errors.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describe, expect, it } from 'vitest';

import { setBackend } from '../lib/backend/select';
import { loadDigits } from '../lib/data/digits';
import { Linear } from '../lib/nn/linear';
import { ReLU, Softmax } from '../lib/nn/activations';
import { Sequential } from '../lib/nn/sequential';
import { Flatten } from '../lib/nn/flatten';
import { quantize, QuantizedLinear } from '../lib/quant';
import { fit, evaluate } from '../lib/train';
import { tensor, Tensor } from '../lib/tensor';
import { predictAsync } from '../lib/serve/predict';
import { load, save } from '../lib/io';
import { exportModel } from '../lib/io/onnx';
import { backendsUnderTest } from './helpers/backends';

const seed = (Date.now() ^ Math.floor(Math.random() * 2 ** 31)) >>> 0;

function accuracy(scores: Tensor, labels: Int32Array | Float32Array): number {
  const [rows, n] = scores.shape;
  let hit = 0;
  for (let i = 0; i < rows; i++) {
    let best = 0;
    for (let j = 1; j < n; j++) if (scores.data[i * n + j] > scores.data[i * n + best]) best = j;
    if (best === labels[i]) hit++;
  }
  return hit / rows;
}

for (const bt of backendsUnderTest()) {
  describe(`quantize on the ${bt.label} backend (seed ${seed})`, () => {
    it('int8 (dynamic and calibrated) and bf16 stay within 0.5 points of float32 on digits', async () => {
      setBackend(bt.name);
      const digits = loadDigits({ split: 0.2, seed: 42 });
      const model = new Sequential([new Linear(64, 128), new ReLU(), new Linear(128, 64), new ReLU(), new Linear(64, 10)], { seed });
      await fit(model, digits.train, { epochs: 20, batchSize: 32, optimizer: 'adam', lr: 1e-3, seed, verbose: 0 });
      // All 1797 rows (a 0.5-point margin is 9 rows; on the 359 test rows it would be 1).
      const x = new Tensor(digits.x, [digits.n, 64]);
      const labels = digits.y;
      const ref = accuracy(model.predict(x), labels);
      const calibration = new Tensor(digits.train.x.slice(0, 256 * 64), [256, 64]);
      for (const [name, q] of [
        ['int8 dynamic', quantize(model, { dtype: 'int8' })],
        ['int8 calibrated', quantize(model, { dtype: 'int8', calibration })],
        ['bf16', quantize(model, { dtype: 'bf16' })],
      ] as const) {
        expect(q.layers.map((l) => l.constructor.name)).toEqual(['QuantizedLinear', 'QuantizedLinear', 'QuantizedLinear']);
        const y = q.predict(x);
        const acc = accuracy(y, labels);
        console.log(`digits ${bt.name} ${name}: ${acc.toFixed(4)} vs float32 ${ref.toFixed(4)}`);
        expect(Math.abs(acc - ref), `${name}, seed ${seed}`).toBeLessThanOrEqual(0.005);
        // The outputs themselves are close to float32's (quantisation error, not garbage).
        const yf = model.predict(x);
        let err = 0, mag = 0;
        for (let i = 0; i < y.size; i++) {
          err = Math.max(err, Math.abs(y.data[i] - yf.data[i]));
          mag = Math.max(mag, Math.abs(yf.data[i]));
        }
        expect(err / mag, name).toBeLessThan(name === 'bf16' ? 0.02 : 0.05);
        expect(err, name).toBeGreaterThan(0); // it did compute in low precision
        // predictAsync and evaluate give the same answers.
        const ya = await predictAsync(q, x.slice(0, 10));
        expect(Array.from(ya.data)).toEqual(Array.from(y.data.subarray(0, 100)));
        const r = evaluate(q, digits.test);
        const testX = new Tensor(digits.test.x, [digits.test.y.length, 64]);
        expect(r.accuracy as number).toBeCloseTo(accuracy(q.predict(testX), digits.test.y), 10);
      }
      // The float32 model is unchanged.
      expect(accuracy(model.predict(x), labels)).toBe(ref);
    }, 120_000);
  });
}

describe('quantize layers and errors', () => {
  it('fuses the activation after each Linear and keeps the other layers', () => {
    const model = new Sequential([new Flatten(), new Linear(4, 3), new ReLU(), new Linear(3, 2), new Softmax()], { seed: 1 });
    const q = quantize(model, { dtype: 'int8' });
    expect(q.layers.map((l) => l.describe())).toEqual([
      'Flatten', 'QuantizedLinear(4 -> 3, int8, dynamic input scale + relu)', 'QuantizedLinear(3 -> 2, int8, dynamic input scale)', 'Softmax',
    ]);
    const y = q.predict(tensor([[[1, 2], [3, 4]]]));
    expect(y.shape).toEqual([1, 2]);
    expect(y.data[0] + y.data[1]).toBeCloseTo(1, 6);
    const l = q.layers[1] as QuantizedLinear;
    expect(l.weight.shape).toEqual([3, 4]);
    expect(l.weightScale?.shape).toEqual([3]);
  });

  it('saves and loads (float32 safetensors holding the int8 / bf16 values and the scales)', () => {
    const model = new Sequential([new Linear(6, 5), new ReLU(), new Linear(5, 3)], { seed: 3 });
    const x = tensor([[0.5, -1, 2, 0, 0.25, -0.75], [1, 1, 1, 1, 1, 1]]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-quant-'));
    try {
      for (const q of [quantize(model, { dtype: 'int8' }), quantize(model, { dtype: 'int8', calibration: x }), quantize(model, { dtype: 'bf16' })]) {
        save(q, path.join(dir, 'm'));
        const back = load(path.join(dir, 'm')) as Sequential;
        expect(back.layers.map((l) => l.describe())).toEqual(q.layers.map((l) => l.describe()));
        expect(Array.from(back.predict(x).data)).toEqual(Array.from(q.predict(x).data));
        const w = (back.layers[0] as QuantizedLinear).weight.data;
        if ((q.layers[0] as QuantizedLinear).dtype === 'int8') expect(w.every((v) => Number.isInteger(v) && Math.abs(v) <= 127)).toBe(true);
      }
      // A weight that is not an int8 value is refused when the layer runs.
      const q = quantize(model, { dtype: 'int8' });
      (q.layers[0] as QuantizedLinear).weight.data[2] = 0.5;
      (q.layers[0] as QuantizedLinear).weight._version++;
      expect(() => q.predict(x)).toThrow(/QuantizedLinear\(6 -> 5, int8, dynamic input scale \+ relu\): weight element 2 is 0.5, not an int8 value/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses ONNX export (no QDQ export yet): the tracer finds the output computed outside myelin ops', async () => {
    const q = quantize(new Sequential([new Linear(4, 3), new ReLU(), new Linear(3, 2)], { seed: 1 }), { dtype: 'int8' });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-quant-'));
    try {
      await expect(exportModel(q, path.join(dir, 'q.onnx'))).rejects.toThrow(/^onnx\.exportModel: output 'output' was not computed from the inputs by myelin ops/);
      expect(fs.readdirSync(dir)).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects bad models and options with clear errors', () => {
    const model = new Sequential([new Linear(4, 3)], { seed: 1 });
    expect(() => quantize(new Linear(4, 3) as unknown as Sequential, { dtype: 'int8' })).toThrow(/^quantize: model must be a Sequential, got /);
    expect(() => quantize(model, { dtype: 'int4' as 'int8' })).toThrow(/^quantize: dtype must be 'int8' or 'bf16', got 'int4'/);
    expect(() => quantize(model, {} as { dtype: 'int8' })).toThrow(/^quantize: dtype must be 'int8' or 'bf16'/);
    expect(() => quantize(model, { dtype: 'int8', extra: 1 } as { dtype: 'int8' })).toThrow(/^quantize: .*extra/);
    expect(() => quantize(model, { dtype: 'bf16', calibration: tensor([[1, 2, 3, 4]]) })).toThrow(/^quantize: calibration applies to dtype 'int8' only/);
    expect(() => quantize(model, { dtype: 'int8', calibration: new Float32Array(4) as unknown as Tensor })).toThrow(/^quantize: calibration must be a Tensor/);
    expect(() => quantize(new Sequential([new ReLU()]), { dtype: 'int8' })).toThrow(/^quantize: the model has no Linear layer/);
    const q = quantize(model, { dtype: 'bf16' });
    expect(q.layers[0].toConfig()).toEqual({ type: 'QuantizedLinear', dtype: 'bf16', inFeatures: 4, outFeatures: 3, bias: true, activation: 'none', alpha: 0.01, inputScale: 0 });
    expect(() => q.predict(tensor([[1, 2, 3]]))).toThrow(/QuantizedLinear\(4 -> 3, bf16\)\.forward: input of shape \[1,3\] has 3 features .* expected 4/);
  });
});

// The inference input rule (lib/serve/input.ts): a flat Float32Array needs its row width, a Tensor of the wrong width always throws (predict and predictAsync).
import { describe, expect, it } from 'vitest';

import { Flatten, Linear, ReLU, Sequential } from '../lib/nn';
import { predict } from '../lib/train';
import { Tensor, randn } from '../lib/tensor';

function model20(): Sequential {
  return new Sequential(new Linear(20, 8, { seed: 1 }), new ReLU(), new Linear(8, 2, { seed: 2 }));
}

describe('flat Float32Array inputs carry no row width', () => {
  it('issue 11: 426 rows of 30 features on a 20-input model are refused, not read as 639 rows of 20', async () => {
    const m = model20();
    const x = new Float32Array(30 * 426);
    const noWidth = /a flat Float32Array \(12780 values\) has no row width: pass a Tensor of shape \[rows, 20\].*options\.features \(20 for this model\) or options\.rows/;
    expect(() => m.predict(x)).toThrow(noWidth);
    await expect(m.predictAsync(x)).rejects.toThrow(noWidth);
    expect(() => predict(m, x)).toThrow(noWidth);
    // Declaring the true shape names both widths.
    expect(() => m.predict(x, { features: 30 })).toThrow('predict: options.features = 30, but the model takes 20 input features per row');
    await expect(m.predictAsync(x, { features: 30 })).rejects.toThrow('predictAsync: options.features = 30, but the model takes 20 input features per row');
    expect(() => m.predict(x, { rows: 426 })).toThrow('predict: 12780 values in options.rows = 426 rows make 30 per row, but the model takes 20 input features per row');
    await expect(m.predictAsync(x, { rows: 426 })).rejects.toThrow(/options.rows = 426 rows make 30 per row/);
    // As a Tensor, the width mismatch is an error too.
    expect(() => m.predict(new Tensor(x, [426, 30]))).toThrow('input of shape [426,30] has 30 features in its last dimension, expected 20');
    await expect(m.predictAsync(new Tensor(x, [426, 30]))).rejects.toThrow("predictAsync: input of shape [426,30] does not match the model's 20 input features (the last dimension must be 20)");
  });

  it('with features or rows (or both, agreeing) a flat array runs and equals the Tensor input', async () => {
    const m = model20();
    const t = randn([7, 20], { seed: 3 });
    const want = m.predict(t);
    for (const opts of [{ features: 20 }, { rows: 7 }, { features: 20, rows: 7 }]) {
      const got = m.predict(t.data, opts);
      expect(got.shape).toEqual([7, 2]);
      expect(Array.from(got.data)).toEqual(Array.from(want.data));
      const async = await m.predictAsync(t.data, opts);
      expect(async.shape).toEqual([7, 2]);
      for (let i = 0; i < 14; i++) expect(Math.abs(async.data[i] - want.data[i])).toBeLessThan(1e-5);
    }
    expect(Array.from(predict(m, t.data, { features: 20 }).data)).toEqual(Array.from(want.data));
    expect(() => m.predict(t.data, { features: 20, rows: 6 })).toThrow('predict: options.rows = 6 and options.features = 20 make 120 values, the input has 140');
    expect(() => m.predict(t.data, { features: 3 })).toThrow('predict: input has 140 values, not a multiple of options.features = 3');
    expect(() => m.predict(t.data, { rows: 3 })).toThrow('predict: input has 140 values, not a multiple of options.rows = 3');
    expect(() => m.predict(t.data, { features: 0 })).toThrow('predict: features must be a positive integer, got 0');
    expect(() => m.predict(t.data, { rows: '7' } as never)).toThrow("predict: rows must be a positive integer, got '7' (a string)");
    // Options that disagree with a Tensor's shape are refused rather than ignored.
    expect(() => m.predict(t, { features: 21 })).toThrow('predict: options.features = 21 disagrees with the input tensor of shape [7,20]');
    expect(() => m.predict(t, { rows: 8 })).toThrow('predict: options.rows = 8 disagrees with the input tensor of shape [7,20]');
    expect(m.predict(t, { rows: 7, features: 20 }).shape).toEqual([7, 2]);
  });

  it('an empty flat array with features gives zero rows', async () => {
    const m = model20();
    expect(m.predict(new Float32Array(0), { features: 20 }).shape).toEqual([0, 2]);
    expect((await m.predictAsync(new Float32Array(0), { features: 20 })).shape).toEqual([0, 2]);
  });
});

describe('predictAsync: a Tensor of the wrong width always throws', () => {
  it('takes [rows, width] or [width] on a model without Flatten; other shapes are refused', async () => {
    const m = model20();
    await expect(m.predictAsync(new Tensor(new Float32Array(40), [2, 4, 5]))).rejects.toThrow("input of shape [2,4,5] does not match the model's 20 input features");
    await expect(m.predictAsync(new Tensor(new Float32Array(40), [2, 1, 20]))).rejects.toThrow('input of shape [2,1,20] has 3 dimensions; this model takes [rows, 20] (reshape it)');
    await expect(m.predictAsync(new Tensor(new Float32Array(40), [40]))).rejects.toThrow("input of shape [40] does not match the model's 20 input features");
    await expect(m.predictAsync(new Tensor(new Float32Array(1), []))).rejects.toThrow('input is a 0-d tensor; expected [rows, 20]');
    await expect(m.predictAsync([1, 2] as never)).rejects.toThrow('predictAsync: input must be a Tensor or a Float32Array, got [1,2] (an array) (make one with tensor([...]))');
    // One row as a 1-d tensor gives a 1-d result, as predict does.
    const row = randn([20], { seed: 4 });
    const y = await m.predictAsync(row);
    expect(y.shape).toEqual(m.predict(row).shape);
    expect(y.shape).toEqual([2]);
  });

  it('a model that starts with Flatten takes [rows, ...] whose trailing dims multiply to its width', async () => {
    const m = new Sequential(new Flatten(), new Linear(20, 3, { seed: 5 }));
    const x = randn([3, 4, 5], { seed: 6 });
    const want = m.predict(x);
    const got = await m.predictAsync(x);
    expect(got.shape).toEqual([3, 3]);
    for (let i = 0; i < 9; i++) expect(Math.abs(got.data[i] - want.data[i])).toBeLessThan(1e-5);
    await expect(m.predictAsync(randn([3, 4, 6]))).rejects.toThrow('input of shape [3,4,6] does not match the model: it starts with Flatten, so it takes [rows, ...] with 20 values per row');
    await expect(m.predictAsync(randn([20]))).rejects.toThrow(/input of shape \[20\] does not match the model: it starts with Flatten/);
  });
});

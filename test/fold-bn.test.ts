// BatchNorm folding (nn/fold-bn.ts): folded == unfolded to 1e-5, predict's dense plan runs the folded layers and follows weight changes.
import { describe, expect, it } from 'vitest';
import { Tensor } from '../lib/tensor';
import { noGrad } from '../lib/autograd';
import { BatchNorm1d, Linear, ReLU, Sequential, Softmax, Module } from '../lib/nn';
import { foldBatchNorm, foldScaleShift } from '../lib/nn/fold-bn';
import { fit } from '../lib/train';
import { Rng } from '../lib/random';
import { maxViolation } from './helpers/onnx';

function input(rows: number, cols: number, seed: number, scale = 2, offset = 0): Tensor {
  const r = new Rng(seed);
  return new Tensor(Float32Array.from({ length: rows * cols }, () => offset + scale * (2 * r.next() - 1)), [rows, cols]);
}

function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  const v = maxViolation(a, b, 1e-5, 1e-5);
  expect(v.excess, `${what}: at ${v.at}: ${v.a} vs ${v.b}`).toBeLessThanOrEqual(0);
}

/** The unfolded eval-mode forward (ops, layer by layer). */
function unfolded(model: Module, x: Tensor): Tensor {
  model.eval();
  return noGrad(() => model.forward(x));
}

function warm(model: Sequential, cols: number): void {
  model.train();
  for (let i = 0; i < 4; i++) noGrad(() => model.forward(input(32, cols, 50 + i, 3, 1)));
  model.eval();
}

describe('BatchNorm folding', () => {
  it('foldScaleShift scales each output row and maps the bias', () => {
    const w = Float32Array.of(1, 2, 3, 4, 5, 6);
    const outW = new Float32Array(6);
    const outB = new Float32Array(2);
    foldScaleShift(w, Float32Array.of(1, -1), Float32Array.of(2, 0.5), Float32Array.of(10, 20), outW, outB);
    expect(Array.from(outW)).toEqual([2, 4, 6, 2, 2.5, 3]);
    expect(Array.from(outB)).toEqual([12, 19.5]);
    expect(() => foldScaleShift(w, null, new Float32Array(4), new Float32Array(4), outW, new Float32Array(4))).toThrow(/does not split into 4 output channels/);
  });

  it('a folded chain computes the unfolded eval-mode forward (1e-5), with and without Linear bias', () => {
    const model = new Sequential(
      new Linear(7, 9, { seed: 1 }), new BatchNorm1d(9), new ReLU(),
      new Linear(9, 5, { seed: 2, bias: false }), new BatchNorm1d(5, { momentum: null }),
      new Linear(5, 3, { seed: 3 }), new Softmax(),
    );
    (model.layers[1] as BatchNorm1d).weight!.data.set([1, 2, -1, 0.5, 3, 1, 1, 0.1, 2]);
    warm(model, 7);
    const fold = foldBatchNorm(model.layers);
    expect(fold).not.toBeNull();
    expect(fold!.layers.map((l) => l.constructor.name)).toEqual(['Linear', 'ReLU', 'Linear', 'Linear', 'Softmax']);
    expect((fold!.layers[2] as Linear).bias).not.toBeNull(); // the bias-free Linear gains BatchNorm's shift
    const x = input(70, 7, 9);
    const reference = unfolded(model, x);
    const foldedOut = noGrad(() => new Sequential(fold!.layers).forward(x));
    expectClose(foldedOut.data, reference.data, 'folded chain');
    // predict (the planner runs BatchNorm through its forward between native dense segments) agrees.
    expectClose(model.predict(x).data, reference.data, 'predict (dense plan, 70 rows)');
    expectClose(model.predict(x.slice(0, 3)).data, reference.slice(0, 3).data, 'predict (dense plan, 3 rows)');
  });

  it('predict follows training after the first fold (running statistics and weights change)', async () => {
    const model = new Sequential(new Linear(4, 6, { seed: 5 }), new BatchNorm1d(6), new ReLU(), new Linear(6, 2, { seed: 6 }));
    const x = input(40, 4, 3, 1, 2);
    const first = model.predict(x);
    expectClose(first.data, unfolded(model, x).data, 'before training');
    const y = Int32Array.from({ length: 40 }, (_, i) => (x.data[i * 4] > 2 ? 1 : 0));
    await fit(model, { x, y }, { epochs: 3, batchSize: 8, verbose: 0, seed: 2, lr: 0.05 });
    const after = model.predict(x);
    expect(Array.from(after.data)).not.toEqual(Array.from(first.data));
    expectClose(after.data, unfolded(model, x).data, 'after training');
  });

  it('leaves BatchNorms it cannot fold: first layer, after an activation, without running statistics', () => {
    expect(foldBatchNorm([new BatchNorm1d(3), new Linear(3, 2)])).toBeNull();
    expect(foldBatchNorm([new Linear(3, 4), new ReLU(), new BatchNorm1d(4)])).toBeNull();
    expect(foldBatchNorm([new Linear(3, 4), new BatchNorm1d(4, { trackRunningStats: false })])).toBeNull();
    const model = new Sequential(new Linear(3, 4, { seed: 1 }), new ReLU(), new BatchNorm1d(4), new Linear(4, 2, { seed: 2 }));
    warm(model, 3);
    const x = input(5, 3, 1);
    expectClose(model.predict(x).data, unfolded(model, x).data, 'unfoldable chain runs its forward');
  });
});

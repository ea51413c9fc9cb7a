// Loss options against PyTorch (committed fixture) and finite differences: crossEntropy weight / labelSmoothing, bceWithLogits posWeight / weight, l1Loss.
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tensor, tensor } from '../lib/tensor';
import { bceWithLogits, crossEntropy, l1Loss, type Reduction } from '../lib/nn/losses';
import { backendsUnderTest, freshRng, gradcheck, randomTensor, setBackend } from './helpers/gradcheck';

interface TorchCase {
  name: string;
  loss_fn: 'crossEntropy' | 'bceWithLogits' | 'l1Loss';
  inputs: number[][];
  shapes: number[][];
  loss: number[];
  lossShape: number[];
  upstream: number[];
  grads: number[][];
  reduction: Reduction;
  labels?: number[];
  weight?: number[] | null;
  labelSmoothing?: number;
  posWeight?: number | number[] | null;
}

// Written by test/fixtures/losses/make_torch_losses.py (PyTorch, float64 on float32 inputs).
const fixture = JSON.parse(
  fs.readFileSync(path.join(__dirname, 'fixtures', 'losses', 'torch_losses.json'), 'utf8'),
) as { torch: string; cases: TorchCase[] };

function runCase(c: TorchCase): { loss: Tensor; inputs: Tensor[] } {
  const inputs = c.inputs.map((v, i) => new Tensor(Float32Array.from(v), c.shapes[i], true));
  const reduction = c.reduction;
  let loss: Tensor;
  if (c.loss_fn === 'crossEntropy') {
    const opts = {
      reduction,
      ...(c.weight ? { weight: c.weight } : {}),
      ...(c.labelSmoothing ? { labelSmoothing: c.labelSmoothing } : {}),
    };
    loss = c.labels ? crossEntropy(inputs[0], Int32Array.from(c.labels), opts) : crossEntropy(inputs[0], inputs[1], opts);
  } else if (c.loss_fn === 'bceWithLogits') {
    loss = bceWithLogits(inputs[0], inputs[1], {
      reduction,
      ...(c.posWeight !== null && c.posWeight !== undefined ? { posWeight: c.posWeight } : {}),
      ...(c.weight ? { weight: c.weight } : {}),
    });
  } else {
    loss = l1Loss(inputs[0], inputs[1], { reduction });
  }
  return { loss, inputs };
}

function close(actual: number, expected: number, what: string): void {
  const tol = 2e-5 + 2e-5 * Math.abs(expected);
  if (!(Math.abs(actual - expected) <= tol)) throw new Error(`${what}: got ${actual}, PyTorch ${expected}`);
}

for (const b of backendsUnderTest()) {
  describe(`loss options vs PyTorch ${fixture.torch} (${b})`, () => {
    it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
      setBackend(b);
      const { loss, inputs } = runCase(c);
      expect(loss.shape).toEqual(c.lossShape);
      c.loss.forEach((v, i) => close(loss.data[i], v, `${c.name} loss[${i}]`));
      loss.backward(new Tensor(Float32Array.from(c.upstream), c.lossShape));
      c.grads.forEach((g, k) => {
        if (k === 1 && c.loss_fn === 'crossEntropy' && c.labels) return;
        const grad = inputs[k].grad;
        expect(grad, `${c.name} input ${k} gradient`).not.toBeNull();
        g.forEach((v, i) => close((grad as Tensor).data[i], v, `${c.name} d/d input ${k} [${i}]`));
      });
    });
  });
}

describe('loss options change the loss (they were ignored before)', () => {
  const logits = tensor([[2, 0], [0, 1], [1, 3]]);
  const labels = new Int32Array([0, 1, 1]);
  const perRow = crossEntropy(logits, labels, { reduction: 'none' }).toArray() as number[];

  it('crossEntropy weight: the weighted mean sum(w_y l) / sum(w_y)', () => {
    const w = [1, 5];
    const expected = (1 * perRow[0] + 5 * perRow[1] + 5 * perRow[2]) / 11;
    expect(crossEntropy(logits, labels, { weight: w }).item()).toBeCloseTo(expected, 6);
    expect(crossEntropy(logits, labels, { weight: new Float32Array(w), reduction: 'sum' }).item())
      .toBeCloseTo(perRow[0] + 5 * perRow[1] + 5 * perRow[2], 5);
  });

  it('crossEntropy labelSmoothing: (1 - e) nll + e * mean over classes of -log p', () => {
    const e = 0.2;
    const lp = (logits.logSoftmax().toArray() as number[][]);
    const expected = lp.map((row, i) => (1 - e) * -row[labels[i]] + (e / 2) * -(row[0] + row[1]));
    const got = crossEntropy(logits, labels, { labelSmoothing: e, reduction: 'none' }).toArray() as number[];
    got.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
  });

  it('bceWithLogits posWeight scales the positive term', () => {
    const x = tensor([0.5, -1, 2]);
    const y = tensor([1, 0, 1]);
    const plain = bceWithLogits(x, y, { reduction: 'none' }).toArray() as number[];
    const weighted = bceWithLogits(x, y, { posWeight: 3, reduction: 'none' }).toArray() as number[];
    expect(weighted[0]).toBeCloseTo(3 * plain[0], 6);
    expect(weighted[1]).toBeCloseTo(plain[1], 6);
    expect(weighted[2]).toBeCloseTo(3 * plain[2], 6);
  });

  it('l1Loss is the mean absolute difference', () => {
    expect(l1Loss(tensor([1, -2, 3]), tensor([0, 0, 3])).item()).toBeCloseTo(1, 6);
    expect(l1Loss(tensor([1, -2, 3]), tensor([0, 0, 3]), { reduction: 'sum' }).item()).toBeCloseTo(3, 6);
  });

  it('bad option values and unknown keys are errors naming the option', () => {
    expect(() => crossEntropy(logits, labels, { weight: [1, 2, 3] })).toThrow(/crossEntropy: weight has 3 values, expected 2/);
    expect(() => crossEntropy(logits, labels, { weight: [1, -1] })).toThrow(/weight\[1\] must be a non-negative finite number, got -1/);
    expect(() => crossEntropy(logits, labels, { labelSmoothing: 1.5 })).toThrow(/labelSmoothing must be in \[0, 1\], got 1.5/);
    expect(() => crossEntropy(logits, labels, { weights: [1, 2] } as never)).toThrow(/unknown option 'weights' \(did you mean 'weight'\? accepted: reduction, weight, labelSmoothing\)/);
    expect(() => bceWithLogits(tensor([1, 2]), tensor([0, 1]), { posWeight: [1, 2, 3] })).toThrow(/posWeight has 3 values/);
    expect(() => bceWithLogits(tensor([1, 2]), tensor([0, 1]), { pos_weight: 2 } as never)).toThrow(/unknown option 'pos_weight' \(did you mean 'posWeight'\?/);
  });
});

describe('loss option gradients vs finite differences', () => {
  const { seed, rng } = freshRng();
  const label = (what: string): string => `${what} (seed ${seed})`;
  it('crossEntropy weight / labelSmoothing, bceWithLogits posWeight / weight, l1Loss (every reduction)', () => {
    const M = 3 + rng.int(4);
    const N = 2 + rng.int(4);
    const labels = Int32Array.from({ length: M }, () => rng.int(N));
    const weight = Array.from({ length: N }, () => 0.2 + 2 * rng.next());
    const logits = randomTensor(rng, [M, N], { scale: 2 });
    const probs = randomTensor(rng, [M, N], { positive: true });
    const targets01 = new Tensor(Float32Array.from({ length: M * N }, () => (rng.next() > 0.5 ? 1 : 0)), [M, N], true);
    const posWeight = Array.from({ length: N }, () => 0.2 + 3 * rng.next());
    const elemWeight = Array.from({ length: M * N }, () => 2 * rng.next());
    // |pred - target| kept away from 0, l1's kink.
    const pred = randomTensor(rng, [M, N], { scale: 2 });
    const target = randomTensor(rng, [M, N], { scale: 2 });
    for (let i = 0; i < pred.size; i++) if (Math.abs(pred.data[i] - target.data[i]) < 0.05) pred.data[i] += 0.2;
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      for (const opts of [{ weight }, { labelSmoothing: 0.15 }, { weight, labelSmoothing: 0.3 }]) {
        const tag = `${Object.keys(opts).join('+')} ${reduction}`;
        gradcheck(([x]) => crossEntropy(x, labels, { ...opts, reduction }), [logits], { label: label(`crossEntropy labels ${tag}`) });
        gradcheck(([x, p]) => crossEntropy(x, p, { ...opts, reduction }), [logits, probs], { label: label(`crossEntropy probs ${tag}`) });
      }
      gradcheck(([x, t]) => bceWithLogits(x, t, { posWeight: 2.5, reduction }), [logits, probs], { label: label(`bce posWeight ${reduction}`) });
      gradcheck(([x, t]) => bceWithLogits(x, t, { posWeight, weight: elemWeight, reduction }), [logits, targets01], {
        label: label(`bce posWeight column + weight ${reduction}`),
      });
      gradcheck(([x, t]) => l1Loss(x, t, { reduction }), [pred, target], { label: label(`l1Loss ${reduction}`) });
    }
  });
});

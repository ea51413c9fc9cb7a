// fit's classWeight (object, array, 'balanced') and its whole-epoch weighted loss, and fit's refusal of lr next to an optimizer instance.
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tensor } from '../lib/tensor';
import { Rng } from '../lib/random';
import { noGrad } from '../lib/autograd';
import { Linear, ReLU, Sequential, crossEntropy, bceWithLogits } from '../lib/nn';
import { Adam, SGD } from '../lib/optim';
import { fit, evaluate } from '../lib/train';
import { resolveClassWeight } from '../lib/train/class-weight';

const silent = { verbose: 0 as const };

/** Imbalanced 3-class data: 4 features, class from the sign pattern of two of them, ~70/20/10. */
function data(n: number, seed: number): { x: Tensor; y: Int32Array } {
  const rng = new Rng(seed);
  const x = new Float32Array(n * 4);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 4; j++) x[4 * i + j] = rng.normal();
    const s = x[4 * i] + 0.5 * rng.normal();
    y[i] = s > 1.3 ? 2 : s > 0.5 ? 1 : 0;
  }
  return { x: new Tensor(x, [n, 4]), y };
}

const model = (outputs = 3): Sequential => new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, outputs), { seed: 11 });

describe('fit classWeight', () => {
  it('the epoch loss is the class-weighted mean over all rows (it was ignored before)', async () => {
    const d = data(103, 1);
    const m = model();
    const weight = [1, 3, 7];
    const expected = noGrad(() => crossEntropy(m.forward(d.x), d.y, { weight }).item());
    const unweighted = noGrad(() => crossEntropy(m.forward(d.x), d.y).item());
    // lr 0: the model does not move, so the epoch loss is the loss of the initial model over all rows.
    const h = await fit(m, d, { epochs: 1, batchSize: 16, shuffle: false, optimizer: new SGD(m.parameters(), { lr: 0 }), classWeight: weight, ...silent });
    expect(h.loss[0]).toBeCloseTo(expected, 5);
    expect(Math.abs(expected - unweighted)).toBeGreaterThan(0.01);
    // The same weights as an object (missing classes weigh 1) and as a Float32Array.
    const h2 = await fit(m, d, { epochs: 1, batchSize: 16, shuffle: false, optimizer: new SGD(m.parameters(), { lr: 0 }), classWeight: { 1: 3, 2: 7 }, ...silent });
    expect(h2.loss[0]).toBeCloseTo(expected, 5);
  });

  it('one step with classWeight equals a manual step on the weighted loss', async () => {
    const d = data(64, 2);
    const a = model();
    const b = model();
    await fit(a, d, { epochs: 1, batchSize: 64, shuffle: false, optimizer: new SGD(a.parameters(), { lr: 0.5 }), classWeight: [1, 2, 5], ...silent });
    const opt = new SGD(b.parameters(), { lr: 0.5 });
    opt.zeroGrad();
    crossEntropy(b.forward(d.x), d.y, { weight: [1, 2, 5] }).backward();
    opt.step();
    a.parameters().forEach((p, i) => {
      const q = b.parameters()[i];
      for (let k = 0; k < p.size; k++) expect(p.data[k]).toBeCloseTo(q.data[k], 6);
    });
  });

  it("'balanced' matches scikit-learn's compute_class_weight", () => {
    const f = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'metrics', 'sklearn_metrics.json'), 'utf8')) as {
      balancedClassWeight: { y: number[]; weights: number[] };
    };
    const w = resolveClassWeight('fit', 'balanced', Int32Array.from(f.balancedClassWeight.y), 3);
    f.balancedClassWeight.weights.forEach((v, i) => expect(w[i]).toBeCloseTo(v, 6));
  });

  it("'balanced' raises minority-class recall", async () => {
    const d = data(600, 3);
    const recall = async (classWeight?: 'balanced'): Promise<number> => {
      const m = model();
      await fit(m, d, { epochs: 5, batchSize: 32, seed: 4, lr: 0.01, ...(classWeight ? { classWeight } : {}), ...silent });
      const pred = m.predict(d.x);
      let hit = 0;
      let total = 0;
      for (let i = 0; i < d.y.length; i++) {
        if (d.y[i] !== 2) continue;
        total++;
        const row = Array.from(pred.data.subarray(i * 3, i * 3 + 3));
        if (row.indexOf(Math.max(...row)) === 2) hit++;
      }
      return hit / total;
    };
    expect(await recall('balanced')).toBeGreaterThan(await recall());
  });

  it('bceWithLogits on one output: each row weighted by its class, normalised by the weight sum', async () => {
    const d = data(50, 5);
    const y = d.y.map((v) => (v > 0 ? 1 : 0));
    const m = model(1);
    const logits = noGrad(() => m.forward(d.x));
    const w = Float32Array.from(y, (v) => (v === 1 ? 4 : 1));
    const t = new Tensor(Float32Array.from(y), [50, 1]);
    const expected = bceWithLogits(logits, t, { weight: w, reduction: 'sum' }).item() / w.reduce((s, v) => s + v, 0);
    const h = await fit(m, { x: d.x, y }, {
      epochs: 1, batchSize: 8, shuffle: false, loss: 'bceWithLogits', optimizer: new SGD(m.parameters(), { lr: 0 }), classWeight: { 1: 4 }, ...silent,
    });
    expect(h.loss[0]).toBeCloseTo(expected, 5);
  });

  it('bad classWeight values are errors naming the problem', async () => {
    const d = data(20, 6);
    const m = model();
    await expect(fit(m, d, { classWeight: [1, 2], ...silent })).rejects.toThrow(/classWeight has 2 weights, the model has 3 classes/);
    await expect(fit(m, d, { classWeight: { 5: 2 }, ...silent })).rejects.toThrow(/classWeight has a weight for class '5', the classes are 0..2/);
    await expect(fit(m, d, { classWeight: [1, -1, 1], ...silent })).rejects.toThrow(/classWeight\[1\] must be a finite number >= 0, got -1/);
    await expect(fit(m, d, { classWeight: 'balance' as never, ...silent })).rejects.toThrow(/classWeight must be an object/);
    const reg = { x: d.x, y: new Tensor(new Float32Array(60), [20, 3]) };
    await expect(fit(m, reg, { classWeight: [1, 1, 1], ...silent })).rejects.toThrow(/classWeight needs integer class labels/);
    await expect(fit(m, d, { classWeight: [1, 1, 1], loss: (p) => p.sum(), ...silent })).rejects.toThrow(/classWeight works with loss 'crossEntropy' or 'bceWithLogits'/);
  });
});

describe('fit lr with an optimizer instance', () => {
  it('throws instead of silently overwriting the optimizer lr', async () => {
    const d = data(20, 7);
    const m = model();
    const opt = new Adam(m.parameters(), { lr: 0.001 });
    await expect(fit(m, d, { optimizer: opt, lr: 0.1, ...silent })).rejects.toThrow(
      "fit: pass lr to the optimizer you constructed, or pass optimizer: 'adam' with lr (got lr: 0.1 and an Adam instance whose lr is 0.001)",
    );
    expect(opt.lr).toBe(0.001);
    // Without lr the instance trains with its own rate.
    const h = await fit(m, d, { optimizer: opt, ...silent });
    expect(h.lr[0]).toBe(0.001);
  });
});

describe('fit and evaluate option keys', () => {
  it('an unknown key is an error naming the closest known one (fit used to ignore it)', async () => {
    const d = data(20, 8);
    const m = model();
    await expect(fit(m, d, { epoch: 3, ...silent } as never)).rejects.toThrow(/^fit: unknown option 'epoch' \(did you mean 'epochs'\? accepted: epochs, batchSize, .*classWeight/);
    await expect(fit(m, d, { class_weight: 'balanced', ...silent } as never)).rejects.toThrow(/unknown option 'class_weight' \(did you mean 'classWeight'\?/);
    expect(() => evaluate(m, d, { metric: ['f1'] } as never)).toThrow(/^evaluate: unknown option 'metric' \(did you mean 'metrics'\?/);
    await expect(fit(m, d, null as never)).rejects.toThrow(/^fit: options must be an object .*, got null$/);
  });
});

// Metrics: the standalone functions against scikit-learn (committed fixture), and fit/evaluate metrics computed over whole epochs.
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tensor } from '../lib/tensor';
import { Rng } from '../lib/random';
import { Linear, ReLU, Sequential } from '../lib/nn';
import { fit, evaluate, metrics } from '../lib/train';

interface ClassificationCase {
  name: string;
  yTrue: number[];
  yPred: number[];
  labels: number[];
  accuracy: number;
  confusion: number[][];
  report: Record<string, { precision: number; recall: number; 'f1-score': number; support: number } | number>;
  perClass: { precision: number[]; recall: number[]; f1: number[] };
  [average: string]: unknown;
}

// Written by test/fixtures/metrics/make_sklearn_metrics.py (scikit-learn).
const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'metrics', 'sklearn_metrics.json'), 'utf8')) as {
  sklearn: string;
  classification: ClassificationCase[];
  auc: { name: string; yTrue: number[]; scores: number[]; auc: number }[];
  regression: { name: string; outputs: number; yTrue: number[]; yPred: number[]; mae: number; mse: number; rmse: number; r2: number }[];
};

const near = (a: number, b: number, what: string, tol = 1e-12): void => {
  if (!(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)))) throw new Error(`${what}: got ${a}, scikit-learn ${b}`);
};

describe(`metrics functions vs scikit-learn ${fixture.sklearn}`, () => {
  for (const c of fixture.classification) {
    it(`classification: ${c.name}`, () => {
      const yTrue = Int32Array.from(c.yTrue);
      const yPred = c.yPred;
      near(metrics.accuracyScore(yTrue, yPred), c.accuracy, 'accuracy');
      expect(metrics.confusionMatrix(yTrue, yPred).matrix).toEqual(c.confusion);
      for (const avg of ['macro', 'micro', 'weighted', 'binary'] as const) {
        const want = c[avg] as { precision: number; recall: number; f1: number } | undefined;
        if (want === undefined) continue;
        near(metrics.precisionScore(yTrue, yPred, { average: avg }), want.precision, `${avg} precision`);
        near(metrics.recallScore(yTrue, yPred, { average: avg }), want.recall, `${avg} recall`);
        near(metrics.f1Score(yTrue, yPred, { average: avg }), want.f1, `${avg} f1`);
      }
      // Per class (sklearn lists the classes present in yTrue or yPred).
      const per = { precision: metrics.precisionScore(yTrue, yPred, { average: 'none' }), recall: metrics.recallScore(yTrue, yPred, { average: 'none' }), f1: metrics.f1Score(yTrue, yPred, { average: 'none' }) };
      c.labels.forEach((cls, i) => {
        for (const k of ['precision', 'recall', 'f1'] as const) near(per[k][cls], c.perClass[k][i], `class ${cls} ${k}`);
      });
      const report = metrics.classificationReport(yTrue, yPred);
      near(report.accuracy, c.accuracy, 'report accuracy');
      for (const [key, ours] of [['macro avg', report.macro], ['weighted avg', report.weighted]] as const) {
        const want = c.report[key] as { precision: number; recall: number; 'f1-score': number; support: number };
        near(ours.precision, want.precision, `${key} precision`);
        near(ours.recall, want.recall, `${key} recall`);
        near(ours.f1, want['f1-score'], `${key} f1`);
        expect(ours.support).toBe(want.support);
      }
      for (const cls of c.labels) {
        const want = c.report[String(cls)] as { precision: number; recall: number; 'f1-score': number; support: number };
        const ours = report.perClass[cls];
        near(ours.f1, want['f1-score'], `report class ${cls} f1`);
        expect(ours.support).toBe(want.support);
      }
      // The default average: binary for two classes, macro for more.
      near(metrics.f1Score(yTrue, yPred), (c[c.binary !== undefined ? 'binary' : 'macro'] as { f1: number }).f1, 'default average');
    });
  }

  for (const c of fixture.auc) {
    it(`ROC AUC: ${c.name}`, () => {
      near(metrics.rocAucScore(c.yTrue, Float32Array.from(c.scores)), c.auc, 'auc');
      // Two columns: column 1 minus column 0 ranks the rows the same way.
      const two = new Tensor(Float32Array.from(c.scores.flatMap((s) => [0, s])), [c.scores.length, 2]);
      near(metrics.rocAucScore(c.yTrue, two), c.auc, 'auc from [n, 2]');
    });
  }

  for (const c of fixture.regression) {
    it(`regression: ${c.name}`, () => {
      const t = new Tensor(Float32Array.from(c.yTrue), [c.yTrue.length / c.outputs, c.outputs]);
      const p = new Tensor(Float32Array.from(c.yPred), t.shape);
      near(metrics.meanAbsoluteError(t, p), c.mae, 'mae', 1e-9);
      near(metrics.meanSquaredError(t, p), c.mse, 'mse', 1e-9);
      near(metrics.rootMeanSquaredError(t, p), c.rmse, 'rmse', 1e-9);
      near(metrics.r2Score(t, p), c.r2, 'r2', 1e-9);
    });
  }
});

describe('metrics functions: inputs and errors', () => {
  it('takes scores [n, classes] (argmax) and [n, 1] (threshold), and class names', () => {
    const scores = new Tensor(Float32Array.from([0.1, 0.9, 0.8, 0.2, 0.3, 0.7]), [3, 2]);
    const cm = metrics.confusionMatrix([1, 0, 0], scores, { classes: ['cat', 'dog'] });
    expect(cm.matrix).toEqual([[1, 1], [0, 1]]);
    expect(cm.classes).toEqual(['cat', 'dog']);
    expect(cm.toString()).toMatch(/cat/);
    const logits = new Tensor(Float32Array.from([-1, 2, 0.5]), [3, 1]);
    expect(metrics.accuracyScore([0, 1, 0], logits, { threshold: 0 })).toBeCloseTo(2 / 3, 12);
    expect(metrics.classificationReport([0, 1, 1], [0, 1, 0]).toString()).toMatch(/macro avg/);
  });

  it('names what is wrong', () => {
    expect(() => metrics.f1Score([0, 1], [0])).toThrow(/f1Score: yTrue has 2 rows, yPred has 1/);
    expect(() => metrics.f1Score([0, 1.5], [0, 1])).toThrow(/yTrue\[1\] = 1.5 is not a class index/);
    expect(() => metrics.f1Score([0, 2], [0, 1], { average: 'binary' })).toThrow(/average 'binary' needs two classes, the data has 3/);
    expect(() => metrics.f1Score([0, 1], [0, 1], { avg: 'macro' } as never)).toThrow(/unknown option 'avg'/);
    expect(() => metrics.confusionMatrix([0, 3], [0, 1], { classes: 2 })).toThrow(/yTrue\[1\] = 3 is not one of the 2 classes/);
    expect(() => metrics.rocAucScore([1, 1, 1], [0.1, 0.2, 0.3])).toThrow(/only one class is present/);
    expect(() => metrics.r2Score([1, 2, 3], [1, 2])).toThrow(/yTrue has 3 values, yPred has 2/);
  });
});

/** A small seeded binary problem: 2 features, label = x0 + 0.5 x1 + noise > 0. */
function binaryData(n: number, seed: number): { x: Tensor; y: Int32Array } {
  const rng = new Rng(seed);
  const x = new Float32Array(n * 2);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    x[2 * i] = rng.normal();
    x[2 * i + 1] = rng.normal();
    y[i] = x[2 * i] + 0.5 * x[2 * i + 1] + 0.8 * rng.normal() > 0.3 ? 1 : 0;
  }
  return { x: new Tensor(x, [n, 2]), y };
}

describe('fit and evaluate metrics cover the whole epoch', () => {
  it('evaluate: precision, recall, f1, auc equal the scores of all predictions, not a mean over batches', async () => {
    const train = binaryData(400, 1);
    const test = binaryData(203, 2);
    const model = new Sequential(new Linear(2, 8), new ReLU(), new Linear(8, 2), { seed: 3 });
    await fit(model, train, { epochs: 3, batchSize: 32, seed: 4, verbose: 0 });
    const names = ['accuracy', 'precision', 'recall', 'f1', 'f1Macro', 'auc'] as const;
    const r = evaluate(model, test, { metrics: [...names], batchSize: 10 });
    const scores = model.predict(test.x);
    const whole = {
      accuracy: metrics.accuracyScore(test.y, scores),
      precision: metrics.precisionScore(test.y, scores),
      recall: metrics.recallScore(test.y, scores),
      f1: metrics.f1Score(test.y, scores),
      f1Macro: metrics.f1Score(test.y, scores, { average: 'macro' }),
      auc: metrics.rocAucScore(test.y, scores),
    };
    for (const n of names) expect(r[n], n).toBeCloseTo(whole[n], 12);
    // The old way, a mean of per-batch values, gives a different number.
    let batchMean = 0;
    let rows = 0;
    for (let s = 0; s < 203; s += 10) {
      const e = Math.min(203, s + 10);
      const sub = new Tensor(scores.data.slice(s * 2, e * 2), [e - s, 2]);
      const yb = test.y.subarray(s, e);
      if (new Set(yb).size < 2) continue;
      batchMean += metrics.rocAucScore(yb, sub) * (e - s);
      rows += e - s;
    }
    expect(Math.abs(batchMean / rows - whole.auc)).toBeGreaterThan(1e-4);
  });

  it('fit logs whole-epoch validation metrics; regression r2 / rmse / mae / mse', async () => {
    const rng = new Rng(5);
    const n = 300;
    const x = new Float32Array(n * 3);
    const y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < 3; j++) x[3 * i + j] = rng.normal();
      y[i] = 2 * x[3 * i] - x[3 * i + 1] + 0.3 * rng.normal();
    }
    const model = new Sequential(new Linear(3, 16), new ReLU(), new Linear(16, 1), { seed: 6 });
    const data = { x: new Tensor(x, [n, 3]), y: new Tensor(y, [n, 1]) };
    const h = await fit(model, data, { epochs: 2, batchSize: 16, seed: 7, verbose: 0, metrics: ['r2', 'rmse', 'mae', 'mse'], validationSplit: 0.3 });
    expect(h.metrics.r2).toHaveLength(2);
    expect(h.metrics.valR2).toHaveLength(2);
    const val = { x: new Tensor(x.slice(210 * 3), [90, 3]), y: new Tensor(y.slice(210), [90, 1]) };
    const pred = model.predict(val.x);
    expect(h.metrics.valR2[1]).toBeCloseTo(metrics.r2Score(val.y, pred), 6);
    expect(h.metrics.valRmse[1]).toBeCloseTo(metrics.rootMeanSquaredError(val.y, pred), 6);
    expect(h.metrics.valMae[1]).toBeCloseTo(metrics.meanAbsoluteError(val.y, pred), 6);
    expect(h.metrics.valMse[1]).toBeCloseTo(h.valLoss[1], 6); // mse loss = mse metric
  });

  it('metrics that do not fit the model fail before the first step', async () => {
    const model = new Sequential(new Linear(2, 3), { seed: 1 });
    const before = Float32Array.from(model.parameters()[0].data);
    const data = { x: new Tensor(new Float32Array(20), [10, 2]), y: new Int32Array(10) };
    await expect(fit(model, data, { metrics: ['auc'], verbose: 0 })).rejects.toThrow(/metric 'auc': binary classification only \(1 or 2 outputs\), the model has 3/);
    await expect(fit(model, data, { metrics: ['r2'], verbose: 0 })).rejects.toThrow(/metric 'r2': needs float targets, got integer class labels/);
    await expect(fit(model, data, { metrics: ['f1Score' as never], verbose: 0 })).rejects.toThrow(/unknown metric "f1Score" \(known: 'accuracy', 'precision'/);
    expect(model.parameters()[0].data).toEqual(before);
  });
});

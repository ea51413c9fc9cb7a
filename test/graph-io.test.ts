// The planner over any module graph (native chains inside user Modules, unplannable layers between native segments in predict and predictAsync) and several inputs through fit, evaluate, predict, predictAsync and save/load.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { Tensor, randn } from '../lib/tensor';
import { noGrad } from '../lib/autograd';
import { add, concat, relu } from '../lib/ops';
import { GELU, LayerNorm, Linear, Module, ReLU, Sequential, Softmax, register, type LayerConfig } from '../lib/nn';
import { inferenceRole } from '../lib/nn/registry';
import { planChain, planModel, planPasses, type PlanPass } from '../lib/nn/plan';
import { batcher, predict, predictAsync, predictClasses } from '../lib/serve';
import { fit, evaluate } from '../lib/train';
import { save, load } from '../lib/io/model-file';
import { getBackend } from '../lib/backend/select';
import { loadDigits } from '../lib/data/digits';
import { toOnnxBytes, fromOnnxBytes } from '../lib/io/onnx';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-graph-io-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

function expectClose(got: Float32Array, want: Float32Array, tol = 2e-5): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
  expect(worst).toBeLessThan(tol);
}

/** A user Module holding a Sequential MLP and a LayerNorm: forward is its own, not a chain. */
class Wrapped extends Module {
  readonly mlp: Sequential;
  readonly norm: LayerNorm;
  constructor(readonly width: number) {
    super();
    this.norm = this.registerModule('norm', new LayerNorm(width));
    this.mlp = this.registerModule('mlp', new Sequential(new Linear(width, 32, { seed: 1 }), new ReLU(), new Linear(32, 5, { seed: 2 })));
  }
  override forward(x: Tensor): Tensor {
    return this.mlp.forward(this.norm.forward(x));
  }
  override toConfig(): LayerConfig {
    return { type: 'Wrapped', width: this.width };
  }
  override describe(): string {
    return `Wrapped(${this.width})`;
  }
  static fromConfig(c: LayerConfig): Wrapped {
    return new Wrapped(c.width as number);
  }
}
register(Wrapped);

/** Eval-mode, tape-free forward: the reference predict must match. */
function reference(m: Module, ...x: Tensor[]): Tensor {
  m.eval();
  try {
    return noGrad(() => m.forward(...x) as Tensor);
  } finally {
    m.train();
  }
}

describe('the planner (nn/plan.ts)', () => {
  it('cuts a chain into native dense segments and ops segments; fusion is a pass', () => {
    const layers = [new Linear(3, 4), new ReLU(), new LayerNorm(4), new Linear(4, 2), new GELU(), new Softmax()];
    const plan = planChain(layers.map(inferenceRole));
    expect(plan.segments.map((s) => [s.kind, s.from, s.to])).toEqual([['dense', 0, 2], ['ops', 2, 3], ['dense', 3, 6]]);
    expect(plan.fused.map((f) => f?.act ?? null)).toEqual(['relu', null, null, 'gelu', null, null]);
    expect(plan.problem).toEqual({ at: 2, reason: 'unsupported' });
    // An activation with no Linear before it is an ops step; a lone Softmax too.
    const odd = planChain([new ReLU(), new Softmax()].map(inferenceRole));
    expect(odd.segments.map((s) => [s.kind, s.from, s.to])).toEqual([['ops', 0, 2]]);
    // A pass added to the list rewrites every later plan (here: undo the fusion).
    const unfuse: PlanPass = (steps) => steps.flatMap((s) => (s.kind === 'linear' && s.activation !== null
      ? [{ ...s, to: s.from + 1, activation: null }, { kind: 'activation' as const, from: s.from + 1, to: s.to, activation: s.activation }]
      : [s]));
    planPasses.push(unfuse);
    try {
      expect(planChain([new Linear(3, 4), new ReLU()].map(inferenceRole)).fused).toEqual([null, null]);
    } finally {
      planPasses.pop();
    }
    expect(planChain([new Linear(3, 4), new ReLU()].map(inferenceRole)).fused.map((f) => f?.act ?? null)).toEqual(['relu', null]);
  });

  it('builds a model plan once per structure and again when the layer list changes', () => {
    const m = new Sequential(new Linear(3, 4), new ReLU(), new Sequential(new Linear(4, 2)));
    const p = planModel(m);
    expect(planModel(m)).toBe(p);
    expect(p.layers.length).toBe(3); // the nested Sequential is flattened into the chain
    expect(p.segments.map((s) => s.kind)).toEqual(['dense']);
    m.layers.push(new LayerNorm(2));
    const q = planModel(m);
    expect(q).not.toBe(p);
    expect(q.segments.map((s) => s.kind)).toEqual(['dense', 'ops']);
  });

  it('a user Module holding a Sequential MLP: predict runs the chain natively, with the forward result', () => {
    const m = new Wrapped(8);
    const x = randn([100, 8], { seed: 3 });
    const backend = getBackend();
    const dense = vi.spyOn(backend, 'forwardDense');
    const got = predict(m, x);
    expect(dense).toHaveBeenCalledTimes(1); // 100 rows: one forwardDense call for the Sequential inside
    dense.mockClear();
    const want = reference(m, x); // training forward in eval mode: the ops path, no forwardDense
    expect(dense).not.toHaveBeenCalled();
    expectClose(got.data, want.data);
    expect(m.training).toBe(true);
  });

  it('a Sequential with a LayerNorm between Linears: predict and predictAsync run native segments around it', async () => {
    const m = new Sequential(new Linear(6, 16, { seed: 4 }), new GELU(), new LayerNorm(16), new Linear(16, 3, { seed: 5 }), new Softmax());
    const x = randn([70, 6], { seed: 6 });
    const want = reference(m, x);
    expectClose(predict(m, x).data, want.data);
    const backend = getBackend();
    const calls = vi.spyOn(backend, 'forwardAsync');
    let progress: number[] = [];
    const got = await predictAsync(m, x, { batchSize: 32, onProgress: (d, t) => { progress = [d, t]; } });
    expect(calls).toHaveBeenCalledTimes(6); // 3 batches x 2 dense segments
    expect(got.shape).toEqual([70, 3]);
    expectClose(got.data, want.data);
    expect(progress).toEqual([70, 70]);
  });

  it('predictAsync runs a user Module (not a chain) and a model of nothing but LayerNorm, never an error', async () => {
    const m = new Wrapped(8);
    const x = randn([40, 8], { seed: 7 });
    expectClose((await predictAsync(m, x, { batchSize: 16 })).data, reference(m, x).data);
    expectClose((await m.predictAsync(x.data, { features: 8 })).data, reference(m, x).data);
    const ln = new LayerNorm(8);
    expectClose((await predictAsync(ln, x)).data, reference(ln, x).data);
    const seqLn = new Sequential(new LayerNorm(8));
    expectClose((await predictAsync(seqLn, x)).data, reference(seqLn, x).data);
  });
});

/** Two towers: each reads one feature group, their outputs are concatenated and classified. */
class TwoTower extends Module {
  readonly left: Sequential;
  readonly right: Sequential;
  readonly head: Linear;
  constructor(readonly leftWidth: number, readonly rightWidth: number, seed = 1) {
    super();
    this.left = this.registerModule('left', new Sequential(new Linear(leftWidth, 32, { seed }), new ReLU()));
    this.right = this.registerModule('right', new Sequential(new Linear(rightWidth, 32, { seed: seed + 1 }), new ReLU()));
    this.head = this.registerModule('head', new Linear(64, 10, { seed: seed + 2 }));
  }
  override forward(inputs: { top: Tensor; bottom: Tensor }): Tensor {
    return this.head.forward(concat([this.left.forward(inputs.top), this.right.forward(inputs.bottom)], 1));
  }
  override toConfig(): LayerConfig {
    return { type: 'TwoTower', leftWidth: this.leftWidth, rightWidth: this.rightWidth };
  }
  override describe(): string {
    return `TwoTower(${this.leftWidth}, ${this.rightWidth})`;
  }
  static fromConfig(c: LayerConfig): TwoTower {
    return new TwoTower(c.leftWidth as number, c.rightWidth as number);
  }
}
register(TwoTower);

/** The digits' 8x8 images split into the top 4 rows (32 values) and the bottom 4 rows. */
function towers(x: Float32Array, n: number): { top: Tensor; bottom: Tensor } {
  const top = new Float32Array(n * 32);
  const bottom = new Float32Array(n * 32);
  for (let i = 0; i < n; i++) {
    top.set(x.subarray(i * 64, i * 64 + 32), i * 32);
    bottom.set(x.subarray(i * 64 + 32, i * 64 + 64), i * 32);
  }
  return { top: new Tensor(top, [n, 32]), bottom: new Tensor(bottom, [n, 32]) };
}

describe('several inputs', () => {
  it('a two-tower model trains through fit (> 0.9 accuracy), saves, loads and predicts identically', async () => {
    const digits = loadDigits({ split: 0.2, seed: 42 });
    const train = { x: towers(digits.train.x, digits.train.n), y: digits.train.y };
    const test = { x: towers(digits.test.x, digits.test.n), y: digits.test.y };
    const model = new TwoTower(32, 32);
    const history = await fit(model, train, { epochs: 15, batchSize: 32, lr: 3e-3, seed: 5, verbose: 0, validationData: test });
    expect(history.valAccuracy[history.valAccuracy.length - 1]).toBeGreaterThan(0.9);
    const r = evaluate(model, test);
    expect(r.accuracy).toBeGreaterThan(0.9);
    const out = predict(model, test.x);
    expect(out.shape).toEqual([digits.test.n, 10]);
    // The same rows as an async call, and through the Module method.
    expectClose((await predictAsync(model, test.x, { batchSize: 100 })).data, out.data, 1e-6);
    const file = path.join(dir, 'two-tower');
    save(model, file);
    const loaded = load(file);
    expect(Array.from(loaded.predict(test.x).data)).toEqual(Array.from(out.data));
    expect(Array.from((await loaded.predictAsync(test.x)).data)).toEqual(Array.from(out.data));
  }, 120_000);

  it('positional inputs (an array) become forward arguments; outputs may be several', async () => {
    class TwoHeads extends Module {
      readonly a = this.registerModule('a', new Linear(3, 2, { seed: 1 }));
      readonly b = this.registerModule('b', new Linear(4, 2, { seed: 2 }));
      override forward(x: Tensor, y: Tensor): { sum: Tensor; left: Tensor } {
        const left = this.a.forward(x);
        return { sum: add(left, relu(this.b.forward(y))), left };
      }
      override toConfig(): LayerConfig { return { type: 'TwoHeads' }; }
      override describe(): string { return 'TwoHeads'; }
    }
    const m = new TwoHeads();
    const x = randn([9, 3], { seed: 1 });
    const y = randn([9, 4], { seed: 2 });
    const want = reference(m, x, y) as unknown as { sum: Tensor; left: Tensor };
    const got = predict<{ sum: Tensor; left: Tensor }>(m, [x, y], { batchSize: 4 });
    expect(Object.keys(got)).toEqual(['sum', 'left']);
    expectClose(got.sum.data, want.sum.data, 1e-6);
    expectClose(got.left.data, want.left.data, 1e-6);
    const viaAsync = await predictAsync<{ sum: Tensor; left: Tensor }>(m, [x, y], { batchSize: 4 });
    expectClose(viaAsync.sum.data, want.sum.data, 1e-6);
  });

  it('errors name the input: rows that differ, a non-tensor, shapes that do not fit, options that do not apply', async () => {
    const model = new TwoTower(32, 32);
    const a = randn([5, 32]);
    expect(() => predict(model, { top: a, bottom: randn([4, 32]) })).toThrow("predict: input 'bottom' has 4 rows (shape [4,32]) but input 'top' has 5");
    expect(() => predict(model, { top: a, bottom: new Float32Array(160) as unknown as Tensor })).toThrow(
      "predict: input 'bottom' must be a Tensor [rows, ...], got a Float32Array",
    );
    expect(() => predict(model, { top: a, bottom: a }, { features: 32 })).toThrow('predict: options.features and options.rows shape one flat Float32Array input');
    await expect(predictAsync(model, { top: a, bottom: randn([4, 32]) })).rejects.toThrow("predictAsync: input 'bottom' has 4 rows");
    const y = new Int32Array(5);
    await expect(fit(model, { x: { top: a, bottom: randn([5, 31]) }, y }, { verbose: 0 })).rejects.toThrow(
      /fit: the model cannot run on data.x rows \(top \[32\], bottom \[31\]\)/,
    );
    await expect(fit(model, { x: { top: a, bottom: randn([4, 32]) }, y }, { verbose: 0 })).rejects.toThrow(
      'fit: data.x.bottom has 4 rows (shape [4,32]) but y has 5 labels',
    );
    await expect(fit(model, { x: { top: a, bottom: a }, y }, { verbose: 0, validationData: { x: { top: a, lower: a }, y } })).rejects.toThrow(
      'fit: validationData rows top [32], lower [32] (labels) do not match the training rows top [32], bottom [32] (labels)',
    );
    await expect(fit(model, { x: { top: a, bottom: a }, y }, { verbose: 0, standardize: true })).rejects.toThrow(
      'fit: a preprocessor (standardize, model.preprocessor) takes one input; this data has 2',
    );
  });

  it('several outputs: y per output, a loss per output with lossWeights, metrics per output, through fit and evaluate', async () => {
    class DigitAndParity extends Module {
      readonly body = this.registerModule('body', new Sequential(new Linear(64, 48, { seed: 3 }), new ReLU()));
      readonly digit = this.registerModule('digit', new Linear(48, 10, { seed: 4 }));
      readonly parity = this.registerModule('parity', new Linear(48, 1, { seed: 5 }));
      override forward(x: Tensor): { digit: Tensor; parity: Tensor } {
        const h = this.body.forward(x);
        return { digit: this.digit.forward(h), parity: this.parity.forward(h) };
      }
      override toConfig(): LayerConfig { return { type: 'DigitAndParity' }; }
      override describe(): string { return 'DigitAndParity'; }
      static fromConfig(): DigitAndParity { return new DigitAndParity(); }
    }
    register(DigitAndParity);
    const digits = loadDigits({ split: 0.2, seed: 42 });
    const parity = (y: Int32Array): Int32Array => y.map((v) => v % 2);
    const x = new Tensor(digits.train.x, [digits.train.n, 64]);
    const xTest = new Tensor(digits.test.x, [digits.test.n, 64]);
    const train = { x, y: { digit: digits.train.y, parity: parity(digits.train.y) } };
    const test = { x: xTest, y: { digit: digits.test.y, parity: parity(digits.test.y) } };
    const model = new DigitAndParity();
    const loss = { digit: 'crossEntropy', parity: 'bceWithLogits' } as const;
    const history = await fit(model, train, { epochs: 12, lr: 3e-3, seed: 2, verbose: 0, loss, lossWeights: { parity: 0.5 }, validationData: test });
    expect(Object.keys(history.metrics).sort()).toEqual(['digitAccuracy', 'parityAccuracy', 'valDigitAccuracy', 'valParityAccuracy']);
    expect(history.metrics.valDigitAccuracy.at(-1)).toBeGreaterThan(0.9);
    expect(history.metrics.valParityAccuracy.at(-1)).toBeGreaterThan(0.9);
    const r = evaluate(model, test, { loss, lossWeights: { parity: 0.5 } });
    expect(r.digitAccuracy).toBeCloseTo(history.metrics.valDigitAccuracy.at(-1)!, 6);
    expect(r.loss).toBeCloseTo(history.valLoss.at(-1)!, 5);
    // Weighting changes the reported loss by exactly the parity term.
    const unweighted = evaluate(model, test, { loss });
    expect(unweighted.loss).toBeGreaterThan(r.loss);
    // save/load keeps both heads.
    const file = path.join(dir, 'two-heads');
    save(model, file);
    const a = predict<{ digit: Tensor; parity: Tensor }>(model, xTest);
    const b = load(file).predict<{ digit: Tensor; parity: Tensor }>(xTest);
    expect(Array.from(b.digit.data)).toEqual(Array.from(a.digit.data));
    expect(Array.from(b.parity.data)).toEqual(Array.from(a.parity.data));
  }, 120_000);

  it('several outputs: errors name the output and the option', async () => {
    const model = new Wrapped(8);
    const x = randn([6, 8], { seed: 1 });
    const labels = new Int32Array(6);
    await expect(fit(model, { x, y: { a: labels, b: labels } }, { verbose: 0 })).rejects.toThrow(
      "fit: y has one target per output (a record with 'a', 'b'); the model's forward returned one Tensor, so output 'a' is missing",
    );
    await expect(fit(model, { x, y: { a: labels, b: labels } }, { verbose: 0, loss: { a: 'crossEntropy', c: 'mse' } })).rejects.toThrow(
      "fit: loss names output(s) 'c' that y does not have (y's outputs: a, b)",
    );
    await expect(fit(model, { x, y: labels }, { verbose: 0, lossWeights: [1, 2] })).rejects.toThrow('fit: lossWeights weighs the losses of several outputs; y gives one target');
    await expect(fit(model, { x, y: [labels, labels] }, { verbose: 0, lossWeights: [1, -2] })).rejects.toThrow('fit: lossWeights for output 1 must be a finite number >= 0, got -2');
    await expect(fit(model, { x, y: [labels, labels] }, { verbose: 0 })).rejects.toThrow(/fit: y has one target per output \(an array of 2 Tensors\); the model's forward returned one Tensor, so output 0 is missing/);
    await expect(fit(model, { x, y: { a: labels, b: new Int32Array(5) } }, { verbose: 0 })).rejects.toThrow('fit: data.x has 6 rows (shape [6,8]) but y.b has 5 labels');
  });

  it('serve.batcher and predictClasses say plainly what they do not take', async () => {
    const model = new TwoTower(32, 32);
    const a = randn([2, 32]);
    await expect(batcher(model).predict({ top: a, bottom: a } as never)).rejects.toThrow(
      'batcher.predict: a batcher joins calls with one input; for several inputs call predictAsync(model, x)',
    );
    expect(predictClasses(model, { top: a, bottom: a })).toHaveLength(2);
    class Pair extends Module {
      readonly fc = this.registerModule('fc', new Linear(2, 2));
      override forward(x: Tensor): Tensor[] { return [this.fc.forward(x), x]; }
      override toConfig(): LayerConfig { return { type: 'Pair' }; }
      override describe(): string { return 'Pair'; }
    }
    expect(() => predictClasses(new Pair(), randn([3, 2]))).toThrow('predictClasses: the model returned several outputs');
    expect(predict<Tensor[]>(new Pair(), randn([3, 2])).map((t) => t.shape)).toEqual([[3, 2], [3, 2]]);
  });

  it('an nn.Graph (a two-tower DAG read back from ONNX) predicts and predictAsyncs through its ops, with both input forms', async () => {
    const model = new TwoTower(32, 32, 7);
    const x = { top: randn([20, 32], { seed: 8 }), bottom: randn([20, 32], { seed: 9 }) };
    const want = reference(model, x as unknown as Tensor);
    const graph = fromOnnxBytes(toOnnxBytes(model, { input: x as never }));
    expect(graph.constructor.name).toBe('Graph');
    expectClose(predict(graph, x).data, want.data, 1e-5);
    expectClose((await predictAsync(graph, x, { batchSize: 8 })).data, want.data, 1e-5);
    expectClose(predict(graph, [x.top, x.bottom]).data, want.data, 1e-5);
  });
});

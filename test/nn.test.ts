// nn: parameter naming, init, seeding, state dicts, configs, summary, predict, dropout and losses.
import { beforeAll, describe, expect, it } from 'vitest';
import { Tensor, tensor, randn, zeros } from '../lib/tensor';
import * as nn from '../lib/nn';
import { Dropout, Flatten, GELU, LeakyReLU, Linear, ReLU, Sequential, Sigmoid, Softmax, Tanh, Dense } from '../lib/nn';
import { bceWithLogits, crossEntropy, huberLoss, mseLoss } from '../lib/nn/losses';
import { backendsUnderTest, freshRng, gradcheck, randomTensor, setBackend } from './helpers/gradcheck';

const { seed, rng } = freshRng();
const label = (what: string): string => `${what} (seed ${seed})`;

function mlp(s?: number): Sequential {
  return new Sequential([new Linear(8, 16), new ReLU(), new Dropout(0.2), new Linear(16, 12), new Tanh(), new Linear(12, 3)], { seed: s });
}

describe('Module structure', () => {
  it('namedParameters names Sequential children "0", "1", ...', () => {
    const m = mlp(1);
    expect(m.namedParameters().map(([n, t]) => [n, t.shape])).toEqual([
      ['0.weight', [16, 8]], ['0.bias', [16]],
      ['3.weight', [12, 16]], ['3.bias', [12]],
      ['5.weight', [3, 12]], ['5.bias', [3]],
    ]);
    expect(m.parameters().every((p) => p.requiresGrad)).toBe(true);
    expect(m.numParameters()).toBe(16 * 8 + 16 + 12 * 16 + 12 + 3 * 12 + 3);
  });

  it('nested Sequentials give dotted names', () => {
    const m = new Sequential(new Sequential(new Linear(2, 3)), new Linear(3, 1, { bias: false }));
    expect(m.namedParameters().map(([n]) => n)).toEqual(['0.0.weight', '0.0.bias', '1.weight']);
  });

  it('train()/eval() propagate to children', () => {
    const m = mlp(1);
    m.eval();
    expect(m.layers.every((l) => !l.training)).toBe(true);
    m.train();
    expect(m.layers.every((l) => l.training)).toBe(true);
  });

  it('Dense is Linear; weight layout is [out, in]', () => {
    const d = new Dense(4, 2);
    expect(d).toBeInstanceOf(Linear);
    expect(d.weight.shape).toEqual([2, 4]);
    expect(d.bias!.shape).toEqual([2]);
    const y = d.forward(zeros([3, 4]));
    expect(y.shape).toEqual([3, 2]);
  });

  it('constructor argument errors', () => {
    expect(() => new Linear(0, 3)).toThrow('Linear: inFeatures must be a positive integer, got 0');
    expect(() => new Dropout(1)).toThrow('Dropout: p must be in [0, 1), got 1');
    expect(() => new Sequential(new Linear(1, 1), 5 as never)).toThrow('Sequential: layer 1 is not a Module, got 5');
  });
});

describe('initialisation', () => {
  it("Linear's default init is PyTorch's: weight and bias uniform in +-1/sqrt(inFeatures)", () => {
    const l = new Linear(400, 300, { seed: 3 });
    expect(l.initScheme).toBe('default');
    const bound = 1 / Math.sqrt(400);
    const std = (t: Tensor): number => Math.sqrt(t.data.reduce((s, v) => s + v * v, 0) / t.size);
    expect(Math.max(...l.weight.data)).toBeLessThanOrEqual(bound);
    expect(Math.max(...l.weight.data)).toBeGreaterThan(0.95 * bound);
    expect(std(l.weight)).toBeCloseTo(bound / Math.sqrt(3), 3);
    expect(Math.max(...l.bias!.data.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(l.bias!.data.some((v) => v !== 0)).toBe(true);
  });

  it("explicit init: 'kaiming' (He normal, bias 0) and 'glorot' (Xavier uniform, bias 0)", () => {
    const a = new Linear(400, 300, { init: 'kaiming', seed: 1 });
    const b = new Linear(300, 200, { init: 'glorot', seed: 2 });
    const std = (t: Tensor): number => Math.sqrt(t.data.reduce((s, v) => s + v * v, 0) / t.size);
    expect(std(a.weight)).toBeCloseTo(Math.sqrt(2 / 400), 2);
    const limit = Math.sqrt(6 / (300 + 200));
    expect(Math.max(...b.weight.data)).toBeLessThanOrEqual(limit);
    expect(Math.max(...b.weight.data)).toBeGreaterThan(0.95 * limit);
    expect(Array.from(a.bias!.data).every((v) => v === 0)).toBe(true);
    expect(() => new Linear(2, 2, { init: 'he' as never })).toThrow(/Linear: init must be/);
  });

  it('a Linear starts the same whatever layer follows it (init is its own)', () => {
    // Before: Sequential re-drew a Linear followed by ReLU with Kaiming and one followed by Tanh with Glorot.
    const before = (act: nn.Module): Float32Array => (new Sequential(new Linear(6, 5, { seed: 8 }), act).layers[0] as Linear).weight.data;
    const alone = new Linear(6, 5, { seed: 8 }).weight.data;
    expect(Array.from(before(new ReLU()))).toEqual(Array.from(alone));
    expect(Array.from(before(new Tanh()))).toEqual(Array.from(alone));
    const seeded = (act: nn.Module): Float32Array => (new Sequential(new Linear(6, 5), act, { seed: 4 }).layers[0] as Linear).weight.data;
    expect(Array.from(seeded(new ReLU()))).toEqual(Array.from(seeded(new GELU())));
  });

  it('the same seed gives the same weights; a different seed different ones', () => {
    const a = mlp(42);
    const b = mlp(42);
    const c = mlp(43);
    for (const [name, t] of a.namedParameters()) expect(Array.from(t.data)).toEqual(Array.from(b.stateDict()[name].data));
    expect(Array.from(a.stateDict()['0.weight'].data)).not.toEqual(Array.from(c.stateDict()['0.weight'].data));
    const l1 = new Linear(5, 5, { seed: 9 });
    const l2 = new Linear(5, 5, { seed: 9 });
    expect(Array.from(l1.weight.data)).toEqual(Array.from(l2.weight.data));
  });
});

describe('state dict and config', () => {
  it('stateDict / loadStateDict round trip gives identical outputs', () => {
    const a = mlp(1).eval();
    const b = mlp(2).eval();
    const x = randn([5, 8], { seed: 4 });
    expect(Array.from(a.forward(x).data)).not.toEqual(Array.from(b.forward(x).data));
    b.loadStateDict(a.stateDict());
    expect(Array.from(a.forward(x).data)).toEqual(Array.from(b.forward(x).data));
    // Float32Array values are accepted too, and copied (not aliased).
    const raw: Record<string, Float32Array> = {};
    for (const [k, v] of Object.entries(a.stateDict())) raw[k] = Float32Array.from(v.data);
    const c = mlp(3);
    c.loadStateDict(raw);
    raw['0.weight'][0] += 1;
    expect(c.stateDict()['0.weight'].data[0]).toBe(a.stateDict()['0.weight'].data[0]);
  });

  it('loadStateDict errors: missing, unexpected, wrong shape (and the model is left untouched)', () => {
    const m = mlp(1);
    const before = Float32Array.from(m.stateDict()['0.weight'].data);
    const sd: Record<string, Tensor> = { ...mlp(2).stateDict() };
    delete sd['3.bias'];
    expect(() => m.loadStateDict(sd)).toThrow("loadStateDict: missing key(s) '3.bias'");
    expect(() => m.loadStateDict({ ...mlp(2).stateDict(), extra: zeros([1]) })).toThrow("loadStateDict: unexpected key(s) 'extra'");
    expect(() => m.loadStateDict({ ...mlp(2).stateDict(), '5.weight': zeros([12, 3]) })).toThrow(
      "loadStateDict: '5.weight' has shape [12,3], the model expects [3,12]",
    );
    expect(() => m.loadStateDict({ ...mlp(2).stateDict(), '5.bias': new Float32Array(4) })).toThrow(
      "loadStateDict: '5.bias' has 4 elements, the model expects shape [3] (3 elements)",
    );
    expect(Array.from(m.stateDict()['0.weight'].data)).toEqual(Array.from(before));
  });

  it('toConfig is JSON and fromConfig rebuilds the same architecture', () => {
    const m = new Sequential(
      new Flatten(), new Linear(6, 5), new LeakyReLU(0.2), new Linear(5, 4, { bias: false }), new GELU({ approximate: 'tanh' }),
      new Dropout(0.3), new Linear(4, 4), new Sigmoid(), new Linear(4, 3), new Tanh(), new Linear(3, 2), new Softmax(),
    );
    const cfg = JSON.parse(JSON.stringify(m.toConfig()));
    expect(cfg.layers.map((l: { type: string }) => l.type)).toEqual([
      'Flatten', 'Linear', 'LeakyReLU', 'Linear', 'GELU', 'Dropout', 'Linear', 'Sigmoid', 'Linear', 'Tanh', 'Linear', 'Softmax',
    ]);
    const rebuilt = nn.fromConfig(cfg);
    expect(rebuilt.toConfig()).toEqual(m.toConfig());
    rebuilt.loadStateDict(m.stateDict());
    const x = randn([3, 2, 3], { seed: 5 });
    expect(Array.from(rebuilt.predict(x).data)).toEqual(Array.from(m.predict(x).data));
  });

  it('fromConfig rejects unknown layer types and bad fields', () => {
    expect(() => nn.fromConfig({ type: 'Conv3d' })).toThrow("fromConfig: model: unknown layer type 'Conv3d'");
    const bad = JSON.parse('{"type":"Sequential","layers":[{"type":"Linear","inFeatures":"x","outFeatures":2}]}');
    expect(() => nn.fromConfig(bad)).toThrow(
      `fromConfig: model.0: Linear key 'inFeatures' must be a positive integer, got "x"`,
    );
  });

  it('toString lists layers with parameter counts and the total', () => {
    const s = mlp(1).toString();
    expect(s).toContain('(0) Linear(8 -> 16, bias)');
    expect(s).toMatch(/\(0\) Linear\(8 -> 16, bias\)\s+144 params/);
    expect(s).toContain('(2) Dropout(p=0.2)');
    expect(s).toContain(`Total parameters: ${144 + 204 + 39}`);
  });
});

describe.each(backendsUnderTest())('forward behaviour on the %s backend', (backendName) => {
  beforeAll(() => setBackend(backendName));

  it('Sequential fused forward equals the unfused layer-by-layer forward', () => {
    const m = new Sequential([new Linear(7, 9), new GELU(), new Linear(9, 5), new LeakyReLU(0.05), new Linear(5, 2)], { seed: 11 });
    const x = randn([4, 7], { seed: 12 });
    const fused = m.forward(x);
    let h = x;
    for (const l of m.layers) h = l.forward(h);
    for (let i = 0; i < h.size; i++) expect(fused.data[i]).toBeCloseTo(h.data[i], 5);
  });

  it('Linear gradients accumulate across backward calls (into kept buffers) and zeroGrad resets them', () => {
    const m = new Sequential([new Linear(5, 4), new Tanh(), new Linear(4, 2)], { seed: 21 });
    const x = randn([3, 5], { seed: 22 });
    const labels = [0, 1, 1];
    crossEntropy(m.forward(x), labels).backward();
    const once = m.parameters().map((p) => Float32Array.from(p.grad!.data));
    const buffers = m.parameters().map((p) => p.grad!.data);
    crossEntropy(m.forward(x), labels).backward();
    m.parameters().forEach((p, i) => {
      expect(p.grad!.data).toBe(buffers[i]);
      for (let k = 0; k < p.size; k++) expect(p.grad!.data[k]).toBeCloseTo(2 * once[i][k], 6);
    });
    m.zeroGrad();
    crossEntropy(m.forward(x), labels).backward();
    m.parameters().forEach((p, i) => {
      for (let k = 0; k < p.size; k++) expect(p.grad!.data[k]).toBeCloseTo(once[i][k], 6);
    });
  });

  it('predict: eval mode, no grad, batched result equals one big forward, training mode restored', () => {
    const m = mlp(7);
    const x = randn([37, 8], { seed: 8 });
    const whole = m.eval().forward(x);
    m.train();
    const batched = m.predict(x, { batchSize: 10 });
    expect(batched.shape).toEqual([37, 3]);
    expect(batched.requiresGrad).toBe(false);
    for (let i = 0; i < whole.size; i++) expect(batched.data[i]).toBeCloseTo(whole.data[i], 5);
    expect(m.training).toBe(true);
    const flat = m.predict(x.data, { batchSize: 16, features: 8 });
    expect(flat.shape).toEqual([37, 3]);
    expect(() => m.predict(new Float32Array(16))).toThrow(/predict: a flat Float32Array \(16 values\) has no row width/);
    expect(() => m.predict(new Float32Array(9), { features: 8 })).toThrow('predict: input has 9 values, not a multiple of options.features = 8');
  });

  it('Dropout zeroes about p of the activations in training and is the identity in eval', () => {
    const d = new Dropout(0.3, { seed: 1 });
    const x = tensor(new Float32Array(10000).fill(1), [100, 100]);
    const y = d.forward(x);
    const zerosCount = y.data.filter((v) => v === 0).length;
    expect(zerosCount).toBeGreaterThan(2700);
    expect(zerosCount).toBeLessThan(3300);
    expect(y.data.filter((v) => v !== 0).every((v) => Math.abs(v - 1 / 0.7) < 1e-6)).toBe(true);
    d.eval();
    expect(d.forward(x)).toBe(x);
  });
});

describe.each(backendsUnderTest())('losses on the %s backend', (backendName) => {
  beforeAll(() => setBackend(backendName));

  it('crossEntropy with integer labels matches -log softmax and each reduction', () => {
    const logits = tensor([[1, 2, 3], [1, 0, -1]]);
    const lse = (r: number[]): number => Math.log(r.reduce((s, v) => s + Math.exp(v), 0));
    const l0 = lse([1, 2, 3]) - 3;
    const l1 = lse([1, 0, -1]) - 1;
    expect(crossEntropy(logits, [2, 0]).item()).toBeCloseTo((l0 + l1) / 2, 5);
    expect(crossEntropy(logits, new Int32Array([2, 0]), { reduction: 'sum' }).item()).toBeCloseTo(l0 + l1, 5);
    const none = crossEntropy(logits, [2, 0], { reduction: 'none' });
    expect(none.shape).toEqual([2]);
    expect(none.data[0]).toBeCloseTo(l0, 5);
    expect(none.data[1]).toBeCloseTo(l1, 5);
    // One-hot targets give the same value as integer labels.
    expect(crossEntropy(logits, tensor([[0, 0, 1], [1, 0, 0]])).item()).toBeCloseTo((l0 + l1) / 2, 5);
  });

  it('loss gradients vs finite differences (every reduction)', () => {
    const M = 3 + rng.int(3);
    const N = 2 + rng.int(4);
    const labels = Int32Array.from({ length: M }, () => rng.int(N));
    const logits = randomTensor(rng, [M, N], { scale: 2 });
    const probs = randomTensor(rng, [M, N], { positive: true });
    const target = randomTensor(rng, [M, N]);
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      gradcheck(([x]) => crossEntropy(x, labels, { reduction }), [logits], { label: label(`crossEntropy labels ${reduction}`) });
      gradcheck(([x, p]) => crossEntropy(x, p, { reduction }), [logits, probs], { label: label(`crossEntropy probs ${reduction}`) });
      gradcheck(([x, t]) => mseLoss(x, t, { reduction }), [logits, target], { label: label(`mse ${reduction}`) });
      gradcheck(([x, t]) => bceWithLogits(x, t, { reduction }), [logits, probs], { label: label(`bce ${reduction}`) });
      // Keep |pred - target| away from delta = 0.5 (Huber's switch point) for the finite differences.
      const pred = randomTensor(rng, [M, N], { scale: 2 });
      for (let i = 0; i < pred.size; i++) {
        const d = Math.abs(pred.data[i] - target.data[i]);
        if (Math.abs(d - 0.5) < 0.05) pred.data[i] += 0.2;
      }
      gradcheck(([x, t]) => huberLoss(x, t, { delta: 0.5, reduction }), [pred, target], { label: label(`huber ${reduction}`) });
    }
  });

  it('bceWithLogits is stable for large logits', () => {
    const x = tensor([1000, -1000, 0]);
    const y = tensor([1, 0, 1]);
    const l = bceWithLogits(x, y, { reduction: 'none' });
    expect(l.data[0]).toBe(0);
    expect(l.data[1]).toBe(0);
    expect(l.data[2]).toBeCloseTo(Math.LN2, 6);
  });

  it('huberLoss matches its definition', () => {
    const l = huberLoss(tensor([0, 3]), tensor([0.5, 0]), { reduction: 'none' });
    expect(l.data[0]).toBeCloseTo(0.125, 6);
    expect(l.data[1]).toBeCloseTo(2.5, 6);
  });
});

// Optimizers vs hand-computed PyTorch-semantics updates, state save/restore, schedules, clipping, determinism.
import { beforeAll, describe, expect, it } from 'vitest';
import { Tensor, randn } from '../lib/tensor';
import { SGD, Adam, AdamW, RMSprop, StepLR, ExponentialLR, CosineAnnealingLR, LinearWarmup, clipGradNorm, Optimizer, OPTIMIZER_DEFAULTS } from '../lib/optim';
import { makeOptimizer } from '../lib/train/optimizer';
import { Linear, ReLU, Sequential, Dropout } from '../lib/nn';
import { crossEntropy } from '../lib/nn/losses';
import { backendsUnderTest, freshRng, setBackend } from './helpers/gradcheck';

const { seed, rng } = freshRng();

function randomArray(n: number): Float32Array {
  return Float32Array.from({ length: n }, () => 2 * rng.next() - 1);
}

/** A parameter plus a fixed sequence of gradients to feed it. */
function setup(n: number, steps: number): { p: Tensor; grads: Float32Array[] } {
  const p = new Tensor(randomArray(n), [n], true);
  const grads = Array.from({ length: steps }, () => randomArray(n));
  return { p, grads };
}

function run(opt: Optimizer, p: Tensor, grads: Float32Array[]): void {
  for (const g of grads) {
    p.grad = new Tensor(Float32Array.from(g), p.shape);
    opt.step();
  }
}

function expectClose(actual: Float32Array, expected: Float64Array, what: string): void {
  for (let i = 0; i < expected.length; i++) {
    const tol = 1e-5 + 1e-4 * Math.abs(expected[i]);
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
      throw new Error(`seed ${seed}: ${what}: element ${i}: got ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

describe.each(backendsUnderTest())('optimizers on the %s backend', (backendName) => {
  beforeAll(() => setBackend(backendName));

  it.each([
    { momentum: 0, nesterov: false, weightDecay: 0 },
    { momentum: 0.9, nesterov: false, weightDecay: 0 },
    { momentum: 0.9, nesterov: true, weightDecay: 0.01 },
    { momentum: 0, nesterov: false, weightDecay: 0.1 },
  ])('SGD %o matches the PyTorch update rule', (o) => {
    const { p, grads } = setup(17, 5);
    const ref = Float64Array.from(p.data);
    const v = new Float64Array(17);
    const lr = 0.05;
    run(new SGD([p], { lr, ...o }), p, grads);
    grads.forEach((gr, t) => {
      for (let i = 0; i < ref.length; i++) {
        let g = gr[i] + o.weightDecay * ref[i];
        if (o.momentum !== 0) {
          v[i] = t === 0 ? g : o.momentum * v[i] + g; // PyTorch: buffer starts as the first gradient
          g = o.nesterov ? g + o.momentum * v[i] : v[i];
        }
        ref[i] -= lr * g;
      }
    });
    expectClose(p.data, ref, `SGD ${JSON.stringify(o)}`);
  });

  it.each([
    ['Adam', 0],
    ['Adam', 0.05],
    ['AdamW', 0.05],
  ] as const)('%s (weightDecay %d) matches the PyTorch update rule', (kind, wd) => {
    const { p, grads } = setup(13, 6);
    const ref = Float64Array.from(p.data);
    const m = new Float64Array(13);
    const v = new Float64Array(13);
    const [lr, b1, b2, eps] = [0.01, 0.9, 0.999, 1e-8];
    const opt = kind === 'Adam' ? new Adam([p], { lr, weightDecay: wd }) : new AdamW([p], { lr, weightDecay: wd });
    run(opt, p, grads);
    grads.forEach((gr, t) => {
      const step = t + 1;
      for (let i = 0; i < ref.length; i++) {
        let g = gr[i];
        if (kind === 'AdamW') ref[i] *= 1 - lr * wd;
        else g += wd * ref[i];
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        const mHat = m[i] / (1 - b1 ** step);
        const vHat = v[i] / (1 - b2 ** step);
        ref[i] -= (lr * mHat) / (Math.sqrt(vHat) + eps);
      }
    });
    expectClose(p.data, ref, kind);
  });

  it.each([0, 0.8])('RMSprop (momentum %d) matches the PyTorch update rule', (momentum) => {
    const { p, grads } = setup(11, 5);
    const ref = Float64Array.from(p.data);
    const sq = new Float64Array(11);
    const buf = new Float64Array(11);
    const [lr, alpha, eps, wd] = [0.01, 0.9, 1e-8, 0.02];
    run(new RMSprop([p], { lr, alpha, eps, weightDecay: wd, momentum }), p, grads);
    for (const gr of grads) {
      for (let i = 0; i < ref.length; i++) {
        const g = gr[i] + wd * ref[i];
        sq[i] = alpha * sq[i] + (1 - alpha) * g * g;
        if (momentum > 0) {
          buf[i] = momentum * buf[i] + g / (Math.sqrt(sq[i]) + eps);
          ref[i] -= lr * buf[i];
        } else {
          ref[i] -= (lr * g) / (Math.sqrt(sq[i]) + eps);
        }
      }
    }
    expectClose(p.data, ref, `RMSprop momentum ${momentum}`);
  });

  it('parameters without a gradient are skipped; zeroGrad clears grads', () => {
    const a = new Tensor(Float32Array.from([1, 2]), [2], true);
    const b = new Tensor(Float32Array.from([3, 4]), [2], true);
    const opt = new SGD([a, b], { lr: 0.1 });
    a.grad = new Tensor(Float32Array.from([1, 1]), [2]);
    opt.step();
    expect(Array.from(a.data)).toEqual([Math.fround(0.9), Math.fround(1.9)]);
    expect(Array.from(b.data)).toEqual([3, 4]);
    opt.zeroGrad();
    expect(Array.from(a.grad!.data)).toEqual([0, 0]);
    expect(b.grad).toBeNull();
    opt.zeroGrad({ setToNull: true });
    expect(a.grad).toBeNull();
  });

  it.each(['SGD', 'Adam', 'AdamW', 'RMSprop'] as const)('%s: stateDict/loadStateDict (through JSON) gives identical next steps', (kind) => {
    const make = (p: Tensor): Optimizer => {
      switch (kind) {
        case 'SGD': return new SGD([p], { lr: 0.1, momentum: 0.9 });
        case 'Adam': return new Adam([p], { lr: 0.01 });
        case 'AdamW': return new AdamW([p], { lr: 0.01 });
        case 'RMSprop': return new RMSprop([p], { lr: 0.01, momentum: 0.5 });
      }
    };
    const { p, grads } = setup(9, 8);
    const opt = make(p);
    run(opt, p, grads.slice(0, 4));
    opt.lr = opt.lr * 0.5;
    // Save: Float32Arrays become plain arrays through JSON, as a checkpoint file would store them.
    const saved = JSON.parse(JSON.stringify(opt.stateDict(), (_k, v) => (v instanceof Float32Array ? Array.from(v) : v)));
    const pCopy = new Tensor(Float32Array.from(p.data), p.shape, true);
    const restored = make(pCopy);
    restored.loadStateDict(saved);
    expect(restored.lr).toBe(opt.lr);
    run(opt, p, grads.slice(4));
    run(restored, pCopy, grads.slice(4));
    expect(Array.from(pCopy.data)).toEqual(Array.from(p.data));
  });

  it('loadStateDict rejects a mismatched optimizer type or parameter count', () => {
    const { p } = setup(3, 0);
    const sd = new Adam([p]).stateDict();
    expect(() => new SGD([p]).loadStateDict(sd)).toThrow("SGD.loadStateDict: state dict is for 'Adam', not 'SGD'");
    const q = new Tensor(new Float32Array(3), [3], true);
    expect(() => new Adam([p, q]).loadStateDict(sd)).toThrow('Adam.loadStateDict: state has 1 parameter entries, the optimizer has 2 parameters');
  });

  it('hyperparameter errors name the optimizer and option', () => {
    const { p } = setup(3, 0);
    expect(() => new SGD([p], { lr: -1 })).toThrow('SGD: lr must be a non-negative finite number, got -1');
    expect(() => new SGD([p], { nesterov: true })).toThrow('SGD: nesterov needs a momentum > 0');
    expect(() => new Adam([p], { beta1: 1 })).toThrow('Adam: beta1 must be in [0, 1), got 1');
    expect(() => new AdamW([])).toThrow('AdamW: got an empty parameter list');
  });

  it('clipGradNorm scales all gradients by maxNorm / globalNorm and returns the norm', () => {
    const a = new Tensor(new Float32Array(2), [2], true);
    const b = new Tensor(new Float32Array(1), [1], true);
    const c = new Tensor(new Float32Array(1), [1], true); // no grad: ignored
    a.grad = new Tensor(Float32Array.from([3, 0]), [2]);
    b.grad = new Tensor(Float32Array.from([4]), [1]);
    expect(clipGradNorm([a, b, c], 10)).toBeCloseTo(5, 6);
    expect(Array.from(a.grad.data)).toEqual([3, 0]); // below maxNorm: untouched
    expect(clipGradNorm([a, b, c], 1)).toBeCloseTo(5, 6);
    expect(a.grad.data[0]).toBeCloseTo(0.6, 5);
    expect(b.grad.data[0]).toBeCloseTo(0.8, 5);
    expect(clipGradNorm([a, b], 1)).toBeCloseTo(1, 5);
    expect(() => clipGradNorm([a], 0)).toThrow('clipGradNorm: maxNorm must be a positive number, got 0');
  });

  it('the same seed gives the same trained weights run after run (Dropout included)', () => {
    const train = (): Float32Array[] => {
      const model = new Sequential([new Linear(6, 16), new ReLU(), new Dropout(0.25), new Linear(16, 3)], { seed: 1234 });
      const opt = new Adam(model.parameters(), { lr: 0.01 });
      const x = randn([32, 6], { seed: 99 });
      const y = Int32Array.from({ length: 32 }, (_, i) => (x.data[i * 6] > 0 ? 1 : x.data[i * 6 + 1] > 0 ? 2 : 0));
      for (let step = 0; step < 20; step++) {
        opt.zeroGrad();
        const loss = crossEntropy(model.forward(x), y);
        loss.backward();
        clipGradNorm(model.parameters(), 5);
        opt.step();
      }
      return model.parameters().map((p) => Float32Array.from(p.data));
    };
    const a = train();
    const b = train();
    a.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(b[i])));
  });

  it('a small MLP learns a separable problem (loss falls by 5x)', () => {
    const model = new Sequential([new Linear(2, 16), new ReLU(), new Linear(16, 2)], { seed: rng.int(2 ** 31) });
    const opt = new SGD(model.parameters(), { lr: 0.5, momentum: 0.9 });
    const x = randn([64, 2], { seed: rng.int(2 ** 31) });
    const y = Int32Array.from({ length: 64 }, (_, i) => (x.data[2 * i] + x.data[2 * i + 1] > 0 ? 1 : 0));
    let first = 0;
    let last = 0;
    for (let step = 0; step < 100; step++) {
      opt.zeroGrad();
      const loss = crossEntropy(model.forward(x), y);
      if (step === 0) first = loss.item();
      last = loss.item();
      loss.backward();
      opt.step();
    }
    expect(last, `seed ${seed}`).toBeLessThan(first / 5);
  });
});

describe('learning-rate schedules', () => {
  const opt = (): { lr: number } => ({ lr: 0.1 });
  const take = (s: { step(): number; lr: number }, n: number): number[] => [s.lr, ...Array.from({ length: n }, () => s.step())];

  it('StepLR', () => {
    const o = opt();
    const seq = take(new StepLR(o, { stepSize: 2, gamma: 0.5 }), 5);
    [0.1, 0.1, 0.05, 0.05, 0.025, 0.025].forEach((v, i) => expect(seq[i]).toBeCloseTo(v, 12));
    expect(o.lr).toBeCloseTo(0.025, 12);
  });

  it('ExponentialLR', () => {
    const seq = take(new ExponentialLR(opt(), { gamma: 0.9 }), 3);
    [0.1, 0.09, 0.081, 0.0729].forEach((v, i) => expect(seq[i]).toBeCloseTo(v, 12));
  });

  it('CosineAnnealingLR reaches etaMin at tMax and stays there', () => {
    const seq = take(new CosineAnnealingLR(opt(), { tMax: 4, etaMin: 0.01 }), 6);
    const expected = [0, 1, 2, 3, 4, 4, 4].map((t) => 0.01 + (0.09 * (1 + Math.cos((Math.PI * t) / 4))) / 2);
    expected.forEach((v, i) => expect(seq[i]).toBeCloseTo(v, 12));
  });

  it('LinearWarmup ramps up, then hands over to the wrapped schedule', () => {
    const o = opt();
    const inner = new StepLR(o, { stepSize: 2, gamma: 0.1 });
    const s = new LinearWarmup(o, { warmupSteps: 4, after: inner });
    const seq = take(s, 7);
    [0, 0.025, 0.05, 0.075, 0.1, 0.1, 0.01, 0.01].forEach((v, i) => expect(seq[i]).toBeCloseTo(v, 12));
    expect(o.lr).toBeCloseTo(0.01, 12);
  });

  it('schedule state round trip and argument errors', () => {
    const o = opt();
    const s = new ExponentialLR(o, { gamma: 0.5 });
    s.step();
    s.step();
    const o2 = opt();
    const s2 = new ExponentialLR(o2, { gamma: 0.5 });
    s2.loadStateDict(s.stateDict());
    expect(o2.lr).toBeCloseTo(0.025, 12);
    expect(s2.step()).toBeCloseTo(s.step(), 12);
    expect(() => new StepLR(opt(), { stepSize: 0 })).toThrow('StepLR: stepSize must be a positive integer, got 0');
  });
});

describe('one set of optimizer defaults (PyTorch 2.x), shared by the classes and fit', () => {
  const p = (): Tensor[] => [new Tensor(new Float32Array(4), [4], { requiresGrad: true })];
  it('the classes start from OPTIMIZER_DEFAULTS', () => {
    expect(new SGD(p()).hyperparameters).toEqual({ lr: 1e-3, momentum: 0, nesterov: false, weightDecay: 0 });
    expect(new Adam(p()).hyperparameters).toEqual({ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
    expect(new AdamW(p()).hyperparameters).toEqual({ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
    expect(new RMSprop(p()).hyperparameters).toEqual({ lr: 0.01, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0 });
    expect(new Adam(p(), { lr: undefined, betas: [0.8, 0.9] }).hyperparameters).toMatchObject({ lr: 1e-3, beta1: 0.8, beta2: 0.9 });
  });
  it("fit's named optimizers are the classes with the same defaults (rmsprop was 1e-3 in fit, 0.01 in the class)", () => {
    for (const [name, cls] of [['sgd', SGD], ['adam', Adam], ['adamw', AdamW], ['rmsprop', RMSprop]] as const) {
      const made = makeOptimizer(name, p()) as Optimizer;
      expect(made).toBeInstanceOf(cls);
      expect(made.hyperparameters).toEqual(OPTIMIZER_DEFAULTS[name]);
      expect(made.hyperparameters).toEqual(new cls(p()).hyperparameters);
    }
  });
  it('lr: one rule (a finite number >= 0, as PyTorch) in the classes, the setter and fit', () => {
    expect(() => makeOptimizer('rmsprop', p(), -1)).toThrow('RMSprop: lr must be a non-negative finite number, got -1');
    expect(() => new RMSprop(p(), { lr: -1 })).toThrow('RMSprop: lr must be a non-negative finite number, got -1');
    expect(() => { new SGD(p()).lr = Infinity; }).toThrow('SGD: lr must be a non-negative finite number, got Infinity');
    expect((makeOptimizer('adam', p(), 0) as Optimizer).lr).toBe(0);
  });
});

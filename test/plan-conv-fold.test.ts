// The planner's Conv + BatchNorm + activation pass (nn/plan.ts): predict runs one folded, fused convolution per
// step, equals the unfused eval forward (1e-5) on both backends, follows weight and running-stat changes, and
// leaves the training forward alone.
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Tensor } from '../lib/tensor';
import { noGrad } from '../lib/autograd';
import { bufferPoolStats, isPooled } from '../lib/buffer-pool';
import { BatchNorm1d, BatchNorm2d, Conv1d, Conv2d, Dropout, Flatten, GELU, LeakyReLU, Linear, MaxPool2d, Module, ReLU, Sequential } from '../lib/nn';
import { planChain, planModel } from '../lib/nn/plan';
import { inferenceRole } from '../lib/nn/registry';
import { Adam } from '../lib/optim';
import { crossEntropy } from '../lib/nn/losses';
import { Rng } from '../lib/random';
import { maxViolation } from './helpers/onnx';
import { backendsUnderTest, setBackend } from './helpers/gradcheck';

afterAll(() => setBackend(backendsUnderTest().includes('native') ? 'native' : 'js'));

function input(shape: number[], seed: number, scale = 1, offset = 0): Tensor {
  const r = new Rng(seed);
  return new Tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => offset + scale * (2 * r.next() - 1)), shape);
}

function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  const v = maxViolation(a, b, 1e-5, 1e-5);
  expect(v.excess, `${what}: at ${v.at}: ${v.a} vs ${v.b}`).toBeLessThanOrEqual(0);
}

/** The unfused eval-mode forward: each layer through its own forward, outside planned inference. */
function unfused(model: Module, x: Tensor): Tensor {
  const was = model.training;
  model.eval();
  try {
    return noGrad(() => model.forward(x)) as Tensor;
  } finally {
    model.train(was);
  }
}

/** conv + BN + ReLU, conv + BN (no activation), bias-free conv + BN + LeakyReLU, conv + GELU, 'same' even kernel + BN. */
function convNet(): Sequential {
  return new Sequential(
    new Conv2d(3, 8, 3, { padding: 1, seed: 1 }), new BatchNorm2d(8), new ReLU(),
    new Conv2d(8, 8, 3, { padding: 1, groups: 2, seed: 2 }), new BatchNorm2d(8, { momentum: 0.5 }),
    new MaxPool2d(2),
    new Conv2d(8, 6, 3, { padding: 1, bias: false, seed: 3 }), new BatchNorm2d(6), new LeakyReLU(0.2),
    new Conv2d(6, 6, 1, { seed: 4 }), new GELU(),
    new Conv2d(6, 4, 2, { padding: 'same', seed: 5 }), new BatchNorm2d(4, { affine: false }),
    new Flatten(), new Linear(4 * 4 * 4, 5, { seed: 6 }),
  );
}

/** Running stats away from (0, 1) and affine params away from (1, 0), so a fold that ignores any is caught. */
function warm(model: Sequential, shape: number[], seed: number): void {
  const r = new Rng(seed);
  for (const l of model.layers) {
    if ((l instanceof BatchNorm2d || l instanceof BatchNorm1d) && l.weight && l.bias) {
      l.weight.data.forEach((_, i, a) => { a[i] = 0.5 + 2 * r.next(); });
      l.bias.data.forEach((_, i, a) => { a[i] = r.next() - 0.5; });
      l.weight._version++;
      l.bias._version++;
    }
  }
  model.train();
  for (let i = 0; i < 3; i++) noGrad(() => model.forward(input(shape, seed + i, 2, 0.5)));
  model.eval();
}

describe('planner: Conv + BatchNorm + activation folding', () => {
  it('the pass fuses conv [+ batchNorm] [+ activation] into one step, leaving other BatchNorms alone', () => {
    const model = convNet();
    const plan = planChain(model.layers.map(inferenceRole));
    const convs = plan.steps.filter((s) => s.kind === 'conv').map((s) => [s.from, s.to, s.batchNorm === true, s.activation?.act ?? null]);
    expect(convs).toEqual([[0, 3, true, 'relu'], [3, 5, true, null], [6, 9, true, 'leakyRelu'], [9, 11, false, 'gelu'], [11, 13, true, null]]);
    // A BatchNorm after a pool (nothing to fold into) and one without running stats stay as they are.
    const other = planChain([new MaxPool2d(2), new BatchNorm2d(3), new Conv2d(3, 3, 1), new BatchNorm2d(3, { trackRunningStats: false })].map(inferenceRole));
    expect(other.steps.map((s) => s.kind)).toEqual(['module', 'batchNorm', 'conv', 'module']);
  });

  for (const backend of backendsUnderTest()) {
    it(`predict equals the unfused eval forward to 1e-5 and runs no BatchNorm or activation forward (${backend})`, () => {
      setBackend(backend);
      const model = convNet();
      warm(model, [4, 3, 8, 8], 10);
      const x = input([5, 3, 8, 8], 20, 2, 0.3);
      const reference = unfused(model, x);
      const bnSpy = vi.spyOn(BatchNorm2d.prototype, 'forward');
      const reluSpy = vi.spyOn(ReLU.prototype, 'forward');
      const convSpy = vi.spyOn(Conv2d.prototype, 'forward');
      try {
        const y = model.predict(x);
        expect(bnSpy).not.toHaveBeenCalled();
        expect(reluSpy).not.toHaveBeenCalled();
        expect(convSpy).not.toHaveBeenCalled();
        expectClose(y.data, reference.data, 'predict (5 rows)');
        expectClose(model.predict(x.slice(0, 1)).data, reference.slice(0, 1).data, 'predict (1 row)');
      } finally {
        bnSpy.mockRestore();
        reluSpy.mockRestore();
        convSpy.mockRestore();
      }
      expect(planModel(model).convs?.filter((f) => f !== undefined).length).toBe(5);
    });

    it(`Conv1d + BatchNorm1d + ReLU folds too, and a user Module calling the chain gets it (${backend})`, () => {
      setBackend(backend);
      const chain = new Sequential(new Conv1d(2, 5, 3, { padding: 1, seed: 7 }), new BatchNorm1d(5), new ReLU(), new Flatten(), new Linear(5 * 9, 2, { seed: 8 }));
      warm(chain, [6, 2, 9], 30);
      class Wrapper extends Module {
        readonly body = chain;
        constructor() {
          super();
          this.registerModule('body', chain);
        }
        override forward(x: Tensor): Tensor {
          return this.body.forward(x);
        }
      }
      const wrapper = new Wrapper();
      const x = input([3, 2, 9], 40, 1.5);
      const reference = unfused(chain, x);
      expectClose(chain.predict(x).data, reference.data, 'Sequential predict');
      const bnSpy = vi.spyOn(BatchNorm1d.prototype, 'forward');
      try {
        expectClose(wrapper.predict(x).data, reference.data, 'wrapper predict');
        expect(bnSpy).not.toHaveBeenCalled();
      } finally {
        bnSpy.mockRestore();
      }
    });
  }

  it('the next predict follows conv weights, BatchNorm affine params and running stats changed after a predict', () => {
    const model = convNet();
    warm(model, [4, 3, 8, 8], 50);
    const x = input([4, 3, 8, 8], 60, 2);
    expectClose(model.predict(x).data, unfused(model, x).data, 'first predict');
    const check = (what: string): void => {
      const before = unfused(model, x);
      expectClose(model.predict(x).data, before.data, what);
    };
    // loadStateDict: new conv weights and new running statistics.
    const state = model.stateDict();
    const r = new Rng(70);
    const replaced: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(state)) {
      replaced[k] = k.endsWith('running_var') ? new Tensor(Float32Array.from(t.data, () => 0.2 + r.next()), t.shape)
        : k.endsWith('num_batches_tracked') ? t
          : new Tensor(Float32Array.from(t.data, (v) => v + 0.3 * (r.next() - 0.5)), t.shape);
    }
    model.loadStateDict(replaced);
    check('after loadStateDict');
    // Training steps (Adam on every parameter, train-mode BatchNorm updates the running stats).
    const opt = new Adam(model.parameters(), { lr: 0.05 });
    model.train();
    for (let i = 0; i < 3; i++) {
      opt.zeroGrad();
      crossEntropy(model.forward(input([4, 3, 8, 8], 80 + i, 2)), Int32Array.of(0, 1, 2, 3)).backward();
      opt.step();
    }
    model.eval();
    check('after training');
    // Only the running stats of one BatchNorm (a train-mode forward of that layer alone).
    const bn = model.layers[1] as BatchNorm2d;
    bn.train();
    noGrad(() => bn.forward(input([2, 8, 4, 4], 90, 3, 2)));
    bn.eval();
    check('after a BatchNorm forward in training mode');
  });

  it('training mode: forward runs every layer (batch statistics, running stats updated, gradients to BatchNorm)', () => {
    const model = convNet();
    model.train();
    const x = input([4, 3, 8, 8], 100, 2);
    const bn = model.layers[1] as BatchNorm2d;
    const stats = Float32Array.from(bn.runningMean!.data);
    const spy = vi.spyOn(BatchNorm2d.prototype, 'forward');
    let y: Tensor;
    try {
      y = model.forward(x);
      expect(spy).toHaveBeenCalledTimes(4);
    } finally {
      spy.mockRestore();
    }
    expect(Array.from(bn.runningMean!.data)).not.toEqual(Array.from(stats));
    // The same as the layers one by one in training mode (a second pass: running stats move the same way).
    let h = x;
    const copy = convNet();
    copy.loadStateDict(Object.fromEntries(Object.entries(model.stateDict()).map(([k, t]) => [k, t])));
    for (const [k, t] of Object.entries(copy.stateDict())) {
      if (k.includes('running') || k.includes('num_batches')) t.data.set(convNet().stateDict()[k].data);
    }
    copy.train();
    for (const l of copy.layers) h = l.forward(h) as Tensor;
    expectClose(y!.data, h.data, 'train-mode forward');
    y!.sum().backward();
    expect(bn.weight!.grad).not.toBeNull();
    expect(Array.from(bn.weight!.grad!.data).some((v) => v !== 0)).toBe(true);
  });
  it('training: a Conv + ReLU / LeakyReLU runs fused in Sequential, with the values and gradients of the layers one by one', () => {
    const fusedNet = new Sequential(new Conv2d(2, 4, 3, { padding: 1, seed: 11 }), new ReLU(), new Conv2d(4, 3, 2, { padding: 'same', seed: 12 }), new LeakyReLU(0.1), new Flatten(), new Linear(3 * 5 * 5, 2, { seed: 13 }));
    const plan = planChain(fusedNet.layers.map(inferenceRole));
    expect(plan.fused.map((f) => f?.act ?? null)).toEqual(['relu', null, 'leakyRelu', null, null, null]);
    const x = input([3, 2, 5, 5], 120, 2);
    const reluSpy = vi.spyOn(ReLU.prototype, 'forward');
    let y: Tensor;
    try {
      y = fusedNet.forward(x);
      expect(reluSpy).not.toHaveBeenCalled();
    } finally {
      reluSpy.mockRestore();
    }
    y!.sum().backward();
    const grads = fusedNet.parameters().map((p) => Float32Array.from(p.grad!.data));
    fusedNet.zeroGrad();
    let h = x;
    for (const l of fusedNet.layers) h = l.forward(h) as Tensor;
    expectClose(y!.data, h.data, 'train-mode output');
    h.sum().backward();
    fusedNet.parameters().forEach((p, k) => expectClose(grads[k], p.grad!.data, `gradient ${k}`));
  });
  it('predict of a CNN takes its intermediate activations from the buffer pool: none allocated after the first call, results never overwritten', () => {
    const model = new Sequential(new Conv2d(1, 4, 3, { padding: 1, seed: 21 }), new ReLU(), new MaxPool2d(2), new Flatten(), new Dropout(0.5));
    const x = input([3, 1, 6, 6], 130, 1);
    const reference = unfused(model, x);
    const first = model.predict(x);
    expectClose(first.data, reference.data, 'first predict');
    const kept = Float32Array.from(first.data);
    const inputs = [input([3, 1, 6, 6], 131, 1), input([3, 1, 6, 6], 132, 1)];
    const before = bufferPoolStats().allocations;
    // Count Float32Array constructions over two more predicts (as conv-buffer-reuse.test.ts does for fit).
    const original = globalThis.Float32Array;
    let constructed = 0;
    globalThis.Float32Array = new Proxy(original, {
      construct(t, args, newTarget) {
        constructed++;
        return Reflect.construct(t, args, newTarget === globalThis.Float32Array ? t : newTarget) as object;
      },
    });
    let second: Tensor;
    try {
      second = model.predict(inputs[0]);
      model.predict(inputs[1]);
    } finally {
      globalThis.Float32Array = original;
    }
    expect(bufferPoolStats().allocations).toBe(before);
    expect(constructed, 'Float32Arrays constructed by two predicts (the conv and pool outputs would be 4)').toBeLessThanOrEqual(2);
    expect(isPooled(first.data)).toBe(false); // the last layer (a view) returned a pooled array: copied out
    expect(Array.from(first.data)).toEqual(Array.from(kept));
    expect(second!.data).not.toBe(first.data);
  });
});

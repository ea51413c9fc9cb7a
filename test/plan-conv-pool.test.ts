// The planner's Conv + activation + MaxPool2d fusion (nn/plan.ts, kernel conv2dMaxPoolForward): predict runs one
// kernel per conv + pool step with the same values as the layers' own eval forward (the kernel gives the bits of the
// convolution then the pooling), on both backends; Conv, MaxPool, ReLU fuses too; what the kernel cannot run
// ('same' padding's crop, a MaxPool2d subclass, training mode) runs through the layers.
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Tensor } from '../lib/tensor';
import { noGrad } from '../lib/autograd';
import { BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential, Tanh } from '../lib/nn';
import { planModel } from '../lib/nn/plan';
import { getBackend } from '../lib/backend/select';
import { Rng } from '../lib/random';
import { backendsUnderTest, setBackend } from './helpers/gradcheck';
import { maxViolation } from './helpers/onnx';

afterAll(() => setBackend(backendsUnderTest().includes('native') ? 'native' : 'js'));

function input(shape: number[], seed: number, nanAt = -1): Tensor {
  const r = new Rng(seed);
  const x = new Tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => 2 * r.next() - 1), shape);
  if (nanAt >= 0) x.data[nanAt] = NaN;
  return x;
}

/** The layers' own eval-mode forward, outside planned inference. */
function unfused(model: Module, x: Tensor): Tensor {
  model.eval();
  return noGrad(() => model.forward(x)) as Tensor;
}

/** Equal values (NaN where the other has NaN): the fused kernel's bits are the separate kernels'. */
function expectSame(a: Float32Array, b: Float32Array, what: string): void {
  expect(a.length, what).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i] || (Number.isNaN(a[i]) && Number.isNaN(b[i]))) continue;
    expect.fail(`${what}: at ${i}: ${a[i]} vs ${b[i]}`);
  }
}

/** Conv fusions of the plan as [from, to, pooled]. */
function fusions(model: Sequential): [number, number, boolean][] {
  return (planModel(model).convs ?? []).filter((f) => f !== undefined).map((f) => [f!.from, f!.to, f!.pool !== null]);
}

const fashion = (): Sequential => new Sequential(
  new Conv2d(1, 32, 3, { padding: 1, seed: 1 }), new ReLU(), new MaxPool2d(2),
  new Conv2d(32, 64, 3, { padding: 1, seed: 2 }), new ReLU(), new MaxPool2d(2),
  new Flatten(), new Linear(64 * 7 * 7, 10, { seed: 3 }),
);

describe('planner: Conv + activation + MaxPool2d in one kernel', () => {
  for (const backend of backendsUnderTest()) {
    it(`the Fashion CNN's two conv + ReLU + pool steps run as conv2dMaxPoolForward, with the layers' values (${backend})`, () => {
      setBackend(backend);
      const model = fashion();
      expect(fusions(model)).toEqual([[0, 3, true], [3, 6, true]]);
      const x = input([3, 1, 28, 28], 5, 100);
      const reference = unfused(model, x);
      const spy = vi.spyOn(getBackend(), 'conv2dMaxPoolForward');
      const poolSpy = vi.spyOn(MaxPool2d.prototype, 'forward');
      try {
        expectSame(model.predict(x).data, reference.data, 'predict (3 rows)');
        expectSame(model.predict(x.slice(1, 2)).data, reference.slice(1, 2).data, 'predict (1 row)');
        expect(spy).toHaveBeenCalledTimes(4);
        expect(poolSpy).not.toHaveBeenCalled();
      } finally {
        spy.mockRestore();
        poolSpy.mockRestore();
      }
    });

    it(`other poolings, Conv + BN + pool, and Conv, MaxPool, ReLU fuse with the layers' values (${backend})`, () => {
      setBackend(backend);
      const model = new Sequential(
        new Conv2d(3, 33, 3, { padding: 1, seed: 4 }), new MaxPool2d(2), new ReLU(), // ReLU commutes with the pool
        new Conv2d(33, 32, 3, { padding: 'same', seed: 5 }), new Tanh(), new MaxPool2d(3, { stride: 2, padding: 1, ceilMode: true }),
        new Conv2d(32, 8, 1, { seed: 6 }), new BatchNorm2d(8), new MaxPool2d([2, 1], { stride: 1, dilation: [2, 1] }),
        new Flatten(), new Linear(8 * 3 * 5, 4, { seed: 7 }), // 17 -> 8 -> 5 (ceil mode) -> 3x5
      );
      const bn = model.layers[7] as BatchNorm2d;
      bn.runningMean.data.fill(0.3);
      bn.runningVar.data.fill(2);
      expect(fusions(model)).toEqual([[0, 3, true], [3, 6, true], [6, 9, true]]);
      const x = input([2, 3, 17, 17], 8);
      // The folded BatchNorm rounds differently from the BatchNorm after the conv (plan-conv-fold.test.ts: 1e-5).
      const v = maxViolation(model.predict(x).data, unfused(model, x).data, 1e-5, 1e-5);
      expect(v.excess, `at ${v.at}: ${v.a} vs ${v.b}`).toBeLessThanOrEqual(0);
    });

    it(`what the kernel cannot run goes through the layers, with the same values (${backend})`, () => {
      setBackend(backend);
      class MyPool extends MaxPool2d {}
      const model = new Sequential(
        new Conv2d(2, 4, 2, { padding: 'same', seed: 9 }), new ReLU(), new MaxPool2d(2), // odd 'same' total: a crop
        new Conv2d(4, 4, 3, { padding: 1, seed: 10 }), new ReLU(), new MyPool(2), // a subclass: its own forward
        new Flatten(), new Linear(4 * 2 * 2, 3, { seed: 11 }),
      );
      expect(fusions(model)).toEqual([[0, 3, true], [3, 5, false]]);
      const x = input([2, 2, 9, 9], 12);
      const reference = unfused(model, x);
      const spy = vi.spyOn(MaxPool2d.prototype, 'forward');
      try {
        expectSame(model.predict(x).data, reference.data, 'predict');
        expect(spy).toHaveBeenCalledTimes(2); // the crop's fallback and MyPool
      } finally {
        spy.mockRestore();
      }
    });
  }

  it('predicts on other input sizes with the same layers (the geometry kept per layer follows the shape)', () => {
    const model = new Sequential(new Conv2d(2, 32, 3, { padding: 1, seed: 14 }), new ReLU(), new MaxPool2d(2));
    for (const [h, w] of [[16, 16], [12, 20], [16, 16], [7, 9]]) {
      const x = input([2, 2, h, w], 15 + h);
      const y = model.predict(x);
      expect(y.shape).toEqual([2, 32, Math.floor(h / 2), Math.floor(w / 2)]);
      expectSame(y.data, unfused(model, x).data, `${h}x${w}`);
    }
  });

  it('training-mode forward keeps the layers (and the pool\'s gradient)', () => {
    const model = fashion();
    model.train();
    const x = input([2, 1, 28, 28], 13);
    const y = model.forward(x) as Tensor;
    y.sum().backward();
    const conv = model.layers[0] as Conv2d;
    expect(conv.weight.grad).not.toBeNull();
    expect(conv.weight.grad!.data.some((v) => v !== 0)).toBe(true);
    expectSame(model.predict(x).data, unfused(model, x).data, 'predict after training forward');
  });
});

// Sequential's Conv2d -> ReLU -> MaxPool2d training path (one op; the pooling's backward applies the ReLU's mask):
// the same losses, weights and gradients bit for bit as the layers run one by one, on both backends and awkward
// geometries; taken only for built-in MaxPool2d layers; and a hand-written CNN loop in trainingStep allocates no
// typed array in its steady state.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { trainingStep } from '../lib/autograd';
import { getBackend } from '../lib/backend/select';
import { Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential } from '../lib/nn';
import { crossEntropy } from '../lib/nn/losses';
import { Adam } from '../lib/optim';
import { Rng, randomSeed } from '../lib/random';
import { Tensor } from '../lib/tensor';
import { backendsUnderTest, setBackend } from './helpers/gradcheck';
import { countTypedArrays } from './helpers/typed-array-count';

const seed = randomSeed();
const label = `(seed ${seed})`;

/** Runs the layers one by one (each layer's own forward: conv, then relu, then pooling as separate ops). */
class OneByOne extends Module {
  constructor(readonly layers: Module[]) {
    super();
    layers.forEach((l, i) => this.registerModule(String(i), l));
  }

  override forward(x: Tensor): Tensor {
    let h = x;
    for (const l of this.layers) h = l.forward(h) as Tensor;
    return h;
  }
}

type Make = () => Module[];
const nets: [string, Make, number[]][] = [
  ['conv 32 - pool - conv 64 - pool - 16 - 5 (the Fashion CNN, smaller)', () => [
    new Conv2d(1, 32, 3, { padding: 1, seed: seed + 1 }), new ReLU(), new MaxPool2d(2),
    new Conv2d(32, 64, 3, { padding: 1, seed: seed + 2 }), new ReLU(), new MaxPool2d(2),
    new Flatten(), new Linear(64 * 3 * 3, 16, { seed: seed + 3 }), new ReLU(), new Linear(16, 5, { seed: seed + 4 }),
  ], [3, 1, 13, 13]],
  ["'same' padding (even kernel: cropped), overlapping windows with padding, ceil mode, groups", () => [
    new Conv2d(4, 6, [2, 4], { padding: 'same', groups: 2, seed: seed + 5 }), new ReLU(), new MaxPool2d(3, { stride: 1, padding: 1 }),
    new Conv2d(6, 3, 3, { stride: 2, dilation: [2, 1], seed: seed + 6 }), new ReLU(), new MaxPool2d([2, 3], { stride: [2, 1], ceilMode: true, dilation: [1, 2] }),
    new Flatten(), new Linear(3 * 4 * 2, 5, { seed: seed + 7 }),
  ], [2, 4, 17, 13]],
];

describe.each(backendsUnderTest())('Conv2d -> ReLU -> MaxPool2d training path (%s backend)', (backend) => {
  afterEach(() => vi.restoreAllMocks());

  for (const [name, make, shape] of nets) {
    it(`gives the one-by-one layers' losses, gradients and weights bit for bit: ${name} ${label}`, () => {
      setBackend(backend);
      const rng = new Rng(seed);
      const batches = Array.from({ length: 3 }, () => ({
        x: new Tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => 2 * rng.next() - 0.7), shape),
        y: Int32Array.from({ length: shape[0] }, () => Math.floor(rng.next() * 5)),
      }));
      const spy = vi.spyOn(getBackend(), 'maxPool2dReluBackward');
      const run = (model: Module): { losses: number[]; grads: Float32Array[]; weights: Float32Array[] } => {
        const opt = new Adam(model.parameters(), { lr: 1e-2 });
        const losses: number[] = [];
        let grads: Float32Array[] = [];
        for (const { x, y } of batches) {
          opt.zeroGrad();
          const loss = crossEntropy(model.forward(x), y);
          loss.backward();
          grads = model.parameters().map((p) => Float32Array.from((p.grad as Tensor).data));
          opt.step();
          losses.push(loss.item());
        }
        return { losses, grads, weights: model.parameters().map((p) => Float32Array.from(p.data)) };
      };
      const fused = run(new Sequential(make()));
      const calls = spy.mock.calls.length;
      const plain = run(new OneByOne(make()));
      expect(calls, 'the fused pooling backward ran').toBe(2 * batches.length);
      expect(spy.mock.calls.length, 'the one-by-one layers do not use it').toBe(calls);
      expect(fused.losses).toEqual(plain.losses);
      for (let i = 0; i < plain.grads.length; i++) expect(fused.grads[i], `gradient ${i}`).toEqual(plain.grads[i]);
      for (let i = 0; i < plain.weights.length; i++) expect(fused.weights[i], `weight ${i}`).toEqual(plain.weights[i]);
    });
  }

  it('runs a MaxPool2d subclass (or a patched forward) itself, not the fused op', () => {
    setBackend(backend);
    class MyPool extends MaxPool2d {
      calls = 0;
      override forward(x: Tensor): Tensor {
        this.calls++;
        return super.forward(x);
      }
    }
    const pool = new MyPool(2);
    const patched = new MaxPool2d(2);
    let patchedCalls = 0;
    const original = patched.forward.bind(patched);
    patched.forward = (x: Tensor): Tensor => {
      patchedCalls++;
      return original(x);
    };
    const spy = vi.spyOn(getBackend(), 'maxPool2dReluBackward');
    const model = new Sequential([new Conv2d(1, 2, 3, { seed: 1 }), new ReLU(), pool, new Conv2d(2, 2, 1, { seed: 2 }), new ReLU(), patched, new Flatten()]);
    const x = new Tensor(Float32Array.from({ length: 2 * 10 * 10 }, (_, i) => Math.sin(i)), [2, 1, 10, 10]);
    model.forward(x).sum().backward();
    expect(pool.calls).toBe(1);
    expect(patchedCalls).toBe(1);
    expect(spy).not.toHaveBeenCalled();
  });

  it(`a hand-written CNN loop in trainingStep constructs no typed array after its first steps ${label}`, () => {
    setBackend(backend);
    const rng = new Rng(seed);
    const model = new Sequential(nets[0][1]());
    const opt = new Adam(model.parameters(), { lr: 1e-3 });
    const x = new Tensor(Float32Array.from({ length: 4 * 13 * 13 }, () => rng.next()), [4, 1, 13, 13]);
    const y = Int32Array.from({ length: 4 }, () => Math.floor(rng.next() * 5));
    const step = (): number => trainingStep(() => {
      opt.zeroGrad();
      const loss = crossEntropy(model.forward(x), y);
      loss.backward();
      opt.step();
      return loss.item();
    });
    step();
    step();
    const counter = countTypedArrays();
    try {
      for (let i = 0; i < 4; i++) step();
    } finally {
      counter.stop();
    }
    expect(counter.counts).toEqual({ f32: 0, i32: 0 });
  });
});

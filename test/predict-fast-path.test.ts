// Module.predict's tape-free plan for Sequential MLPs: bit-identical to the autograd forward, and falls back where it does not apply.
import { describe, expect, it, vi } from 'vitest';
import { Tensor } from '../lib/tensor';
import { noGrad } from '../lib/autograd';
import { Sequential, Linear, ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Dropout, Flatten, Softmax, Module } from '../lib/nn';
import { Rng, randomSeed } from '../lib/random';
import { backendsUnderTest, setBackend } from './helpers/gradcheck';
import { SGD } from '../lib/optim';

const seed = randomSeed();
const label = `(seed ${seed})`;

function randomData(rng: Rng, n: number, scale = 2): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = scale * (2 * rng.next() - 1);
  return a;
}

const ACT_MAKERS: [string, () => Module][] = [
  ['relu', () => new ReLU()],
  ['leakyRelu', () => new LeakyReLU(0.2)],
  ['sigmoid', () => new Sigmoid()],
  ['tanh', () => new Tanh()],
  ['gelu', () => new GELU()],
  ['geluTanh', () => new GELU({ approximate: 'tanh' })],
];

/** The reference: Sequential.forward through the autograd ops, in eval mode, without the tape. */
function autogradForward(model: Module, x: Tensor): Tensor {
  const was = model.training;
  model.eval();
  try {
    return noGrad(() => model.forward(x));
  } finally {
    model.train(was);
  }
}

/** A model subclass whose predict must not take the fast path (its forward is its own). */
class Doubled extends Sequential {
  override forward(x: Tensor): Tensor {
    return super.forward(x).mul(2);
  }
}

describe.each(backendsUnderTest())('predict fast path (%s backend)', (backend) => {
  it('equals the autograd forward bit for bit on random MLPs, every activation, batch sizes 1, 3, 257', () => {
    setBackend(backend);
    const rng = new Rng(seed);
    for (const [name, makeAct] of ACT_MAKERS) {
      for (const softmax of [false, true]) {
        const widths = [1 + Math.floor(rng.next() * 40), 1 + Math.floor(rng.next() * 70), 1 + Math.floor(rng.next() * 30), 1 + Math.floor(rng.next() * 12)];
        const layers: Module[] = [
          new Linear(widths[0], widths[1]), makeAct(), new Dropout(0.5),
          new Linear(widths[1], widths[2]), makeAct(),
          new Linear(widths[2], widths[3]),
        ];
        if (softmax) layers.push(new Softmax());
        const model = new Sequential(layers, { seed: Math.floor(rng.next() * 1e9) });
        // Non-zero biases so the bias path is covered.
        for (const p of model.parameters()) if (p.ndim === 1) p.data.set(randomData(rng, p.size, 0.5));
        for (const rows of [1, 3, 257]) {
          const x = new Tensor(randomData(rng, rows * widths[0]), [rows, widths[0]]);
          const want = autogradForward(model, x);
          const forwardSpy = vi.spyOn(Sequential.prototype, 'forward');
          let got: Tensor;
          try {
            got = model.predict(x);
            expect(forwardSpy, 'predict took the tape-free plan').not.toHaveBeenCalled();
          } finally {
            forwardSpy.mockRestore();
          }
          const what = `${label} ${name} softmax=${softmax} rows=${rows} widths=${widths.join('-')}`;
          expect(got.shape, what).toEqual(want.shape);
          expect(got.data, what).toEqual(want.data);
          expect(got.requiresGrad, what).toBe(false);
          // Flat Float32Array input, and a batchSize that splits the rows into uneven chunks.
          expect(model.predict(x.data, { features: widths[0] }).data, what).toEqual(want.data);
          if (rows > 1) {
            const bs = 2;
            const chunks: Float32Array[] = [];
            for (let s = 0; s < rows; s += bs) chunks.push(autogradForward(model, x.slice(s, Math.min(rows, s + bs))).data);
            const joined = new Float32Array(want.size);
            let off = 0;
            for (const c of chunks) {
              joined.set(c, off);
              off += c.length;
            }
            expect(model.predict(x, { batchSize: bs }).data, `${what} batchSize=${bs}`).toEqual(joined);
          }
        }
      }
    }
  });

  it('returns a new tensor each call (cached scratch never leaks into results) and sees weight updates', () => {
    setBackend(backend);
    const rng = new Rng((seed ^ 0xabc) >>> 0);
    const model = new Sequential([new Linear(5, 8), new Tanh(), new Linear(8, 3)], { seed });
    const x1 = new Tensor(randomData(rng, 4 * 5), [4, 5]);
    const x2 = new Tensor(randomData(rng, 4 * 5), [4, 5]);
    const a = model.predict(x1);
    const aCopy = Float32Array.from(a.data);
    const b = model.predict(x2);
    expect(a.data, label).toEqual(aCopy);
    expect(b.data).not.toBe(a.data);
    // Changing the weights in place (and saying so) changes the next prediction, also after two
    // calls with the same weights made predict compute with a packed copy of them.
    (model.layers[0] as Linear).weight.data[0] += 1;
    (model.layers[0] as Linear).weight.markChanged();
    expect(model.predict(x1).data, label).toEqual(autogradForward(model, x1).data);
    expect(model.predict(x1).data).not.toEqual(aCopy);
    // A layer list edited after the first predict is recompiled.
    model.layers.push(new Sigmoid());
    expect(model.predict(x1).data, label).toEqual(autogradForward(model, x1).data);
    // The training mode is left as it was.
    model.train();
    model.predict(x1);
    expect(model.training).toBe(true);
  });

  it('sees every weight change after predict switched to its packed copy: optimizer steps, markChanged, assigned arrays, bulk rewrites', () => {
    setBackend(backend);
    const rng = new Rng((seed ^ 0x5eed) >>> 0);
    const model = new Sequential([new Linear(37, 65), new ReLU(), new Linear(65, 3), new Softmax()], { seed });
    const x = new Tensor(randomData(rng, 2 * 37), [2, 37]);
    const first = model.layers[0] as Linear;
    const check = (what: string): void => {
      // Twice: the first call after a change reads the weights in place, the second freezes them again.
      for (let i = 0; i < 2; i++) expect(model.predict(x).data, `${what} (call ${i + 1}) ${label}`).toEqual(autogradForward(model, x).data);
    };
    check('fresh');
    // A step of an optimizer (SGD here) updates the weights in place and bumps their versions.
    const opt = new SGD(model.parameters(), { lr: 0.5 });
    for (const p of model.parameters()) p.grad = new Tensor(randomData(rng, p.size), p.shape);
    opt.step();
    check('after an optimizer step');
    // One weight in the middle (not among the guard's samples) changed in place, with markChanged().
    first.weight.data[Math.floor(first.weight.size / 2) + 3] += 1;
    first.weight.markChanged();
    check('after markChanged');
    // A new array assigned to a weight.
    first.weight.data = randomData(rng, first.weight.size);
    check('after assigning .data');
    // Every weight rewritten in place without markChanged (a hand-written update loop): the guard sees it.
    const d = first.weight.data;
    for (let i = 0; i < d.length; i++) d[i] *= 0.5;
    check('after a bulk in-place rewrite');
  });

  it('falls back to the autograd forward where the plan does not apply', () => {
    setBackend(backend);
    const rng = new Rng((seed ^ 0xdef) >>> 0);
    const x = new Tensor(randomData(rng, 3 * 6), [3, 6]);
    const doubled = new Doubled([new Linear(6, 4), new ReLU(), new Linear(4, 2)], { seed });
    const plain = new Sequential([new Linear(6, 4), new ReLU(), new Linear(4, 2)], { seed });
    expect(doubled.predict(x).data, label).toEqual(plain.predict(x).mul(2).data);
    // An activation first, a Softmax in the middle, a 3-D input with Flatten: all via forward.
    const actFirst = new Sequential([new Tanh(), new Linear(6, 3)], { seed });
    expect(actFirst.predict(x).data, label).toEqual(autogradForward(actFirst, x).data);
    const midSoftmax = new Sequential([new Linear(6, 4), new Softmax(), new Linear(4, 2)], { seed });
    expect(midSoftmax.predict(x).data, label).toEqual(autogradForward(midSoftmax, x).data);
    const flat = new Sequential([new Flatten(), new Linear(6, 2), new Sigmoid()], { seed });
    const x3 = new Tensor(x.data, [3, 2, 3]);
    expect(flat.predict(x3).data, label).toEqual(autogradForward(flat, x3).data);
    expect(flat.predict(x).data, label).toEqual(autogradForward(flat, x).data);
    // Wrong input width still gets the autograd path's error message.
    expect(() => plain.predict(new Tensor(new Float32Array(10), [2, 5]))).toThrow(/forward: input of shape \[2,5\] has 5 features in its last dimension, expected 6/);
    // Zero rows.
    expect(plain.predict(new Tensor(new Float32Array(0), [0, 6])).shape).toEqual([0, 2]);
  });
});

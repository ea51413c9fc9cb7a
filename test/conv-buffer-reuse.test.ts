// A CNN's steady-state fit steps allocate no typed arrays (pooled outputs, gradients, argmax indices, kernel scratch reused).
import { describe, expect, it } from 'vitest';
import { Tensor } from '../lib/tensor';
import { AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential } from '../lib/nn';
import { fit } from '../lib/train';
import { Rng, randomSeed } from '../lib/random';
import { backendsUnderTest, setBackend } from './helpers/gradcheck';
import { countTypedArrays } from './helpers/typed-array-count';

const seed = randomSeed();

describe.each(backendsUnderTest())('CNN steady-state allocation (%s backend)', (backend) => {
  it('fit steps after the first construct no Float32Array or Int32Array', async () => {
    setBackend(backend);
    const rng = new Rng(seed);
    const n = 16 * 12;
    const x = new Tensor(Float32Array.from({ length: n * 2 * 10 * 10 }, () => rng.next()), [n, 2, 10, 10]);
    const y = Int32Array.from({ length: n }, () => Math.floor(rng.next() * 3));
    const model = new Sequential([
      new Conv2d(2, 4, 3, { padding: 1 }), new ReLU(), new MaxPool2d(2), new Conv2d(4, 4, 3, { groups: 2 }), new AvgPool2d(3),
      new Flatten(), new Linear(4, 3),
    ], { seed });
    let atStart = { f32: 0, i32: 0 };
    let window = { f32: -1, i32: -1 };
    const { counts, stop } = countTypedArrays();
    try {
      await fit(model, { x, y }, {
        epochs: 1, batchSize: 16, seed, verbose: 0, optimizer: 'adam',
        onBatchEnd: (b) => {
          if (b === 2) atStart = { ...counts };
          if (b === 11) window = { f32: counts.f32 - atStart.f32, i32: counts.i32 - atStart.i32 };
        },
      });
    } finally {
      stop();
    }
    expect(atStart.f32, 'the counting Proxy sees the first steps allocate').toBeGreaterThan(0);
    expect(window, `seed ${seed}: typed arrays constructed during 9 steady-state fit steps`).toEqual({ f32: 0, i32: 0 });
  });
});

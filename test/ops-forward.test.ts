// Forward values of the ops vs float64 references computed in the test, on each backend.
import { beforeAll, describe, expect, it } from 'vitest';
import { Tensor, tensor } from '../lib/tensor';
import * as ops from '../lib/ops';
import { backendsUnderTest, freshRng, randomTensor, setBackend } from './helpers/gradcheck';

const { seed, rng } = freshRng();

function expectAllClose(actual: Tensor, expected: ArrayLike<number>, shape: number[], what: string, tol = 1e-5): void {
  expect(actual.shape, `${what} shape (seed ${seed})`).toEqual(shape);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    if (!(Math.abs(actual.data[i] - e) <= tol * (1 + Math.abs(e)))) {
      throw new Error(`${what} (seed ${seed}): element ${i}: got ${actual.data[i]}, expected ${e}`);
    }
  }
}

/** Index of a multi-index in a row-major shape, with broadcasting (size-1 dims read index 0). */
function offsetOf(shape: number[], idx: number[]): number {
  let off = 0;
  const lead = idx.length - shape.length;
  for (let d = 0; d < shape.length; d++) off = off * shape[d] + (shape[d] === 1 ? 0 : idx[lead + d]);
  return off;
}

function* indices(shape: number[]): Generator<number[]> {
  const n = shape.reduce((a, b) => a * b, 1);
  for (let flat = 0; flat < n; flat++) {
    const idx = new Array<number>(shape.length);
    let r = flat;
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d] = r % shape[d];
      r = Math.floor(r / shape[d]);
    }
    yield idx;
  }
}

describe.each(backendsUnderTest())('op forward values on the %s backend', (backendName) => {
  beforeAll(() => setBackend(backendName));

  it('broadcasting add/sub/mul/div against an index-by-index reference', () => {
    const cases: [number[], number[], number[]][] = [
      [[2, 3, 4], [4], [2, 3, 4]],
      [[2, 1, 4], [3, 1], [2, 3, 4]],
      [[3, 1], [1, 5], [3, 5]],
      [[1], [2, 2], [2, 2]],
    ];
    for (const [sa, sb, so] of cases) {
      const a = randomTensor(rng, sa);
      const b = randomTensor(rng, sb, { positive: true });
      for (const [name, f, ref] of [
        ['add', ops.add, (x: number, y: number) => x + y],
        ['sub', ops.sub, (x: number, y: number) => x - y],
        ['mul', ops.mul, (x: number, y: number) => x * y],
        ['div', ops.div, (x: number, y: number) => x / y],
      ] as const) {
        const expected: number[] = [];
        for (const idx of indices(so)) expected.push(ref(a.data[offsetOf(sa, idx)], b.data[offsetOf(sb, idx)]));
        expectAllClose(f(a, b), expected, so, `${name} ${JSON.stringify(sa)} ${JSON.stringify(sb)}`);
      }
    }
  });

  it('add with an operand repeated along the leading dimensions (a bias, a positional table) is the float32 sum, bit for bit', () => {
    // These shapes go through addBias instead of an expanded copy: each element is one float32 addition either way.
    const cases: [number[], number[]][] = [
      [[2, 3, 4], [4]], [[4], [2, 3, 4]], [[3, 17], [1, 17]], [[5, 3], [1, 1, 3]], [[32, 16, 128], [16, 128]], [[65, 257], [257]],
    ];
    for (const [sa, sb] of cases) {
      const a = randomTensor(rng, sa);
      const b = randomTensor(rng, sb);
      const out = ops.add(a, b);
      const so = out.shape;
      const got = Array.from(out.data);
      const expected: number[] = [];
      for (const idx of indices(so)) expected.push(Math.fround(a.data[offsetOf(sa, idx)] + b.data[offsetOf(sb, idx)]));
      expect(got, `add ${JSON.stringify(sa)} + ${JSON.stringify(sb)} (seed ${seed})`).toEqual(expected);
    }
  });

  it('matmul 2-D and batched vs triple loops in float64', () => {
    const [B, M, K, N] = [1 + rng.int(3), 1 + rng.int(7), 1 + rng.int(9), 1 + rng.int(7)];
    const a = randomTensor(rng, [B, M, K]);
    const b = randomTensor(rng, [B, K, N]);
    const expected = new Float64Array(B * M * N);
    for (let p = 0; p < B; p++)
      for (let i = 0; i < M; i++)
        for (let j = 0; j < N; j++) {
          let s = 0;
          for (let k = 0; k < K; k++) s += a.data[p * M * K + i * K + k] * b.data[p * K * N + k * N + j];
          expected[p * M * N + i * N + j] = s;
        }
    expectAllClose(ops.matmul(a, b), expected, [B, M, N], 'batched matmul');
    const b0 = ops.slice(b, 0, 1).reshape(K, N);
    const shared = ops.matmul(a, b0);
    for (let p = 0; p < B; p++) {
      const ap = ops.slice(a, p, p + 1).reshape(M, K);
      expectAllClose(ops.slice(shared, p, p + 1).reshape(M, N), ops.matmul(ap, b0).data, [M, N], 'matmul with a shared right operand');
    }
  });

  it('sum / mean / max over each axis', () => {
    const shape = [2 + rng.int(2), 1 + rng.int(4), 2 + rng.int(3)];
    const x = randomTensor(rng, shape);
    for (let axis = 0; axis < 3; axis++) {
      const outShape = shape.filter((_, d) => d !== axis);
      const sums: number[] = [];
      const maxes: number[] = [];
      for (const idx of indices(outShape)) {
        let s = 0;
        let m = -Infinity;
        for (let l = 0; l < shape[axis]; l++) {
          const full = [...idx.slice(0, axis), l, ...idx.slice(axis)];
          const v = x.data[offsetOf(shape, full)];
          s += v;
          m = Math.max(m, v);
        }
        sums.push(s);
        maxes.push(m);
      }
      expectAllClose(ops.sum(x, axis), sums, outShape, `sum axis ${axis}`);
      expectAllClose(ops.mean(x, axis), sums.map((s) => s / shape[axis]), outShape, `mean axis ${axis}`);
      expectAllClose(ops.max(x, axis), maxes, outShape, `max axis ${axis}`);
      const keep = shape.slice();
      keep[axis] = 1;
      expect(ops.sum(x, axis, true).shape).toEqual(keep);
    }
    const total = Array.from(x.data).reduce((s, v) => s + v, 0);
    expectAllClose(ops.sum(x), [total], [], 'sum all');
    expectAllClose(ops.mean(x), [total / x.size], [], 'mean all');
    expectAllClose(ops.max(x), [Math.max(...x.data)], [], 'max all');
  });

  it('softmax, logSoftmax and activations vs float64 formulas', () => {
    const x = randomTensor(rng, [3, 5], { scale: 4 });
    const sm: number[] = [];
    const lsm: number[] = [];
    for (let i = 0; i < 3; i++) {
      const row = Array.from(x.data.subarray(i * 5, i * 5 + 5));
      const m = Math.max(...row);
      const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
      for (const v of row) {
        sm.push(Math.exp(v - m) / z);
        lsm.push(v - m - Math.log(z));
      }
    }
    expectAllClose(ops.softmax(x), sm, [3, 5], 'softmax');
    expectAllClose(ops.logSoftmax(x), lsm, [3, 5], 'logSoftmax');
    const v = Array.from(x.data);
    expectAllClose(ops.relu(x), v.map((t) => Math.max(t, 0)), [3, 5], 'relu');
    expectAllClose(ops.leakyRelu(x, 0.2), v.map((t) => (t > 0 ? t : 0.2 * t)), [3, 5], 'leakyRelu');
    expectAllClose(ops.sigmoid(x), v.map((t) => 1 / (1 + Math.exp(-t))), [3, 5], 'sigmoid');
    expectAllClose(ops.tanh(x), v.map(Math.tanh), [3, 5], 'tanh');
    const geluTanh = (t: number): number => 0.5 * t * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (t + 0.044715 * t ** 3)));
    expectAllClose(ops.gelu(x, 'tanh'), v.map(geluTanh), [3, 5], 'gelu tanh');
    expectAllClose(ops.exp(x), v.map(Math.exp), [3, 5], 'exp');
    expectAllClose(ops.pow(ops.exp(x), 1.5), v.map((t) => Math.exp(1.5 * t)), [3, 5], 'pow', 1e-4);
  });

  it('concat along each axis and indexRows', () => {
    const a = tensor([[1, 2], [3, 4]]);
    const b = tensor([[5, 6]]);
    expect(ops.concat([a, b], 0).toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(ops.concat([a, tensor([[7], [8]])], 1).toArray()).toEqual([[1, 2, 7], [3, 4, 8]]);
    expect(ops.concat([a, b.reshape(1, 2)], -2).shape).toEqual([3, 2]);
    expect(ops.indexRows(a, [1, 1, 0]).toArray()).toEqual([[3, 4], [3, 4], [1, 2]]);
  });

  it('fused linear equals matmul with the transposed weight plus bias, then the activation', () => {
    const [M, K, N] = [1 + rng.int(6), 1 + rng.int(8), 1 + rng.int(6)];
    const x = randomTensor(rng, [M, K]);
    const w = randomTensor(rng, [N, K]);
    const bias = randomTensor(rng, [N]);
    const ref = ops.add(ops.matmul(x, ops.transpose(w)), bias);
    expectAllClose(ops.linear(x, w, bias), ref.data, [M, N], 'linear');
    expectAllClose(ops.linear(x, w, bias, 'tanh'), ops.tanh(ref).data, [M, N], 'linear+tanh');
    // Leading dimensions are flattened into rows.
    const x3 = ops.reshape(x, [1, M, K]);
    expect(ops.linear(x3, w, bias).shape).toEqual([1, M, N]);
  });
});

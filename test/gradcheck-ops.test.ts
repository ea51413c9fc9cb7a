// Finite-difference gradient checks of every differentiable op on random shapes, on each backend.
import { beforeAll, describe, expect, it } from 'vitest';
import { Tensor } from '../lib/tensor';
import * as ops from '../lib/ops';
import { Rng } from '../lib/random';
import { backendsUnderTest, freshRng, gradcheck, ladderTensor, randomTensor, setBackend } from './helpers/gradcheck';

const { seed, rng } = freshRng();
const label = (what: string): string => `${what} (seed ${seed})`;
const dim = (lo: number, hi: number): number => lo + rng.int(hi - lo + 1);

describe.each(backendsUnderTest())('op gradients vs finite differences on the %s backend', (backendName) => {
  beforeAll(() => setBackend(backendName));

  it('add / sub / mul / div with equal shapes', () => {
    const shape = [dim(1, 4), dim(1, 5)];
    const a = randomTensor(rng, shape);
    const b = randomTensor(rng, shape, { positive: true });
    gradcheck(([x, y]) => ops.add(x, y), [a, b], { label: label('add') });
    gradcheck(([x, y]) => ops.sub(x, y), [a, b], { label: label('sub') });
    gradcheck(([x, y]) => ops.mul(x, y), [a, b], { label: label('mul') });
    gradcheck(([x, y]) => ops.div(x, y), [a, b], { label: label('div') });
  });

  const broadcastCases: [number[], number[]][] = [
    [[3, 4], [4]],
    [[3, 4], [1, 4]],
    [[3, 4], [3, 1]],
    [[2, 3, 4], [3, 1]],
    [[2, 1, 4], [3, 1]],
    [[3, 4], []],
    [[1], [2, 3]],
    [[2, 3, 4], [2, 1, 4]],
  ];
  it.each(broadcastCases)('broadcasting %j with %j: gradients reduce over broadcast dims', (sa, sb) => {
    // Both operands stay >= 0.4 away from zero: each is a divisor in one direction.
    const a = randomTensor(rng, sa, { scale: 1.5, kinks: [0], margin: 0.4 });
    const b = randomTensor(rng, sb, { positive: true });
    for (const [name, f] of [['add', ops.add], ['sub', ops.sub], ['mul', ops.mul], ['div', ops.div]] as const) {
      gradcheck(([x, y]) => f(x, y), [a, b], { label: label(`${name} ${JSON.stringify(sa)} ${JSON.stringify(sb)}`) });
      gradcheck(([x, y]) => f(y, x), [a, b], { label: label(`${name} reversed ${JSON.stringify(sa)} ${JSON.stringify(sb)}`) });
    }
  });

  it('ops with a plain number operand', () => {
    const a = randomTensor(rng, [dim(1, 3), dim(1, 4)], { positive: true });
    gradcheck(([x]) => ops.mul(x, 2.5), [a], { label: label('mul scalar') });
    gradcheck(([x]) => ops.add(x, -1), [a], { label: label('add scalar') });
    gradcheck(([x]) => ops.div(3, x), [a], { label: label('scalar div') });
    gradcheck(([x]) => ops.sub(1, x), [a], { label: label('scalar sub') });
  });

  it('neg / exp / log / sqrt / pow', () => {
    const shape = [dim(1, 4), dim(1, 4)];
    const a = randomTensor(rng, shape);
    const pos = randomTensor(rng, shape, { positive: true });
    gradcheck(([x]) => ops.neg(x), [a], { label: label('neg') });
    gradcheck(([x]) => ops.exp(x), [a], { label: label('exp') });
    gradcheck(([x]) => ops.log(x), [pos], { label: label('log') });
    gradcheck(([x]) => ops.sqrt(x), [pos], { label: label('sqrt') });
    for (const p of [2, 3, 0.5, -1, 1.7, -2.5]) gradcheck(([x]) => ops.pow(x, p), [pos], { label: label(`pow ${p}`) });
    gradcheck(([x]) => ops.pow(x, 2), [a], { label: label('pow 2 of signed') });
  });

  it('matmul 2-D', () => {
    const [M, K, N] = [dim(1, 5), dim(1, 6), dim(1, 5)];
    gradcheck(([x, y]) => ops.matmul(x, y), [randomTensor(rng, [M, K]), randomTensor(rng, [K, N])], { label: label('matmul') });
  });

  it('matmul batched: same batch, shared right operand, shared left operand', () => {
    const [B, M, K, N] = [dim(1, 3), dim(1, 4), dim(1, 4), dim(1, 4)];
    gradcheck(([x, y]) => ops.matmul(x, y), [randomTensor(rng, [B, M, K]), randomTensor(rng, [B, K, N])], { label: label('bmm') });
    gradcheck(([x, y]) => ops.matmul(x, y), [randomTensor(rng, [B, M, K]), randomTensor(rng, [K, N])], { label: label('bmm shared b') });
    gradcheck(([x, y]) => ops.matmul(x, y), [randomTensor(rng, [M, K]), randomTensor(rng, [B, K, N])], { label: label('bmm shared a') });
  });

  it('fused linear with every activation (with and without bias)', () => {
    const [M, K, N] = [dim(1, 5), dim(1, 6), dim(1, 5)];
    for (const act of ['none', 'relu', 'leakyRelu', 'sigmoid', 'tanh', 'gelu', 'geluTanh'] as const) {
      // For the ReLU kinks, redraw until every pre-activation (with and without bias) is >= 0.05
      // from 0, so the +-1e-2 finite-difference steps never cross the kink.
      let x: Tensor, w: Tensor, b: Tensor;
      let tries = 0;
      for (;;) {
        x = randomTensor(rng, [M, K]);
        w = randomTensor(rng, [N, K]);
        b = randomTensor(rng, [N]);
        if (act !== 'relu' && act !== 'leakyRelu') break;
        const zb = ops.linear(x.detach(), w.detach(), b.detach()).data;
        const z = ops.linear(x.detach(), w.detach(), null).data;
        if ([...zb, ...z].every((v) => Math.abs(v) > 0.05)) break;
        if (++tries > 1000) throw new Error(label('could not draw kink-free inputs'));
      }
      gradcheck(([xx, ww, bb]) => ops.linear(xx, ww, bb, act, 0.1), [x, w, b], { label: label(`linear+${act}`) });
      gradcheck(([xx, ww]) => ops.linear(xx, ww, null, act, 0.1), [x, w], { label: label(`linear+${act} no bias`) });
    }
  });

  it('activations: relu, leakyRelu, sigmoid, tanh, gelu (both forms)', () => {
    const shape = [dim(1, 4), dim(1, 5)];
    const a = randomTensor(rng, shape, { scale: 2, kinks: [0], margin: 0.05 });
    gradcheck(([x]) => ops.relu(x), [a], { label: label('relu') });
    gradcheck(([x]) => ops.leakyRelu(x, 0.2), [a], { label: label('leakyRelu') });
    gradcheck(([x]) => ops.sigmoid(x), [a], { label: label('sigmoid') });
    gradcheck(([x]) => ops.tanh(x), [a], { label: label('tanh') });
    gradcheck(([x]) => ops.gelu(x), [a], { label: label('gelu') });
    gradcheck(([x]) => ops.gelu(x, 'tanh'), [a], { label: label('gelu tanh') });
  });

  it('softmax and logSoftmax over the last dimension (2-D and 3-D)', () => {
    for (const shape of [[dim(1, 4), dim(2, 6)], [2, dim(1, 3), dim(2, 4)]]) {
      const a = randomTensor(rng, shape, { scale: 3 });
      gradcheck(([x]) => ops.softmax(x), [a], { label: label(`softmax ${shape}`) });
      gradcheck(([x]) => ops.logSoftmax(x), [a], { label: label(`logSoftmax ${shape}`) });
    }
  });

  it('sum and mean: everything, each axis, keepDims', () => {
    const shape = [dim(1, 3), dim(1, 4), dim(1, 3)];
    const a = randomTensor(rng, shape);
    gradcheck(([x]) => ops.sum(x), [a], { label: label('sum all') });
    gradcheck(([x]) => ops.mean(x), [a], { label: label('mean all') });
    for (const axis of [0, 1, 2, -1]) {
      for (const keep of [false, true]) {
        gradcheck(([x]) => ops.sum(x, axis, keep), [a], { label: label(`sum axis ${axis} keep ${keep}`) });
        gradcheck(([x]) => ops.mean(x, axis, keep), [a], { label: label(`mean axis ${axis} keep ${keep}`) });
      }
    }
  });

  it('max over an axis and over everything (distinct values)', () => {
    const shape = [dim(1, 3), dim(2, 4), dim(1, 3)];
    const a = ladderTensor(rng, shape);
    for (const axis of [0, 1, 2]) gradcheck(([x]) => ops.max(x, axis), [a], { label: label(`max axis ${axis}`) });
    gradcheck(([x]) => ops.max(x), [a], { label: label('max all') });
    gradcheck(([x]) => ops.max(x, 1, true), [a], { label: label('max keepDims') });
  });

  it('shape ops: reshape, flatten, transpose, concat, slice, indexRows', () => {
    const a = randomTensor(rng, [dim(2, 4), dim(1, 3), dim(1, 3)]);
    gradcheck(([x]) => ops.reshape(x, [-1]), [a], { label: label('reshape') });
    gradcheck(([x]) => ops.flatten(x), [a], { label: label('flatten') });
    gradcheck(([x]) => ops.transpose(x), [a], { label: label('transpose 3-D') });
    const m = randomTensor(rng, [dim(1, 4), dim(1, 5)]);
    gradcheck(([x]) => ops.transpose(x), [m], { label: label('transpose 2-D') });
    const b = randomTensor(rng, [a.shape[0], 2, a.shape[2]]);
    gradcheck(([x, y]) => ops.concat([x, y, x], 1), [a, b], { label: label('concat axis 1') });
    gradcheck(([x]) => ops.slice(x, 1, 3), [a], { label: label('slice') });
    gradcheck(([x]) => ops.indexRows(x, [1, 0, 1, 1]), [a], { label: label('indexRows (repeated rows accumulate)') });
  });

  it('dropout: gradient is the mask, and eval mode is the identity', () => {
    const a = randomTensor(rng, [dim(2, 5), dim(2, 5)]);
    // The same seed each call gives the same mask, so finite differences see a fixed function.
    gradcheck(([x]) => ops.dropout(x, 0.4, true, new Rng(7)), [a], { label: label('dropout') });
    const y = ops.dropout(a, 0.4, true, new Rng(7));
    for (let i = 0; i < a.size; i++) {
      const v = y.data[i];
      expect(v === 0 || Math.abs(v - a.data[i] / 0.6) < 1e-6).toBe(true);
    }
    expect(ops.dropout(a, 0.4, false)).toBe(a);
  });

  it('a composite expression sharing a tensor in several places', () => {
    const a = randomTensor(rng, [3, 4]);
    const b = randomTensor(rng, [4], { positive: true });
    gradcheck(
      ([x, y]) => ops.mul(ops.tanh(ops.add(x, y)), ops.sum(ops.mul(x, x), 1, true)).div(y),
      [a, b],
      { label: label('composite') },
    );
  });
});

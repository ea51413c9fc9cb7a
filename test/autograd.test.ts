// The tape: accumulation, freeing, misuse errors, noGrad, deep graphs, and op error messages.
import { describe, expect, it } from 'vitest';
import { Tensor, tensor, zeros, randn } from '../lib/tensor';
import { noGrad, isGradEnabled } from '../lib/autograd';
import * as ops from '../lib/ops';
import { crossEntropy, mseLoss } from '../lib/nn/losses';

describe('backward', () => {
  it('computes d(sum(x*y + x))/dx = y + 1 and leaves grads on leaves only', () => {
    const x = tensor([1, 2, 3], undefined, { requiresGrad: true });
    const y = tensor([4, 5, 6], undefined, { requiresGrad: true });
    const h = x.mul(y);
    const loss = h.add(x).sum();
    loss.backward();
    expect(Array.from(x.grad!.data)).toEqual([5, 6, 7]);
    expect(Array.from(y.grad!.data)).toEqual([1, 2, 3]);
    expect(h.grad).toBeNull();
    expect(loss.item()).toBe(4 + 10 + 18 + 6);
  });

  it('accumulates into leaf grads across backward calls until zeroGrad', () => {
    const x = tensor([1, 2], undefined, { requiresGrad: true });
    x.mul(3).sum().backward();
    x.mul(3).sum().backward();
    expect(Array.from(x.grad!.data)).toEqual([6, 6]);
    const buffer = x.grad!.data;
    x.zeroGrad();
    expect(Array.from(x.grad!.data)).toEqual([0, 0]);
    x.pow(2).sum().backward();
    expect(Array.from(x.grad!.data)).toEqual([2, 4]);
    expect(x.grad!.data).toBe(buffer); // accumulated into the kept buffer
    x.zeroGrad({ setToNull: true });
    expect(x.grad).toBeNull();
  });

  it('a second backward through the same graph throws "the graph has been freed"', () => {
    const x = tensor([1, 2], undefined, { requiresGrad: true });
    const loss = x.exp().sum();
    loss.backward();
    expect(() => loss.backward()).toThrow(/backward: the graph has been freed/);
    // A new loss that reuses a freed intermediate also throws.
    const h = x.tanh();
    h.sum().backward();
    expect(() => h.mul(2).sum().backward()).toThrow(/graph has been freed \(op 'tanh'/);
  });

  it('backward on a non-scalar without a gradient throws; with a gradient it works', () => {
    const x = tensor([[1, 2], [3, 4]], undefined, { requiresGrad: true });
    const y = x.mul(2);
    expect(() => y.backward()).toThrow('backward: output of shape [2,2] is not a scalar; pass a gradient of the same shape');
    y.backward(tensor([[1, 0], [0, 1]]));
    expect(x.grad!.toArray()).toEqual([[2, 0], [0, 2]]);
  });

  it('backward with a gradient of the wrong size names both shapes', () => {
    const x = tensor([1, 2, 3], undefined, { requiresGrad: true });
    expect(() => x.mul(2).backward(tensor([1, 2]))).toThrow('backward: gradient of shape [2] does not match output of shape [3]');
  });

  it('backward on a tensor that does not require grad throws', () => {
    expect(() => tensor([1]).sum().backward()).toThrow(/does not require grad/);
  });

  it('a shared subexpression gets the sum of both paths (diamond graph)', () => {
    const x = tensor([0.5], undefined, { requiresGrad: true });
    const a = x.mul(x); // x^2
    const loss = a.add(a.mul(a)).sum(); // x^2 + x^4
    loss.backward();
    expect(x.grad!.item()).toBeCloseTo(2 * 0.5 + 4 * 0.125, 6);
  });

  it('handles a graph 20000 ops deep without recursion limits', () => {
    const x = tensor([1], undefined, { requiresGrad: true });
    let h: Tensor = x;
    for (let i = 0; i < 20000; i++) h = h.mul(1);
    h.sum().backward();
    expect(x.grad!.item()).toBe(1);
  });

  it('noGrad records nothing and restores recording after a throw', () => {
    const x = tensor([1, 2], undefined, { requiresGrad: true });
    const y = noGrad(() => x.mul(2));
    expect(y.requiresGrad).toBe(false);
    expect(y._node).toBeNull();
    expect(() => noGrad(() => { throw new Error('boom'); })).toThrow('boom');
    expect(isGradEnabled()).toBe(true);
    expect(x.mul(2).requiresGrad).toBe(true);
  });

  it('noGrad rejects an async function instead of silently covering only its first part', () => {
    expect(() => noGrad(async () => 1)).toThrow(/noGrad: fn returned a Promise/);
    expect(isGradEnabled()).toBe(true);
  });

  it('detach cuts the graph', () => {
    const x = tensor([3], undefined, { requiresGrad: true });
    const loss = x.mul(x.detach()).sum(); // d/dx = x.detach() = 3, not 2x
    loss.backward();
    expect(x.grad!.item()).toBe(3);
  });

  it('ops on tensors that do not require grad are not recorded', () => {
    const y = randn([2, 2], { seed: 1 }).matmul(randn([2, 2], { seed: 2 }));
    expect(y.requiresGrad).toBe(false);
    expect(y._node).toBeNull();
  });
});

describe('op error messages name the op and shapes', () => {
  it('matmul inner dimensions', () => {
    expect(() => ops.matmul(zeros([128, 784]), zeros([256, 10]))).toThrow('matmul: inner dimensions differ: [128,784] x [256,10]');
    expect(() => ops.matmul(zeros([2, 3, 4]), zeros([3, 4, 5]))).toThrow('matmul: batch dimensions differ: [2,3,4] x [3,4,5]');
    expect(() => ops.matmul(zeros([3]), zeros([3, 4]))).toThrow(/matmul: expected 2-D or batched/);
  });

  it('broadcasting', () => {
    expect(() => ops.add(zeros([2, 3]), zeros([4]))).toThrow('add: shapes cannot be broadcast together: [2,3] and [4]');
    expect(() => ops.mul(zeros([2, 3]), zeros([3, 2]))).toThrow('mul: shapes cannot be broadcast together: [2,3] and [3,2]');
  });

  it('linear', () => {
    expect(() => ops.linear(zeros([4, 5]), zeros([3, 6]), null)).toThrow(
      'linear: input features differ from weight: input [4,5] x weight [3,6] (expected last input dimension 6)',
    );
  });

  it('reductions and concat', () => {
    expect(() => ops.sum(zeros([2, 3]), 2)).toThrow('sum: axis 2 is out of range for shape [2,3]');
    expect(() => ops.concat([zeros([2, 3]), zeros([2, 4])], 0)).toThrow('concat: shapes differ outside axis 0: [2,3], [2,4]');
  });

  it('losses: shape mismatch and labels out of range', () => {
    expect(() => mseLoss(zeros([4, 2]), zeros([4, 3]))).toThrow('mseLoss: prediction shape [4,2] does not match target shape [4,3]');
    expect(() => crossEntropy(zeros([4, 10]), new Int32Array([1, 2, 12, 3]))).toThrow(
      'crossEntropy: label 12 at row 2 is out of range [0, 10)',
    );
    expect(() => crossEntropy(zeros([4, 10]), [1, -1, 0, 0])).toThrow('crossEntropy: label -1 at row 1 is out of range [0, 10)');
    expect(() => crossEntropy(zeros([4, 10]), [1, 2])).toThrow('crossEntropy: 2 labels for 4 rows (logits [4,10])');
    expect(() => crossEntropy(zeros([4, 10]), zeros([4, 9]))).toThrow(
      'crossEntropy: logits shape [4,10] does not match target shape [4,9]',
    );
  });
});

// The tensor ops users reach for first (argmax/argmin, min/max with an axis, abs, clamp, squeeze/unsqueeze, stack, narrow, indexSelect, comparisons, where, eye, top-level matmul): values and gradients against PyTorch (committed fixture), finite-difference gradient checks, and argument errors.
import { beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as myelin from '../lib';
import { Tensor, tensor } from '../lib/tensor';
import { backendsUnderTest, freshRng, gradcheck, ladderTensor, randomTensor, setBackend } from './helpers/gradcheck';

interface Case {
  name: string;
  op: string;
  args: Record<string, unknown>;
  inputs: number[][];
  shapes: number[][];
  out: number[];
  outShape: number[];
  upstream?: number[];
  grads?: (number[] | null)[];
}

// Written by test/fixtures/tensor-ops/make_torch_tensor_ops.py (PyTorch, float64 on float32 inputs).
const fixture = JSON.parse(
  fs.readFileSync(path.join(__dirname, 'fixtures', 'tensor-ops', 'torch_tensor_ops.json'), 'utf8'),
) as { torch: string; cases: Case[] };

/** Runs a fixture case through the top-level exports (myelin.argmax(x, ...), as a PyTorch user types it). */
function runCase(c: Case, inputs: Tensor[]): Tensor {
  const a = c.args as { axis?: number; keepDims?: boolean; min?: number; max?: number; start?: number; length?: number; indices?: number[]; scalar?: number; n?: number; m?: number };
  const [x, y, z] = inputs;
  switch (c.op) {
    case 'argmax': return myelin.argmax(x, a.axis, a.keepDims ?? false);
    case 'argmin': return myelin.argmin(x, a.axis, a.keepDims ?? false);
    case 'max': return myelin.max(x, a.axis, a.keepDims ?? false);
    case 'min': return myelin.min(x, a.axis, a.keepDims ?? false);
    case 'abs': return myelin.abs(x);
    case 'clamp': return myelin.clamp(x, a.min, a.max);
    case 'squeeze': return myelin.squeeze(x, a.axis);
    case 'unsqueeze': return myelin.unsqueeze(x, a.axis as number);
    case 'stack': return myelin.stack(inputs, a.axis);
    case 'narrow': return myelin.narrow(x, a.axis as number, a.start as number, a.length as number);
    case 'indexSelect': return myelin.indexSelect(x, a.axis as number, a.indices as number[]);
    case 'eq': case 'ne': case 'lt': case 'le': case 'gt': case 'ge':
      return myelin[c.op](x, a.scalar ?? y);
    case 'where': return myelin.where(x, y, a.scalar ?? z);
    case 'eye': return a.m === undefined ? myelin.eye(a.n as number) : myelin.eye(a.n as number, a.m);
    case 'matmul': return myelin.matmul(x, y);
    default: throw new Error(`no runner for op ${c.op}`);
  }
}

function close(actual: number, expected: number, what: string): void {
  const tol = 1e-5 + 1e-5 * Math.abs(expected);
  if (!(Math.abs(actual - expected) <= tol)) throw new Error(`${what}: got ${actual}, PyTorch ${expected}`);
}

for (const b of backendsUnderTest()) {
  describe(`tensor ops vs PyTorch ${fixture.torch} (${b})`, () => {
    beforeAll(() => setBackend(b));
    it('the fixture covers every op', () => {
      const ops = new Set(fixture.cases.map((c) => c.op));
      for (const op of ['argmax', 'argmin', 'max', 'min', 'abs', 'clamp', 'squeeze', 'unsqueeze', 'stack', 'narrow', 'indexSelect',
        'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'where', 'eye', 'matmul']) expect(ops.has(op), op).toBe(true);
    });
    it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
      // Only the inputs torch differentiated need grad (cond of where and the compared operands do not).
      const inputs = c.inputs.map((v, k) => new Tensor(Float32Array.from(v), c.shapes[k], c.grads !== undefined && c.grads[k] !== null));
      const out = runCase(c, inputs);
      expect(out.shape, `${c.name} shape`).toEqual(c.outShape);
      c.out.forEach((v, i) => close(out.data[i], v, `${c.name} out[${i}]`));
      if (c.grads === undefined) {
        expect(out.requiresGrad, `${c.name}: a result without a gradient`).toBe(false);
        return;
      }
      out.backward(new Tensor(Float32Array.from(c.upstream as number[]), c.outShape));
      c.grads.forEach((g, k) => {
        if (g === null) return;
        const grad = inputs[k].grad;
        expect(grad, `${c.name} input ${k} gradient`).not.toBeNull();
        g.forEach((v, i) => close((grad as Tensor).data[i], v, `${c.name} d/d input ${k} [${i}]`));
      });
    });
  });
}

const { seed, rng } = freshRng();
const label = (what: string): string => `${what} (seed ${seed})`;
const dim = (lo: number, hi: number): number => lo + rng.int(hi - lo + 1);

describe.each(backendsUnderTest())('tensor op gradients vs finite differences (%s)', (backendName) => {
  beforeAll(() => setBackend(backendName));

  it('abs and clamp (inputs kept away from the kinks)', () => {
    const shape = [dim(1, 4), dim(1, 5)];
    const x = randomTensor(rng, shape, { scale: 2, kinks: [0, -0.5, 0.7], margin: 0.05 });
    gradcheck(([t]) => myelin.abs(t), [x], { label: label('abs') });
    gradcheck(([t]) => myelin.clamp(t, -0.5, 0.7), [x], { label: label('clamp') });
    gradcheck(([t]) => t.clamp(null, 0.7), [x], { label: label('clamp max only') });
    gradcheck(([t]) => t.clamp(-0.5), [x], { label: label('clamp min only') });
  });

  it('max and min over each axis (keepDims both ways) and over everything', () => {
    const shape = [dim(1, 3), dim(1, 4), dim(2, 4)];
    const x = ladderTensor(rng, shape);
    for (const axis of [0, 1, 2, -1]) {
      for (const keep of [false, true]) {
        gradcheck(([t]) => t.max(axis, keep), [x], { label: label(`max ${axis} ${keep}`) });
        gradcheck(([t]) => t.min(axis, keep), [x], { label: label(`min ${axis} ${keep}`) });
      }
    }
    gradcheck(([t]) => t.min(), [x], { label: label('min all') });
  });

  it('squeeze, unsqueeze, stack', () => {
    const x = randomTensor(rng, [1, dim(1, 4), 1, dim(2, 3)]);
    gradcheck(([t]) => t.squeeze(), [x], { label: label('squeeze') });
    gradcheck(([t]) => t.squeeze(-2), [x], { label: label('squeeze -2') });
    gradcheck(([t]) => t.unsqueeze(1), [x], { label: label('unsqueeze') });
    const shape = [dim(1, 3), dim(1, 4)];
    const parts = [randomTensor(rng, shape), randomTensor(rng, shape), randomTensor(rng, shape)];
    for (const axis of [0, 1, 2, -1, -3]) gradcheck((ts) => myelin.stack(ts, axis), parts, { label: label(`stack ${axis}`) });
  });

  it('narrow and indexSelect on every axis (repeated indices accumulate)', () => {
    const shape = [dim(2, 4), dim(3, 5), dim(2, 4)];
    const x = randomTensor(rng, shape);
    for (let axis = 0; axis < 3; axis++) {
      const len = shape[axis];
      gradcheck(([t]) => t.narrow(axis, 1, len - 1), [x], { label: label(`narrow ${axis}`) });
      gradcheck(([t]) => t.indexSelect(axis, [len - 1, 0, len - 1]), [x], { label: label(`indexSelect ${axis}`) });
    }
    gradcheck(([t]) => t.narrow(-1, -2, 2), [x], { label: label('narrow negative axis and start') });
  });

  it('where: gradients to a and b, broadcast (cond takes none)', () => {
    const cond = new Tensor(Float32Array.from({ length: 6 }, (_, i) => (i * 7) % 3 === 0 ? 1 : 0), [3, 1, 2]);
    const a = randomTensor(rng, [3, 4, 2]);
    const b = randomTensor(rng, [4, 1]);
    gradcheck(([p, q]) => myelin.where(cond, p, q), [a, b], { label: label('where') });
    gradcheck(([p, q]) => p.where(cond, q), [a, b], { label: label('x.where(cond, y)') });
  });
});

describe('tensor op behaviour', () => {
  it('argmax / argmin: first index on ties, NaN wins (as in PyTorch), keepDims, no gradient', () => {
    const x = tensor([[1, 3, 3], [2, NaN, 5], [0, 0, -1]], undefined, { requiresGrad: true });
    expect(x.argmax(1).toArray()).toEqual([1, 1, 0]);
    expect(x.argmin(1).toArray()).toEqual([0, 1, 2]);
    expect(x.argmax(0, true).shape).toEqual([1, 3]);
    expect(x.argmax().item()).toBe(4);
    expect(x.argmax(1).requiresGrad).toBe(false);
    expect(Number.isNaN((x.max(1).toArray() as number[])[1])).toBe(true);
    expect(Number.isNaN((x.min(1).toArray() as number[])[1])).toBe(true);
    expect(x.min(0).toArray()).toEqual([0, NaN, -1]);
  });

  it('comparisons give 1/0 masks that compose with where and sum', () => {
    const x = tensor([[-2, 0.5], [3, -1]]);
    expect(x.gt(0).toArray()).toEqual([[0, 1], [1, 0]]);
    expect(x.le(tensor([0.5, -1])).toArray()).toEqual([[1, 0], [0, 1]]);
    expect(x.eq(3).sum().item()).toBe(1);
    expect(x.ne(x).sum().item()).toBe(0);
    expect(myelin.where(x.lt(0), 0, x).toArray()).toEqual([[0, 0.5], [3, 0]]);
    expect(tensor([NaN]).eq(NaN).item()).toBe(0);
    expect(tensor([NaN]).ne(NaN).item()).toBe(1);
  });

  it('squeeze and unsqueeze share the data; eye; stack and narrow values', () => {
    const x = tensor([[[1, 2, 3]]]);
    expect(x.squeeze().data).toBe(x.data);
    expect(x.squeeze().shape).toEqual([3]);
    expect(x.squeeze(0).shape).toEqual([1, 3]);
    expect(x.squeeze(2).shape).toEqual([1, 1, 3]);
    expect(tensor(5).squeeze(0).shape).toEqual([]);
    expect(tensor(5).unsqueeze(0).shape).toEqual([1]);
    expect(myelin.eye(2, 3).toArray()).toEqual([[1, 0, 0], [0, 1, 0]]);
    expect(myelin.eye(2, undefined, { requiresGrad: true }).requiresGrad).toBe(true);
    expect(myelin.stack([tensor([1, 2]), tensor([3, 4])], 1).toArray()).toEqual([[1, 3], [2, 4]]);
    const m = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(m.narrow(1, 1, 2).toArray()).toEqual([[2, 3], [5, 6]]);
    expect(m.narrow(1, 3, 0).shape).toEqual([2, 0]);
    expect(m.indexSelect(1, new Int32Array([2, -3])).toArray()).toEqual([[3, 1], [6, 4]]);
    expect(m.indexSelect(0, tensor([1])).toArray()).toEqual([[4, 5, 6]]);
  });

  it('the top-level ops are the ops module\'s, and myelin.matmul is the Tensor method', () => {
    const a = tensor([[1, 2], [3, 4]]);
    expect(myelin.matmul(a, myelin.eye(2)).toArray()).toEqual(a.toArray());
    expect(myelin.add(a, 1).toArray()).toEqual([[2, 3], [4, 5]]);
    for (const name of ['matmul', 'add', 'sub', 'mul', 'div', 'abs', 'clamp', 'where', 'stack', 'argmax', 'narrow'] as const) {
      expect(myelin[name], name).toBe(myelin.ops[name]);
    }
  });
});

describe('tensor op argument errors', () => {
  const m = tensor([[1, 2, 3], [4, 5, 6]]);
  it.each([
    ['argmax axis out of range', () => m.argmax(2), /argmax: axis 2 is out of range for shape \[2,3\] \(valid: -2 to 1\)/],
    ['min negative axis out of range', () => m.min(-3), /min: axis -3 is out of range for shape \[2,3\]/],
    ['argmin non-integer axis', () => m.argmin(0.5), /argmin: axis must be an integer, got 0\.5/],
    ['argmax keepDims not boolean', () => m.argmax(0, 1 as unknown as boolean), /argmax: keepDims must be true or false, got 1/],
    ['argmax of an empty tensor', () => myelin.zeros([0, 3]).argmax(), /argmax: empty tensor of shape \[0,3\]/],
    ['argmax over an empty axis', () => myelin.zeros([2, 0]).argmax(1), /argmax: empty tensor of shape \[2,0\]/],
    ['clamp without bounds', () => m.clamp(), /clamp: needs min or max \(or both\), got min undefined and max undefined/],
    ['clamp with a string bound', () => m.clamp('0' as unknown as number), /clamp: min must be a finite number, got '0' \(a string\)/],
    ['abs of an array', () => myelin.abs([1, 2] as unknown as Tensor), /abs: input must be a Tensor, got \[1,2\] \(an array\)/],
    ['squeeze axis out of range', () => m.squeeze(2), /squeeze: axis 2 is out of range for shape \[2,3\]/],
    ['unsqueeze axis out of range', () => m.unsqueeze(3), /unsqueeze: axis 3 is out of range for a new axis of shape \[2,3\] \(valid: -3 to 2\)/],
    ['stack of different shapes', () => myelin.stack([m, tensor([1, 2, 3])]), /stack: every tensor must have the same shape; tensors\[0\] is \[2,3\], tensors\[1\] is \[3\]/],
    ['stack of nothing', () => myelin.stack([]), /stack: needs at least one tensor/],
    ['stack of a non-tensor', () => myelin.stack([m, 1 as unknown as Tensor]), /stack: tensors\[1\] must be a Tensor, got 1/],
    ['narrow past the end', () => m.narrow(1, 2, 2), /narrow: start 2 with length 2 is out of range for axis 1 of length 3 \(shape \[2,3\]\)/],
    ['narrow axis out of range', () => m.narrow(-3, 0, 1), /narrow: axis -3 is out of range for shape \[2,3\]/],
    ['narrow negative length', () => m.narrow(0, 0, -1), /narrow: length must be a non-negative integer, got -1/],
    ['indexSelect index out of range', () => m.indexSelect(1, [0, 3]), /indexSelect: index 3 at position 1 is out of range for axis 1 of length 3 \(shape \[2,3\]\)/],
    ['indexSelect non-integer index', () => m.indexSelect(0, [0.5]), /indexSelect: index 0\.5 at position 0 is out of range/],
    ['indexSelect bad indices', () => m.indexSelect(0, 'a' as unknown as number[]), /indexSelect: indices must be an Int32Array, an array of integers or a 1-D Tensor/],
    ['indexSelect on a 0-d tensor', () => tensor(1).indexSelect(0, [0]), /indexSelect: cannot index a 0-d tensor/],
    ['comparison shapes', () => m.eq(tensor([1, 2])), /eq: shapes cannot be broadcast together: \[2,3\] and \[2\]/],
    ['comparison operand', () => m.lt('1' as unknown as number), /lt: second operand must be a Tensor or a number, got '1' \(a string\)/],
    ['where shapes', () => myelin.where(m.gt(2), m, tensor([1, 2])), /where: shapes cannot be broadcast together: \[2,3\] and \[2\]/],
    ['where cond', () => myelin.where([1] as unknown as Tensor, m, 0), /where: cond must be a Tensor or a number, got \[1\] \(an array\)/],
    ['eye negative', () => myelin.eye(-1), /eye: n must be a non-negative integer, got -1/],
    ['eye options second', () => myelin.eye(2, { requiresGrad: true } as unknown as number), /eye: m \(the column count\) must be a non-negative integer \(or omitted\).*options go third/],
    ['eye unknown option', () => myelin.eye(2, 2, { requiresgrad: true } as never), /eye: unknown option 'requiresgrad' \(did you mean 'requiresGrad'\?/],
  ])('%s', (_name, f, message) => {
    expect(f).toThrow(message);
  });
});

// Tensor (a float32 n-d array with an optional gradient): its op methods and its factories. The class
// is defined in lib/tensor-core.ts (which the ops import); this module adds the methods over the ops.
import { Rng, globalGenerator } from './random';
import * as shapeOps from './ops/shape';
import * as elementwise from './ops/elementwise';
import * as reduce from './ops/reduce';
import * as activation from './ops/activation';
import { matmul } from './ops/matmul';
import * as pointwise from './ops/pointwise';
import * as compare from './ops/compare';
import * as view from './ops/view';
import { Tensor, shapeToString, sizeOf, type NestedArray, type NumericArray, type RandomOptions, type TensorOptions } from './tensor-core';
import {
  allocFloat32, argumentError, checkBoolean, checkElementCount, checkNonNegativeInt, checkNumber, checkOptions, checkSeed,
  checkShape, describe, invalid, isPlainObject,
} from './validate';

export {
  Tensor, shapeToString, sizeOf, zeroGradOf, type NestedArray, type NumericArray, type RandomOptions, type TensorOptions,
} from './tensor-core';

/** The op methods of a Tensor (t.add(u) is ops.add(t, u)); installed on Tensor.prototype below. */
export interface TensorOpMethods {
  // Shape ops (differentiable).
  reshape(...shape: number[] | [readonly number[]]): Tensor;
  /** 2-D transpose; for more dimensions, swaps the last two. */
  transpose(): Tensor;
  /** Rows [start, end) along the first dimension (negative indices count from the end). */
  slice(start: number, end?: number, ...rest: never[]): Tensor;
  /** The rows at the given indices along the first dimension. */
  indexRows(indices: Int32Array | readonly number[]): Tensor;
  flatten(startDim?: number): Tensor;
  /** Drops size-1 dimensions (all, or only `axis`). Shares the data. */
  squeeze(axis?: number): Tensor;
  /** Inserts a size-1 dimension at `axis`. Shares the data. */
  unsqueeze(axis: number): Tensor;
  /** `length` positions of `axis` from `start`: x.narrow(1, 0, 2) is the first two columns. */
  narrow(axis: number, start: number, length: number): Tensor;
  /** The given positions of `axis`: x.indexSelect(1, [2, 0]) is columns 2 and 0. */
  indexSelect(axis: number, indices: Int32Array | readonly number[] | Tensor): Tensor;
  // Arithmetic (differentiable, numpy broadcasting).
  add(other: Tensor | number): Tensor;
  sub(other: Tensor | number): Tensor;
  mul(other: Tensor | number): Tensor;
  div(other: Tensor | number): Tensor;
  neg(): Tensor;
  exp(): Tensor;
  log(): Tensor;
  sqrt(): Tensor;
  pow(exponent: number): Tensor;
  matmul(other: Tensor): Tensor;
  abs(): Tensor;
  /** Limits values to [min, max] (pass null/undefined for no bound on one side). */
  clamp(min?: number | null, max?: number | null): Tensor;
  // Comparisons (1/0 float32 masks, broadcasting, no gradient) and selection.
  eq(other: Tensor | number): Tensor;
  ne(other: Tensor | number): Tensor;
  lt(other: Tensor | number): Tensor;
  le(other: Tensor | number): Tensor;
  gt(other: Tensor | number): Tensor;
  ge(other: Tensor | number): Tensor;
  /** This where cond is nonzero, other elsewhere (PyTorch's x.where(cond, y) = where(cond, x, y)). */
  where(cond: Tensor, other: Tensor | number): Tensor;
  // Reductions.
  sum(axis?: number, keepDims?: boolean): Tensor;
  mean(axis?: number, keepDims?: boolean): Tensor;
  max(axis?: number, keepDims?: boolean): Tensor;
  min(axis?: number, keepDims?: boolean): Tensor;
  /** Positions of the maxima along `axis` (flat positions without one), as float32 values. */
  argmax(axis?: number, keepDims?: boolean): Tensor;
  /** Positions of the minima along `axis` (flat positions without one), as float32 values. */
  argmin(axis?: number, keepDims?: boolean): Tensor;
  // Activations.
  relu(): Tensor;
  leakyRelu(negativeSlope?: number): Tensor;
  sigmoid(): Tensor;
  tanh(): Tensor;
  gelu(approximate?: 'none' | 'tanh'): Tensor;
  /** Softmax over `axis` (default the last). */
  softmax(axis?: number): Tensor;
  /** Log-softmax over `axis` (default the last). */
  logSoftmax(axis?: number): Tensor;
}


declare module './tensor-core' {
  // eslint-disable-next-line @typescript-eslint/no-empty-interface
  interface Tensor extends TensorOpMethods {}
}

type OpMethodImpls = { [K in keyof TensorOpMethods]: (t: Tensor, ...args: Parameters<TensorOpMethods[K]>) => Tensor };

const OP_METHODS: OpMethodImpls = {
  reshape: (t, ...shape) => shapeOps.reshape(t, (Array.isArray(shape[0]) ? shape[0] : shape) as readonly number[]),
  transpose: (t) => shapeOps.transpose(t),
  slice: (t, start, end, ...rest) => {
    if (rest.length > 0) {
      throw argumentError('slice', `takes (start, end) along the first dimension; got a third argument ${describe(rest[0])} (slicing another axis is not supported)`);
    }
    return shapeOps.slice(t, start, end);
  },
  indexRows: (t, indices) => shapeOps.indexRows(t, indices),
  flatten: (t, startDim) => shapeOps.flatten(t, startDim),
  squeeze: (t, axis) => view.squeeze(t, axis),
  unsqueeze: (t, axis) => view.unsqueeze(t, axis),
  narrow: (t, axis, start, length) => view.narrow(t, axis, start, length),
  indexSelect: (t, axis, indices) => view.indexSelect(t, axis, indices),
  add: (t, other) => elementwise.add(t, other),
  sub: (t, other) => elementwise.sub(t, other),
  mul: (t, other) => elementwise.mul(t, other),
  div: (t, other) => elementwise.div(t, other),
  neg: (t) => elementwise.neg(t),
  exp: (t) => elementwise.exp(t),
  log: (t) => elementwise.log(t),
  sqrt: (t) => elementwise.sqrt(t),
  pow: (t, exponent) => elementwise.pow(t, exponent),
  matmul: (t, other) => matmul(t, other),
  abs: (t) => pointwise.abs(t),
  clamp: (t, min, max) => pointwise.clamp(t, min, max),
  eq: (t, other) => compare.eq(t, other),
  ne: (t, other) => compare.ne(t, other),
  lt: (t, other) => compare.lt(t, other),
  le: (t, other) => compare.le(t, other),
  gt: (t, other) => compare.gt(t, other),
  ge: (t, other) => compare.ge(t, other),
  where: (t, cond, other) => compare.where(cond, t, other),
  sum: (t, axis, keepDims) => reduce.sum(t, axis, keepDims),
  mean: (t, axis, keepDims) => reduce.mean(t, axis, keepDims),
  max: (t, axis, keepDims) => reduce.max(t, axis, keepDims),
  min: (t, axis, keepDims) => reduce.min(t, axis, keepDims),
  argmax: (t, axis, keepDims) => reduce.argmax(t, axis, keepDims),
  argmin: (t, axis, keepDims) => reduce.argmin(t, axis, keepDims),
  relu: (t) => activation.relu(t),
  leakyRelu: (t, negativeSlope) => activation.leakyRelu(t, negativeSlope),
  sigmoid: (t) => activation.sigmoid(t),
  tanh: (t) => activation.tanh(t),
  gelu: (t, approximate) => activation.gelu(t, approximate),
  softmax: (t, axis) => activation.softmax(t, axis),
  logSoftmax: (t, axis) => activation.logSoftmax(t, axis),
};

// Non-enumerable, as class methods are (for-in and object spreads of a tensor see only its fields).
for (const [name, impl] of Object.entries(OP_METHODS) as [string, (t: Tensor, ...args: unknown[]) => Tensor][]) {
  Object.defineProperty(Tensor.prototype, name, {
    value: function (this: Tensor, ...args: unknown[]): Tensor {
      return impl(this, ...args);
    },
    writable: true,
    configurable: true,
  });
}

const TENSOR_OPTIONS = ['requiresGrad'] as const;
const RANDOM_OPTIONS = ['seed', 'requiresGrad'] as const;

/** requiresGrad from a factory's options (checked: a boolean when given). */
function requiresGradOf(op: string, opts: TensorOptions): boolean {
  return opts.requiresGrad === undefined ? false : checkBoolean(op, 'requiresGrad', opts.requiresGrad);
}


function isNumericArray(x: unknown): x is NumericArray {
  return ArrayBuffer.isView(x) && !(x instanceof DataView) && !(x instanceof BigInt64Array) && !(x instanceof BigUint64Array);
}

/** Shape of a nested array (read along the first elements; flattenNested checks the rest). */
function inferShape(value: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = value;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0];
  }
  return shape;
}

function flattenNested(value: NestedArray, shape: number[], out: Float32Array): void {
  let k = 0;
  const walk = (v: NestedArray, dim: number, path: number[]): void => {
    if (dim === shape.length) {
      if (typeof v !== 'number') {
        const ragged = Array.isArray(v) ? ' (ragged nested array?)' : '';
        throw argumentError('tensor', `element at [${path.join(',')}] is ${describe(v)}, expected a number${ragged}`);
      }
      out[k++] = v;
      return;
    }
    if (!Array.isArray(v)) {
      throw argumentError(
        'tensor', `ragged nested array: element at [${path.join(',')}] is ${describe(v)}, expected an array of length ${shape[dim]}`,
      );
    }
    if (v.length !== shape[dim]) {
      throw argumentError(
        'tensor',
        `ragged nested array: element at [${path.join(',')}] has length ${v.length}, expected ${shape[dim]} ` +
          `(like the first element at that depth)`,
      );
    }
    for (let i = 0; i < v.length; i++) walk(v[i], dim + 1, [...path, i]);
  };
  walk(value, 0, []);
}

/** The shape argument of tensor(), with a hint when the options object was passed in its place. */
function tensorShapeArg(shape: unknown): number[] {
  if (isPlainObject(shape)) {
    invalid('tensor', 'shape', 'an array of non-negative integers such as [2, 3]', shape,
      'options go third: tensor(values, undefined, { requiresGrad: true })');
  }
  return checkShape('tensor', shape);
}

/**
 * Creates a tensor from nested arrays ([[1,2],[3,4]]), a flat array or typed array plus a shape,
 * or a single number (0-d). Typed arrays other than Float32Array are converted; a Float32Array
 * is used as-is (not copied).
 * @param shape required with a flat array (its product must equal the length); inferred from nested arrays.
 * @param opts requiresGrad (default false).
 * @throws Error naming the shape when it does not match the values, or for ragged nested arrays.
 * @example tensor([[1, 2], [3, 4]]).matmul(tensor([1, 1], [2, 1])) // [[3], [7]]
 */
export function tensor(values: NestedArray | NumericArray, shape?: readonly number[], opts: TensorOptions = {}): Tensor {
  const o = checkOptions('tensor', opts, TENSOR_OPTIONS);
  let data: Float32Array;
  let s: number[];
  if (isNumericArray(values)) {
    data = values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
    s = shape !== undefined && shape !== null ? tensorShapeArg(shape) : [data.length];
  } else if (typeof values === 'number') {
    data = new Float32Array([values]);
    s = shape !== undefined && shape !== null ? tensorShapeArg(shape) : [];
  } else if (Array.isArray(values)) {
    const inferred = inferShape(values);
    checkElementCount('tensor', inferred, 'nested array shape');
    data = new Float32Array(sizeOf(inferred));
    flattenNested(values, inferred, data);
    s = inferred;
    if (shape !== undefined && shape !== null) {
      const want = tensorShapeArg(shape);
      if (sizeOf(want) !== data.length) {
        throw new Error(
          `tensor: ${data.length} values (nested shape ${shapeToString(inferred)}) do not fill shape ${shapeToString(want)}`,
        );
      }
      s = want;
    }
  } else {
    invalid('tensor', 'values', 'a number, nested arrays of numbers or a typed array', values);
  }
  if (data.length !== sizeOf(s)) {
    throw new Error(`tensor: ${data.length} values do not fill shape ${shapeToString(s)} (${sizeOf(s)} elements)`);
  }
  return new Tensor(data, s, requiresGradOf('tensor', o));
}

/**
 * A tensor of zeros.
 * @param shape the dimensions, non-negative integers ([] for a 0-d tensor).
 * @param opts requiresGrad (default false).
 * @throws Error when shape is not an array of non-negative integers, has more than 2^31 - 1 elements, or an option is unknown.
 * @example zeros([2, 3]) // [[0, 0, 0], [0, 0, 0]]
 */
export function zeros(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  const s = checkShape('zeros', shape);
  const o = checkOptions('zeros', opts, TENSOR_OPTIONS);
  return new Tensor(allocFloat32('zeros', sizeOf(s)), s, requiresGradOf('zeros', o));
}

/**
 * The identity matrix [n, m] (m defaults to n): ones on the diagonal, zeros elsewhere.
 * @param n rows, a non-negative integer.
 * @param m columns, a non-negative integer (default n).
 * @param opts requiresGrad (default false); options go third: eye(n, undefined, { requiresGrad: true }).
 * @throws Error when n or m is not a non-negative integer (or m is an options object), the matrix has more than 2^31 - 1 elements, or an option is unknown.
 * @example eye(2) // [[1, 0], [0, 1]]
 */
export function eye(n: number, m?: number, opts: TensorOptions = {}): Tensor {
  if (isPlainObject(m)) invalid('eye', 'm (the column count)', 'a non-negative integer (or omitted)', m, 'options go third: eye(n, undefined, { requiresGrad: true })');
  const rows = checkNonNegativeInt('eye', 'n', n);
  const cols = m === undefined ? rows : checkNonNegativeInt('eye', 'm', m);
  const o = checkOptions('eye', opts, TENSOR_OPTIONS);
  const shape = [rows, cols];
  checkElementCount('eye', shape);
  const data = allocFloat32('eye', rows * cols);
  for (let i = 0; i < Math.min(rows, cols); i++) data[i * cols + i] = 1;
  return new Tensor(data, shape, requiresGradOf('eye', o));
}

/**
 * A tensor of ones.
 * @param shape the dimensions, non-negative integers.
 * @param opts requiresGrad (default false).
 * @throws Error when shape is not an array of non-negative integers, is too large, or an option is unknown.
 * @example ones([3]) // [1, 1, 1]
 */
export function ones(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return filled('ones', shape, 1, opts);
}

/**
 * A tensor filled with one value.
 * @param shape the dimensions, non-negative integers.
 * @param value the value of every element.
 * @param opts requiresGrad (default false).
 * @throws Error when shape is not an array of non-negative integers, is too large, or an option is unknown.
 * @example full([2, 2], 0.5) // [[0.5, 0.5], [0.5, 0.5]]
 */
export function full(shape: readonly number[], value: number, opts: TensorOptions = {}): Tensor {
  if (typeof value !== 'number') invalid('full', 'value', 'a number', value);
  return filled('full', shape, value, opts);
}

function filled(op: string, shape: readonly number[], value: number, opts: TensorOptions): Tensor {
  const s = checkShape(op, shape);
  const o = checkOptions(op, opts, TENSOR_OPTIONS);
  return new Tensor(allocFloat32(op, sizeOf(s)).fill(value), s, requiresGradOf(op, o));
}

function generatorFor(op: string, opts: RandomOptions): Rng {
  return opts.seed === undefined ? globalGenerator() : new Rng(checkSeed(op, 'seed', opts.seed));
}

/**
 * Standard normal samples (mean 0, std 1), seeded.
 * @param shape the dimensions, non-negative integers.
 * @param opts seed (default: the global generator, see manualSeed) and requiresGrad (default false).
 * @throws Error when shape is not an array of non-negative integers, is too large, seed is not a valid seed, or an option is unknown.
 * @example randn([2, 3], { seed: 1 }) // the same values for the same seed
 */
export function randn(shape: readonly number[], opts: RandomOptions = {}): Tensor {
  const s = checkShape('randn', shape);
  const o = checkOptions('randn', opts, RANDOM_OPTIONS);
  const requiresGrad = requiresGradOf('randn', o);
  const rng = generatorFor('randn', o);
  const data = allocFloat32('randn', sizeOf(s));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return new Tensor(data, s, requiresGrad);
}

/**
 * Uniform samples in [low, high) (default [0, 1)), seeded.
 * @param shape the dimensions, non-negative integers.
 * @param opts low (default 0), high (default 1, must be above low), seed (default: the global generator) and requiresGrad (default false).
 * @throws Error when shape is not an array of non-negative integers, is too large, low or high is not a finite number, high is not above low, or an option is unknown.
 * @example rand([4], { low: -1, high: 1, seed: 7 })
 */
export function rand(shape: readonly number[], opts: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  const s = checkShape('rand', shape);
  const o = checkOptions('rand', opts, [...RANDOM_OPTIONS, 'low', 'high']);
  const requiresGrad = requiresGradOf('rand', o);
  const low = o.low === undefined ? 0 : checkNumber('rand', 'low', o.low);
  const high = o.high === undefined ? 1 : checkNumber('rand', 'high', o.high, { above: low });
  const rng = generatorFor('rand', o);
  const data = allocFloat32('rand', sizeOf(s));
  for (let i = 0; i < data.length; i++) data[i] = low + (high - low) * rng.next();
  return new Tensor(data, s, requiresGrad);
}

/**
 * 1-D tensor of start, start+step, ... below stop. arange(n) gives 0..n-1.
 * @param start the first value (with one argument: the stop, and start is 0).
 * @param stop the end, excluded.
 * @param step the increment (default 1; negative counts down).
 * @throws Error when an argument is not a finite number, step is 0, or the range has more than 2^31 - 1 elements.
 * @example arange(0, 1, 0.25) // [0, 0.25, 0.5, 0.75]
 */
export function arange(start: number, stop?: number, step = 1): Tensor {
  if (stop === undefined) {
    stop = checkNumber('arange', 'stop', start);
    start = 0;
  } else {
    checkNumber('arange', 'start', start);
    checkNumber('arange', 'stop', stop);
  }
  checkNumber('arange', 'step', step);
  if (step === 0) invalid('arange', 'step', 'a non-zero finite number', step);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  checkElementCount('arange', [n], `the range [${start}, ${stop}) in steps of ${step}, shape`);
  const data = allocFloat32('arange', n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return new Tensor(data, [n]);
}


// Tensor (a float32 n-d array with an optional gradient) and its factories.
import { backward as runBackward, type GradNode } from './autograd';
import { Rng, globalGenerator } from './random';
import * as shapeOps from './ops/shape';
import * as elementwise from './ops/elementwise';
import * as reduce from './ops/reduce';
import * as activation from './ops/activation';
import { matmul } from './ops/matmul';
import * as pointwise from './ops/pointwise';
import * as compare from './ops/compare';
import * as view from './ops/view';
import {
  allocFloat32, argumentError, checkBoolean, checkElementCount, checkNonNegativeInt, checkNumber, checkOptions, checkSeed,
  checkShape, describe, invalid, isPlainObject, TENSOR_BRAND,
} from './validate';

/** Nested JS arrays of numbers, e.g. [[1, 2], [3, 4]]. */
export type NestedArray = number | NestedArray[];

/** Typed arrays accepted by tensor(); values are converted to float32. */
export type NumericArray =
  | Float32Array | Float64Array | Int32Array | Int16Array | Int8Array
  | Uint32Array | Uint16Array | Uint8Array | Uint8ClampedArray;

export interface TensorOptions {
  requiresGrad?: boolean;
}

export interface RandomOptions extends TensorOptions {
  /** Seed for a private generator; without it the global generator (see manualSeed) is used. */
  seed?: number;
}

/** Formats a shape the way every error message shows it: [2,3]. */
export function shapeToString(shape: readonly number[]): string {
  if (!Array.isArray(shape)) invalid('shapeToString', 'shape', 'an array of numbers', shape);
  return `[${shape.join(',')}]`;
}

/** Number of elements of a shape (1 for the scalar shape []). */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

const TENSOR_OPTIONS = ['requiresGrad'] as const;
const RANDOM_OPTIONS = ['seed', 'requiresGrad'] as const;

/** requiresGrad from a factory's options (checked: a boolean when given). */
function requiresGradOf(op: string, opts: TensorOptions): boolean {
  return opts.requiresGrad === undefined ? false : checkBoolean(op, 'requiresGrad', opts.requiresGrad);
}

/** A dense float32 n-d array, row-major. Memory is owned by the GC: no dispose needed. */
export class Tensor {
  data: Float32Array;
  shape: number[];
  requiresGrad: boolean;
  grad: Tensor | null = null;
  /** @internal The op that produced this tensor (null for leaves and untracked results). */
  _node: GradNode | null = null;
  /**
   * @internal Write counter of `data`: bumped by every in-place change myelin makes (optimizer
   * steps, loadStateDict, resetParameters) and by markChanged(). predictAsync keeps its weight
   * copy while the counters (and the `data` arrays) are unchanged.
   */
  _version = 0;

  constructor(data: Float32Array, shape: readonly number[], requiresGrad = false) {
    if (!(data instanceof Float32Array)) invalid('Tensor', 'data', 'a Float32Array', data, 'tensor(values, shape) converts other arrays');
    const s = checkShape('Tensor', shape);
    if (data.length !== sizeOf(s)) {
      throw new Error(`Tensor: data has ${data.length} elements, shape ${shapeToString(s)} needs ${sizeOf(s)}`);
    }
    this.data = data;
    this.shape = s;
    this.requiresGrad = requiresGrad;
  }

  /** Number of elements. */
  get size(): number {
    return this.data.length;
  }

  /** Number of dimensions. */
  get ndim(): number {
    return this.shape.length;
  }

  /** True when this tensor was created by the user (not by a recorded op). */
  get isLeaf(): boolean {
    return this._node === null;
  }

  /** The values as nested JS arrays (a plain number for a 0-d tensor). */
  toArray(): NestedArray {
    if (this.shape.length === 0) return this.data[0];
    const build = (dim: number, offset: number): NestedArray[] => {
      const n = this.shape[dim];
      const out: NestedArray[] = new Array(n);
      if (dim === this.shape.length - 1) {
        for (let i = 0; i < n; i++) out[i] = this.data[offset + i];
        return out;
      }
      const stride = sizeOf(this.shape.slice(dim + 1));
      for (let i = 0; i < n; i++) out[i] = build(dim + 1, offset + i * stride);
      return out;
    };
    return build(0, 0);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) {
      throw new Error(`item: tensor of shape ${shapeToString(this.shape)} has ${this.size} elements, expected 1`);
    }
    return this.data[0];
  }

  /** Backpropagates from this tensor (a scalar, or pass a gradient of the same shape). */
  backward(grad?: Tensor | Float32Array | number[]): void {
    let g: Float32Array | null = null;
    if (grad !== undefined) {
      if (grad instanceof Tensor) {
        if (grad.size !== this.size) {
          throw new Error(
            `backward: gradient of shape ${shapeToString(grad.shape)} does not match output of shape ${shapeToString(this.shape)}`,
          );
        }
        g = grad.data;
      } else if (grad instanceof Float32Array) {
        g = grad;
      } else if (Array.isArray(grad) && grad.every((v) => typeof v === 'number')) {
        g = Float32Array.from(grad);
      } else {
        invalid('backward', 'the gradient', 'a Tensor, a Float32Array or an array of numbers (or nothing, for a scalar)', grad);
      }
    }
    runBackward(this, g, (data, shape) => new Tensor(data, shape));
  }

  /**
   * Records that `data` was changed in place outside myelin (e.g. `w.data[0] = 1` or
   * `w.data.set(values)`), so predictAsync copies the weights again. Returns this.
   */
  markChanged(): this {
    this._version++;
    return this;
  }

  /** Marks a leaf as requiring grad (or not); returns this. */
  requiresGrad_(flag = true): this {
    checkBoolean('requiresGrad_', 'flag', flag);
    if (this._node !== null && !flag) {
      throw new Error('requiresGrad_: cannot turn off requiresGrad on a non-leaf tensor; use detach()');
    }
    this.requiresGrad = flag;
    return this;
  }

  /**
   * Zeroes .grad in place (the buffer is kept, so the next backward accumulates into it without
   * allocating); with setToNull, drops it instead.
   */
  zeroGrad(opts: { setToNull?: boolean } = {}): void {
    const o = checkOptions('zeroGrad', opts, ['setToNull']);
    zeroGradOf(this, o.setToNull !== undefined && checkBoolean('zeroGrad', 'setToNull', o.setToNull));
  }

  /** A tensor sharing this data, cut from the graph (requiresGrad false). */
  detach(): Tensor {
    return new Tensor(this.data, this.shape);
  }

  /** A copy of the data, cut from the graph. */
  clone(): Tensor {
    return new Tensor(Float32Array.from(this.data), this.shape);
  }

  // Shape ops (differentiable).
  reshape(...shape: number[] | [readonly number[]]): Tensor {
    const s = (Array.isArray(shape[0]) ? shape[0] : shape) as readonly number[];
    return shapeOps.reshape(this, s);
  }
  /** 2-D transpose; for more dimensions, swaps the last two. */
  transpose(): Tensor {
    return shapeOps.transpose(this);
  }
  /** Rows [start, end) along the first dimension (negative indices count from the end). */
  slice(start: number, end?: number, ...rest: never[]): Tensor {
    if (rest.length > 0) {
      throw argumentError('slice', `takes (start, end) along the first dimension; got a third argument ${describe(rest[0])} (slicing another axis is not supported)`);
    }
    return shapeOps.slice(this, start, end);
  }
  /** The rows at the given indices along the first dimension. */
  indexRows(indices: Int32Array | readonly number[]): Tensor {
    return shapeOps.indexRows(this, indices);
  }
  flatten(startDim = 1): Tensor {
    return shapeOps.flatten(this, startDim);
  }
  /** Drops size-1 dimensions (all, or only `axis`). Shares the data. */
  squeeze(axis?: number): Tensor {
    return view.squeeze(this, axis);
  }
  /** Inserts a size-1 dimension at `axis`. Shares the data. */
  unsqueeze(axis: number): Tensor {
    return view.unsqueeze(this, axis);
  }
  /** `length` positions of `axis` from `start`: x.narrow(1, 0, 2) is the first two columns. */
  narrow(axis: number, start: number, length: number): Tensor {
    return view.narrow(this, axis, start, length);
  }
  /** The given positions of `axis`: x.indexSelect(1, [2, 0]) is columns 2 and 0. */
  indexSelect(axis: number, indices: Int32Array | readonly number[] | Tensor): Tensor {
    return view.indexSelect(this, axis, indices);
  }

  // Arithmetic (differentiable, numpy broadcasting).
  add(other: Tensor | number): Tensor {
    return elementwise.add(this, other);
  }
  sub(other: Tensor | number): Tensor {
    return elementwise.sub(this, other);
  }
  mul(other: Tensor | number): Tensor {
    return elementwise.mul(this, other);
  }
  div(other: Tensor | number): Tensor {
    return elementwise.div(this, other);
  }
  neg(): Tensor {
    return elementwise.neg(this);
  }
  exp(): Tensor {
    return elementwise.exp(this);
  }
  log(): Tensor {
    return elementwise.log(this);
  }
  sqrt(): Tensor {
    return elementwise.sqrt(this);
  }
  pow(exponent: number): Tensor {
    return elementwise.pow(this, exponent);
  }
  matmul(other: Tensor): Tensor {
    return matmul(this, other);
  }
  abs(): Tensor {
    return pointwise.abs(this);
  }
  /** Limits values to [min, max] (pass null/undefined for no bound on one side). */
  clamp(min?: number | null, max?: number | null): Tensor {
    return pointwise.clamp(this, min, max);
  }

  // Comparisons (1/0 float32 masks, broadcasting, no gradient) and selection.
  eq(other: Tensor | number): Tensor {
    return compare.eq(this, other);
  }
  ne(other: Tensor | number): Tensor {
    return compare.ne(this, other);
  }
  lt(other: Tensor | number): Tensor {
    return compare.lt(this, other);
  }
  le(other: Tensor | number): Tensor {
    return compare.le(this, other);
  }
  gt(other: Tensor | number): Tensor {
    return compare.gt(this, other);
  }
  ge(other: Tensor | number): Tensor {
    return compare.ge(this, other);
  }
  /** This where cond is nonzero, other elsewhere (PyTorch's x.where(cond, y) = where(cond, x, y)). */
  where(cond: Tensor, other: Tensor | number): Tensor {
    return compare.where(cond, this, other);
  }

  // Reductions.
  sum(axis?: number, keepDims = false): Tensor {
    return reduce.sum(this, axis, keepDims);
  }
  mean(axis?: number, keepDims = false): Tensor {
    return reduce.mean(this, axis, keepDims);
  }
  max(axis?: number, keepDims = false): Tensor {
    return reduce.max(this, axis, keepDims);
  }
  min(axis?: number, keepDims = false): Tensor {
    return reduce.min(this, axis, keepDims);
  }
  /** Positions of the maxima along `axis` (flat positions without one), as float32 values. */
  argmax(axis?: number, keepDims = false): Tensor {
    return reduce.argmax(this, axis, keepDims);
  }
  /** Positions of the minima along `axis` (flat positions without one), as float32 values. */
  argmin(axis?: number, keepDims = false): Tensor {
    return reduce.argmin(this, axis, keepDims);
  }

  // Activations.
  relu(): Tensor {
    return activation.relu(this);
  }
  leakyRelu(negativeSlope = 0.01): Tensor {
    return activation.leakyRelu(this, negativeSlope);
  }
  sigmoid(): Tensor {
    return activation.sigmoid(this);
  }
  tanh(): Tensor {
    return activation.tanh(this);
  }
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor {
    return activation.gelu(this, approximate);
  }
  /** Softmax over `axis` (default the last). */
  softmax(axis?: number): Tensor {
    return activation.softmax(this, axis);
  }
  /** Log-softmax over `axis` (default the last). */
  logSoftmax(axis?: number): Tensor {
    return activation.logSoftmax(this, axis);
  }

  toString(): string {
    const head = `Tensor(shape=${shapeToString(this.shape)}${this.requiresGrad ? ', requiresGrad' : ''})`;
    if (this.size > 100) return head;
    return `${head} ${JSON.stringify(this.toArray())}`;
  }
}

// How lib/validate.ts recognises a Tensor without importing this module.
Object.defineProperty(Tensor.prototype, TENSOR_BRAND, { value: true });

/** Zeroes t.grad in place, or drops it with setToNull (Tensor/Module/Optimizer.zeroGrad, options checked). */
export function zeroGradOf(t: Tensor, setToNull: boolean): void {
  if (setToNull) t.grad = null;
  else if (t.grad !== null) t.grad.data.fill(0);
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

/** A tensor of zeros. */
export function zeros(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  const s = checkShape('zeros', shape);
  const o = checkOptions('zeros', opts, TENSOR_OPTIONS);
  return new Tensor(allocFloat32('zeros', sizeOf(s)), s, requiresGradOf('zeros', o));
}

/** The identity matrix [n, m] (m defaults to n): ones on the diagonal, zeros elsewhere. */
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

/** A tensor of ones. */
export function ones(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return filled('ones', shape, 1, opts);
}

/** A tensor filled with one value. */
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

/** Standard normal samples (mean 0, std 1), seeded. */
export function randn(shape: readonly number[], opts: RandomOptions = {}): Tensor {
  const s = checkShape('randn', shape);
  const o = checkOptions('randn', opts, RANDOM_OPTIONS);
  const requiresGrad = requiresGradOf('randn', o);
  const rng = generatorFor('randn', o);
  const data = allocFloat32('randn', sizeOf(s));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return new Tensor(data, s, requiresGrad);
}

/** Uniform samples in [low, high) (default [0, 1)), seeded. */
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

/** 1-D tensor of start, start+step, ... below stop. arange(n) gives 0..n-1. */
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


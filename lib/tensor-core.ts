// The Tensor class itself (data, shape, gradient, autograd entry): what the ops build on. Its op
// methods (t.add, t.reshape, ...) are installed by lib/tensor.ts, which imports the ops; the ops import
// this module, so there is no import cycle between lib/tensor.ts and lib/ops.
import { backward as runBackward, type GradNode } from './autograd';
import { checkBoolean, checkOptions, checkShape, invalid, TENSOR_BRAND } from './validate';

/** Nested JS arrays of numbers, e.g. [[1, 2], [3, 4]]. */
export type NestedArray = number | NestedArray[];

/** Typed arrays accepted by tensor(); values are converted to float32. */
export type NumericArray =
  | Float32Array | Float64Array | Int32Array | Int16Array | Int8Array
  | Uint32Array | Uint16Array | Uint8Array | Uint8ClampedArray;

/** Options of the tensor factories (tensor, zeros, ones, ...): requiresGrad records the tensor's operations on the autograd tape. */
export interface TensorOptions {
  requiresGrad?: boolean;
}

/** Options of randn / rand: requiresGrad, and seed for a private generator (the same seed gives the same values). */
export interface RandomOptions extends TensorOptions {
  /** Seed for a private generator; without it the global generator (see manualSeed) is used. */
  seed?: number;
}

/**
 * Formats a shape the way every error message shows it: [2,3].
 * @param shape the dimensions.
 * @throws Error when shape is not an array.
 * @example shapeToString([2, 3]) // '[2,3]'
 */
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

/**
 * The checked shape of a dense array's constructor (Tensor, IntTensor): a valid shape whose element
 * count is data's length, else an Error naming both.
 */
export function checkDataShape(kind: string, data: { length: number }, shape: readonly number[]): number[] {
  const s = checkShape(kind, shape);
  if (data.length !== sizeOf(s)) {
    throw new Error(`${kind}: data has ${data.length} elements, shape ${shapeToString(s)} needs ${sizeOf(s)}`);
  }
  return s;
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

  /**
   * Wraps a Float32Array as a tensor without copying it (the tensor() factory converts other arrays).
   * @param data the values, row-major; the tensor keeps this array (no copy).
   * @param shape the dimensions, non-negative integers whose product is data.length ([] for a scalar).
   * @param requiresGrad record the ops that use this tensor for backward (default false).
   * @throws Error when data is not a Float32Array, shape is not an array of non-negative integers, or
   * the shape's element count differs from data.length.
   * @example new Tensor(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3])
   */
  constructor(data: Float32Array, shape: readonly number[], requiresGrad = false) {
    if (!(data instanceof Float32Array)) invalid('Tensor', 'data', 'a Float32Array', data, 'tensor(values, shape) converts other arrays');
    this.data = data;
    this.shape = checkDataShape('Tensor', data, shape);
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

  /**
   * The values as nested JS arrays (a plain number for a 0-d tensor).
   * @example tensor([1, 2, 3, 4], [2, 2]).toArray() // [[1, 2], [3, 4]]
   */
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

  /**
   * The single value of a one-element tensor.
   * @returns the value as a JS number.
   * @throws Error when the tensor has more or fewer than one element (its shape is named).
   * @example tensor([[3]]).item() // 3
   */
  item(): number {
    if (this.size !== 1) {
      throw new Error(`item: tensor of shape ${shapeToString(this.shape)} has ${this.size} elements, expected 1`);
    }
    return this.data[0];
  }

  /**
   * Backpropagates from this tensor: accumulates d(this)/d(leaf) into the .grad of every leaf with
   * requiresGrad, then frees the recorded graph.
   * @param grad the gradient of the final objective with respect to this tensor, same number of elements
   * (a Tensor, Float32Array or number[]); omit it for a one-element tensor (seeded with 1).
   * @throws Error when this tensor does not require grad (no input had requiresGrad, or it was made
   * under noGrad), when grad is omitted and the tensor has more than one element, when grad's element
   * count differs from this tensor's, or when grad is not a Tensor, Float32Array or number[].
   * @example
   * ```ts
   * const w = tensor([1, 2], [2], { requiresGrad: true });
   * w.mul(w).sum().backward(); // w.grad is [2, 4]
   * ```
   */
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
   * @example w.data[0] = 1; w.markChanged();
   */
  markChanged(): this {
    this._version++;
    return this;
  }

  /**
   * Marks a leaf as requiring grad (or not), in place.
   * @param flag true to record ops on this tensor for backward (default true), false to stop.
   * @returns this tensor.
   * @throws Error when flag is not a boolean, or when turning it off on a non-leaf tensor (use detach()).
   * @example const w = zeros([3]).requiresGrad_();
   */
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
   * @param opts setToNull: set .grad to null instead of zeroing it (default false).
   * @throws Error for an unknown option or a setToNull that is not a boolean.
   * @example w.zeroGrad(); // before the next backward
   */
  zeroGrad(opts: { setToNull?: boolean } = {}): void {
    const o = checkOptions('zeroGrad', opts, ['setToNull']);
    zeroGradOf(this, o.setToNull !== undefined && checkBoolean('zeroGrad', 'setToNull', o.setToNull));
  }

  /**
   * A tensor sharing this data, cut from the graph (requiresGrad false).
   * @example const frozen = w.detach(); // same data, no gradient
   */
  detach(): Tensor {
    return new Tensor(this.data, this.shape);
  }

  /**
   * A copy of the data, cut from the graph.
   * @example const snapshot = w.clone(); // a copy: later steps do not change it
   */
  clone(): Tensor {
    return new Tensor(Float32Array.from(this.data), this.shape);
  }

  /**
   * 'Tensor(shape=[...])' (with ', requiresGrad' when set), followed by the values as JSON for at most 100 elements.
   * @returns the description.
   * @example String(tensor([[1, 2]])) // 'Tensor(shape=[1,2]) [[1,2]]'
   */
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

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

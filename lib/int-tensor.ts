// IntTensor: an int32 n-d array (token ids, class labels, positions), the index input of gather, indexSelect and nn.Embedding.
import { Tensor, checkDataShape, shapeToString, sizeOf, type NestedArray, type NumericArray } from './tensor-core';
import { argumentError, checkElementCount, checkShape, describe, invalid } from './validate';

/**
 * A dense int32 n-d array, row-major. It carries no gradient: indices are not differentiable. Ops that
 * take indices (gather, indexSelect, embedding, topk's result, multinomial's result) use it directly;
 * `toFloat()` gives a float32 Tensor of the same values.
 */
export class IntTensor {
  readonly dtype = 'int32' as const;
  data: Int32Array;
  shape: number[];

  /**
   * Wraps an Int32Array as an int tensor without copying it (intTensor() converts other arrays).
   * @param data the values, row-major; the tensor keeps this array (no copy).
   * @param shape the dimensions, non-negative integers whose product is data.length ([] for a scalar).
   * @throws Error when data is not an Int32Array, shape is not an array of non-negative integers, or the
   * shape's element count differs from data.length.
   * @example new IntTensor(new Int32Array([3, 1, 4]), [3])
   */
  constructor(data: Int32Array, shape: readonly number[]) {
    if (!(data instanceof Int32Array)) invalid('IntTensor', 'data', 'an Int32Array', data, 'intTensor(values, shape) converts other arrays');
    this.data = data;
    this.shape = checkDataShape('IntTensor', data, shape);
  }

  get size(): number {
    return this.data.length;
  }

  get ndim(): number {
    return this.shape.length;
  }

  /**
   * The values as nested JS arrays (a plain number for a 0-d tensor).
   * @example intTensor([[1, 2], [3, 4]]).toArray() // [[1, 2], [3, 4]]
   */
  toArray(): NestedArray {
    if (this.shape.length === 0) return this.data[0];
    return new Tensor(Float32Array.from(this.data), this.shape).toArray();
  }

  /**
   * The single value of a one-element int tensor.
   * @returns the value as a JS number.
   * @throws Error when the tensor has more or fewer than one element (its shape is named).
   * @example intTensor([7]).item() // 7
   */
  item(): number {
    if (this.size !== 1) throw new Error(`item: int tensor of shape ${shapeToString(this.shape)} has ${this.size} elements, expected 1`);
    return this.data[0];
  }

  /**
   * The same values in a new shape (shares the data); one dimension may be -1, inferred from the rest.
   * @param shape the new dimensions, as arguments (reshape(2, 3)) or one array (reshape([2, 3])).
   * @returns an IntTensor viewing the same Int32Array.
   * @throws Error when a dimension is not a non-negative integer (including a -1 that does not divide
   * the element count, or a second -1), or the new shape's element count differs from this one's.
   * @example intTensor([1, 2, 3, 4, 5, 6], [6]).reshape(2, -1) // shape [2, 3]
   */
  reshape(...shape: number[] | [readonly number[]]): IntTensor {
    const s = [...((Array.isArray(shape[0]) ? shape[0] : shape) as readonly number[])];
    const free = s.indexOf(-1);
    if (free >= 0) {
      const rest = sizeOf(s.filter((_, i) => i !== free));
      s[free] = rest === 0 ? 0 : this.size / rest;
    }
    const checked = checkShape('IntTensor.reshape', s);
    if (sizeOf(checked) !== this.size) {
      throw new Error(`IntTensor.reshape: cannot reshape ${shapeToString(this.shape)} (${this.size} elements) to ${shapeToString(s)}`);
    }
    return new IntTensor(this.data, checked);
  }

  /**
   * Rows [start, end) along the first dimension, as a view on the same data. Negative indices count from
   * the end; indices past either end are clamped (so a range may be empty).
   * @param start first row (an integer).
   * @param end one past the last row (an integer; default: the number of rows).
   * @returns an IntTensor of shape [end - start, ...shape.slice(1)] sharing this data.
   * @throws Error when the tensor is 0-d, or start or end is not an integer.
   * @example intTensor([[1, 2], [3, 4], [5, 6]]).slice(-2) // [[3, 4], [5, 6]]
   */
  slice(start: number, end?: number): IntTensor {
    if (this.ndim === 0) throw new Error('IntTensor.slice: cannot slice a 0-d tensor');
    const n = this.shape[0];
    const norm = (v: number, name: string): number => {
      if (!Number.isInteger(v)) invalid('IntTensor.slice', name, 'an integer', v);
      return Math.min(n, Math.max(0, v < 0 ? v + n : v));
    };
    const s = norm(start, 'start');
    const e = end === undefined ? n : Math.max(s, norm(end, 'end'));
    const row = n === 0 ? 0 : this.size / n;
    return new IntTensor(this.data.subarray(s * row, e * row), [e - s, ...this.shape.slice(1)]);
  }

  /**
   * A float32 Tensor holding the same values.
   * @example intTensor([1, 2]).toFloat() // Tensor [1, 2]
   */
  toFloat(): Tensor {
    return new Tensor(Float32Array.from(this.data), this.shape);
  }

  /**
   * 'IntTensor(shape=[...])', followed by the values as JSON for at most 100 elements.
   * @returns the description.
   * @example String(intTensor([1, 2])) // 'IntTensor(shape=[2]) [1,2]'
   */
  toString(): string {
    const head = `IntTensor(shape=${shapeToString(this.shape)})`;
    return this.size > 100 ? head : `${head} ${JSON.stringify(this.toArray())}`;
  }
}

/** Largest magnitude a float32 holds exactly for every integer up to it (2^24). */
const FLOAT_EXACT = 16777216;

/**
 * Integer ids as the float32 Tensor that fit, predict and predictAsync pass through a model (an Embedding reads
 * them back as ids). Throws naming `where` when an id is beyond 2^24, which float32 cannot hold exactly.
 */
export function idsAsFloat(where: string, x: IntTensor): Tensor {
  const big = x.data.findIndex((v) => v > FLOAT_EXACT || v < -FLOAT_EXACT);
  if (big >= 0) throw new Error(`${where}: id ${x.data[big]} at position ${big} is beyond 2^24, which ${where} cannot pass exactly (call forward with the IntTensor)`);
  return x.toFloat();
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** Writes value v at flat position i of out, or throws naming the element that is not an int32. */
function put(op: string, out: Int32Array, i: number, v: unknown, where: () => string): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < INT32_MIN || v > INT32_MAX) {
    throw argumentError(op, `element ${where()} is ${describe(v)}, expected an integer in the int32 range`);
  }
  out[i] = v;
}

/**
 * An IntTensor from nested arrays, a flat (typed) array plus a shape, a float Tensor of integer values,
 * or a single number (0-d). Every value must be an integer in the int32 range (an Error names the first
 * that is not). An Int32Array is used as-is (not copied).
 * @param values nested arrays, a flat array or typed array (with shape), a float Tensor or IntTensor, or a single number.
 * @param shape required with a flat array (its product must equal the length); inferred otherwise.
 * @throws Error naming the first value that is not an integer in the int32 range, or when the shape does not match the values.
 * @example intTensor([[1, 2], [3, 4]]) // IntTensor [2, 2]
 */
export function intTensor(values: NestedArray | NumericArray | Tensor | IntTensor, shape?: readonly number[]): IntTensor {
  const op = 'intTensor';
  let data: Int32Array;
  let s: number[];
  if (values instanceof IntTensor) {
    data = values.data;
    s = values.shape;
  } else if (values instanceof Tensor) {
    data = new Int32Array(values.size);
    for (let i = 0; i < data.length; i++) put(op, data, i, values.data[i], () => `${i} of the Tensor`);
    s = values.shape;
  } else if (values instanceof Int32Array) {
    data = values;
    s = [data.length];
  } else if (ArrayBuffer.isView(values) && !(values instanceof DataView)) {
    const src = values as unknown as ArrayLike<number>;
    data = new Int32Array(src.length);
    for (let i = 0; i < data.length; i++) put(op, data, i, src[i], () => `${i}`);
    s = [data.length];
  } else if (typeof values === 'number') {
    data = new Int32Array(1);
    put(op, data, 0, values, () => 'of the scalar');
    s = [];
  } else if (Array.isArray(values)) {
    // Shape from the first elements; every element is then checked for raggedness and as an integer.
    s = [];
    let cur: NestedArray = values;
    while (Array.isArray(cur)) {
      s.push(cur.length);
      if (cur.length === 0) break;
      cur = cur[0];
    }
    checkElementCount(op, s, 'nested array shape');
    data = new Int32Array(sizeOf(s));
    let k = 0;
    const walk = (v: NestedArray, dim: number, path: number[]): void => {
      if (dim === s.length) {
        put(op, data, k++, v, () => `at [${path.join(',')}]`);
        return;
      }
      if (!Array.isArray(v) || v.length !== s[dim]) {
        throw argumentError(op, `ragged nested array: element at [${path.join(',')}] is ${describe(v)}, expected an array of length ${s[dim]}`);
      }
      for (let i = 0; i < v.length; i++) walk(v[i], dim + 1, [...path, i]);
    };
    walk(values, 0, []);
  } else {
    invalid(op, 'values', 'a number, nested arrays of integers, a typed array or a Tensor', values);
  }
  if (shape !== undefined && shape !== null) {
    const want = checkShape(op, shape);
    if (sizeOf(want) !== data.length) throw new Error(`${op}: ${data.length} values do not fill shape ${shapeToString(want)}`);
    s = want;
  }
  return new IntTensor(data, s);
}

/** What ops accept as indices: an IntTensor, a float Tensor of integer values, an Int32Array or an array of integers. */
export type IndexLike = IntTensor | Tensor | Int32Array | readonly number[] | NestedArray;

/**
 * Indices as an IntTensor, each checked against [-bound, bound) (negative counting from the end, made
 * positive) when allowNegative, else [0, bound). The Error names the op, the position and the bound.
 */
export function checkIndices(op: string, name: string, idx: unknown, bound: number, what: string, allowNegative = false): IntTensor {
  let t: IntTensor;
  if (idx instanceof IntTensor) t = idx;
  else if (idx instanceof Tensor || idx instanceof Int32Array || Array.isArray(idx) || typeof idx === 'number') {
    try {
      t = intTensor(idx as NestedArray);
    } catch (err) {
      throw argumentError(op, `${name}: ${(err as Error).message.replace(/^intTensor: /, '')}`);
    }
  } else {
    invalid(op, name, 'an IntTensor, a Tensor of integer values, an Int32Array or an array of integers', idx);
  }
  const d = t.data;
  let copy: Int32Array | null = null;
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (v >= 0 && v < bound) continue;
    if (allowNegative && v < 0 && v >= -bound) {
      if (copy === null) copy = Int32Array.from(d);
      copy[i] = v + bound;
      continue;
    }
    throw argumentError(
      op, `${name} ${v} at position ${i} is out of range for ${what} (valid: ${allowNegative ? -bound : 0} to ${bound - 1})`,
    );
  }
  return copy === null ? t : new IntTensor(copy, t.shape);
}

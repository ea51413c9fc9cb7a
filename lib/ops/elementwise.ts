// Elementwise ops with broadcasting (add, sub, mul, div) and unary math (neg, exp, log, sqrt, pow).
import { getBackend } from '../backend/select';
import type { UnaryOp } from '../backend/contract';
import { isTracing, record } from '../autograd';
import { Tensor, sizeOf } from '../tensor-core';
import { outputBuffer } from '../buffer-pool';
import { broadcastShapeOf, expandData, reduceToShape } from './broadcast';
import { checkNumber, checkOperand, checkTensor } from '../validate';

/** A Tensor or a plain number (a 0-d tensor). */
export type Operand = Tensor | number;

/** An operand as a tensor (a number becomes a 0-d one), or an Error naming the op and the argument. */
export function asTensor(op: string, name: string, x: Operand): Tensor {
  const v = checkOperand(op, name, x);
  return typeof v === 'number' ? new Tensor(new Float32Array([v]), []) : v;
}

/** Both operands' data expanded to the broadcast shape (the original arrays when no expansion is needed). */
function broadcastPair(op: string, a: Tensor, b: Tensor): { shape: number[]; ad: Float32Array; bd: Float32Array } {
  const shape = broadcastShapeOf(op, a.shape, b.shape);
  return { shape, ad: expandData(a.data, a.shape, shape), bd: expandData(b.data, b.shape, shape) };
}

function unaryKernel(op: UnaryOp, x: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  getBackend().unary(op, x.length, x, out);
  return out;
}

function mulArrays(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  getBackend().mul(a.length, a, b, out);
  return out;
}

/** The operands of a broadcasting binary op and its result computed by the kernel of the same name. */
function broadcastKernel(op: 'add' | 'sub' | 'mul' | 'div', a: Tensor, b: Tensor): { shape: number[]; ad: Float32Array; bd: Float32Array; out: Float32Array } {
  const { shape, ad, bd } = broadcastPair(op, a, b);
  const out = outputBuffer(ad.length);
  getBackend()[op](out.length, ad, bd, out);
  return { shape, ad, bd, out };
}

/** True when `row` (leading 1s ignored) is the trailing dimensions of `shape`: it repeats along the leading ones. */
function isTrailing(row: readonly number[], shape: readonly number[]): boolean {
  let i = 0;
  while (i < row.length && row[i] === 1) i++;
  const k = row.length - i;
  if (k > shape.length) return false;
  for (let j = 0; j < k; j++) if (row[i + j] !== shape[shape.length - k + j]) return false;
  return true;
}

/**
 * a + b where one operand repeats along the leading dimensions of the other (a bias, a positional
 * table): addBias adds that row to each row in place of an expanded copy (the same float sums, as
 * addition commutes). Null when the shapes are not of that form.
 */
function addRows(a: Tensor, b: Tensor, shape: number[]): Float32Array | null {
  const n = sizeOf(shape);
  const [full, row] = a.size === n ? [a, b] : [b, a];
  if (full.size !== n || row.size <= 1 || row.size === n || !isTrailing(row.shape, shape)) return null;
  const out = outputBuffer(n);
  getBackend().addBias(n / row.size, row.size, full.data, row.data, out);
  return out;
}

/** The two operands of op as tensors (numbers become 0-d tensors). */
function operands(op: string, aIn: Operand, bIn: Operand): [Tensor, Tensor] {
  return [asTensor(op, 'first operand', aIn), asTensor(op, 'second operand', bIn)];
}

/**
 * a + b (broadcasting).
 * @param aIn the first operand, a Tensor or a number.
 * @param bIn the second operand, a Tensor or a number; the shapes broadcast (as NumPy and PyTorch).
 * @returns a + b, of the broadcast shape.
 * @throws Error when an operand is not a Tensor or number, or the shapes do not broadcast.
 * @example add(tensor([1, 2]), 10) // [11, 12]
 */
export function add(aIn: Operand, bIn: Operand): Tensor {
  const [a, b] = operands('add', aIn, bIn);
  const shape = broadcastShapeOf('add', a.shape, b.shape);
  const out = addRows(a, b, shape) ?? broadcastKernel('add', a, b).out;
  return record(new Tensor(out, shape), 'add', [a, b], (g) => [
    a.requiresGrad ? reduceToShape(g, shape, a.shape) : null,
    b.requiresGrad ? reduceToShape(g, shape, b.shape) : null,
  ]);
}

/**
 * a - b (broadcasting).
 * @param aIn the first operand, a Tensor or a number.
 * @param bIn the second operand, a Tensor or a number; the shapes broadcast (as NumPy and PyTorch).
 * @returns a - b, of the broadcast shape.
 * @throws Error when an operand is not a Tensor or number, or the shapes do not broadcast.
 * @example sub(tensor([[1, 2], [3, 4]]), tensor([1, 1])) // [[0, 1], [2, 3]]
 */
export function sub(aIn: Operand, bIn: Operand): Tensor {
  const [a, b] = operands('sub', aIn, bIn);
  const { shape, out } = broadcastKernel('sub', a, b);
  return record(new Tensor(out, shape), 'sub', [a, b], (g) => [
    a.requiresGrad ? reduceToShape(g, shape, a.shape) : null,
    b.requiresGrad ? reduceToShape(unaryKernel('neg', g), shape, b.shape) : null,
  ]);
}

/**
 * a * b (broadcasting).
 * @param aIn the first operand, a Tensor or a number.
 * @param bIn the second operand, a Tensor or a number; the shapes broadcast (as NumPy and PyTorch).
 * @returns a * b, of the broadcast shape.
 * @throws Error when an operand is not a Tensor or number, or the shapes do not broadcast.
 * @example mul(tensor([1, 2]), tensor([3, 4])) // [3, 8]
 */
export function mul(aIn: Operand, bIn: Operand): Tensor {
  const [a, b] = operands('mul', aIn, bIn);
  const backend = getBackend();
  if (b.size === 1 && b.shape.length <= a.shape.length && !b.requiresGrad) {
    // Scaling by a constant: one kernel, no expanded copy.
    const s = b.data[0];
    const out = new Float32Array(a.size);
    backend.scale(out.length, a.data, s, out);
    return record(new Tensor(out, a.shape), 'mul', [a, b], (g) => {
      const ga = new Float32Array(g.length);
      backend.scale(g.length, g, s, ga);
      return [ga, null];
    });
  }
  const { shape, ad, bd, out } = broadcastKernel('mul', a, b);
  return record(new Tensor(out, shape), 'mul', [a, b], (g) => [
    a.requiresGrad ? reduceToShape(mulArrays(g, bd), shape, a.shape) : null,
    b.requiresGrad ? reduceToShape(mulArrays(g, ad), shape, b.shape) : null,
  ]);
}

/**
 * a / b (broadcasting).
 * @param aIn the first operand, a Tensor or a number.
 * @param bIn the second operand, a Tensor or a number; the shapes broadcast (as NumPy and PyTorch).
 * @returns a / b, of the broadcast shape.
 * @throws Error when an operand is not a Tensor or number, or the shapes do not broadcast.
 * @example div(tensor([1, 2]), 2) // [0.5, 1]
 */
export function div(aIn: Operand, bIn: Operand): Tensor {
  const [a, b] = operands('div', aIn, bIn);
  const { shape, bd, out } = broadcastKernel('div', a, b);
  const backend = getBackend();
  return record(new Tensor(out, shape), 'div', [a, b], (g) => {
    // d/da = g / b;  d/db = -g * a / b^2 = -(g / b) * out
    const gOverB = new Float32Array(g.length);
    backend.div(g.length, g, bd, gOverB);
    let gb: Float32Array | null = null;
    if (b.requiresGrad) {
      gb = mulArrays(gOverB, out);
      backend.unary('neg', gb.length, gb, gb);
      gb = reduceToShape(gb, shape, b.shape);
    }
    return [a.requiresGrad ? reduceToShape(gOverB, shape, a.shape) : null, gb];
  });
}

/**
 * -x
 * @param x the input tensor.
 * @returns a new tensor of x's shape.
 * @throws Error when x is not a Tensor.
 * @example neg(tensor([1, -2])) // [-1, 2]
 */
export function neg(x: Tensor): Tensor {
  checkTensor('neg', 'input', x);
  const out = unaryKernel('neg', x.data);
  return record(new Tensor(out, x.shape), 'neg', [x], (g) => [unaryKernel('neg', g)]);
}

/**
 * e^x
 * @param x the input tensor.
 * @returns a new tensor of x's shape.
 * @throws Error when x is not a Tensor.
 * @example exp(tensor([0, 1])) // [1, 2.718...]
 */
export function exp(x: Tensor): Tensor {
  checkTensor('exp', 'input', x);
  const out = unaryKernel('exp', x.data);
  return record(new Tensor(out, x.shape), 'exp', [x], (g) => [mulArrays(g, out)]);
}

/**
 * Natural log (IEEE: log(0) = -inf, log(<0) = NaN).
 * @param x the input tensor.
 * @returns a new tensor of x's shape.
 * @throws Error when x is not a Tensor.
 * @example log(tensor([1, Math.E])) // [0, 1]
 */
export function log(x: Tensor): Tensor {
  checkTensor('log', 'input', x);
  const out = unaryKernel('log', x.data);
  return record(new Tensor(out, x.shape), 'log', [x], (g) => {
    const gx = new Float32Array(g.length);
    getBackend().div(g.length, g, x.data, gx);
    return [gx];
  });
}

/**
 * Square root.
 * @param x the input tensor.
 * @returns a new tensor of x's shape.
 * @throws Error when x is not a Tensor.
 * @example sqrt(tensor([4, 9])) // [2, 3]
 */
export function sqrt(x: Tensor): Tensor {
  checkTensor('sqrt', 'input', x);
  const out = unaryKernel('sqrt', x.data);
  return record(new Tensor(out, x.shape), 'sqrt', [x], (g) => {
    // d sqrt(x) = g / (2 sqrt(x))
    const backend = getBackend();
    const gx = new Float32Array(g.length);
    backend.div(g.length, g, out, gx);
    backend.scale(gx.length, gx, 0.5, gx);
    return [gx];
  });
}

/** x^p elementwise for a constant p, using a kernel for the common exponents. */
function powData(x: Float32Array, p: number): Float32Array {
  const backend = getBackend();
  if (p === 1) return Float32Array.from(x);
  if (p === 2) return unaryKernel('square', x);
  if (p === 0.5) return unaryKernel('sqrt', x);
  if (p === -1) return unaryKernel('reciprocal', x);
  if (p === 0) return new Float32Array(x.length).fill(1);
  if (p === 3) {
    const sq = unaryKernel('square', x);
    backend.mul(x.length, sq, x, sq);
    return sq;
  }
  // No kernel for a general exponent: one Math.pow per element.
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.pow(x[i], p);
  return out;
}

/**
 * x^p for a constant exponent p.
 * @param x the input tensor.
 * @param p the exponent, a finite number.
 * @returns x^p elementwise.
 * @throws Error when x is not a Tensor or p is not a finite number.
 * @example pow(tensor([2, 3]), 2) // [4, 9]
 */
export function pow(x: Tensor, p: number): Tensor {
  checkTensor('pow', 'input', x);
  checkNumber('pow', 'exponent', p);
  const out = powData(x.data, p);
  return record(new Tensor(out, x.shape), 'pow', [x], (g) => {
    // d x^p = p x^(p-1) g
    const backend = getBackend();
    const d = powData(x.data, p - 1);
    backend.mul(d.length, d, g, d);
    backend.scale(d.length, d, p, d);
    return [d];
  }, isTracing() ? { p } : undefined);
}

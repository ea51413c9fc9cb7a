// Argument checks for the public API: one vocabulary (describe, check*, checkOptions) so every bad call gets an Error naming the function, the argument, what was expected and the value passed.
// It imports nothing from the library (every module can use it without an import cycle); it knows a
// Tensor by TENSOR_BRAND, which lib/tensor.ts puts on Tensor.prototype.
import { distance } from 'fastest-levenshtein';
import type { Tensor } from './tensor';

/** Marks Tensor.prototype (set in lib/tensor.ts): checkTensor's test, like instanceof without the import. */
export const TENSOR_BRAND: unique symbol = Symbol('myelin.Tensor');

function isTensor(v: unknown): v is Tensor {
  return v !== null && typeof v === 'object' && (v as { [TENSOR_BRAND]?: unknown })[TENSOR_BRAND] === true;
}

/** Largest element count of one tensor: the kernels take 32-bit signed sizes. */
export const MAX_ELEMENTS = 2 ** 31 - 1;

/** Seeds are integers in [0, SEED_LIMIT). */
const SEED_LIMIT = 2 ** 32;

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? `an ${word}` : `a ${word}`;
}

function quote(s: string, max = 40): string {
  const cut = s.length > max ? `${s.slice(0, max)}...` : s;
  return `'${cut.replace(/\n/g, '\\n')}'`;
}

function numberText(v: number): string {
  return Object.is(v, -0) ? '-0' : String(v);
}

/** A short rendering of a value inside an array or object preview. */
function preview(v: unknown, depth: number): string {
  if (typeof v === 'number') return numberText(v);
  if (typeof v === 'string') return quote(v, 20);
  if (typeof v === 'bigint') return `${v}n`;
  if (v === null || v === undefined || typeof v === 'boolean') return String(v);
  if (typeof v === 'function') return 'function';
  if (typeof v === 'symbol') return v.toString();
  if (Array.isArray(v)) {
    if (depth >= 2) return '[...]';
    const items = v.slice(0, 6).map((x) => preview(x, depth + 1));
    if (v.length > 6) items.push(`... ${v.length} items`);
    return `[${items.join(',')}]`;
  }
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as ArrayLike<number>).length ?? v.byteLength})`;
  const ctor = (v as object).constructor;
  if (ctor !== Object && ctor !== undefined && typeof ctor?.name === 'string' && ctor.name !== '') return ctor.name;
  if (depth >= 2) return '{...}';
  const keys = Object.keys(v as object);
  const parts = keys.slice(0, 4).map((k) => `${k}: ${preview((v as Record<string, unknown>)[k], depth + 1)}`);
  if (keys.length > 4) parts.push('...');
  return parts.length === 0 ? '{}' : `{ ${parts.join(', ')} }`;
}

/**
 * The value as an error message shows it, with its kind where the text alone would mislead:
 * "'30' (a string)", "1.5", "NaN", "5n (a bigint)", "null", "[1,2] (an array)",
 * "a Float32Array of 8 elements", "a Tensor of shape [2,3]", "{ epoch: 3 } (an object)".
 */
export function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  switch (typeof v) {
    case 'number':
      return numberText(v);
    case 'string':
      return `${quote(v)} (a string)`;
    case 'bigint':
      return `${v}n (a bigint)`;
    case 'boolean':
      return `${v} (a boolean)`;
    case 'symbol':
      return `${v.toString()} (a symbol)`;
    case 'function':
      return v.name ? `the function ${v.name}` : 'a function';
    default:
      break;
  }
  if (Array.isArray(v)) return `${preview(v, 0)} (an array)`;
  if (ArrayBuffer.isView(v)) {
    const len = (v as unknown as { length?: number }).length;
    return len === undefined ? `${article(v.constructor.name)} of ${v.byteLength} bytes` : `${article(v.constructor.name)} of ${len} elements`;
  }
  const o = v as { constructor?: { name?: string }; shape?: unknown };
  const name = o.constructor?.name;
  if (name === 'Tensor' && Array.isArray(o.shape)) return `a Tensor of shape [${(o.shape as number[]).join(',')}]`;
  if (name !== undefined && name !== 'Object' && name !== '') return `${article(name)}`;
  return `${preview(v, 0)} (an object)`;
}

/** An Error "where: message". Every check below throws one. */
export function argumentError(where: string, message: string): Error {
  return new Error(`${where}: ${message}`);
}

/** Throws "where: name must be expected, got <value>" (hint, when given, is appended). */
export function invalid(where: string, name: string, expected: string, value: unknown, hint?: string): never {
  throw argumentError(where, `${name} must be ${expected}, got ${describe(value)}${hint ? ` (${hint})` : ''}`);
}

/** True for {...} object literals (and Object.create(null)), not arrays, class instances or null. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** The accepted word closest to `word` by edit distance, when it is close enough to be a likely typo. */
export function closestMatch(word: string, accepted: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  const lower = word.toLowerCase();
  for (const a of accepted) {
    const d = a.toLowerCase() === lower ? 0 : distance(lower, a.toLowerCase());
    if (d < bestDistance) {
      best = a;
      bestDistance = d;
    }
  }
  if (best === null) return null;
  const b = best.toLowerCase();
  const limit = Math.max(1, Math.floor(Math.max(word.length, best.length) / 3));
  let prefix = 0;
  while (prefix < lower.length && prefix < b.length && lower[prefix] === b[prefix]) prefix++;
  // A near miss by edit distance, one word the prefix of the other, or the same stem (reduce/reduction).
  const stem = prefix >= 4 && prefix >= Math.min(lower.length, b.length) - 1;
  return bestDistance <= limit || b.startsWith(lower) || lower.startsWith(b) || stem ? best : null;
}

/**
 * Checks an options object: undefined gives {}; anything but a plain object, and any key not in
 * `accepted`, is an Error listing the accepted keys and the closest match:
 * "fit: unknown option 'epoch' (did you mean 'epochs'? accepted: batchSize, epochs, ...)".
 * Keys whose value is undefined are accepted like absent ones only when they are known.
 */
export function checkOptions<T extends object>(where: string, opts: T | undefined, accepted: readonly string[]): T {
  if (opts === undefined) return {} as T;
  if (!isPlainObject(opts)) {
    invalid(where, 'options', `an object like { ${accepted.slice(0, 2).map((k) => `${k}: ...`).join(', ')} }`, opts);
  }
  // for-in, not Object.keys: no array allocated on the hot path (ops and losses take options too);
  // a plain object has no enumerable inherited keys.
  for (const key in opts) {
    if (accepted.includes(key)) continue;
    const guess = closestMatch(key, accepted);
    const list = accepted.length > 0 ? `accepted: ${accepted.join(', ')}` : 'it takes no options';
    throw argumentError(where, `unknown option '${key}' (${guess ? `did you mean '${guess}'? ` : ''}${list})`);
  }
  return opts;
}

/** Bounds for checkNumber: inclusive min/max, exclusive above/below, and integer. */
export interface NumberRange {
  min?: number;
  max?: number;
  /** Exclusive lower bound. */
  above?: number;
  /** Exclusive upper bound. */
  below?: number;
  integer?: boolean;
}

/** "a finite number", "an integer >= 1", "a number in [0, 1)", "a number > 0", from the bounds. */
function expectation(r: NumberRange): string {
  const bounded = r.max !== undefined || r.below !== undefined;
  if (!bounded && r.above === undefined && r.min === 1 && r.integer) return 'a positive integer';
  if (!bounded && r.above === undefined && r.min === 0) return r.integer ? 'a non-negative integer' : 'a non-negative finite number';
  if (!bounded && r.min === undefined && r.above === 0) return r.integer ? 'a positive integer' : 'a positive finite number';
  const kind = r.integer ? 'an integer' : 'a number';
  const lo = r.above !== undefined ? { v: r.above, open: true } : r.min !== undefined ? { v: r.min, open: false } : null;
  const hi = r.below !== undefined ? { v: r.below, open: true } : r.max !== undefined ? { v: r.max, open: false } : null;
  if (lo && hi) return `${r.integer ? 'an integer ' : ''}in ${lo.open ? '(' : '['}${lo.v}, ${hi.v}${hi.open ? ')' : ']'}`;
  if (lo) return `${kind === 'a number' ? 'a finite number' : kind} ${lo.open ? '>' : '>='} ${lo.v}`;
  if (hi) return `${kind === 'a number' ? 'a finite number' : kind} ${hi.open ? '<' : '<='} ${hi.v}`;
  return r.integer ? 'an integer' : 'a finite number';
}

/**
 * A finite number (a safe integer with integer: true) within the bounds, or an Error:
 * "Adam: eps must be a finite number > 0, got '0.1' (a string)".
 */
export function checkNumber(where: string, name: string, v: unknown, range: NumberRange = {}): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || (range.integer === true && !Number.isSafeInteger(v))) {
    invalid(where, name, expectation(range), v);
  }
  if (
    (range.min !== undefined && v < range.min) || (range.max !== undefined && v > range.max) ||
    (range.above !== undefined && !(v > range.above)) || (range.below !== undefined && !(v < range.below))
  ) {
    invalid(where, name, expectation(range), v);
  }
  return v;
}

/** A positive safe integer (>= 1). */
export function checkPositiveInt(where: string, name: string, v: unknown): number {
  return checkNumber(where, name, v, { integer: true, min: 1 });
}

/** A non-negative safe integer (>= 0). */
export function checkNonNegativeInt(where: string, name: string, v: unknown): number {
  return checkNumber(where, name, v, { integer: true, min: 0 });
}

/** A seed: an integer in [0, 2^32) ('abc', NaN, 1.5 or -1 would otherwise all silently mean some other seed). */
export function checkSeed(where: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= SEED_LIMIT) {
    invalid(where, name, 'an integer in [0, 2^32)', v);
  }
  return v;
}

/** A boolean (true or false, not a truthy value). */
export function checkBoolean(where: string, name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') invalid(where, name, 'true or false', v);
  return v;
}

/** A function. */
export function checkFunction<F extends (...args: never[]) => unknown>(where: string, name: string, v: unknown): F {
  if (typeof v !== 'function') invalid(where, name, 'a function', v);
  return v as F;
}

/** One of the listed strings: "GELU: approximate must be 'none' or 'tanh', got 'fast' (a string)". */
export function checkOneOf<T extends string>(where: string, name: string, v: unknown, choices: readonly T[]): T {
  if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
    const quoted = choices.map((c) => `'${c}'`);
    const list = quoted.length <= 2 ? quoted.join(' or ') : `one of ${quoted.join(', ')}`;
    const guess = typeof v === 'string' ? closestMatch(v, choices) : null;
    invalid(where, name, list, v, guess ? `did you mean '${guess}'?` : undefined);
  }
  return v as T;
}

/** Element count of a shape, or an Error naming it when it exceeds what one Float32Array can hold. */
export function checkElementCount(where: string, shape: readonly number[], what = 'shape'): number {
  let n = 1;
  for (const d of shape) n *= d;
  if (n > MAX_ELEMENTS) {
    throw argumentError(where, `${what} [${shape.join(',')}] has ${n} elements, more than the ${MAX_ELEMENTS} one tensor can hold (sizes are 32-bit)`);
  }
  return n;
}

/**
 * A shape: an array of non-negative safe integers whose product fits in one tensor. Returns a copy.
 * "ones: shape must be an array of non-negative integers such as [2, 3], got 5".
 */
export function checkShape(where: string, shape: unknown, name = 'shape'): number[] {
  if (!Array.isArray(shape)) {
    const hint = typeof shape === 'number' && Number.isInteger(shape) && shape >= 0 ? `for a 1-D tensor write [${shape}]` : undefined;
    invalid(where, name, 'an array of non-negative integers such as [2, 3]', shape, hint);
  }
  let n = 1;
  for (let i = 0; i < shape.length; i++) {
    const d: unknown = shape[i];
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      const what = name === 'shape' ? 'invalid shape' : `invalid ${name}`;
      throw argumentError(where, `${what} [${shape.map((x) => preview(x, 1)).join(',')}]: dimension ${i} is ${describe(d)}, expected a non-negative integer`);
    }
    n *= d;
  }
  if (n > MAX_ELEMENTS) checkElementCount(where, shape as number[], name);
  return (shape as number[]).slice();
}

/**
 * A new zeroed Float32Array, or an Error naming the caller when the memory cannot be had
 * (instead of V8's RangeError "Array buffer allocation failed").
 */
export function allocFloat32(where: string, n: number): Float32Array {
  try {
    return new Float32Array(n);
  } catch (err) {
    const gb = ((n * 4) / 2 ** 30).toFixed(1);
    throw argumentError(where, `cannot allocate ${n} float32 values (${gb} GB): ${(err as Error).message}`);
  }
}

/** How to make a Tensor from what was passed, for the hint of a "must be a Tensor" error. */
function tensorHint(v: unknown): string | undefined {
  if (Array.isArray(v)) return 'make one with tensor([...])';
  if (ArrayBuffer.isView(v)) return 'make one with tensor(data, [rows, columns])';
  if (typeof v === 'number') return 'make one with tensor(value)';
  return undefined;
}

/** A Tensor: "linear: input must be a Tensor, got [[1,2,3,4]] (an array) (make one with tensor([...]))". */
export function checkTensor(where: string, name: string, v: unknown): Tensor {
  if (!isTensor(v)) invalid(where, name, 'a Tensor', v, tensorHint(v));
  return v;
}

/** A Tensor or a number (the second operand of elementwise ops). */
export function checkOperand(where: string, name: string, v: unknown): Tensor | number {
  if (typeof v !== 'number' && !isTensor(v)) invalid(where, name, 'a Tensor or a number', v, tensorHint(v));
  return v;
}

/** An iterable of Tensors (model.parameters()), as an array. */
export function checkTensorList(where: string, name: string, v: unknown): Tensor[] {
  if (v === null || v === undefined || typeof (v as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== 'function' || typeof v === 'string') {
    invalid(where, name, 'an array (or iterable) of Tensors such as model.parameters()', v);
  }
  const list = [...(v as Iterable<unknown>)];
  list.forEach((t, i) => {
    if (!isTensor(t)) invalid(where, `${name}[${i}]`, 'a Tensor', t);
  });
  return list as Tensor[];
}

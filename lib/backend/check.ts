// Argument checks of the TypeScript kernels (called by kernels.gen.ts and the plan kernels) and the activation/op codes.
//
// Each throws an Error starting with the kernel name, worded like the native binding's checks
// (native/binding/call.h): "gemm: A has 10 elements, expected M*K = 12 (M=3, K=4)". O(1) per
// call (checkBelow excepted); messages are built only when a check fails.
import { ACTIVATIONS, UNARY_OPS, type Activation, type UnaryOp } from './kernel-table';

const MAX_SIZE = 0x7fffffff; // sizes are int32 in the C++ kernels

function codes<T extends string>(names: readonly T[]): Record<T, number> {
  const map = Object.create(null) as Record<T, number>;
  names.forEach((name, i) => {
    map[name] = i;
  });
  return Object.freeze(map);
}

/** Integer codes passed across N-API for each activation (generated into native/kernels/codes.gen.h). */
export const ACTIVATION_CODE: Readonly<Record<Activation, number>> = codes(ACTIVATIONS);
/** Integer codes passed across N-API for each unary op. */
export const UNARY_CODE: Readonly<Record<UnaryOp, number>> = codes(UNARY_OPS);

/** The code of an activation name; throws naming the kernel for anything else. */
export function actCode(kernel: string, act: Activation): number {
  const code = typeof act === 'string' ? ACTIVATION_CODE[act] : undefined;
  if (code === undefined) {
    throw new Error(`${kernel}: unknown activation '${String(act)}' (expected one of ${ACTIVATIONS.join(', ')})`);
  }
  return code;
}

/** The code of a unary op name; throws naming the kernel for anything else. */
export function unaryCode(kernel: string, op: UnaryOp): number {
  const code = typeof op === 'string' ? UNARY_CODE[op] : undefined;
  if (code === undefined) throw new Error(`${kernel}: unknown op '${String(op)}' (expected one of ${UNARY_OPS.join(', ')})`);
  return code;
}

/** A short description of a value's type for messages ("Float64Array", "null", "string"). */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

/** Integer size >= 1 (matrix dimensions). */
export function checkDim(kernel: string, name: string, v: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_SIZE) {
    throw new Error(`${kernel}: ${name} must be an integer >= 1, got ${String(v)}`);
  }
}

/** Integer count >= 0 (flat kernels). */
export function checkCount(kernel: string, name: string, v: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_SIZE) {
    throw new Error(`${kernel}: ${name} must be an integer >= 0, got ${String(v)}`);
  }
}

/** A finite number. */
export function checkFloat(kernel: string, name: string, v: number): void {
  if (typeof v !== 'number') throw new Error(`${kernel}: ${name} must be a number, got ${typeof v}`);
  if (!Number.isFinite(v)) throw new Error(`${kernel}: ${name} must be a finite number, got ${v}`);
}

/** Any number, Infinity and NaN included (scale factors: x * Infinity is IEEE arithmetic, not an error). */
export function checkScalar(kernel: string, name: string, v: number): void {
  if (typeof v !== 'number') throw new Error(`${kernel}: ${name} must be a number, got ${typeof v}`);
}

export function checkBool(kernel: string, name: string, v: boolean): void {
  if (typeof v !== 'boolean') throw new Error(`${kernel}: ${name} must be a boolean, got ${typeof v}`);
}

/**
 * Whether the product of the sizes is at most max: the native backend's choice of running a call
 * on the TypeScript twin. False for anything but numbers, so bad sizes go on to the checks.
 */
export function sizesAtMost(max: number, a: number, b: number, c = 1): boolean {
  return typeof a === 'number' && typeof b === 'number' && typeof c === 'number' && a * b * c <= max;
}

/** The options object of a fused kernel. */
export function checkOptions(kernel: string, o: unknown, fields: string): void {
  if (o === null || typeof o !== 'object') {
    throw new Error(`${kernel}: expected one options object {${fields}}, got ${describe(o)}`);
  }
}

/**
 * buf must be a Float32Array (or null when nullable) of at least d1 (* d2 (* d3)) elements; the
 * sizes are passed as name, value pairs and name the requirement in the message.
 */
export function checkF32(
  kernel: string, name: string, buf: Float32Array | null, nullable: boolean,
  n1: string, d1: number, n2?: string, d2?: number, n3?: string, d3?: number,
): void {
  if (buf instanceof Float32Array) {
    if (buf.length < need(d1, d2, d3)) throwShort(kernel, name, buf.length, n1, d1, n2, d2, n3, d3);
  } else if (!(nullable && buf === null)) {
    throwNotBuffer(kernel, name, 'a Float32Array', nullable, buf);
  }
}

/** checkF32 for an Int32Array (labels). */
export function checkI32(kernel: string, name: string, buf: Int32Array, nullable: boolean, n1: string, d1: number): void {
  if (buf instanceof Int32Array) {
    if (buf.length < d1) throwShort(kernel, name, buf.length, n1, d1);
  } else if (!(nullable && buf === null)) {
    throwNotBuffer(kernel, name, 'an Int32Array', nullable, buf);
  }
}

/** checkF32 for an Int8Array (int8 quantised data). */
export function checkI8(
  kernel: string, name: string, buf: Int8Array | null, nullable: boolean,
  n1: string, d1: number, n2?: string, d2?: number, n3?: string, d3?: number,
): void {
  checkTyped(Int8Array, 'an Int8Array', kernel, name, buf, nullable, n1, d1, n2, d2, n3, d3);
}

/** checkF32 for a Uint16Array (bfloat16 bits). */
export function checkU16(
  kernel: string, name: string, buf: Uint16Array | null, nullable: boolean,
  n1: string, d1: number, n2?: string, d2?: number, n3?: string, d3?: number,
): void {
  checkTyped(Uint16Array, 'a Uint16Array', kernel, name, buf, nullable, n1, d1, n2, d2, n3, d3);
}

function checkTyped(
  type: Int8ArrayConstructor | Uint16ArrayConstructor, typeName: string, kernel: string, name: string,
  buf: ArrayLike<number> | null, nullable: boolean, n1: string, d1: number, n2?: string, d2?: number, n3?: string, d3?: number,
): void {
  if (buf instanceof type) {
    if (buf.length < need(d1, d2, d3)) throwShort(kernel, name, buf.length, n1, d1, n2, d2, n3, d3);
  } else if (!(nullable && buf === null)) {
    throwNotBuffer(kernel, name, typeName, nullable, buf);
  }
}

function throwNotBuffer(kernel: string, name: string, type: string, nullable: boolean, v: unknown): never {
  throw new Error(`${kernel}: ${name} must be ${type}${nullable ? ' or null' : ''}, got ${describe(v)}`);
}

function need(d1: number, d2?: number, d3?: number): number {
  return d1 * (d2 ?? 1) * (d3 ?? 1);
}

/** "A has 10 elements, expected M*K = 12 (M=3, K=4)"; one size: "bias has 2 elements, expected N = 3". */
function throwShort(
  kernel: string, name: string, length: number,
  n1: string, d1: number, n2?: string, d2?: number, n3?: string, d3?: number,
): never {
  const names = [n1, n2, n3].filter((x): x is string => x !== undefined);
  const values = [d1, d2, d3];
  const sizes = names.length === 1 ? '' : ` (${names.map((x, i) => `${x}=${values[i]}`).join(', ')})`;
  throw new Error(`${kernel}: ${name} has ${length} elements, expected ${names.join('*')} = ${need(d1, d2, d3)}${sizes}`);
}

/** A nullable buffer that the other arguments make required. */
export function throwRequired(kernel: string, name: string, when: string, arg: string, value: unknown): never {
  throw new Error(`${kernel}: ${name} is required when ${when}, got null (${arg} = ${String(value)})`);
}

/** Each of the first `count` elements of xs lies in [0, bound): "label 12 at row 3 is out of range [0, 10)". */
export function checkBelow(kernel: string, each: string, xs: Int32Array, count: number, bound: number): void {
  for (let i = 0; i < count; i++) {
    const v = xs[i];
    if (v < 0 || v >= bound) throw new Error(`${kernel}: ${each} ${v} at row ${i} is out of range [0, ${bound})`);
  }
}

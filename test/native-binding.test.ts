// Kernel argument validation, cases derived from the kernel table: the binding and both backends reject bad counts, types, sizes and short buffers with an Error naming the kernel; fuzzing; forwardAsync.
import { beforeAll, describe, expect, it } from 'vitest';

import { ACTIVATION_CODE, type Backend, type PlanLayer } from '../lib/backend/contract';
import { ACTIVATIONS, KERNELS, UNARY_OPS, type KernelRow } from '../lib/backend/kernel-table';
import { loadNative, type NativeBackend, type NativeBinding } from '../lib/backend/native';
import { backendsUnderTest, requireBackend } from './helpers/backends';
import { freshSeed } from './helpers/reference';

// These tests must fail (not skip) when the addon cannot be loaded, unless the js backend is forced.
const forcedJs = process.env.MYELIN_BACKEND === 'js';

/** Argument descriptors of one kernel call, with the small valid shapes M=3, N=4, K=5, n=7. */
type Arg =
  | { kind: 'bool'; name: string }
  | { kind: 'size'; name: string; value: number; min: 0 | 1; notLength?: boolean }
  | { kind: 'code'; name: string; value: number; max: number }
  | { kind: 'num'; name: string; value: number; finite: boolean }
  | { kind: 'f32' | 'i8' | 'u16'; name: string; len: number; nullable?: boolean }
  | { kind: 'i32'; name: string; len: number; nullable?: undefined; values?: readonly number[] };

type BufferArg = Extract<Arg, { len: number }>;
const BUFFER_TYPES = { f32: Float32Array, i32: Int32Array, i8: Int8Array, u16: Uint16Array } as const;
const isBuffer = (a: Arg): a is BufferArg => a.kind in BUFFER_TYPES;
/** A zero-filled typed array of a buffer argument's type. */
const bufferOf = (kind: BufferArg['kind'], len: number): ArrayLike<number> => new BUFFER_TYPES[kind](len);

/** The sizes the valid calls use (any other size argument, like adamStep's step, is 1). */
const SIZE_VALUES: Record<string, number> = { M: 3, N: 4, K: 5, n: 7 };

/** Each kernel's argument descriptors, derived from its row in the kernel table. */
function specOf(row: KernelRow): Arg[] {
  const lengthSizes = new Set(row.args.flatMap((a) => (a.len ?? '').split('*')));
  const sizeOf = (name: string): number => row.example?.sizes[name] ?? SIZE_VALUES[name] ?? 1;
  const lenOf = (len: string): number => len.split('*').reduce((p, d) => p * sizeOf(d), 1);
  return row.args.map((a): Arg => {
    switch (a.type) {
      case 'bool': return { kind: 'bool', name: a.name };
      case 'count': case 'dim':
        return { kind: 'size', name: a.name, value: sizeOf(a.name), min: a.type === 'count' ? 0 : 1, notLength: !lengthSizes.has(a.name) };
      case 'act': return { kind: 'code', name: a.name, value: ACTIVATION_CODE.relu, max: ACTIVATIONS.length - 1 };
      case 'unary': return { kind: 'code', name: a.name, value: 0, max: UNARY_OPS.length - 1 };
      case 'float': return { kind: 'num', name: a.name, value: 0.5, finite: true };
      case 'scalar': return { kind: 'num', name: a.name, value: 2, finite: false };
      case 'f32': return { kind: 'f32', name: a.name, len: lenOf(a.len as string), nullable: a.nullable === true };
      case 'i32': return { kind: 'i32', name: a.name, len: lenOf(a.len as string), values: row.example?.i32?.[a.name] };
      case 'i8': case 'u16': return { kind: a.type, name: a.name, len: lenOf(a.len as string), nullable: a.nullable === true };
    }
  });
}

const SPECS: Record<string, Arg[]> = Object.fromEntries(
  Object.entries(KERNELS as Record<string, KernelRow>).map(([name, row]) => [name, specOf(row)]),
);
const ROWS = KERNELS as Record<string, KernelRow>;

/** A valid argument list (fresh buffers filled with small values; labels all 0). */
function validArgs(spec: Arg[]): unknown[] {
  return spec.map((a) => {
    switch (a.kind) {
      case 'bool': return false;
      case 'size': case 'code': case 'num': return a.value;
      case 'f32': return Float32Array.from({ length: a.len }, (_, i) => ((i % 5) - 2) * 0.25);
      case 'i32': {
        const v = new Int32Array(a.len);
        if (a.values) v.set(a.values);
        return v;
      }
      case 'i8': case 'u16': return bufferOf(a.kind, a.len);
    }
  });
}

/**
 * For a buffer with requiredWhen: [index, value] of the argument it depends on, a value that makes
 * the buffer required (needs) and one that does not (spares). Codes are the binding's integers.
 */
function requirementCases(row: KernelRow, a: KernelRow['args'][number]): { needs: [number, unknown]; spares: [number, unknown] } {
  const c = a.requiredWhen!;
  const at = row.args.findIndex((x) => x.name === c.arg);
  if ('in' in c) {
    const spare = ACTIVATIONS.findIndex((x) => !c.in.includes(x));
    return { needs: [at, ACTIVATION_CODE[c.in[0]]], spares: [at, spare] };
  }
  return { needs: [at, c.value + 0.5], spares: [at, c.op === '>' ? c.value - 0.5 : c.value] };
}

/** Calls a kernel through the contract: codes become names, options kernels get one object. */
function contractCall(backend: Backend, kernel: string, args: unknown[]): unknown {
  const row = ROWS[kernel];
  const named = args.map((v, i) => {
    const t = row.args[i]?.type;
    if (t === 'act' && typeof v === 'number') return ACTIVATIONS[v] ?? v;
    if (t === 'unary' && typeof v === 'number') return UNARY_OPS[v] ?? v;
    return v;
  });
  const fn = (backend as unknown as Record<string, (...xs: unknown[]) => unknown>)[kernel];
  if (!row.options) return fn(...named);
  return fn(Object.fromEntries(row.args.map((a, i) => [a.name, named[i]])));
}

function call(binding: NativeBinding, kernel: string, args: unknown[]): unknown {
  const fn = (binding as unknown as Record<string, (...xs: unknown[]) => unknown>)[kernel];
  return fn(...args);
}

/** Asserts fn throws an Error whose message starts with `${kernel}:` and matches `more` if given. */
function expectKernelError(fn: () => unknown, kernel: string, more?: RegExp): void {
  let thrown: unknown = null;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `${kernel} should have thrown`).toBeInstanceOf(Error);
  const msg = (thrown as Error).message;
  expect(msg.startsWith(`${kernel}:`), `message "${msg}" should start with "${kernel}:"`).toBe(true);
  if (more) expect(msg).toMatch(more);
}

describe.skipIf(forcedJs)('native binding', () => {
  let backend: NativeBackend;
  let binding: NativeBinding;
  beforeAll(() => {
    backend = loadNative(); // throws (failing the suite) if the addon cannot be loaded
    binding = backend.binding;
  });

  it('reports its SIMD level and thread count', () => {
    const info = backend.info();
    expect(info.backend).toBe('native');
    expect(['avx2', 'scalar']).toContain(info.simd);
    expect(info.threads).toBeGreaterThanOrEqual(1);
  });

  for (const [kernel, spec] of Object.entries(SPECS)) {
    describe(kernel, () => {
      it('accepts valid arguments, with longer buffers too', () => {
        expect(() => call(binding, kernel, validArgs(spec))).not.toThrow();
        const longer = spec.map((a) => (isBuffer(a) ? { ...a, len: a.len + 3 } : a));
        expect(() => call(binding, kernel, validArgs(longer))).not.toThrow();
      });

      it('rejects missing and extra arguments', () => {
        const args = validArgs(spec);
        expectKernelError(() => call(binding, kernel, args.slice(0, -1)), kernel, /expected \d+ arguments/);
        expectKernelError(() => call(binding, kernel, []), kernel, /expected \d+ arguments/);
        expectKernelError(() => call(binding, kernel, [...args, 1]), kernel, /expected \d+ arguments/);
      });

      spec.forEach((a, i) => {
        if (isBuffer(a)) {
          it(`rejects a bad ${a.name}`, () => {
            const wrongType = a.kind === 'f32' ? new Int32Array(a.len) : new Float32Array(a.len);
            const bad: unknown[] = [new Float64Array(a.len), Array.from({ length: a.len }, () => 0), 1,
              undefined, 'x', {}, wrongType, new Uint8Array(a.len * 4)];
            if (!a.nullable) bad.push(null);
            for (const v of bad) {
              const args = validArgs(spec);
              args[i] = v;
              expectKernelError(() => call(binding, kernel, args), kernel, new RegExp(`\\b${a.name} must be an? `));
            }
            // One element short: the message names the buffer and the expected size.
            const args = validArgs(spec);
            args[i] = bufferOf(a.kind, a.len - 1);
            expectKernelError(() => call(binding, kernel, args), kernel,
              new RegExp(`${a.name} has ${a.len - 1} elements, expected .*= ${a.len}\\b`));
          });
        } else if (a.kind === 'size') {
          it(`rejects a bad size ${a.name}`, () => {
            const bad: unknown[] = [a.min - 1, -5, 1.5, NaN, Infinity, 2 ** 31, '3', undefined, null, true, 3n];
            for (const v of bad) {
              const args = validArgs(spec);
              args[i] = v;
              expectKernelError(() => call(binding, kernel, args), kernel, new RegExp(`\\b${a.name} must be`));
            }
            // A size too large for the buffers (including huge products) is a length error.
            for (const v of a.notLength ? [] : [a.value + 1, 2 ** 31 - 1]) {
              const args = validArgs(spec);
              args[i] = v;
              expectKernelError(() => call(binding, kernel, args), kernel, /has \d+ elements, expected/);
            }
          });
        } else if (a.kind === 'code') {
          it(`rejects a bad code ${a.name}`, () => {
            for (const v of [-1, a.max + 1, 0.5, NaN, 'relu', undefined]) {
              const args = validArgs(spec);
              args[i] = v;
              expectKernelError(() => call(binding, kernel, args), kernel, new RegExp(`\\b${a.name} must be`));
            }
          });
        } else if (a.kind === 'num') {
          it(`rejects a bad scalar ${a.name}`, () => {
            const bad: unknown[] = ['1', undefined, null, {}, new Float32Array(1)];
            if (a.finite) bad.push(NaN, Infinity, -Infinity);
            for (const v of bad) {
              const args = validArgs(spec);
              args[i] = v;
              expectKernelError(() => call(binding, kernel, args), kernel, new RegExp(`\\b${a.name} must be`));
            }
          });
        } else {
          it(`rejects a non-boolean ${a.name}`, () => {
            for (const v of [0, 1, 'true', undefined, null]) {
              const args = validArgs(spec);
              args[i] = v;
              expectKernelError(() => call(binding, kernel, args), kernel, new RegExp(`\\b${a.name} must be a boolean`));
            }
          });
        }
      });
    });
  }

  it('names the shapes in gemm length errors', () => {
    const C = new Float32Array(12);
    expect(() => binding.gemm(false, false, 3, 4, 4, 1, new Float32Array(10), new Float32Array(16), 0, C))
      .toThrow('gemm: A has 10 elements, expected M*K = 12 (M=3, K=4)');
  });

  it('rejects out-of-range labels naming the label and the row', () => {
    const logits = new Float32Array(4 * 10);
    for (const [bad, row] of [[12, 3], [-1, 0], [10, 2]]) {
      const labels = new Int32Array([1, 2, 3, 4]);
      labels[row] = bad;
      const grad = new Float32Array(40).fill(7);
      expect(() => backend.softmaxCrossEntropy({ M: 4, N: 10, logits, labels, grad }))
        .toThrow(`softmaxCrossEntropy: label ${bad} at row ${row} is out of range [0, 10)`);
      expect(grad.every((g) => g === 7)).toBe(true); // nothing written before the check
    }
  });

  it('requires the nullable buffers the other arguments make necessary (requiredWhen)', () => {
    let checked = 0;
    for (const [kernel, row] of Object.entries(ROWS)) {
      row.args.forEach((a, i) => {
        if (!a.requiredWhen) return;
        const { needs, spares } = requirementCases(row, a);
        const args = validArgs(SPECS[kernel]);
        args[i] = null;
        args[needs[0]] = needs[1];
        expectKernelError(() => call(binding, kernel, args), kernel, new RegExp(`^${kernel}: ${a.name} is required when .*, got null`));
        args[spares[0]] = spares[1];
        expect(() => call(binding, kernel, args)).not.toThrow();
        checked++;
      });
    }
    expect(checked).toBeGreaterThanOrEqual(3); // linearBackward's preact, sgdStep's velocity, rmspropStep's buf
  });

  it('maps activation and op names in the adapter and rejects unknown ones', () => {
    const x = Float32Array.from([-1, 0, 2]);
    const out = new Float32Array(3);
    backend.activationForward('relu', 3, x, out, 0.01);
    expect(Array.from(out)).toEqual([0, 0, 2]);
    backend.unary('square', 3, x, out);
    expect(Array.from(out)).toEqual([1, 0, 4]);
    expect(() => backend.activationForward('swish' as never, 3, x, out, 0)).toThrow(/^activationForward: unknown activation 'swish'/);
    expect(() => backend.unary('cos' as never, 3, x, out)).toThrow(/^unary: unknown op 'cos'/);
    expect(() => backend.setNumThreads(0)).toThrow(/^setNumThreads:/);
    expect(() => backend.setNumThreads(300)).toThrow(/^setNumThreads:/);
  });

  it('survives thousands of random malformed calls', () => {
    const seed = freshSeed();
    let state = seed || 1;
    const rand = (): number => {
      state ^= state << 13; state >>>= 0;
      state ^= state >>> 17;
      state ^= state << 5; state >>>= 0;
      return state / 4294967296;
    };
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
    const weird = (): unknown => pick([
      0, -1, 1, 2, 3, 1.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 31 - 1, 2 ** 53, -0, '4', null,
      undefined, true, false, {}, [], [1, 2, 3], () => 1, Symbol('s'), 5n,
      new Float32Array(0), new Float32Array(1), new Float32Array(64), new Float64Array(64),
      new Int32Array(64), new Uint8Array(64), new Float32Array(new ArrayBuffer(64), 4, 3),
      new DataView(new ArrayBuffer(8)), new ArrayBuffer(64),
    ]);
    const kernels = Object.keys(SPECS);
    let threw = 0;
    try {
      for (let t = 0; t < 4000; t++) {
        const kernel = pick(kernels);
        const spec = SPECS[kernel];
        const args = validArgs(spec);
        const mutations = 1 + Math.floor(rand() * 3);
        for (let k = 0; k < mutations; k++) args[Math.floor(rand() * args.length)] = weird();
        if (rand() < 0.1) args.length = Math.floor(rand() * args.length);
        try {
          call(binding, kernel, args);
        } catch (e) {
          threw++;
          if (!(e instanceof Error) || !e.message.startsWith(`${kernel}:`)) {
            throw new Error(`unexpected error from ${kernel}: ${String(e)}`);
          }
        }
      }
    } catch (e) {
      throw new Error(`fuzz failed with seed ${seed}: ${(e as Error).message}`);
    }
    expect(threw, `seed ${seed}`).toBeGreaterThan(2000);
    // The addon still computes correctly afterwards.
    const out = new Float32Array(2);
    binding.add(2, Float32Array.from([1, 2]), Float32Array.from([3, 4]), out);
    expect(Array.from(out)).toEqual([4, 6]);
  });

  describe('forwardAsync', () => {
    const seedBase = (Date.now() >>> 0) % 100000;
    const randn = (len: number, seed: number): Float32Array => {
      let s = seed + 1;
      return Float32Array.from({ length: len }, () => {
        s = (s * 1103515245 + 12345) % 2147483648;
        return (s / 2147483648 - 0.5) * 2;
      });
    };
    const plan = (): PlanLayer[] => [
      { N: 32, K: 20, W: randn(32 * 20, seedBase), bias: randn(32, seedBase + 1), act: 'relu', alpha: 0.01 },
      { N: 16, K: 32, W: randn(16 * 32, seedBase + 2), bias: null, act: 'gelu', alpha: 0.01 },
      { N: 10, K: 16, W: randn(10 * 16, seedBase + 3), bias: randn(10, seedBase + 4), act: 'none', alpha: 0.01 },
    ];

    it('rejects bad input with an Error naming forwardAsync', async () => {
      const layers = plan();
      const X = randn(4 * 20, 9);
      const out = new Float32Array(4 * 10);
      await expect(backend.forwardAsync(4, layers, new Float32Array(5), out, false)).rejects.toThrow(/^forwardAsync: X has 5 elements/);
      await expect(backend.forwardAsync(4, layers, X, new Float32Array(3), false)).rejects.toThrow(/^forwardAsync: out has 3 elements/);
      await expect(backend.forwardAsync(0, layers, X, out, false)).rejects.toThrow(/^forwardAsync: M must be/);
      await expect(backend.forwardAsync(4, [], X, out, false)).rejects.toThrow(/^forwardAsync: layers is empty/);
      const mismatched = plan();
      mismatched[1] = { ...mismatched[1], K: 31, W: new Float32Array(16 * 31) };
      await expect(backend.forwardAsync(4, mismatched, X, out, false)).rejects.toThrow(/^forwardAsync: layers\[1\]\.K = 31 does not match layers\[0\]\.N = 32/);
      const shortW = plan();
      shortW[2] = { ...shortW[2], W: new Float32Array(5) };
      await expect(backend.forwardAsync(4, shortW, X, out, false)).rejects.toThrow(/^forwardAsync: layers\[2\]\.W has 5 elements/);
      const badAct = plan();
      badAct[0] = { ...badAct[0], act: 'swish' as never };
      await expect(backend.forwardAsync(4, badAct, X, out, false)).rejects.toThrow(/^forwardAsync/);
      await expect(binding.forwardAsync(4, 'nope' as never, X, out, false)).rejects.toThrow(/^forwardAsync: layers must be an Array/);
    });

    it('matches the synchronous layer kernels, and concurrent calls match sequential ones', async () => {
      const layers = plan();
      const M2 = 37;
      const inputs = Array.from({ length: 6 }, (_, i) => randn(M2 * 20, seedBase + 100 + i));
      // Reference: linearForward layer by layer, then softmax.
      const expected = inputs.map((X) => {
        let h = X;
        for (const l of layers) {
          const o = new Float32Array(M2 * l.N);
          backend.linearForward({ M: M2, N: l.N, K: l.K, X: h, W: l.W, bias: l.bias, act: l.act, alpha: l.alpha, out: o });
          h = o;
        }
        const p = new Float32Array(h.length);
        backend.softmax(M2, 10, h, p);
        return p;
      });
      const sequential: Float32Array[] = [];
      for (const X of inputs) {
        const out = new Float32Array(M2 * 10);
        await backend.forwardAsync(M2, layers, X, out, true);
        sequential.push(out);
      }
      const concurrentOuts = inputs.map(() => new Float32Array(M2 * 10));
      await Promise.all(inputs.map((X, i) => backend.forwardAsync(M2, layers, X, concurrentOuts[i], true)));
      for (let i = 0; i < inputs.length; i++) {
        for (let j = 0; j < expected[i].length; j++) {
          expect(Math.abs(sequential[i][j] - expected[i][j])).toBeLessThanOrEqual(1e-6);
          expect(Math.abs(concurrentOuts[i][j] - sequential[i][j])).toBeLessThanOrEqual(1e-6);
        }
        // rows of a softmax sum to 1
        let s = 0;
        for (let j = 0; j < 10; j++) s += concurrentOuts[i][j];
        expect(s).toBeCloseTo(1, 5);
      }
    });

    it('large calls (row blocks on the pool\'s workers, no libuv hand-off) give forwardDense\'s bits at 1-3 threads, copied or handed over, alone or concurrent', async () => {
      // 600 rows x (256*200 + 200*128 + 128*10) multiply-adds: 2-3 row blocks, so forwardAsync hands the blocks to
      // the pool's workers (parallel_for_detached); a second call while the first holds the pool goes through libuv.
      const layers: PlanLayer[] = [
        { N: 200, K: 256, W: randn(200 * 256, seedBase + 10), bias: randn(200, seedBase + 11), act: 'relu', alpha: 0.01 },
        { N: 128, K: 200, W: randn(128 * 200, seedBase + 12), bias: null, act: 'tanh', alpha: 0.01 },
        { N: 10, K: 128, W: randn(10 * 128, seedBase + 13), bias: randn(10, seedBase + 14), act: 'none', alpha: 0.01 },
      ];
      const frozen = backend.freezePlan(layers);
      const M = 600;
      const threadsBefore = backend.info().threads;
      try {
        for (const threads of [1, 2, 3]) {
          backend.setNumThreads(threads);
          const xs = Array.from({ length: 3 }, (_, i) => randn(M * 256, seedBase + 200 + i));
          const want = xs.map((X) => {
            const o = new Float32Array(M * 10);
            backend.forwardDense(M, frozen, X, o, true);
            return o;
          });
          for (const handOver of [false, true]) {
            const alone = new Float32Array(M * 10);
            await backend.forwardAsync(M, frozen, xs[0], alone, true, handOver);
            expect(alone, `${threads} threads, handOver ${handOver}`).toEqual(want[0]);
            const outs = xs.map(() => new Float32Array(M * 10));
            await Promise.all(xs.map((X, i) => backend.forwardAsync(M, frozen, X, outs[i], true, handOver)));
            outs.forEach((o, i) => expect(o, `${threads} threads, concurrent call ${i}, handOver ${handOver}`).toEqual(want[i]));
          }
          // Copied input: the caller may overwrite X as soon as the call returns.
          const X = xs[1].slice();
          const out = new Float32Array(M * 10);
          const pending = backend.forwardAsync(M, frozen, X, out, true);
          X.fill(7);
          await pending;
          expect(out).toEqual(want[1]);
        }
      } finally {
        backend.setNumThreads(threadsBefore);
      }
      await expect(binding.forwardAsync(4, binding.freezePlan([{ N: 2, K: 3, W: new Float32Array(6), bias: null, act: 0, alpha: 0 }]), new Float32Array(12), new Float32Array(8), false, 'yes' as never))
        .rejects.toThrow(/^forwardAsync: handOver must be a boolean, got string/);
      await expect(backend.forwardAsync(4, frozen, new Float32Array(4 * 256), new Float32Array(40), false, 1 as never)).rejects.toThrow(/^forwardAsync: handOver must be a boolean/);
    });
  });
});

// The same table-derived cases through the contract (names instead of codes, options objects), on
// the TypeScript backend and on the native backend with and without tiny calls routed to TypeScript.
for (const bt of backendsUnderTest()) {
  describe(`kernel argument checks on the ${bt.label} backend`, () => {
    for (const [kernel, spec] of Object.entries(SPECS)) {
      it(`${kernel}: accepts valid arguments, rejects each bad one naming it`, () => {
        const b = requireBackend(bt);
        const run = (args: unknown[]): unknown => contractCall(b, kernel, args);
        expect(() => run(validArgs(spec))).not.toThrow();
        spec.forEach((a, i) => {
          const bad: unknown[] =
            isBuffer(a) ? [new Float64Array(a.len), [0, 0, 0], 1, undefined, 'x', {}]
              : a.kind === 'size' ? [a.min - 1, 1.5, NaN, Infinity, 2 ** 31, '3', undefined, true, 3n]
                : a.kind === 'code' ? ['swish', -1, undefined, null]
                  : a.kind === 'num' ? (a.finite ? ['1', undefined, null, NaN, Infinity] : ['1', undefined, null])
                    : [0, 'true', undefined, null];
          if (isBuffer(a) && !a.nullable) bad.push(null);
          // In an options object a nullable buffer may be left out (undefined reads as null).
          if (ROWS[kernel].options && isBuffer(a) && a.nullable) bad.splice(bad.indexOf(undefined), 1);
          const message = a.kind === 'code' ? /unknown (activation|op)/ : new RegExp(`\\b${a.name} must be`);
          for (const v of bad) {
            const args = validArgs(spec);
            args[i] = v;
            expectKernelError(() => run(args), kernel, message);
          }
          if (isBuffer(a)) {
            const args = validArgs(spec);
            args[i] = bufferOf(a.kind, a.len - 1);
            expectKernelError(() => run(args), kernel, new RegExp(`${a.name} has ${a.len - 1} elements, expected .*= ${a.len}\\b`));
          }
        });
        ROWS[kernel].args.forEach((a, i) => {
          if (!a.requiredWhen) return;
          const { needs, spares } = requirementCases(ROWS[kernel], a);
          const args = validArgs(spec);
          args[i] = null;
          args[needs[0]] = needs[1];
          expectKernelError(() => run(args), kernel, new RegExp(`^${kernel}: ${a.name} is required when .*, got null`));
          args[spares[0]] = spares[1];
          expect(() => run(args)).not.toThrow();
        });
        if (ROWS[kernel].options) {
          for (const v of [undefined, null, 3, 'M']) expectKernelError(() => (b as unknown as Record<string, (o: unknown) => unknown>)[kernel](v), kernel, /expected one options object/);
        }
      });
    }
  });
}

// Denormals: native kernels flush them (FTZ/DAZ) on every thread they run on, the TS twin keeps them, and the two agree by rule.
//
// The rule, for every native kernel and every size: a denormal input (|x| < FLT_MIN = 2^-126) is
// read as zero and a denormal result is written as zero (except neg, abs and the identity
// activation, which only move bits and pass denormals through). So native(x) equals the TS twin applied to
// the flushed inputs, with its results flushed, within the kernel's usual tolerance plus FLT_MIN
// per summed term (a sum of K denormal products is 0 natively, up to K * FLT_MIN in the twin).
// Node's own thread keeps IEEE behaviour after every call. (The native backend runs inputs of
// <= 48 elements on the TS twin, which keeps denormals; the "C++ at every size" backend below
// checks the kernels themselves.)
import { describe, expect, it } from 'vitest';

import type { Activation, Backend, PlanLayer, UnaryOp } from '../lib/backend/contract';
import { ACTIVATION_CODE, UNARY_CODE } from '../lib/backend/contract';
import { getJsBackend } from '../lib/backend/select';
import { backendsUnderTest, requireBackend } from './helpers/backends';
import { freshSeed, makeRng } from './helpers/reference';

const FLT_MIN = 1.1754943508222875e-38;
const seed = freshSeed();
const cxx = backendsUnderTest().find((b) => b.label === 'native, C++ at every size');
const js = getJsBackend();

/** Sizes on both sides of the tiny-call threshold (48) and of the threads' split (parallel sizes). */
const SIZES = [1, 3, 17, 48, 49, 65, 257, 4099, 300_001];

/** Values mixing denormals, tiny normals (whose products underflow), zeros and ordinary numbers. */
function mixed(n: number, s: number): Float32Array {
  const r = makeRng(s).next;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = r();
    const sign = r() < 0.5 ? -1 : 1;
    if (u < 0.3) out[i] = sign * r() * FLT_MIN; // denormal
    else if (u < 0.5) out[i] = sign * (1 + r()) * 1e-20; // product ~1e-40
    else if (u < 0.55) out[i] = 0;
    else out[i] = sign * r() * 4;
  }
  return out;
}

const flush = (v: number): number => (Math.abs(v) < FLT_MIN ? 0 * v : v);
const flushed = (a: Float32Array): Float32Array => a.map(flush);

/** Node's thread still computes with IEEE denormals (a flush left on would make these 0). */
function expectIeeeOnThisThread(): void {
  const v = new Float64Array([Number.MIN_VALUE * 4, 0.5, 1e-39]);
  expect(v[0] * v[1]).toBeGreaterThan(0);
  expect(Math.fround(v[2])).toBeGreaterThan(0);
  const f = new Float32Array([1e-39]);
  expect(f[0] * 2).toBeGreaterThan(0);
}

/** got equals the flush rule applied to the twin's result, within rel + terms * FLT_MIN. */
function expectRule(what: string, got: Float32Array, twin: Float32Array, terms = 1, rel = 2e-6): void {
  for (let i = 0; i < got.length; i++) {
    const want = flush(twin[i]);
    const g = got[i];
    if (Number.isNaN(want) || Number.isNaN(g)) {
      expect(Number.isNaN(g), `${what}[${i}]: got ${g}, want ${want} (seed ${seed})`).toBe(Number.isNaN(want));
      continue;
    }
    if (!Number.isFinite(want) || !Number.isFinite(g)) {
      expect(g, `${what}[${i}] (seed ${seed})`).toBe(want);
      continue;
    }
    expect(g !== 0 && Math.abs(g) < FLT_MIN, `${what}[${i}] = ${g} is denormal (seed ${seed})`).toBe(false);
    const tol = rel * Math.abs(want) + terms * FLT_MIN;
    expect(Math.abs(g - want), `${what}[${i}]: got ${g}, want ${want} (seed ${seed})`).toBeLessThanOrEqual(tol);
  }
}

describe.runIf(cxx !== undefined)('native kernels flush denormals on every thread', () => {
  it('denormal results are written as 0 and denormal inputs read as 0, at every size', () => {
    const b = requireBackend(cxx!);
    for (const n of SIZES) {
      const tiny = new Float32Array(n).fill(1e-20);
      const den = new Float32Array(n).fill(1e-39);
      const out = new Float32Array(n).fill(7);
      b.mul(n, tiny, tiny, out); // 1e-40: denormal result
      expect(out.every((v) => v === 0), `mul n=${n}`).toBe(true);
      js.mul(n, tiny, tiny, out); // the twin keeps it
      expect(out[0]).toBeGreaterThan(0);
      b.add(n, den, new Float32Array(n), out); // denormal input + 0
      expect(out.every((v) => v === 0), `add n=${n}`).toBe(true);
      b.scale(n, den, 1, out);
      expect(out.every((v) => v === 0), `scale n=${n}`).toBe(true);
      b.unary('sqrt', n, den, out); // sqrt(1e-39) ~ 3e-20 in IEEE, sqrt(0) with DAZ
      expect(out.every((v) => v === 0), `sqrt n=${n}`).toBe(true);
      b.activationForward('tanh', n, den, out, 0); // tanh(x) ~ x: denormal
      expect(out.every((v) => v === 0), `tanh n=${n}`).toBe(true);
      expect(b.sum(n, den)).toBe(0);
      expectIeeeOnThisThread();
    }
  });

  it('gemm, linearForward, forwardDense and forwardAsync (pool threads and libuv threads) flush too', async () => {
    const b = requireBackend(cxx!);
    for (const [M, N, K] of [[2, 3, 4], [64, 64, 64], [257, 130, 300]]) {
      const A = new Float32Array(M * K).fill(1e-20);
      const W = new Float32Array(N * K).fill(1e-20);
      const C = new Float32Array(M * N).fill(7);
      b.gemm(false, true, M, N, K, 1, A, W, 0, C); // every product and partial sum denormal
      expect(C.every((v) => v === 0), `gemm ${M}x${N}x${K}`).toBe(true);
      b.linearForward({ M, N, K, X: A, W, bias: null, act: 'none', alpha: 0, out: C.fill(7), preact: null });
      expect(C.every((v) => v === 0), `linearForward ${M}x${N}x${K}`).toBe(true);
      const layers: PlanLayer[] = [{ N, K, W, bias: null, act: 'none', alpha: 0 }];
      b.forwardDense(M, layers, A, C.fill(7), false);
      expect(C.every((v) => v === 0), `forwardDense ${M}x${N}x${K}`).toBe(true);
      await b.forwardAsync(M, b.freezePlan(layers), A, C.fill(7), false);
      expect(C.every((v) => v === 0), `forwardAsync ${M}x${N}x${K}`).toBe(true);
      expectIeeeOnThisThread();
      // The twin keeps the denormal sums (K * 1e-40).
      js.gemm(false, true, M, N, K, 1, A, W, 0, C);
      expect(C[0]).toBeGreaterThan(0);
    }
  });
});

describe.runIf(cxx !== undefined)(`native vs the TS twin on inputs with denormals: the flush rule (seed ${seed})`, () => {
  const ACTS = Object.keys(ACTIVATION_CODE) as Activation[];
  /** Sign and copy operations move bits without arithmetic: denormals pass through unchanged. */
  const BIT_OPS = new Set<string>(['neg', 'abs', 'none']);
  const OPS = Object.keys(UNARY_CODE) as UnaryOp[];

  function both(run: (b: Backend, x: Float32Array[]) => Float32Array, inputs: Float32Array[]): [Float32Array, Float32Array] {
    const b = requireBackend(cxx!);
    return [run(b, inputs.map((x) => x.slice())), run(js, inputs.map(flushed))];
  }

  it('elementwise, unary, activations, sums', () => {
    for (const n of [5, 49, 1000, 70_001]) {
      const a = mixed(n, seed + n);
      const c = mixed(n, seed + n + 1);
      for (const k of ['add', 'sub', 'mul', 'div'] as const) {
        const [g, t] = both((b, [x, y]) => { const o = new Float32Array(n); b[k](n, x, y, o); return o; }, [a, c]);
        expectRule(`${k} n=${n}`, g, t);
      }
      const [gs, ts] = both((b, [x]) => { const o = new Float32Array(n); b.scale(n, x, 3e-19, o); return o; }, [a]);
      expectRule(`scale n=${n}`, gs, ts);
      for (const op of OPS) {
        const run = (b: Backend, [x]: Float32Array[]): Float32Array => { const o = new Float32Array(n); b.unary(op, n, x, o); return o; };
        if (BIT_OPS.has(op)) {
          expect(Array.from(run(requireBackend(cxx!), [a])), `${op} n=${n}`).toEqual(Array.from(run(js, [a])));
          continue;
        }
        const [g, t] = both(run, [a]);
        expectRule(`unary ${op} n=${n}`, g, t, 1, 4e-6);
      }
      for (const act of ACTS) {
        const run = (b: Backend, [x]: Float32Array[]): Float32Array => { const o = new Float32Array(n); b.activationForward(act, n, x, o, 0.01); return o; };
        if (BIT_OPS.has(act)) {
          expect(Array.from(run(requireBackend(cxx!), [a])), `${act} n=${n}`).toEqual(Array.from(run(js, [a])));
          continue;
        }
        const [g, t] = both(run, [a]);
        expectRule(`${act} n=${n}`, g, t, 1, 1e-5);
      }
      const [gsum, tsum] = both((b, [x]) => Float32Array.of(b.sum(n, x)), [a]);
      expectRule(`sum n=${n}`, gsum, tsum, n, 1e-6);
    }
  });

  it('gemm and softmax rows', () => {
    for (const [M, N, K] of [[3, 5, 7], [33, 17, 65], [130, 64, 257]]) {
      const A = mixed(M * K, seed + M);
      const B = mixed(K * N, seed + N);
      const [g, t] = both((b, [x, y]) => { const o = new Float32Array(M * N); b.gemm(false, false, M, N, K, 1, x, y, 0, o); return o; }, [A, B]);
      // Products of normal numbers: rounding differs (float32 FMA vs float64) by ~K ulp of the largest term.
      const scale = 16 * K * 4 * 4 * 6e-8;
      for (let i = 0; i < g.length; i++) {
        const want = flush(t[i]);
        expect(Math.abs(g[i] - want), `gemm ${M}x${N}x${K} [${i}] (seed ${seed})`).toBeLessThanOrEqual(scale + K * FLT_MIN);
      }
      const [gs, ts] = both((b, [x]) => { const o = new Float32Array(M * K); b.softmax(M, K, x, o); return o; }, [A]);
      expectRule(`softmax ${M}x${K}`, gs, ts, K, 1e-5);
    }
  });
});

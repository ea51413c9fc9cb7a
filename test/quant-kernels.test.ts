// The low-precision kernels (int8 GEMM, quantisation, bf16 rounding and GEMM): every SIMD path this
// CPU has (child processes with MYELIN_SIMD forcing the lower ones) against the TS twins (int8 bit
// for bit) and a float64 reference of the quantised maths; rounding to bf16 against an independent
// reference; errors.
import { spawnSync } from 'child_process';
import * as path from 'path';
import { beforeAll, describe, expect, it } from 'vitest';

import { backendsUnderTest, requireBackend } from './helpers/backends';
import { ensureDist, ROOT } from './helpers/dist';
import { freshSeed } from './helpers/reference';
import { cpuFlags } from './helpers/cpu-flags';

const SEED = freshSeed();
const native = backendsUnderTest().find((b) => b.name === 'native');

const flags = cpuFlags();
const has = (...names: string[]): boolean => names.every((n) => flags.has(n));
const avx512 = has('avx512f', 'avx512vl', 'avx512dq', 'avx512bw');
const avx2 = has('avx2', 'fma');
const vnni = avx512 && has('avx512_vnni');
const bf16Direct = avx512 && has('avx512_bf16') ? 'avx512bf16-direct' : 'im2col';
// AMX (the tiles): chosen by default where the CPU has it and the OS grants the tile state (info().amx says
// "in use ..." or why not); MYELIN_SIMD=avx512 keeps the AVX-512 paths. The direct convolutions stay on VNNI / BF16.
const amxInt8 = avx512 && has('amx_tile', 'amx_int8');
const amxBf16 = avx512 && has('amx_tile', 'amx_bf16');
const int8Avx512 = vnni ? 'avx512vnni' : avx2 ? 'avx2' : 'scalar';
const bf16Avx512 = avx512 && has('avx512_bf16') ? 'avx512bf16' : 'fp32';
const LEVELS: { simd: string; int8: string; bf16: string; qconv: string; qconvBf16: string; amx: boolean }[] = [
  { simd: 'default', int8: amxInt8 ? 'amx' : int8Avx512, bf16: amxBf16 ? 'amx' : bf16Avx512, qconv: vnni ? 'avx512vnni-direct' : 'im2col', qconvBf16: bf16Direct, amx: true },
  { simd: 'avx512', int8: int8Avx512, bf16: bf16Avx512, qconv: vnni ? 'avx512vnni-direct' : 'im2col', qconvBf16: bf16Direct, amx: false },
  { simd: 'avx2', int8: avx2 ? 'avx2' : 'scalar', bf16: 'fp32', qconv: 'im2col', qconvBf16: 'im2col', amx: false },
  { simd: 'scalar', int8: 'scalar', bf16: 'fp32', qconv: 'im2col', qconvBf16: 'im2col', amx: false },
];

describe.runIf(native !== undefined && process.platform === 'linux')(`every SIMD path of the low-precision kernels (child processes, seed ${SEED})`, () => {
  beforeAll(() => ensureDist());

  for (const level of LEVELS) {
    it(`MYELIN_SIMD=${level.simd}: int8 path ${level.int8}, bf16 path ${level.bf16}, int8 conv ${level.qconv}, bf16 conv ${level.qconvBf16}, agreeing with the twins and the float64 reference`, () => {
      const env = { ...process.env };
      if (level.simd === 'default') delete env.MYELIN_SIMD;
      else env.MYELIN_SIMD = level.simd;
      const r = spawnSync(process.execPath, [path.join(ROOT, 'test', 'helpers', 'quant-paths.js'), path.join(ROOT, 'dist'), String(SEED)], {
        encoding: 'utf8', env, timeout: 300_000,
      });
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { int8Path: string; bf16Path: string; qconvPath: string; qconvBf16Path: string; amx: string; checked: number; failures: string[] };
      // The status names why AMX is not used: no AMX on this CPU, the OS refused the tile state, or MYELIN_SIMD.
      expect(out.amx).toMatch(/^(in use for |unavailable: |off: )./);
      const refused = level.amx && !out.amx.startsWith('in use');  // e.g. a Linux kernel without AMX support
      if (!amxInt8 || !level.amx) expect(out.amx.startsWith('in use'), out.amx).toBe(false);
      expect(out.int8Path).toBe(refused && level.int8 === 'amx' ? int8Avx512 : level.int8);
      expect(out.bf16Path).toBe(refused && level.bf16 === 'amx' ? bf16Avx512 : level.bf16);
      expect(out.qconvPath).toBe(level.qconv);
      expect(out.qconvBf16Path).toBe(level.qconvBf16);
      expect(out.checked).toBeGreaterThan(100_000);
      expect(out.failures, `seed ${SEED}`).toEqual([]);
    });
  }
});

/** The nearest bfloat16 to x (ties to even), computed from the two neighbours in float64. */
function refBf16(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  if (Number.isNaN(x)) return NaN;
  if (Math.abs(x) < 1.1754943508222875e-38) return x < 0 || Object.is(x, -0) ? -0 : 0; // denormals flush to signed zero
  const lo = (u >>> 16) & 0xffff;
  const value = (h: number): number => {
    if ((h & 0x7fff) === 0x7f80) return Math.sign(x) * 2 ** 128; // rounding up past the largest finite
    return new Float32Array(new Uint32Array([h << 16]).buffer)[0];
  };
  if (!Number.isFinite(x)) return x;
  const a = value(lo), b = value(lo + 1);
  const da = Math.abs(x - a), db = Math.abs(x - b);
  const pick = da < db ? lo : db < da ? lo + 1 : (lo & 1) === 0 ? lo : lo + 1;
  const v = value(pick);
  return Math.abs(v) === 2 ** 128 ? Math.sign(x) * Infinity : v;
}

for (const bt of backendsUnderTest()) {
  describe(`low-precision kernels on the ${bt.label} backend`, () => {
    it('toBf16 rounds to the nearest bfloat16, ties to even, denormals to zero, NaN to NaN', () => {
      const b = requireBackend(bt);
      const xs = [0, -0, 1, -1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -9, 3.3895313892515355e38, 3.3961775292304957e38, 3.4e38, -3.4e38,
        1e-39, -1e-39, 1.1754943508222875e-38, Infinity, -Infinity, NaN, 0.1, -123.456, 65504, 1e-30];
      for (let i = 0; i < 3000; i++) xs.push((Math.random() - 0.5) * 10 ** (Math.random() * 60 - 30));
      const x = Float32Array.from(xs);
      const h = new Uint16Array(x.length);
      b.toBf16(x.length, x, h);
      for (let i = 0; i < x.length; i++) {
        const got = new Float32Array(new Uint32Array([h[i] << 16]).buffer)[0];
        const want = refBf16(x[i]);
        if (Number.isNaN(want)) expect(Number.isNaN(got), `x=${x[i]}`).toBe(true);
        else expect(got, `x=${x[i]} -> 0x${h[i].toString(16)}`).toBe(want);
      }
      // Exact ties: 1 + 2^-8 lies halfway between 1 and 1 + 2^-7 (to 1, even); 1 + 3 * 2^-8 goes up to 1 + 2^-6.
      expect(h[4]).toBe(0x3f80);
      expect(h[5]).toBe(0x3f82);
    });

    it('quantizeRowsI8 and qgemmI8 compute the quantised product end to end', () => {
      const b = requireBackend(bt);
      // 2 x 3 activations, 2 x 3 weights: exact small integers after quantisation.
      const X = Float32Array.from([1.27, -0.635, 0, 0, 0, 0]);
      const Q = new Int8Array(6);
      const scales = new Float32Array(2);
      b.quantizeRowsI8(2, 3, X, 0, Q, scales);
      expect(Array.from(Q)).toEqual([127, -64, 0, 0, 0, 0]); // -63.5 rounds to even
      expect(scales[0]).toBe(Math.fround(Math.fround(1.27) / 127));
      expect(scales[1]).toBe(0);
      const W = Int8Array.from([1, 2, 3, -128, 0, 1]); // -128 counts as -127
      const out = new Float32Array(4);
      b.qgemmI8({ M: 2, N: 2, K: 3, A: Q, aScale: Float32Array.from([1, 1]), W, wScale: Float32Array.from([1, 0.5]), bias: Float32Array.from([0, 10]), act: 'none', alpha: 0, out });
      expect(Array.from(out)).toEqual([127 - 128, (-127 * 127) * 0.5 + 10, 0, 10]);
    });

    it('quantises rows of tiny values to zeros (127 / max would overflow) and flushes denormal results', () => {
      const b = requireBackend(bt);
      const X = Float32Array.from([1e-31, -5e-32, 3e-37, 0, 1e-20, -4e-20]);
      const Q = new Int8Array(6).fill(9);
      const scales = new Float32Array(3).fill(9);
      b.quantizeRowsI8(3, 2, X, 0, Q, scales);
      expect(Array.from(scales.subarray(0, 2))).toEqual([0, 0]);
      expect(Array.from(Q)).toEqual([0, 0, 0, 0, 32, -127]); // 31.75 rounds to 32
      // f32(acc) * s below float32's smallest normal: zero on every backend (the C++ kernels flush).
      const out = new Float32Array(1);
      b.qgemmI8({ M: 1, N: 1, K: 1, A: Int8Array.from([1]), aScale: Float32Array.from([1e-20]), W: Int8Array.from([1]), wScale: Float32Array.from([1e-20]), bias: null, act: 'none', alpha: 0, out });
      expect(out[0]).toBe(0);
    });

    it('rejects a negative scale and a K beyond the int32 sums, naming the kernel', () => {
      const b = requireBackend(bt);
      for (const bad of [-1, 1e-31]) {
        expect(() => b.quantizeRowsI8(1, 2, new Float32Array(2), bad, new Int8Array(2), new Float32Array(1)))
          .toThrow(new RegExp(`^quantizeRowsI8: scale must be 0 \\(a dynamic scale per row\\) or at least 1e-30, got ${bad}$`));
      }
      const K = 131073;
      expect(() => b.qgemmI8({ M: 1, N: 1, K, A: new Int8Array(K), aScale: new Float32Array(1), W: new Int8Array(K), wScale: new Float32Array(1), bias: null, act: 'none', alpha: 0, out: new Float32Array(1) }))
        .toThrow(/^qgemmI8: K must be at most 131072 \(int32 sums\), got 131073$/);
      expect(() => b.gemmBf16({ M: 2, N: 2, K: 2, A: new Uint16Array(3), W: new Uint16Array(4), bias: null, act: 'none', alpha: 0, out: new Float32Array(4) }))
        .toThrow(/^gemmBf16: A has 3 elements, expected M\*K = 4/);
    });
  });
}

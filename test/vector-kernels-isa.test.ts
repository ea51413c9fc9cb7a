// The elementwise, activation, softmax and optimizer kernels on every SIMD path this CPU has
// (AVX-512, AVX2, portable; forced with MYELIN_SIMD in a child process) against their TS twins at
// awkward lengths, and the AVX-512 variants (exp, GELU, sigmoid, tanh) bit-identical to AVX2 where they run the same
// operations (native/kernels/*_avx512.cc).
import { beforeAll, describe, expect, it } from 'vitest';

import { backendsUnderTest } from './helpers/backends';
import { ensureDist } from './helpers/dist';
import { runTwinChild } from './helpers/twin-run';
import { freshSeed } from './helpers/reference';

const SEED = freshSeed();
const native = backendsUnderTest().find((b) => b.name === 'native');

interface TwinOut { gemmSimd: string; checked: number; total: number; disagreements: unknown[]; digests: Record<string, string> }

function runTwin(simd: string): TwinOut {
  return runTwinChild<TwinOut>('vector-twin.js', simd, [String(SEED)], 120_000);
}

describe.runIf(native !== undefined)(`vector kernels on every SIMD path vs the TS twins (seed ${SEED}; replay with MYELIN_TEST_SEED=${SEED})`, () => {
  beforeAll(() => ensureDist());
  const outs: Record<string, TwinOut> = {};
  for (const simd of ['default', 'avx2', 'scalar']) {
    it(`agree at lengths 1..257 and 70000 (${simd} C++ kernels)`, () => {
      const out = runTwin(simd);
      outs[simd] = out;
      if (simd === 'scalar') expect(out.gemmSimd).toBe('scalar');
      if (simd === 'avx2') expect(['avx2', 'scalar']).toContain(out.gemmSimd);
      expect(out.checked).toBeGreaterThan(500);
      expect(out.disagreements, `seed ${SEED}: ${out.total} disagreements`).toEqual([]);
    });
  }

  it('the AVX-512 exp, GELU, sigmoid and tanh give the AVX2 results bit for bit (and the kernels that stay at AVX2 agree too)', () => {
    const top = outs.default ?? runTwin('default');
    const avx2 = outs.avx2 ?? runTwin('avx2');
    if (top.gemmSimd !== 'avx512' || avx2.gemmSimd !== 'avx2') return; // this CPU has no two levels to compare
    const same = ['add', 'sub', 'mul', 'div', 'scale', 'mseBackward', 'addBias', 'unary exp', 'unary sqrt', 'unary neg', 'unary abs',
      'unary square', 'unary reciprocal', 'adamStep param', 'adamStep m', 'adamStep v', 'adamStep (AdamW) param',
      'rmspropStep param (momentum 0)', 'rmspropStep param (momentum 0.9)', 'rmspropStep buf',
      'activationForward gelu', 'activationBackward gelu', 'activationForward gelu special values', 'activationBackward gelu special values',
      'activationForward sigmoid', 'activationForward tanh', 'activationForward sigmoid special values', 'activationForward tanh special values',
      'activationBackward sigmoid', 'activationBackward tanh'];
    for (const k of same) expect(top.digests[k], k).toBe(avx2.digests[k]);
  });
});

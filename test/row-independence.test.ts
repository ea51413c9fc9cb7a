// A row's result does not depend on how many rows share its batch: gemm (every transpose, alpha/beta),
// the fused dense layer and whole dense stacks (forwardDense, forwardAsync) computed one row at a time
// equal, bit for bit, the same rows inside batches of 1..65 (and a 1024-row batch split across threads),
// at every C++ SIMD level (child processes, MYELIN_SIMD forcing the lower ones), 1 and 2 threads, and on
// the TypeScript backend. The old small-batch GEMV paths summed in another order (test/shard.test.ts
// flaked: shards of different sizes gave different bytes).
import { beforeAll, describe, expect, it } from 'vitest';

import { backendsUnderTest } from './helpers/backends';
import { ensureDist } from './helpers/dist';
import { runTwinChild } from './helpers/twin-run';
import { freshSeed } from './helpers/reference';

const SEED = freshSeed();
const native = backendsUnderTest().find((b) => b.name === 'native');

describe.runIf(native !== undefined)(`rows are independent of the batch size (seed ${SEED}; replay with MYELIN_TEST_SEED=${SEED})`, () => {
  beforeAll(() => ensureDist());
  for (const simd of ['default', 'avx2', 'scalar']) {
    it(`a row alone equals the row in any batch (${simd} C++ kernels, and the TS backend)`, () => {
      const out = runTwinChild<{ gemmSimd: string; checked: number; disagreements: unknown[] }>('row-independence.js', simd, [String(SEED), '16'], 240_000);
      if (simd !== 'default') expect(out.gemmSimd === simd || (simd === 'avx2' && out.gemmSimd === 'scalar')).toBe(true);
      expect(out.checked).toBeGreaterThan(100_000);
      expect(out.disagreements, `seed ${SEED}`).toEqual([]);
    });
  }
});

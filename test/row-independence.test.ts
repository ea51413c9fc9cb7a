// A row's result does not depend on how many rows share its batch: gemm (every transpose, alpha/beta),
// the fused dense layer and whole dense stacks (forwardDense, forwardAsync) computed one row at a time
// equal, bit for bit, the same rows inside batches of 1..65 (and a 1024-row batch split across threads),
// at every C++ SIMD level (child processes, MYELIN_SIMD forcing the lower ones), 1 and 2 threads, and on
// the TypeScript backend. The old small-batch GEMV paths summed in another order (test/shard.test.ts
// flaked: shards of different sizes gave different bytes).
import { spawnSync } from 'child_process';
import * as path from 'path';
import { beforeAll, describe, expect, it } from 'vitest';

import { backendsUnderTest } from './helpers/backends';
import { ensureDist, ROOT } from './helpers/dist';
import { freshSeed } from './helpers/reference';

const SEED = freshSeed();
const native = backendsUnderTest().find((b) => b.name === 'native');

describe.runIf(native !== undefined)(`rows are independent of the batch size (seed ${SEED}; replay with MYELIN_TEST_SEED=${SEED})`, () => {
  beforeAll(() => ensureDist());
  for (const simd of ['default', 'avx2', 'scalar']) {
    it(`a row alone equals the row in any batch (${simd} C++ kernels, and the TS backend)`, () => {
      const env = { ...process.env };
      if (simd === 'default') delete env.MYELIN_SIMD;
      else env.MYELIN_SIMD = simd;
      const r = spawnSync(process.execPath, [path.join(ROOT, 'test', 'helpers', 'row-independence.js'), path.join(ROOT, 'dist'), String(SEED), '16'], {
        encoding: 'utf8', env, timeout: 240_000,
      });
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { gemmSimd: string; checked: number; disagreements: unknown[] };
      if (simd !== 'default') expect(out.gemmSimd === simd || (simd === 'avx2' && out.gemmSimd === 'scalar')).toBe(true);
      expect(out.checked).toBeGreaterThan(100_000);
      expect(out.disagreements, `seed ${SEED}`).toEqual([]);
    });
  }
});

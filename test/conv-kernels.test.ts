// The C++ conv/pool kernels agree with their TypeScript twins on random geometries (awkward sizes, stride, padding, dilation, groups, depthwise) at every SIMD level.
import { spawnSync } from 'child_process';
import * as path from 'path';
import { beforeAll, describe, expect, it } from 'vitest';
import { backendsUnderTest } from './helpers/backends';
import { ensureDist, ROOT } from './helpers/dist';

const seed = (Date.now() ^ (process.pid << 12)) >>> 0;
const native = backendsUnderTest().find((b) => b.name === 'native');

describe.runIf(native !== undefined)(`conv/pool kernels: C++ vs TS twin (child process, seed ${seed})`, () => {
  beforeAll(() => ensureDist());

  // The default is the best level the CPU has (AVX-512 gemm here); avx2 and scalar cap it.
  for (const simd of ['default', 'avx2', 'scalar']) {
    it(`agree on random configurations (${simd})`, () => {
      const env = { ...process.env };
      if (simd !== 'default') env.MYELIN_SIMD = simd;
      else delete env.MYELIN_SIMD;
      const r = spawnSync(process.execPath, [path.join(ROOT, 'test', 'helpers', 'conv-twin.js'), path.join(ROOT, 'dist'), String(seed), '80'], {
        encoding: 'utf8', env, timeout: 120_000,
      });
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { simd: string; checked: number; total: number; disagreements: unknown[] };
      if (simd === 'scalar') expect(out.simd).toContain('gemm scalar');
      expect(out.checked).toBeGreaterThan(300);
      expect(out.disagreements, `seed ${seed} (${out.simd}): ${out.total} disagreements`).toEqual([]);
    });
  }
});

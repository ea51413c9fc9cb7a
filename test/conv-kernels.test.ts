// The C++ conv/pool kernels (and the fused conv + max pool) agree with their TypeScript twins on random geometries (awkward sizes, stride, padding, dilation, groups, depthwise) at every SIMD level.
import { spawnSync } from 'child_process';
import * as path from 'path';
import { beforeAll, describe, expect, it } from 'vitest';
import { backendsUnderTest } from './helpers/backends';
import { ensureDist, ROOT } from './helpers/dist';

const seed = Number(process.env.MYELIN_TEST_SEED ?? ((Date.now() ^ (process.pid << 12)) >>> 0));
const native = backendsUnderTest().find((b) => b.name === 'native');

describe.runIf(native !== undefined)(`conv/pool kernels: C++ vs TS twin (child process, seed ${seed})`, () => {
  beforeAll(() => ensureDist());

  // The default is the best level the CPU has (AVX-512 gemm here); avx2 and scalar cap it. conv-pool-twin.js:
  // the conv + max pool kernel (conv2dMaxPoolForward) against the two kernels it fuses and its TS twin.
  for (const [script, iterations, minChecked] of [['conv-twin.js', '80', 300], ['conv-pool-twin.js', '50', 60]] as const) {
    for (const simd of ['default', 'avx2', 'scalar']) {
      it(`${script}: agree on random configurations (${simd})`, () => {
        const env = { ...process.env };
        if (simd !== 'default') env.MYELIN_SIMD = simd;
        else delete env.MYELIN_SIMD;
        const r = spawnSync(process.execPath, [path.join(ROOT, 'test', 'helpers', script), path.join(ROOT, 'dist'), String(seed), iterations], {
          encoding: 'utf8', env, timeout: 120_000,
        });
        expect(r.status, r.stderr).toBe(0);
        const out = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { simd: string; checked: number; total: number; disagreements: unknown[] };
        if (simd === 'scalar') expect(out.simd).toContain('gemm scalar');
        expect(out.checked).toBeGreaterThan(minChecked);
        expect(out.disagreements, `seed ${seed} (${out.simd}): ${out.total} disagreements`).toEqual([]);
      });
    }
  }
});

// One image's convolution split across the threads by output channels (conv2dMaxPoolForward at batch 1:
// Winograd and the register-blocked direct kernel) and the packed few-row GEMV split by columns give the same
// bits at 1, 2 and 3 threads, at every SIMD level, as a batch of images split by images: the invariant of
// docs/performance.md "The same row gives the same bits at any batch size". Odd channel counts (5, 17, 33, 65)
// leave partial register blocks and uneven splits; the outputs are filled with NaN first, so an output channel
// no task wrote fails the test.
import { spawnSync } from 'child_process';
import * as path from 'path';
import { beforeAll, describe, expect, it } from 'vitest';
import { backendsUnderTest } from './helpers/backends';
import { ensureDist, ROOT } from './helpers/dist';

const seed = Number(process.env.MYELIN_TEST_SEED ?? ((Date.now() ^ (process.pid << 12)) >>> 0));
const native = backendsUnderTest().find((b) => b.name === 'native');

interface ChildOut { simd: string; threads: string; digests: Record<string, string>; problems: string[] }

function child(threads: number, simd: string): ChildOut {
  const env: NodeJS.ProcessEnv = { ...process.env, MYELIN_NUM_THREADS: String(threads) };
  if (simd !== 'default') env.MYELIN_SIMD = simd;
  else delete env.MYELIN_SIMD;
  const r = spawnSync(process.execPath, [path.join(ROOT, 'test', 'helpers', 'conv-threads-child.js'), path.join(ROOT, 'dist'), String(seed)], {
    encoding: 'utf8', env, timeout: 120_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as ChildOut;
}

describe.runIf(native !== undefined)(`convolutions and GEMV split across threads: the same bits (seed ${seed})`, () => {
  beforeAll(() => ensureDist());

  for (const simd of ['default', 'avx2', 'scalar']) {
    it(`batch 1 equals its row of a batch, at 1, 2 and 3 threads (${simd})`, () => {
      const runs = [1, 2, 3].map((t) => child(t, simd));
      for (const r of runs) expect(r.problems, `${r.threads} threads (${r.simd})`).toEqual([]);
      expect(Object.keys(runs[0].digests).length).toBe(40);
      for (const r of runs.slice(1)) expect(r.digests, `${r.threads} threads vs 1 (${r.simd})`).toEqual(runs[0].digests);
    }, 120_000);
  }
});

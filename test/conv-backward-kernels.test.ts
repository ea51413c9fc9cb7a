// The convolutions' training kernels: the Winograd weight gradient (C++ vs its TS twin and vs the direct weight
// gradient, at every SIMD level, in a child process), and finite differences through ops.conv2d at a geometry where
// the native conv2dBackward takes Winograd for dW.
import { spawnSync } from 'child_process';
import * as path from 'path';
import { beforeAll, describe, expect, it } from 'vitest';
import { noGrad } from '../lib/autograd';
import * as ops from '../lib/ops';
import { Rng } from '../lib/random';
import { Tensor } from '../lib/tensor';
import { backendsUnderTest } from './helpers/backends';
import { ensureDist, ROOT } from './helpers/dist';
import { freshRng, randomTensor, setBackend } from './helpers/gradcheck';

const seed = (Date.now() ^ (process.pid << 12)) >>> 0;
const native = backendsUnderTest().find((b) => b.name === 'native');

describe.runIf(native !== undefined)(`conv training kernels: C++ vs TS twin (child process, seed ${seed})`, () => {
  beforeAll(() => ensureDist());

  for (const simd of ['default', 'avx2', 'scalar']) {
    it(`the Winograd weight gradient agrees with its twin and the direct one on random configurations (${simd})`, () => {
      const env = { ...process.env };
      if (simd !== 'default') env.MYELIN_SIMD = simd;
      else delete env.MYELIN_SIMD;
      const r = spawnSync(process.execPath, [path.join(ROOT, 'test', 'helpers', 'conv-backward-twin.js'), path.join(ROOT, 'dist'), String(seed), '50'], {
        encoding: 'utf8', env, timeout: 120_000,
      });
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { simd: string; checked: number; total: number; disagreements: unknown[] };
      if (simd === 'scalar') expect(out.simd).toContain('gemm scalar');
      expect(out.checked).toBeGreaterThan(200);
      expect(out.disagreements, `seed ${seed} (${out.simd}): ${out.total} disagreements`).toEqual([]);
    });
  }
});

describe.runIf(native !== undefined)('conv2d at a Winograd weight-gradient geometry: finite differences (native)', () => {
  beforeAll(() => setBackend('native'));

  // 32 -> 64 channels, 3x3, padding 1, 13x12 (odd: the last tile row is half outside) and 14x14 unpadded (a 12x12 output): the native
  // forward, dX and dW all take Winograd here. The weight has 18k elements, so a sample of them (and of the input)
  // is checked, each by central differences of L = sum(y * R) in float64, R fixed random weights. Tolerance as
  // test/helpers/gradcheck.ts derives it (rtol 1e-2, atol 2e-3 at eps 1e-2), widened by the larger sums: L adds
  // 64 * 13 * 12 outputs, each a 288-term float32 dot product, so its rounding is ~6e-8 * sqrt(10^4) * |y| * sqrt(288)
  // ~ 1e-4 absolute and the differences' ~ 1e-4 / 2e-2 = 5e-3: atol 2e-2. A wrong tap or tile is off by O(1).
  const { seed: fdSeed, rng } = freshRng();
  for (const [H, W, pad] of [[13, 12, 1], [14, 14, 0]] as const) {
    it(`gradients of x and w at samples (x [2, 32, ${H}, ${W}], padding ${pad}; seed ${fdSeed})`, () => {
      const x = randomTensor(rng, [2, 32, H, W]);
      const w = randomTensor(rng, [64, 32, 3, 3], { scale: 0.1 });
      const b = randomTensor(rng, [64]);
      const y = ops.conv2d(x, w, b, { padding: pad });
      const R = new Float64Array(y.size);
      const r = new Rng((fdSeed ^ 0x9e37) >>> 0);
      for (let i = 0; i < R.length; i++) R[i] = 0.5 + r.next();
      y.backward(new Tensor(Float32Array.from(R), y.shape));
      const loss = (): number => {
        const out = noGrad(() => ops.conv2d(x, w, b, { padding: pad }));
        let s = 0;
        for (let i = 0; i < out.size; i++) s += out.data[i] * R[i];
        return s;
      };
      for (const t of [w, x]) {
        const g = (t.grad as Tensor).data;
        for (let k = 0; k < 24; k++) {
          const i = rng.int(t.size);
          const orig = t.data[i];
          t.data[i] = orig + 1e-2;
          const up = loss();
          t.data[i] = orig - 1e-2;
          const down = loss();
          t.data[i] = orig;
          const numeric = (up - down) / (Math.fround(orig + 1e-2) - Math.fround(orig - 1e-2));
          const err = Math.abs(g[i] - numeric);
          expect(err, `${t === w ? 'w' : 'x'}[${i}]: autograd ${g[i]}, finite difference ${numeric} (seed ${fdSeed})`)
            .toBeLessThanOrEqual(2e-2 + 1e-2 * Math.max(Math.abs(g[i]), Math.abs(numeric)));
        }
      }
    });
  }
});

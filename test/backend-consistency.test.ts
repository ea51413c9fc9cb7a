// One numeric rule for both backends and every size: the TS twin and the C++ kernels on special values, and the cases.
//
// The native backend runs tiny calls (flat <= 48 elements, M*N*K <= 256) on the TS twin, so a
// difference between the twin and C++ makes results depend on the size. The rule (contract.ts):
// IEEE float32 semantics for special values, scalars crossing as float32, sums in one fixed order,
// softmax rows holding NaN/+Infinity all NaN, empty dimensions accepted; expected values follow
// PyTorch 1.13 (torch.log_softmax([inf, 0]) = [nan, nan], zeros(3, 0).mean(1) = [nan]*3, ...).
import { spawnSync } from 'child_process';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { setBackend, getBackend } from '../lib/backend/select';
import { Tensor, ones, zeros } from '../lib/tensor';
import { backendsUnderTest } from './helpers/backends';
import { ensureDist, ROOT } from './helpers/dist';
import { freshSeed } from './helpers/reference';

const seed = freshSeed();
const native = backendsUnderTest().find((b) => b.name === 'native');

describe.runIf(native !== undefined)(`C++ kernels vs their TS twins on special values (child process, seed ${seed})`, () => {
  beforeAll(() => ensureDist());

  for (const simd of ['default', 'scalar']) {
    it(`agree by the contract's rule (${simd} C++ kernels)`, () => {
      const env = { ...process.env };
      if (simd === 'scalar') env.MYELIN_SIMD = 'scalar';
      const r = spawnSync(process.execPath, [path.join(ROOT, 'test', 'helpers', 'backend-fuzz.js'), path.join(ROOT, 'dist'), String(seed)], {
        encoding: 'utf8', env, timeout: 120_000,
      });
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { checked: number; total: number; disagreements: unknown[] };
      expect(out.checked).toBeGreaterThan(10_000);
      expect(out.disagreements, `seed ${seed}: ${out.total} disagreements`).toEqual([]);
    });
  }
});

const names = backendsUnderTest().some((b) => b.name === 'native') ? (['native', 'js'] as const) : (['js'] as const);

/** Sizes on both sides of the tiny-call threshold. */
const SIZES = [3, 64];

function values(t: Tensor): number[] {
  return Array.from(t.data);
}

describe('the same results on both backends and at every size', () => {
  const before = getBackend().name;
  afterAll(() => setBackend(before));

  for (const name of names) {
    describe(`${name} backend`, () => {
      beforeAll(() => setBackend(name));

      it('x * Infinity and x * NaN are IEEE arithmetic, not an error', () => {
        for (const n of SIZES) {
          setBackend(name);
          expect(values(ones([n]).mul(Infinity)), `n=${n}`).toEqual(new Array(n).fill(Infinity));
          expect(values(ones([n]).mul(-Infinity)), `n=${n}`).toEqual(new Array(n).fill(-Infinity));
          expect(values(zeros([n]).mul(Infinity)).every(Number.isNaN), `0 * inf, n=${n}`).toBe(true);
          expect(values(ones([n]).mul(NaN)).every(Number.isNaN), `n=${n}`).toBe(true);
          expect(values(ones([n]).div(0)), `n=${n}`).toEqual(new Array(n).fill(Infinity));
        }
      });

      it('the mean over an empty axis is NaN, the sum 0', () => {
        for (const n of SIZES) {
          setBackend(name);
          const m = zeros([n, 0]).mean(1);
          expect(m.shape).toEqual([n]);
          expect(values(m).every(Number.isNaN), `zeros([${n},0]).mean(1)`).toBe(true);
          expect(values(zeros([0, n]).mean(0)).every(Number.isNaN), `zeros([0,${n}]).mean(0)`).toBe(true);
          expect(values(zeros([n, 0]).sum(1))).toEqual(new Array(n).fill(0));
        }
        expect(Number.isNaN(zeros([0]).mean().item())).toBe(true);
      });

      it('matmul accepts empty dimensions, 2-D and batched, forward and backward', () => {
        for (const n of SIZES) {
          setBackend(name);
          const cases: [number[], number[], number[]][] = [
            [[n, 0], [0, 4], [n, 4]],
            [[0, n], [n, 4], [0, 4]],
            [[2, n, 0], [2, 0, 4], [2, n, 4]],
            [[2, 0, n], [2, n, 4], [2, 0, 4]],
            [[0, 3, n], [0, n, 4], [0, 3, 4]],
            [[2, 3, n], [2, n, 0], [2, 3, 0]],
            [[2, n, 0], [0, 4], [2, n, 4]],
            [[n, 0], [2, 0, 4], [2, n, 4]],
          ];
          for (const [sa, sb, sc] of cases) {
            const a = ones(sa, { requiresGrad: true });
            const b = ones(sb, { requiresGrad: true });
            const c = a.matmul(b);
            expect(c.shape, `${JSON.stringify(sa)} @ ${JSON.stringify(sb)}`).toEqual(sc);
            expect(values(c).every((v) => v === 0 || v === sa[sa.length - 1])).toBe(true);
            c.sum().backward();
            expect(a.grad!.shape).toEqual(sa);
            expect(b.grad!.shape).toEqual(sb);
          }
        }
      });

      it('softmax rows holding +Infinity or NaN are NaN; huge logits keep their log-sum-exp', () => {
        for (const n of SIZES) {
          setBackend(name);
          for (const special of [Infinity, NaN]) {
            const x = zeros([1, n]);
            x.data[0] = special;
            expect(values(x.logSoftmax()).every(Number.isNaN), `logSoftmax([${special}, 0...]) n=${n}`).toBe(true);
            expect(values(x.softmax()).every(Number.isNaN), `softmax([${special}, 0...]) n=${n}`).toBe(true);
          }
          const allNegInf = zeros([1, n]);
          allNegInf.data.fill(-Infinity);
          expect(values(allNegInf.logSoftmax()).every(Number.isNaN), `logSoftmax(all -inf) n=${n}`).toBe(true);
          // Two logits of 3e38: log-softmax -log 2 each (mx + log 2 in float64 would lose the log 2).
          const big = zeros([1, n]);
          big.data[0] = 3e38;
          big.data[1] = 3e38;
          const ls = values(big.logSoftmax());
          expect(ls[0]).toBeCloseTo(-Math.LN2, 6);
          expect(ls[1]).toBeCloseTo(-Math.LN2, 6);
          expect(ls[2]).toBe(Math.fround(-3e38));
        }
      });
    });
  }

  it('sums with catastrophic cancellation are identical on every backend and size', () => {
    const got = new Map<string, number>();
    for (const n of [5, 17, 48, 49, 64, 70_000]) {
      const x = zeros([n]);
      const pattern = [3e38, -3e38, -88, 1e-20, 88, 1e10, 1, -1e10];
      for (let i = 0; i < n; i++) x.data[i] = pattern[i % pattern.length] * (1 + (i % 7) * 1e-3);
      for (const name of names) {
        setBackend(name);
        got.set(`${name} n=${n}`, x.sum().item());
      }
      const native = got.get(`native n=${n}`);
      if (native !== undefined) expect(got.get(`js n=${n}`), `n=${n}`).toBe(native);
    }
  });
});

// Tests of the benchmark harness maths: quantiles, summaries, rate conversion, interleaved timing.
import { Rng } from '../lib/random';
import { freshSeed } from './helpers/reference';
import { describe, it, expect } from 'vitest';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { quantileSorted, median, summarize, rateFromTime } = require('../bench/lib/stats.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { runInterleaved } = require('../bench/lib/measure.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { computeSpeedups } = require('../bench/lib/cases.js');

const seed = freshSeed();
function rand(s: number): () => number {
  const g = new Rng(s >>> 0);
  return () => g.next();
}

describe('bench stats', () => {
  it('median of odd and even counts, unsorted input', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });

  it('quantiles interpolate linearly (numpy default)', () => {
    const s = [1, 2, 3, 4, 5];
    expect(quantileSorted(s, 0)).toBe(1);
    expect(quantileSorted(s, 1)).toBe(5);
    expect(quantileSorted(s, 0.25)).toBe(2);
    expect(quantileSorted([10, 20], 0.25)).toBeCloseTo(12.5, 12);
    expect(() => quantileSorted([], 0.5)).toThrow(/no samples/);
    expect(() => quantileSorted([1], 1.5)).toThrow(/q must be/);
  });

  it('summarize matches a brute-force reference on random samples', () => {
    const r = rand(seed);
    try {
      for (let trial = 0; trial < 50; trial++) {
        const n = 1 + Math.floor(r() * 30);
        const xs = Array.from({ length: n }, () => r() * 100);
        const s = summarize(xs);
        const sorted = [...xs].sort((a, b) => a - b);
        const q = (p: number) => {
          const pos = (n - 1) * p;
          const lo = Math.floor(pos);
          return sorted[lo] + (sorted[Math.ceil(pos)] - sorted[lo]) * (pos - lo);
        };
        expect(s.n).toBe(n);
        expect(s.min).toBe(sorted[0]);
        expect(s.max).toBe(sorted[n - 1]);
        expect(s.median).toBeCloseTo(q(0.5), 10);
        expect(s.iqr).toBeCloseTo(q(0.75) - q(0.25), 10);
        expect(s.mean).toBeCloseTo(xs.reduce((a, b) => a + b, 0) / n, 10);
        expect(s.q1).toBeLessThanOrEqual(s.median);
        expect(s.median).toBeLessThanOrEqual(s.q3);
      }
    } catch (e) {
      console.error(`bench-stats seed ${seed}`);
      throw e;
    }
  });

  it('summarize rejects empty and non-finite input', () => {
    expect(() => summarize([])).toThrow(/no samples/);
    expect(() => summarize([1, NaN])).toThrow(/non-finite/);
  });

  it('rateFromTime inverts times: fastest time is the highest rate', () => {
    const t = summarize([0.5, 1, 2]);
    const r = rateFromTime(t, 10);
    expect(r.median).toBe(10);
    expect(r.max).toBe(20);
    expect(r.min).toBe(5);
  });

  it('computeSpeedups divides the baseline median time by each candidate', () => {
    const rec = {
      baseline: 'naive',
      candidates: {
        naive: { status: 'ok', time: { median: 8 } },
        native: { status: 'ok', time: { median: 2 } },
        js: { status: 'skipped', reason: 'too big' },
      },
    };
    computeSpeedups(rec);
    expect((rec as unknown as { speedup: Record<string, number> }).speedup).toEqual({ native: 4 });
  });

  it('computeSpeedups falls back to the fallback baseline when the baseline was skipped', () => {
    const rec = {
      baseline: 'naive',
      fallbackBaseline: 'js',
      candidates: {
        naive: { status: 'skipped', reason: 'too big' },
        js: { status: 'ok', time: { median: 6 } },
        native: { status: 'ok', time: { median: 2 } },
      },
    };
    computeSpeedups(rec);
    const r = rec as unknown as { speedup: Record<string, number>; speedupBaseline: string | null };
    expect(r.speedup).toEqual({ native: 3 });
    expect(r.speedupBaseline).toBe('js');
    const none = { baseline: 'naive', candidates: { naive: { status: 'skipped', reason: 'x' }, native: { status: 'ok', time: { median: 1 } } } };
    computeSpeedups(none);
    expect((none as unknown as { speedupBaseline: string | null }).speedupBaseline).toBeNull();
  });
});

describe('bench interleaved timing', () => {
  it('runs every candidate reps times in rotated order and reports per-op times', async () => {
    const order: string[] = [];
    let spin = 0;
    const busy = (n: number) => {
      for (let i = 0; i < n; i++) spin += Math.sqrt(i);
    };
    const mk = (name: string, work: number) => ({ name, iters: 3, before: () => order.push(name), fn: () => busy(work) });
    const res = await runInterleaved([mk('a', 2000), mk('b', 20000), mk('c', 200)], { reps: 4, warmup: 1, targetSec: 0.001 });
    expect(spin).toBeGreaterThan(0);
    for (const n of ['a', 'b', 'c']) {
      expect(res[n].samples).toHaveLength(4);
      expect(res[n].iters).toBe(3);
      expect(res[n].time.n).toBe(4);
      for (const s of res[n].samples) expect(s).toBeGreaterThan(0);
    }
    // Timed blocks (after 3 probe/warm-up blocks per candidate at the start) rotate the order.
    const timed = order.slice(6);
    expect(timed.slice(0, 3)).toEqual(['a', 'b', 'c']);
    expect(timed.slice(3, 6)).toEqual(['b', 'c', 'a']);
    expect(timed.slice(6, 9)).toEqual(['c', 'a', 'b']);
  });

  it('opsPerCall divides the time and duplicate names are rejected', async () => {
    const res = await runInterleaved([{ name: 'x', iters: 1, opsPerCall: 1000, fn: () => undefined }], { reps: 2, warmup: 0 });
    expect(res.x.samples).toHaveLength(2);
    await expect(runInterleaved([{ name: 'x', fn: () => 0 }, { name: 'x', fn: () => 0 }], { reps: 1 })).rejects.toThrow(/duplicate/);
  });

  it('awaits async candidates', async () => {
    let done = 0;
    const res = await runInterleaved(
      [{ name: 'p', async: true, iters: 2, fn: () => new Promise<void>((r) => setTimeout(() => { done++; r(); }, 2)) }],
      { reps: 2, warmup: 0 },
    );
    // Fixed iters and no warm-up: no probe call, 2 reps x 2 calls, all settled before it returned.
    expect(done).toBe(4);
    expect(res.p.samples).toHaveLength(2);
  });
});

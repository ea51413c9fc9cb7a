// Dynamic batching (lib/serve/batcher.ts): concurrent calls joined into one forwardAsync call, rows sliced back, errors isolated, windows, abort, no timers left behind.
import { spawnSync } from 'child_process';
import * as path from 'path';
import { beforeAll, describe, expect, it } from 'vitest';

import type { Backend } from '../lib/backend/contract';
import { Linear, ReLU, Sequential, Softmax, Tanh } from '../lib/nn';
import { batcher, predictAsync } from '../lib/serve';
import { Tensor, randn } from '../lib/tensor';
import { backendsUnderTest, requireBackend } from './helpers/backends';
import { ensureDist, ROOT } from './helpers/dist';

const seed = (Date.now() ^ (process.pid << 12)) >>> 0;
const note = (m: string): string => `${m} (seed ${seed})`;

function model(s: number, inF = 12): Sequential {
  return new Sequential(
    new Linear(inF, 24, { seed: s }), new ReLU(), new Linear(24, 16, { seed: s + 1 }), new Tanh(), new Linear(16, 5, { seed: s + 2 }), new Softmax(),
  );
}

/** The backend with every forwardAsync call's row count recorded (and, optionally, made to fail). */
function counting(backend: Backend): { backend: Backend; calls: number[]; inline: number[]; failNext: (message: string) => void } {
  const calls: number[] = [];
  const inline: number[] = [];
  let fail: string | null = null;
  const wrapped = Object.create(backend) as Backend;
  wrapped.forwardAsync = (M, layers, X, out, softmax) => {
    calls.push(M);
    if (fail !== null) {
      const message = fail;
      fail = null;
      return Promise.reject(new Error(message));
    }
    return backend.forwardAsync(M, layers, X, out, softmax);
  };
  // A small request finding the batcher idle runs inline: forwardDense on its frozen plan.
  wrapped.forwardDense = (M, layers, X, out, softmax) => {
    if (!Array.isArray(layers)) {
      calls.push(M);
      inline.push(M);
    }
    if (fail !== null) {
      const message = fail;
      fail = null;
      throw new Error(message);
    }
    backend.forwardDense(M, layers, X, out, softmax);
  };
  return { backend: wrapped, calls, inline, failNext: (m) => { fail = m; } };
}

function worstDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return worst;
}

const rowsOf = (x: Tensor, start: number, n: number): Tensor => new Tensor(x.data.slice(start * x.shape[1], (start + n) * x.shape[1]), [n, x.shape[1]]);
const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

const backends = backendsUnderTest().filter((b) => b.label !== 'native, C++ at every size');

for (const b of backends) {
  describe(`batching on the ${b.name} backend`, () => {
    it('concurrent calls of mixed row counts join forwardAsync calls and each gets its own rows, equal to predict', async () => {
      const { backend, calls } = counting(requireBackend(b));
      const m = model(seed % 1000);
      const sizes = Array.from({ length: 40 }, (_, i) => [1, 1, 2, 3, 1, 5, 17, 1][(i + seed) % 8]);
      const total = sizes.reduce((s, n) => s + n, 0);
      const x = randn([total, 12], { seed });
      const want = m.predict(x).data;
      const bat = batcher(m, { backend, batchWindowMs: 5, maxBatchRows: 1000 });
      let start = 0;
      const pending = sizes.map((n, i) => {
        const part = rowsOf(x, start, n);
        start += n;
        // Every third call passes a flat Float32Array with its row width.
        return i % 3 === 0 ? bat.predict(part.data, { features: 12 }) : bat.predict(part);
      });
      const got = await Promise.all(pending);
      start = 0;
      got.forEach((y, i) => {
        expect(y.shape, note(`call ${i}`)).toEqual([sizes[i], 5]);
        expect(worstDiff(y.data, want.subarray(start * 5, (start + sizes[i]) * 5)), note(`call ${i}`)).toBeLessThan(2e-5);
        start += sizes[i];
      });
      // All 40 calls were made in one turn within the window: one forwardAsync call for all rows.
      expect(calls).toEqual([total]);
      expect(bat.stats).toEqual({ requests: 40, batches: 1, rows: total, largestBatch: total });
      // Each caller owns its result: writing into one does not change another.
      got[0].data.fill(7);
      expect(Array.from(got[1].data)).not.toContain(7);
    });

    it('predictAsync batches small concurrent calls by default; batch: false runs each alone', async () => {
      const { backend, calls } = counting(requireBackend(b));
      const m = model(5);
      const x = randn([30, 12], { seed: seed + 1 });
      const want = m.predict(x).data;
      const one = await Promise.all(Array.from({ length: 30 }, (_, i) => predictAsync(m, rowsOf(x, i, 1), { backend })));
      one.forEach((y, i) => expect(worstDiff(y.data, want.subarray(i * 5, i * 5 + 5)), note(`row ${i}`)).toBeLessThan(2e-5));
      // The first call finds the model idle and goes at once (inline on the native backend); the other 29 gather.
      expect(calls.length).toBeLessThanOrEqual(2);
      expect(calls.reduce((s, n) => s + n, 0)).toBe(30);
      calls.length = 0;
      await Promise.all(Array.from({ length: 30 }, (_, i) => predictAsync(m, rowsOf(x, i, 1), { backend, batch: false })));
      expect(calls).toEqual(Array(30).fill(1));
    });

    it('a small call on an idle model runs at once (inline on the native backend): same bits as predict, its input free to change', async () => {
      const { backend, calls, inline } = counting(requireBackend(b));
      const m = model(seed % 997);
      const x = randn([3, 12], { seed: seed + 7 });
      const want = m.predict(x).data;
      for (let i = 0; i < 3; i++) {
        const row = rowsOf(x, i, 1);
        const pending = predictAsync(m, row, { backend });
        row.data.fill(Number.NaN); // the call took what it needs when it was made
        const y = await pending;
        // Native: the frozen plan's packed product gives predict's bits; the TS backend's async slices agree to rounding.
        if (b.name === 'native') expect(Array.from(y.data), note(`row ${i}`)).toEqual(Array.from(want.subarray(i * 5, i * 5 + 5)));
        else expect(worstDiff(y.data, want.subarray(i * 5, i * 5 + 5)), note(`row ${i}`)).toBeLessThan(2e-5);
      }
      expect(calls).toEqual([1, 1, 1]);
      expect(inline).toEqual(b.name === 'native' ? [1, 1, 1] : []);
    });

    it('a bad input or bad options reject only their caller; the others run in one call', async () => {
      const { backend, calls } = counting(requireBackend(b));
      const m = model(9);
      const x = randn([6, 12], { seed: seed + 2 });
      const want = m.predict(x).data;
      const bat = batcher(m, { backend, batchWindowMs: 5 });
      const results = await Promise.allSettled([
        bat.predict(rowsOf(x, 0, 2)),
        bat.predict(randn([3, 11])),
        bat.predict(new Float32Array(24)),
        bat.predict(rowsOf(x, 2, 3)),
        bat.predict(x, { features: 13 }),
        bat.predict(rowsOf(x, 5, 1), { rows: 2 } as never),
        bat.predict(rowsOf(x, 5, 1), { signal: 'stop' } as never),
        bat.predict(rowsOf(x, 5, 1)),
      ]);
      const reasons = results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : null));
      expect(reasons[1]).toMatch(/input of shape \[3,11\] does not match the model's 12 input features/);
      expect(reasons[2]).toMatch(/flat Float32Array \(24 values\) has no row width/);
      expect(reasons[4]).toMatch(/options.features = 13 disagrees with the input tensor of shape \[6,12\]/);
      expect(reasons[5]).toMatch(/options.rows = 2 disagrees/);
      expect(reasons[6]).toMatch(/signal must be an AbortSignal, got 'stop' \(a string\)/);
      const good = [[0, 0, 2], [3, 2, 3], [7, 5, 1]];
      for (const [i, s, n] of good) {
        expect(results[i].status).toBe('fulfilled');
        const y = (results[i] as PromiseFulfilledResult<Tensor>).value;
        expect(worstDiff(y.data, want.subarray(s * 5, (s + n) * 5)), note(`call ${i}`)).toBeLessThan(2e-5);
      }
      expect(calls).toEqual([6]);
    });

    it('a failing forwardAsync call rejects every caller in it, and the next batch runs', async () => {
      const { backend, calls, failNext } = counting(requireBackend(b));
      const m = model(13);
      const bat = batcher(m, { backend, batchWindowMs: 5 });
      failNext('forwardAsync: out of memory allocating scratch buffers');
      const first = await Promise.allSettled([1, 2, 3].map((n) => bat.predict(randn([n, 12]))));
      for (const r of first) {
        expect(r.status).toBe('rejected');
        expect(((r as PromiseRejectedResult).reason as Error).message).toBe('forwardAsync: out of memory allocating scratch buffers');
      }
      const x = randn([4, 12], { seed: seed + 3 });
      expect(worstDiff((await bat.predict(x)).data, m.predict(x).data)).toBeLessThan(2e-5);
      expect(calls).toEqual([6, 4]);
    });

    it('flushes by size at once and by time when the window ends; larger requests run alone', async () => {
      const { backend, calls } = counting(requireBackend(b));
      const m = model(17);
      // A long window: only reaching maxBatchRows can send these batches within the test's time.
      const bySize = batcher(m, { backend, batchWindowMs: 60_000, maxBatchRows: 4 });
      const full = [bySize.predict(randn([1, 12])), bySize.predict(randn([3, 12])), bySize.predict(randn([2, 12])), bySize.predict(randn([2, 12]))];
      // 1 + 3 rows filled the first batch: sent synchronously. 2 + 2 filled the second, which waits
      // for the first to finish (maxInFlight 1).
      expect(calls).toEqual([4]);
      const alone = bySize.predict(randn([9, 12]));
      expect(calls).toEqual([4, 9]); // too large to batch: its own call, at once
      await Promise.all([...full, alone]);
      expect(calls).toEqual([4, 9, 4]);

      // A short window: the batch waits for it (nothing sent in the same turn), then goes without being full.
      const byTime = batcher(m, { backend, batchWindowMs: 20, maxBatchRows: 1000 });
      calls.length = 0;
      const p = [byTime.predict(randn([2, 12])), byTime.predict(randn([1, 12]))];
      await nextTurn();
      expect(calls).toEqual([]);
      await Promise.all(p);
      expect(calls).toEqual([3]);
    });

    it('requests made before and after a weight change never share a call', async () => {
      const { backend, calls } = counting(requireBackend(b));
      const m = model(21);
      const x = randn([3, 12], { seed: seed + 4 });
      const bat = batcher(m, { backend, batchWindowMs: 5 });
      const wantOld = m.predict(x).data.slice();
      const a = bat.predict(x);
      const sd: Record<string, Float32Array> = {};
      for (const [k, t] of m.namedParameters()) sd[k] = t.data.map((v) => v * 0.5);
      m.loadStateDict(sd);
      const wantNew = m.predict(x).data.slice();
      const c = bat.predict(x);
      expect(worstDiff((await a).data, wantOld)).toBeLessThan(2e-5);
      expect(worstDiff((await c).data, wantNew)).toBeLessThan(2e-5);
      expect(worstDiff(wantOld, wantNew)).toBeGreaterThan(1e-3);
      expect(calls).toEqual([3, 3]);
    });

    it('an AbortSignal rejects its request; a queued request leaves its batch', async () => {
      const { backend, calls } = counting(requireBackend(b));
      const m = model(25);
      const bat = batcher(m, { backend, batchWindowMs: 5 });
      const x = randn([4, 12], { seed: seed + 5 });
      const ac = new AbortController();
      const kept = bat.predict(rowsOf(x, 0, 1));
      const dropped = bat.predict(rowsOf(x, 1, 3), { signal: ac.signal });
      ac.abort();
      await expect(dropped).rejects.toMatchObject({ name: 'AbortError' });
      expect(worstDiff((await kept).data, m.predict(rowsOf(x, 0, 1)).data)).toBeLessThan(2e-5);
      expect(calls).toEqual([1]); // the aborted rows were never sent
      // Already aborted: rejected at once with the given reason, nothing queued.
      await expect(bat.predict(x, { signal: AbortSignal.abort(new Error('client went away')) })).rejects.toThrow('client went away');
      // Aborted while running: rejected without waiting for the result.
      const late = new AbortController();
      const running = predictAsync(m, randn([2, 12]), { backend, signal: late.signal, batch: false });
      late.abort();
      await expect(running).rejects.toMatchObject({ name: 'AbortError' });
      expect(calls).toEqual([1, 2]);
      // A lone aborted request in a long window leaves no timer behind.
      const slow = batcher(m, { backend, batchWindowMs: 60_000 });
      const ac2 = new AbortController();
      const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
      const gone = slow.predict(x, { signal: ac2.signal });
      expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(timersBefore + 1);
      ac2.abort();
      await expect(gone).rejects.toMatchObject({ name: 'AbortError' });
      expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(timersBefore);
    });
  });
}

describe('batcher options', () => {
  it('are checked, naming the option and the value', () => {
    const m = model(1);
    expect(() => batcher(m, { batchWindowMs: -1 })).toThrow('batcher: batchWindowMs must be a non-negative finite number, got -1');
    expect(() => batcher(m, { maxBatchRows: 0 })).toThrow('batcher: maxBatchRows must be a positive integer, got 0');
    expect(() => batcher(m, { maxInFlight: 1.5 })).toThrow('batcher: maxInFlight must be a positive integer, got 1.5');
    expect(() => batcher(m, { window: 1 } as never)).toThrow("batcher: unknown option 'window' (accepted: batchWindowMs, maxBatchRows, maxInFlight, backend)");
    expect(() => batcher(m, { maxBatchRow: 8 } as never)).toThrow("batcher: unknown option 'maxBatchRow' (did you mean 'maxBatchRows'?");
    expect(batcher(m)).toMatchObject({ batchWindowMs: 0, maxBatchRows: 32, maxInFlight: 1 });
  });

  it('predictAsync checks batch and signal', async () => {
    const m = model(1);
    await expect(predictAsync(m, randn([1, 12]), { batch: 1 } as never)).rejects.toThrow('predictAsync: batch must be true or false, got 1');
    await expect(predictAsync(m, randn([1, 12]), { signal: {} } as never)).rejects.toThrow('predictAsync: signal must be an AbortSignal, got {} (an object)');
  });
});

describe('no timer outlives the requests (child process)', () => {
  beforeAll(() => ensureDist());

  it('a script awaiting batched calls with a window gets its results and exits by itself', () => {
    const script = `
      const { nn, tensor, serve } = require(${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))});
      const m = new nn.Sequential(new nn.Linear(4, 3, { seed: 1 }), new nn.ReLU(), new nn.Linear(3, 2, { seed: 2 }));
      const x = tensor(new Float32Array([1, 2, 3, 4]), [1, 4]);
      (async () => {
        const b = serve.batcher(m, { batchWindowMs: 200 });
        const [a, c] = await Promise.all([b.predict(x), m.predictAsync(x)]);
        const d = await m.predictAsync(x); // alone: goes at once
        const left = process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'Immediate');
        console.log(JSON.stringify({ a: Array.from(a.data), c: Array.from(c.data), d: Array.from(d.data), left }));
      })();
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim()) as { a: number[]; c: number[]; d: number[]; left: string[] };
    expect(out.a).toHaveLength(2);
    expect(out.c).toEqual(out.a);
    expect(out.d).toEqual(out.a);
    expect(out.left).toEqual([]);
  });
});

// predictAsync under stress: weight buffers transferred mid-call, workers ended mid-call, training mid-call, bad options.
import { spawnSync } from 'child_process';
import * as path from 'path';
import { beforeAll, describe, expect, it } from 'vitest';

import type { Backend } from '../lib/backend/contract';
import { Linear, ReLU, Sequential, Softmax, Tanh } from '../lib/nn';
import { SGD } from '../lib/optim';
import { predictAsync } from '../lib/serve';
import { Tensor, randn } from '../lib/tensor';
import { fit } from '../lib/train';
import { backendsUnderTest, requireBackend } from './helpers/backends';
import { ensureDist, ROOT } from './helpers/dist';

const DIST = path.join(ROOT, 'dist');
const seed = (Date.now() ^ (process.pid << 12)) >>> 0;
const note = (m: string): string => `${m} (seed ${seed})`;

/**
 * Runs a helper script in a child node process; a crash or hang shows as a signal / timeout in the result.
 * The limit is generous (CI also runs this file under AddressSanitizer on a shared 2-core machine, where the
 * ten teardown cases took over 120 s); a real hang still ends it, reported as a timeout, not as a crash.
 */
const CHILD_TIMEOUT_MS = 300_000;
function runChild(script: string, args: string[], nodeFlags: string[] = []): { json: Record<string, unknown> | null; status: number | null; signal: string | null; stderr: string } {
  const r = spawnSync(process.execPath, [...nodeFlags, path.join(ROOT, 'test', 'helpers', script), ...args], {
    encoding: 'utf8', timeout: CHILD_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024,
  });
  const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  let json: Record<string, unknown> | null = null;
  try {
    json = JSON.parse(line) as Record<string, unknown>;
  } catch {
    json = null;
  }
  const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  const stderr = (timedOut ? `timed out after ${CHILD_TIMEOUT_MS / 1000} s (hang?)\n` : '') + (r.stderr ?? '').slice(-2000);
  return { json, status: r.status, signal: r.signal, stderr };
}

/** Largest |a - b| relative to 1 + |b|. */
function worstDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i]));
    worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
  }
  return worst;
}

const backends = backendsUnderTest().filter((b) => b.label !== 'native, C++ at every size');

describe('predictAsync while weight buffers are transferred (child process, forced GC)', () => {
  beforeAll(() => ensureDist());

  for (const b of backends) {
    it(`${b.name}: pending calls resolve with the weights of the call; a detached weight or output is a clear Error`, () => {
      requireBackend(b);
      const r = runChild('predict-async-transfer.js', [DIST, b.name, b.name === 'js' ? '256' : '2048'], ['--expose-gc']);
      expect(r.signal, `child crashed: ${r.stderr}`).toBeNull();
      expect(r.status, r.stderr).toBe(0);
      const { rounds, binding } = r.json as { rounds: Record<string, unknown>[]; binding: Record<string, unknown> };
      expect(binding.xDetachedError, JSON.stringify(binding)).toBeUndefined();
      expect(binding.xDetachedDiff, JSON.stringify(binding)).toBeLessThan(1e-6);
      expect(binding.outDetached).toBe('forwardAsync: out was detached (its ArrayBuffer transferred) before the result was ready');
      expect(rounds).toHaveLength(6);
      for (const round of rounds) {
        const label = JSON.stringify(round);
        expect(round.pendingError, label).toBeUndefined();
        expect(round.maxDiff, label).toBe(0); // the same kernels on the same weights: bit for bit
        if (round.replace) {
          expect(round.nextDiff, label).toBe(0);
        } else {
          expect(round.nextError, label).toMatch(/parameter '0\.weight' has 0 values but its shape \[512,256\] needs 131072: its ArrayBuffer was detached/);
        }
      }
    });
  }
});

const nativeEntry = backendsUnderTest().find((b) => b.name === 'native');

describe.runIf(nativeEntry !== undefined)('worker.terminate() / process.exit() in a worker with predictAsync pending (child process)', () => {
  beforeAll(() => ensureDist());

  it('ends only that worker, at every moment of the call; the process keeps working', () => {
    requireBackend(nativeEntry!);
    const r = runChild('predict-async-teardown.js', [DIST]);
    expect(r.signal, `child crashed: ${r.stderr}`).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    const { cases, mainThreadDiff, backend } = r.json as {
      cases: { moment: string; how: string; code: number; error: string | null }[]; mainThreadDiff: number; backend: string;
    };
    expect(backend).toBe('native');
    expect(cases.map((c) => `${c.moment}/${c.how}`)).toEqual([
      'queued/terminate', 'queued/exit', 'running/terminate', 'running/exit', 'finished/terminate', 'finished/exit',
      'settled/terminate', 'settled/exit', 'several/terminate', 'several/exit',
    ]);
    for (const c of cases) {
      expect(c.error, JSON.stringify(c)).toBeNull();
      expect(c.code, JSON.stringify(c)).toBe(c.how === 'exit' ? 3 : 1);
    }
    expect(mainThreadDiff).toBeLessThan(1e-6);
  }, CHILD_TIMEOUT_MS + 30_000);
});

/** An MLP big enough that a 2048-row forward pass takes a while on the pool. */
function mlp(s: number): Sequential {
  return new Sequential(
    new Linear(64, 256, { seed: s }), new ReLU(), new Linear(256, 256, { seed: s + 1 }), new Tanh(),
    new Linear(256, 10, { seed: s + 2 }), new Softmax(),
  );
}

function labels(n: number, s: number): Int32Array {
  const y = new Int32Array(n);
  let v = s >>> 0;
  for (let i = 0; i < n; i++) {
    v = (Math.imul(v, 1664525) + 1013904223) >>> 0;
    y[i] = v % 10;
  }
  return y;
}

interface Pending {
  want: Float32Array;
  got: Promise<Tensor>;
}

/** Every pending result equals predict() at its call and differs from the other versions' results. */
async function expectEachFromItsOwnVersion(calls: Pending[], what: string): Promise<void> {
  const results = await Promise.all(calls.map((c) => c.got));
  expect(calls.length).toBeGreaterThan(3);
  for (let i = 0; i < calls.length; i++) {
    expect(worstDiff(results[i].data, calls[i].want), note(`${what}: call ${i} vs the weights at its call`)).toBeLessThan(1e-5);
  }
  // The weights really changed between calls: far more than the tolerance above.
  for (let i = 1; i < calls.length; i++) {
    expect(worstDiff(calls[i].want, calls[i - 1].want), note(`${what}: versions ${i - 1} and ${i} differ`)).toBeGreaterThan(1e-3);
  }
}

for (const b of backends) {
  describe(`predictAsync while the same model trains (${b.name} forwardAsync)`, () => {
    it('fit: a call made after each batch returns the outputs of the weights at that moment', async () => {
      const backend = requireBackend(b);
      const m = mlp(seed % 1000);
      const x = randn([2048, 64], { seed: seed + 1 });
      const data = { x: randn([256, 64], { seed: seed + 2 }), y: labels(256, seed) };
      const calls: Pending[] = [];
      await fit(m, data, {
        epochs: 1, batchSize: 32, verbose: 0, optimizer: new SGD(m.parameters(), { lr: 0.5 }),
        onBatchEnd: () => {
          calls.push({ want: m.predict(x).data.slice(), got: predictAsync(m, x, { backend, batchSize: 1024 }) });
        },
      });
      await expectEachFromItsOwnVersion(calls, 'fit');
    });

    it('optimizer steps right after the call (weights change while the pass runs)', async () => {
      const backend = requireBackend(b);
      const m = mlp(seed % 1000 + 7);
      const opt = new SGD(m.parameters(), { lr: 0.05 });
      const x = randn([2048, 64], { seed: seed + 3 });
      const batch = randn([32, 64], { seed: seed + 4 });
      const target = randn([32, 10], { seed: seed + 5 });
      const calls: Pending[] = [];
      for (let round = 0; round < 6; round++) {
        calls.push({ want: m.predict(x).data.slice(), got: predictAsync(m, x, { backend }) });
        for (let step = 0; step < 3; step++) {
          opt.zeroGrad();
          m.forward(batch).mul(target).sum().backward();
          opt.step();
        }
      }
      await expectEachFromItsOwnVersion(calls, 'steps');
    });
  });
}

describe('predictAsync copies the weights once per change', () => {
  /** The active backend with freezePlan calls counted. */
  function counting(base: Backend): { backend: Backend; freezes: () => number } {
    let n = 0;
    const backend: Backend = { ...base, freezePlan: (layers) => { n++; return base.freezePlan(layers); } };
    return { backend, freezes: () => n };
  }

  for (const b of backends) {
    it(`${b.name}: reuses the copy until an optimizer step, loadStateDict, markChanged, a new data array or resetParameters`, async () => {
      const { backend, freezes } = counting(requireBackend(b));
      const m = mlp(3);
      const x = randn([5, 64], { seed: seed + 5 });
      const check = async (expectedFreezes: number, what: string): Promise<void> => {
        const got = await predictAsync(m, x, { backend });
        expect(freezes(), what).toBe(expectedFreezes);
        expect(worstDiff(got.data, m.predict(x).data), note(what)).toBeLessThan(1e-5);
      };
      await check(1, 'first call');
      await check(1, 'unchanged weights');
      await check(1, 'unchanged weights again');
      const w = m.parameters()[0];
      const opt = new SGD(m.parameters(), { lr: 0.1 });
      m.forward(x).sum().backward();
      opt.step();
      await check(2, 'after an optimizer step');
      const sd: Record<string, Float32Array> = {};
      for (const [k, t] of m.namedParameters()) sd[k] = t.data.map((v) => v * 0.5);
      m.loadStateDict(sd);
      await check(3, 'after loadStateDict');
      w.data[0] += 10;
      w.markChanged();
      await check(4, 'after an in-place write and markChanged');
      w.data = w.data.map((v) => -v);
      await check(5, 'after assigning a new data array');
      (m.layers[2] as Linear).resetParameters(9);
      await check(6, 'after resetParameters');
      await check(6, 'unchanged again');
    });
  }
});

describe('predict / predictAsync options', () => {
  const m = new Sequential(new Linear(4, 3, { seed: 1 }));
  const x = randn([2, 4], { seed: 2 });

  it('predictAsync names the option and the value', async () => {
    await expect(predictAsync(m, x, { onProgress: 5 } as never)).rejects.toThrow('predictAsync: onProgress must be a function, got 5');
    await expect(m.predictAsync(x, { onProgress: 'yes' } as never)).rejects.toThrow("predictAsync: onProgress must be a function, got 'yes' (a string)");
    await expect(m.predictAsync(x, { batchSize: 2.5 })).rejects.toThrow('predictAsync: batchSize must be a positive integer, got 2.5');
    await expect(m.predictAsync(x, { batchSize: '8' } as never)).rejects.toThrow("predictAsync: batchSize must be a positive integer, got '8' (a string)");
    await expect(m.predictAsync(x, { batchSize: Infinity })).rejects.toThrow('got Infinity');
    await expect(m.predictAsync(x, { backend: 'native' } as never)).rejects.toThrow(
      "predictAsync: backend must be a backend (an object with forwardAsync and freezePlan), got 'native' (a string)",
    );
    await expect(m.predictAsync(x, { batchsize: 8 } as never)).rejects.toThrow(
      "predictAsync: unknown option 'batchsize' (did you mean 'batchSize'? accepted: batchSize, backend, onProgress, features, rows, batch, signal, copyInput)",
    );
    await expect(m.predictAsync(x, null as never)).rejects.toThrow(/^predictAsync: options must be an object like \{ batchSize: \.\.\., backend: \.\.\. \}, got null$/);
    await expect(m.predictAsync(x, 64 as never)).rejects.toThrow(/^predictAsync: options must be an object .*, got 64$/);
    await expect(m.predictAsync(x, [64] as never)).rejects.toThrow(/^predictAsync: options must be an object .*, got \[64\] \(an array\)$/);
    await expect(m.predictAsync('x' as never)).rejects.toThrow('predictAsync: input must be a Tensor or a Float32Array');
    // Valid options still work, explicit undefined included.
    const seen: number[] = [];
    const r = await m.predictAsync(x, { batchSize: 1, onProgress: (done) => seen.push(done), backend: undefined });
    expect(r.shape).toEqual([2, 3]);
    expect(seen).toEqual([1, 2]);
  });

  it('predict names the option and the value', () => {
    expect(() => m.predict(x, { batchSize: 0 })).toThrow('predict: batchSize must be a positive integer, got 0');
    expect(() => m.predict(x, { batchSize: NaN })).toThrow('predict: batchSize must be a positive integer, got NaN');
    expect(() => m.predict(x, { batch: 4 } as never)).toThrow("predict: unknown option 'batch' (did you mean 'batchSize'? accepted: batchSize, features, rows)");
    expect(() => m.predict(x, null as never)).toThrow(/^predict: options must be an object like \{ batchSize: \.\.\., features: \.\.\. \}, got null$/);
    expect(m.predict(x, { batchSize: 1 }).shape).toEqual([2, 3]);
  });
});

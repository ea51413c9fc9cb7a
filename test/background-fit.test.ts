// Background training (compiled dist/, where the worker script exists): seqlock weight slots never give a torn read, the worker trains the same weights as fit on this thread, snapshots are whole steps, abort, callbacks and errors come back here.
import { describe, it, expect, beforeAll } from 'vitest';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { ensureDist, ROOT } from './helpers/dist';
import type * as Myelin from '../lib/index';
import type * as SlotsModule from '../lib/train/weight-slots';

let my: typeof Myelin;
let slotsModule: typeof SlotsModule;

beforeAll(() => {
  ensureDist();
  /* eslint-disable @typescript-eslint/no-require-imports */
  my = require(path.join(ROOT, 'dist', 'index.js')) as typeof Myelin;
  slotsModule = require(path.join(ROOT, 'dist', 'train', 'weight-slots.js')) as typeof SlotsModule;
  /* eslint-enable @typescript-eslint/no-require-imports */
});

/** A worker publishing steps 1, 2, 3... as fast as it can, every element of step s equal to s; stops when control word 7 is set. */
function startWriter(handle: SlotsModule.WeightSlotsHandle): Worker {
  const src = `
    const { workerData } = require('worker_threads');
    const { WeightSlots } = require(workerData.module);
    const slots = new WeightSlots(workerData.handle);
    const arrays = workerData.handle.sizes.map((n) => new Float32Array(n));
    for (let step = 1; Atomics.load(slots.control, 7) === 0; step++) {
      for (const a of arrays) a.fill(step);
      slots.publish(arrays, step);
    }`;
  return new Worker(src, { eval: true, workerData: { handle, module: path.join(ROOT, 'dist', 'train', 'weight-slots.js') } });
}

/** Every element of every array equals `step`. */
function uniform(arrays: Float32Array[], step: number): boolean {
  for (const a of arrays) for (let i = 0; i < a.length; i++) if (a[i] !== step) return false;
  return true;
}

describe('WeightSlots (double buffer + seqlock)', () => {
  it('never returns a torn read while another thread publishes as fast as it can', async () => {
    const sizes = [200_000, 3, 100_000]; // large enough that the writer laps a reader during its copy
    const slots = slotsModule.WeightSlots.create(sizes);
    const writer = startWriter(slots.handle);
    const into = sizes.map((n) => new Float32Array(n));
    try {
      while (slots.latestStep() < 1) await new Promise((r) => setTimeout(r, 1));
      let last = 0;
      let attempts = 0;
      for (let k = 0; k < 200; k++) {
        const step = slots.read(into, () => { attempts++; });
        expect(step).toBeGreaterThanOrEqual(last);
        if (!uniform(into, step)) throw new Error(`torn read: step ${step} but elements ${into[0][0]} .. ${into[2][into[2].length - 1]}`);
        last = step;
      }
      expect(last).toBeGreaterThan(1); // the writer was running
      expect(attempts).toBeGreaterThanOrEqual(200);
    } finally {
      Atomics.store(slots.control, 7, 1);
      await writer.terminate();
    }
  });

  it('a reader lapped during its copy notices (the sequence number moved) and copies again', async () => {
    const slots = slotsModule.WeightSlots.create([50_000]);
    const writer = startWriter(slots.handle);
    const into = [new Float32Array(50_000)];
    try {
      while (slots.latestStep() < 1) await new Promise((r) => setTimeout(r, 1));
      let attempts = 0;
      const step = slots.read(into, () => {
        attempts++;
        if (attempts > 1) return;
        // Hold the first copy until the writer has published twice more: it rewrote the slot being read.
        const start = slots.latestStep();
        const until = Date.now() + 5000;
        while (slots.latestStep() < start + 2 && Date.now() < until) { /* wait for the writer */ }
      });
      expect(attempts).toBeGreaterThanOrEqual(2);
      expect(uniform(into, step)).toBe(true);
    } finally {
      Atomics.store(slots.control, 7, 1);
      await writer.terminate();
    }
  });

  it('checks the arrays against the layout', () => {
    const slots = slotsModule.WeightSlots.create([4, 2]);
    expect(() => slots.publish([new Float32Array(4)], 1)).toThrow(/expected 2 arrays, got 1/);
    expect(() => slots.read([new Float32Array(4), new Float32Array(3)])).toThrow(/array 1 has 3 elements, the layout says 2/);
    expect(slots.read([new Float32Array(4), new Float32Array(2)])).toBe(-1);
  });
});

/** n rows of 6 seeded features and 3 classes. */
function blobs(n: number, seed: number): { x: Float32Array; y: Int32Array; features: number } {
  let s = seed >>> 0;
  const r = (): number => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296 - 0.5; };
  const x = new Float32Array(n * 6);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 6; j++) x[i * 6 + j] = r();
    y[i] = x[i * 6] + x[i * 6 + 1] > 0.2 ? 2 : x[i * 6 + 2] > 0 ? 1 : 0;
  }
  return { x, y, features: 6 };
}

type Model = InstanceType<typeof Myelin.nn.Sequential>;
const mlp = (): Model => new my.nn.Sequential(new my.nn.Linear(6, 16, { seed: 1 }), new my.nn.ReLU(), new my.nn.Linear(16, 3, { seed: 2 }));
const weights = (m: Model): number[] => m.parameters().flatMap((p) => Array.from(p.data));

/** The foreground run's weights after every step (index = steps taken; 0 = the initial weights). */
async function foregroundSteps(data: ReturnType<typeof blobs>, options: Record<string, unknown>): Promise<{ model: Model; steps: number[][]; history: Myelin.History }> {
  const model = mlp();
  const steps = [weights(model)];
  const history = await my.fit(model, data, { ...options, onBatchEnd: () => { steps.push(weights(model)); } });
  return { model, steps, history };
}

describe('fit(..., { background: true }) and Trainer', () => {
  const opts = { epochs: 3, batchSize: 16, seed: 5, lr: 0.01, verbose: 0 as const };

  it('trains the same weights as fit on this thread for the same seed (in-memory data, validation, an lr schedule run here)', async () => {
    const data = blobs(203, 11);
    const validationData = blobs(40, 12);
    const schedule = (): Myelin.Callback => my.lrScheduler((epoch: number) => 0.01 / (epoch + 1));
    const a = mlp();
    const ha = await my.fit(a, data, { ...opts, validationData, callbacks: [schedule()] });
    const b = mlp();
    const hb = await my.fit(b, data, { ...opts, validationData, callbacks: [schedule()], background: true });
    expect(weights(b)).toEqual(weights(a));
    expect(hb.loss).toEqual(ha.loss);
    expect(hb.valLoss).toEqual(ha.valLoss);
    expect(hb.lr).toEqual([0.01, 0.005, 0.01 / 3]);
    expect(hb.lr).toEqual(ha.lr);
  });

  it('trains the same weights from a data.Dataset (read on this thread, fed to the worker)', async () => {
    const data = blobs(150, 21);
    const ds = (): Myelin.data.Dataset<unknown> => my.data.Dataset.fromArrays(data).shuffle(64, { seed: 3 }).batch(10);
    const a = mlp();
    const ha = await my.fit(a, ds(), { epochs: 2, lr: 0.01, verbose: 0 });
    const b = mlp();
    const hb = await my.fit(b, ds(), { epochs: 2, lr: 0.01, verbose: 0, background: true, validationData: ds() });
    expect(weights(b)).toEqual(weights(a));
    expect(hb.loss).toEqual(ha.loss);
    expect(hb.valLoss.length).toBe(2);
  });

  it('the model here only ever holds whole steps: in every onBatchEnd its weights are the foreground weights at trainer.step', async () => {
    const data = blobs(256, 31);
    const fg = await foregroundSteps(data, opts);
    const model = mlp();
    const seen: number[] = [];
    const trainer: Myelin.Trainer = new my.Trainer(model, data, {
      ...opts,
      onBatchEnd: () => {
        const step = trainer.step;
        seen.push(step);
        expect(weights(model)).toEqual(fg.steps[step]);
      },
    });
    const h = await trainer.done;
    expect(h.loss).toEqual(fg.history.loss);
    expect(seen.length).toBe(3 * 16);
    expect(seen.every((s, i) => i === 0 || s >= seen[i - 1])).toBe(true);
    expect(trainer.step).toBe(3 * 16);
    expect(weights(model)).toEqual(fg.steps[3 * 16]);
  });

  it('AbortSignal stops training at a batch boundary: done resolves with history.aborted, the model holds a whole step', async () => {
    const data = blobs(2000, 41);
    const fg = await foregroundSteps(data, { ...opts, epochs: 2 });
    const model = mlp();
    const ac = new AbortController();
    let batches = 0;
    const trainer = new my.Trainer(model, data, { ...opts, epochs: 50, signal: ac.signal, onBatchEnd: () => { if (++batches === 5) ac.abort(); } });
    const h = await trainer.done;
    expect(h.aborted).toBe(true);
    expect(h.stopReason).toBe('aborted');
    expect(trainer.step).toBeGreaterThanOrEqual(5);
    expect(trainer.step).toBeLessThan(50 * 125);
    expect(weights(model)).toEqual(fg.steps[trainer.step]);
  });

  it('an already aborted signal trains nothing; abort() works as the signal does', async () => {
    const data = blobs(100, 51);
    const model = mlp();
    const before = weights(model);
    const h = await my.fit(model, data, { ...opts, background: true, signal: AbortSignal.abort() });
    expect(h.aborted).toBe(true);
    expect(h.epoch).toEqual([]);
    expect(weights(model)).toEqual(before);
    const t = new my.Trainer(mlp(), blobs(5000, 52), { ...opts, epochs: 100, onBatchEnd: () => t.abort() });
    expect((await t.done).aborted).toBe(true);
  });

  it('ctx.stopTraining set by a callback here ends training after the epoch, as in the foreground', async () => {
    const h = await my.fit(mlp(), blobs(100, 61), {
      ...opts, epochs: 10, background: true,
      onEpochEnd: (epoch: number, _logs: unknown, ctx: Myelin.TrainContext) => { if (epoch === 1) ctx.stopTraining = true; },
    });
    expect(h.epoch).toEqual([0, 1]);
    expect(h.stopReason).toBe('stopped');
  });

  it('an error on the training thread rejects with the foreground message; a callback error here rejects too', async () => {
    const data = { x: blobs(64, 71).x, y: new Float32Array(64 * 3).fill(1e30), features: 6 };
    const fgErr = await my.fit(mlp(), data, { ...opts, loss: 'mse' }).then(() => null, (e: Error) => e);
    expect(fgErr?.message).toMatch(/fit: loss is Infinity at epoch 1\/3, batch 1\/4/);
    const bgErr = await my.fit(mlp(), data, { ...opts, loss: 'mse', background: true }).then(() => null, (e: Error) => e);
    expect(bgErr).toBeInstanceOf(Error);
    expect(bgErr?.message).toBe(fgErr?.message);
    expect(bgErr?.stack).toMatch(/on the background training thread/);
    await expect(my.fit(mlp(), blobs(64, 72), { ...opts, background: true, onEpochEnd: () => { throw new Error('boom here'); } })).rejects.toThrow('boom here');
    await expect(my.fit(mlp(), blobs(64, 73), { ...opts, background: true, epoch: 3 } as never)).rejects.toThrow(/epoch/);
  });

  it('options that cannot cross to the training thread are refused with a clear error', async () => {
    const data = blobs(32, 81);
    await expect(my.fit(mlp(), data, { background: true, loss: (p: Myelin.Tensor) => p.sum() } as never)).rejects.toThrow(/option 'loss' is a function/);
    await expect(my.fit(mlp(), data, { background: true, optimizer: new my.optim.SGD(mlp().parameters(), { lr: 0.1 }) })).rejects.toThrow(/give the optimizer by name/);
    await expect(my.fit(mlp(), data, { background: 'yes' } as never)).rejects.toThrow(/background must be true or false, got/);
    await expect(my.fit(mlp(), data, { refreshMs: 10 })).rejects.toThrow(/refreshMs applies to background training/);
  });
});

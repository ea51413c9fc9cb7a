// OneCycleLR and ReduceLROnPlateau against torch.optim.lr_scheduler (committed fixture), and both as fit callbacks.
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tensor } from '../lib/tensor';
import { Rng } from '../lib/random';
import { Linear, ReLU, Sequential } from '../lib/nn';
import { Adam, OneCycleLR, ReduceLROnPlateau, type OneCycleLROptions, type ReduceLROnPlateauOptions } from '../lib/optim';
import { fit, earlyStopping } from '../lib/train';

// Written by test/fixtures/schedules/make_torch_schedules.py.
const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'schedules', 'torch_schedules.json'), 'utf8')) as {
  torch: string;
  oneCycle: { options: OneCycleLROptions; totalSteps: number; lrs: number[] }[];
  plateau: { options: ReduceLROnPlateauOptions & { lr: number }; values: number[]; lrs: number[] }[];
};

const close = (a: number, b: number, what: string): void => {
  if (!(Math.abs(a - b) <= 1e-12 + 1e-9 * Math.abs(b))) throw new Error(`${what}: got ${a}, PyTorch ${b}`);
};

describe(`schedules vs torch ${fixture.torch}`, () => {
  fixture.oneCycle.forEach((c, k) => {
    it(`OneCycleLR case ${k}: ${JSON.stringify(c.options)}`, () => {
      const opt = { lr: 0.123 };
      const s = new OneCycleLR(opt, c.options);
      expect(s.totalSteps).toBe(c.totalSteps);
      close(opt.lr, c.lrs[0], 'lr at step 0');
      for (let t = 1; t < c.lrs.length; t++) close(s.step(), c.lrs[t], `lr at step ${t}`);
      s.step(); // the step after the last batch is allowed (lr held at the final value)...
      close(opt.lr, c.lrs[c.lrs.length - 1], 'lr at totalSteps');
      expect(() => s.step()).toThrow(/stepped \d+ times, past totalSteps = \d+/); // ...one more is not
    });
  });

  fixture.plateau.forEach((c, k) => {
    it(`ReduceLROnPlateau case ${k}: ${JSON.stringify(c.options)}`, () => {
      const { lr, ...opts } = c.options;
      const opt = { lr };
      const s = new ReduceLROnPlateau(opt, opts);
      c.values.forEach((v, i) => close(s.step(v), c.lrs[i], `lr after value ${i}`));
      expect(s.reductions).toBeGreaterThan(0);
    });
  });
});

function problem(n: number): { x: Tensor; y: Int32Array } {
  const rng = new Rng(3);
  const x = new Float32Array(n * 2);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    x[2 * i] = rng.normal();
    x[2 * i + 1] = rng.normal();
    y[i] = x[2 * i] * x[2 * i + 1] > 0 ? 1 : 0;
  }
  return { x: new Tensor(x, [n, 2]), y };
}

const mlp = (): Sequential => new Sequential(new Linear(2, 16), new ReLU(), new Linear(16, 2), { seed: 5 });

describe('schedules as fit callbacks', () => {
  it('OneCycleLR takes totalSteps from the run and sets the lr of every batch', async () => {
    const d = problem(100); // 4 batches of 32 (the last 4 rows) per epoch
    const used: number[] = [];
    const recorder = { onBatchEnd: (_b: number, _l: unknown, ctx: { optimizer: { lr: number } }): void => void used.push(ctx.optimizer.lr) };
    const schedule = new OneCycleLR({ maxLr: 0.05, pctStart: 0.25 });
    await fit(mlp(), d, { epochs: 3, batchSize: 32, seed: 1, verbose: 0, callbacks: [recorder, schedule] });
    expect(schedule.totalSteps).toBe(12);
    const reference = new OneCycleLR({ lr: 0 }, { maxLr: 0.05, pctStart: 0.25, totalSteps: 12 });
    expect(used).toHaveLength(12);
    used.forEach((lr, t) => expect(lr).toBeCloseTo(reference.lrAt(t), 12));
    expect(Math.max(...used)).toBeCloseTo(0.05, 12);
  });

  it('OneCycleLR resumed at initialEpoch continues the same curve', async () => {
    const d = problem(64);
    const seen: number[] = [];
    const recorder = { onBatchEnd: (_b: number, _l: unknown, ctx: { optimizer: { lr: number } }): void => void seen.push(ctx.optimizer.lr) };
    await fit(mlp(), d, { epochs: 4, initialEpoch: 2, batchSize: 16, seed: 1, verbose: 0, callbacks: [recorder, new OneCycleLR({ maxLr: 0.02 })] });
    const reference = new OneCycleLR({ lr: 0 }, { maxLr: 0.02, totalSteps: 16 });
    seen.forEach((lr, i) => expect(lr).toBeCloseTo(reference.lrAt(8 + i), 12));
  });

  it('ReduceLROnPlateau cuts fit optimizer lr after patience epochs without improvement, logged in history.lr', async () => {
    const d = problem(64);
    const model = mlp();
    // A monitored key that never improves after epoch 0: a constant custom metric, mode 'max'.
    const plateau = new ReduceLROnPlateau({ monitor: 'flat', mode: 'max', factor: 0.5, patience: 1 });
    const h = await fit(model, d, {
      epochs: 6, batchSize: 16, lr: 0.01, seed: 2, verbose: 0, metrics: [{ name: 'flat', fn: () => 1 }], callbacks: [plateau],
    });
    // Values 1,1,1,1,1,1: best at epoch 0; 2 bad epochs (> patience 1) cut the lr after epoch 2 and after
    // epoch 4; history.lr is the lr each epoch trained with.
    expect(h.lr).toEqual([0.01, 0.01, 0.01, 0.005, 0.005, 0.0025]);
    expect(plateau.reductions).toBe(2);
  });

  it("defaults to valLoss, falling back to loss without validation data; 'auto' mode maximises scores", () => {
    expect(new ReduceLROnPlateau().mode).toBe('min');
    expect(new ReduceLROnPlateau({ monitor: 'valAuc' }).mode).toBe('max');
    expect(new ReduceLROnPlateau({ monitor: 'f1' }).mode).toBe('max');
    expect(new ReduceLROnPlateau({ monitor: 'valR2' }).mode).toBe('max');
    expect(new ReduceLROnPlateau({ monitor: 'valMae' }).mode).toBe('min');
    const s = new ReduceLROnPlateau();
    const opt = { lr: 1 };
    s.onTrainBegin({ optimizer: opt, epochs: 1, initialEpoch: 0, stepsPerEpoch: 1 });
    s.onEpochEnd(0, { loss: 0.5 });
    expect(s.best).toBe(0.5);
    const named = new ReduceLROnPlateau({ monitor: 'valAccuracy' });
    named.onTrainBegin({ optimizer: opt, epochs: 1, initialEpoch: 0, stepsPerEpoch: 1 });
    expect(() => named.onEpochEnd(0, { loss: 0.5 })).toThrow(/monitored value 'valAccuracy' is not logged \(logged: loss\)/);
  });

  it('earlyStopping auto mode treats f1 / auc / r2 as higher-is-better', async () => {
    const d = problem(64);
    let v = 0;
    const es = earlyStopping({ monitor: 'rising', patience: 1 });
    // 'rising' goes up every epoch, but its name is not a score's, so 'auto' minimises it and stops.
    const h = await fit(mlp(), d, { epochs: 4, batchSize: 16, seed: 2, verbose: 0, metrics: [{ name: 'rising', fn: () => v }], callbacks: [{ onEpochEnd: () => void v++ }, es] });
    expect(h.stopReason).toBe('earlyStopping');
    const es2 = earlyStopping({ monitor: 'f1', patience: 1 });
    let f = 0;
    const h2 = await fit(mlp(), d, { epochs: 4, batchSize: 16, seed: 2, verbose: 0, callbacks: [{ onEpochEnd: (_e, logs) => { logs.f1 = f += 0.1; } }, es2] });
    expect(h2.stopReason).toBe(null);
    expect(es2.bestEpoch).toBe(3);
  });

  it('bad options are errors naming the option', () => {
    const opt = new Adam([new Tensor(new Float32Array(2), [2], true)], { lr: 0.1 });
    expect(() => new OneCycleLR(opt, { maxLr: 0.1 })).toThrow(/give totalSteps, or epochs with stepsPerEpoch/);
    expect(() => new OneCycleLR(opt, { maxLr: 0.1, totalSteps: 10, epochs: 2, stepsPerEpoch: 5 })).toThrow(/not both/);
    expect(() => new OneCycleLR(opt, { maxLr: -1, totalSteps: 10 })).toThrow(/maxLr must be a positive finite number, got -1/);
    expect(() => new OneCycleLR(opt, { maxLr: 1, totalSteps: 10, anneal: 'cosine' as never })).toThrow(/anneal must be 'cos' or 'linear', got 'cosine'/);
    expect(() => new OneCycleLR({ maxLr: 1, total_steps: 3 } as never)).toThrow(/unknown option 'total_steps' \(did you mean 'totalSteps'\?/);
    expect(() => new ReduceLROnPlateau(opt, { factor: 1 })).toThrow(/factor must be in \(0, 1\), got 1/);
    expect(() => new ReduceLROnPlateau(opt, { patience: 1.5 })).toThrow(/patience must be a non-negative integer, got 1.5/);
    expect(() => new ReduceLROnPlateau({ min_lr: 0 } as never)).toThrow(/unknown option 'min_lr' \(did you mean 'minLr'\?/);
  });

  it('a OneCycleLR with too few totalSteps for the run fails before training', async () => {
    const d = problem(64);
    const model = mlp();
    const opt = new Adam(model.parameters(), { lr: 0.01 });
    await expect(fit(model, d, { epochs: 2, batchSize: 16, optimizer: opt, verbose: 0, callbacks: [new OneCycleLR(opt, { maxLr: 0.1, totalSteps: 5 })] }))
      .rejects.toThrow(/totalSteps 5 is fewer than the 8 steps fit will take \(2 epochs x 4 batches\)/);
  });
});

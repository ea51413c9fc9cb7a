// Tests for fit(): learning, determinism, resume, validation, callbacks, NaN errors, abort, progress output.
import { describe, it, expect } from 'vitest';
import { Tensor, tensor } from '../lib/tensor';
import { Sequential } from '../lib/nn/sequential';
import { Linear } from '../lib/nn/linear';
import { ReLU, Tanh } from '../lib/nn/activations';
import { Adam } from '../lib/optim';
import { fit, evaluate, predict, earlyStopping, lrScheduler, cosineDecay } from '../lib/train';
import type { EpochLogs, TrainContext } from '../lib/train';
import { SeededRandom } from '../lib/data/split';
import { loadDigits } from '../lib/data/digits';

const seed = (Date.now() ^ Math.floor(Math.random() * 2 ** 31)) >>> 0;
const msg = `seed ${seed}`;

/** A small 3-class problem: class = which of three blobs the point is near (random each run). */
function blobs(n: number, s: number): { x: Tensor; y: Int32Array } {
  const rng = new SeededRandom(s);
  const centers = [[-1, -1], [1, -1], [0, 1.2]];
  const x = new Float32Array(n * 2);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = rng.nextInt(3);
    y[i] = c;
    x[2 * i] = centers[c][0] + (rng.next() - 0.5) * 0.8;
    x[2 * i + 1] = centers[c][1] + (rng.next() - 0.5) * 0.8;
  }
  return { x: tensor(x, [n, 2]), y };
}

function mlp(s: number): Sequential {
  return new Sequential([new Linear(2, 16), new ReLU(), new Linear(16, 3)], { seed: s });
}

function weights(model: Sequential): Float32Array[] {
  return model.parameters().map((p) => Float32Array.from(p.data));
}

const silent = { verbose: 0 as const };

describe(`fit (${msg})`, () => {
  it('learns a separable 3-class problem and reports loss and accuracy per epoch', async () => {
    const data = blobs(300, seed);
    const model = mlp(seed);
    const h = await fit(model, data, { epochs: 15, batchSize: 16, lr: 0.01, seed, ...silent });
    expect(h.epoch).toEqual(Array.from({ length: 15 }, (_, i) => i));
    expect(h.loss.length).toBe(15);
    expect(h.accuracy.length).toBe(15);
    expect(h.loss[14], msg).toBeLessThan(h.loss[0]);
    expect(h.accuracy[14], msg).toBeGreaterThan(0.95);
    const ev = evaluate(model, data);
    expect(ev.accuracy, msg).toBeGreaterThan(0.95);
    // evaluate's accuracy agrees with argmax of predict.
    const out = predict(model, data.x);
    let correct = 0;
    for (let i = 0; i < 300; i++) {
      const row = Array.from(out.data.subarray(3 * i, 3 * i + 3));
      if (row.indexOf(Math.max(...row)) === data.y[i]) correct++;
    }
    expect(ev.accuracy).toBeCloseTo(correct / 300, 10);
    expect(h.stopReason).toBe(null);
    expect(h.aborted).toBe(false);
  });

  it('fits a regression target with mse and a custom metric', async () => {
    const rng = new SeededRandom(seed);
    const n = 256;
    const x = new Float32Array(n);
    const y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      x[i] = rng.next() * 2 - 1;
      y[i] = 3 * x[i] + 1;
    }
    const model = new Sequential([new Linear(1, 1)], { seed });
    const h = await fit(model, { x: tensor(x, [n, 1]), y: tensor(y, [n, 1]) }, {
      epochs: 60, batchSize: 32, lr: 0.05, seed, ...silent,
      metrics: ['mae', { name: 'maxErr', fn: (p, t) => Math.max(...Array.from(p.data, (v, i) => Math.abs(v - (t as Tensor).data[i]))) }],
    });
    expect(h.loss.at(-1), msg).toBeLessThan(1e-3);
    expect(h.metrics.mae.length).toBe(60);
    expect(h.metrics.maxErr.at(-1), msg).toBeLessThan(0.1);
    expect(h.accuracy).toEqual([]);
    const lin = model.layers[0] as Linear;
    expect(lin.weight.data[0], msg).toBeCloseTo(3, 1);
  });

  it('gives identical weights for the same seed, different ones for another seed', async () => {
    const data = blobs(200, seed);
    const run = async (fitSeed: number): Promise<Float32Array[]> => {
      const m = mlp(seed);
      await fit(m, data, { epochs: 3, batchSize: 20, seed: fitSeed, ...silent });
      return weights(m);
    };
    const a = await run(seed);
    const b = await run(seed);
    const c = await run(seed + 1);
    expect(a, msg).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('resumes with initialEpoch to the same weights as an uninterrupted run', async () => {
    const data = blobs(200, seed);
    const straight = mlp(seed);
    const opt1 = new Adam(straight.parameters(), { lr: 0.01 });
    const h1 = await fit(straight, data, { epochs: 4, batchSize: 32, seed, optimizer: opt1, ...silent });

    const resumed = mlp(seed);
    const opt2 = new Adam(resumed.parameters(), { lr: 0.01 });
    const hA = await fit(resumed, data, { epochs: 2, batchSize: 32, seed, optimizer: opt2, ...silent });
    const epochsSeen: number[] = [];
    const hB = await fit(resumed, data, {
      epochs: 4, initialEpoch: 2, batchSize: 32, seed, optimizer: opt2, history: hA, ...silent,
      onEpochEnd: (e) => {
        epochsSeen.push(e);
      },
    });
    expect(epochsSeen).toEqual([2, 3]);
    expect(hB.epoch).toEqual([0, 1, 2, 3]);
    expect(hB.loss).toEqual(h1.loss);
    expect(weights(resumed), msg).toEqual(weights(straight));
  });

  it('holds out the last rows with validationSplit and logs valLoss / valAccuracy', async () => {
    const data = blobs(200, seed);
    const model = mlp(seed);
    let ctxSamples = -1;
    const h = await fit(model, data, {
      epochs: 3, batchSize: 16, seed, validationSplit: 0.25, ...silent,
      callbacks: { onTrainBegin: (ctx: TrainContext) => { ctxSamples = ctx.samples; } },
    });
    expect(ctxSamples).toBe(150);
    expect(h.valLoss.length).toBe(3);
    expect(h.valAccuracy.length).toBe(3);
    const last = evaluate(model, { x: data.x.slice(150, 200), y: data.y.subarray(150) });
    expect(h.valLoss[2]).toBeCloseTo(last.loss, 5);
    expect(h.valAccuracy[2]).toBeCloseTo(last.accuracy as number, 10);
  });

  it('accepts validationData and flat Float32Array inputs from the data loaders', async () => {
    const d = loadDigits({ split: 0.2, seed });
    const model = new Sequential([new Linear(64, 32), new ReLU(), new Linear(32, 10)], { seed });
    const h = await fit(model, d.train, { epochs: 3, batchSize: 32, lr: 0.01, seed, validationData: d.test, ...silent });
    expect(h.valAccuracy.length).toBe(3);
    expect(h.valAccuracy[2], msg).toBeGreaterThan(0.8);
  });

  it('calls callbacks with the context (model, optimizer, history) after appending the epoch', async () => {
    const data = blobs(64, seed);
    const model = mlp(seed);
    const events: string[] = [];
    let optimizerSeen: unknown = null;
    await fit(model, data, {
      epochs: 2, batchSize: 32, seed, ...silent,
      callbacks: [{
        onTrainBegin: () => { events.push('begin'); },
        onEpochBegin: (e) => { events.push(`epoch${e}`); },
        onBatchEnd: (b, logs) => { events.push(`batch${b}:${logs.size}`); },
        onEpochEnd: async (e, logs, ctx) => {
          await new Promise((r) => setTimeout(r, 1));
          expect(ctx.history.epoch.at(-1)).toBe(e);
          expect(ctx.history.loss.at(-1)).toBe(logs.loss);
          expect(ctx.model).toBe(model);
          optimizerSeen = ctx.optimizer;
          events.push(`end${e}`);
        },
        onTrainEnd: () => { events.push('done'); },
      }],
    });
    expect(events).toEqual(['begin', 'epoch0', 'batch0:32', 'batch1:32', 'end0', 'epoch1', 'batch0:32', 'batch1:32', 'end1', 'done']);
    expect(optimizerSeen).toBeInstanceOf(Adam);
  });

  it('applies an lrScheduler at the start of every epoch', async () => {
    const data = blobs(64, seed);
    const model = mlp(seed);
    const opt = new Adam(model.parameters(), { lr: 0.1 });
    const h = await fit(model, data, {
      epochs: 4, batchSize: 32, seed, optimizer: opt, ...silent,
      callbacks: lrScheduler((epoch, lr) => (epoch === 0 ? lr : lr / 2)),
    });
    expect(h.lr).toEqual([0.1, 0.05, 0.025, 0.0125]);
    expect(opt.lr).toBe(0.0125);
    expect(() => lrScheduler(42 as unknown as () => number)).toThrow('schedule must be a function');
  });

  it('cosineDecay lowers the lr every batch from the peak to minLr, with warmup', async () => {
    const data = blobs(100, seed);
    const model = mlp(seed);
    const seen: number[] = [];
    await fit(model, data, {
      epochs: 4, batchSize: 10, seed, lr: 0.01, ...silent,
      callbacks: [cosineDecay({ minLr: 0.001, warmupSteps: 4 }), { onBatchEnd: (_b, _l, ctx) => { seen.push(ctx.optimizer.lr); } }],
    });
    // seen[i] is the lr set for step i + 1 (40 steps in all).
    expect(seen.length).toBe(40);
    expect(seen[0]).toBeCloseTo(0.0025, 12);
    expect(seen[3]).toBeCloseTo(0.01, 12);
    expect(seen[39]).toBeCloseTo(0.001, 12);
    expect(seen[21]).toBeCloseTo(0.001 + 0.009 * 0.5 * (1 + Math.cos(Math.PI * 18 / 36)), 12);
    for (let i = 4; i < 40; i++) expect(seen[i]).toBeLessThan(seen[i - 1]);
  });

  it('throws when the loss becomes NaN, naming the epoch and the batch', async () => {
    const data = blobs(100, seed);
    const x = Float32Array.from(data.x.data);
    x[2 * 70] = NaN; // row 70 is in batch 3 (rows 64..95) of every epoch without shuffling
    const model = mlp(seed);
    await expect(fit(model, { x: tensor(x, [100, 2]), y: data.y }, { epochs: 2, batchSize: 32, shuffle: false, ...silent }))
      .rejects.toThrow('fit: loss is NaN at epoch 1/2, batch 3/4');
    const targets = new Float32Array(100 * 3);
    targets[3 * 60 + 1] = Infinity; // row 60: batch 2 (rows 50..99)
    await expect(fit(mlp(seed), { x: data.x, y: tensor(targets, [100, 3]) }, { epochs: 1, batchSize: 50, shuffle: false, ...silent }))
      .rejects.toThrow('fit: loss is Infinity at epoch 1/1, batch 2/2');
  });

  it('rejects bad options and mismatched data with clear errors', async () => {
    const data = blobs(40, seed);
    const model = mlp(seed);
    await expect(fit(model, { x: data.x, y: data.y.subarray(0, 30) }, silent)).rejects.toThrow('fit: data.x has 40 rows (shape [40,2]) but y has 30 labels');
    await expect(fit(model, data, { loss: 'mse', ...silent })).rejects.toThrow("loss 'mse' needs float targets");
    await expect(fit(model, data, { optimizer: 'adagrad' as 'adam', ...silent })).rejects.toThrow("unknown optimizer \"adagrad\"");
    await expect(fit(model, data, { validationSplit: 0.2, validationData: data, ...silent })).rejects.toThrow('either validationData or validationSplit');
    await expect(fit(model, data, { batchSize: 0, ...silent })).rejects.toThrow('batchSize must be a positive integer, got 0');
    await expect(fit(model, data, { metrics: ['f1' as 'accuracy'], ...silent })).rejects.toThrow("unknown metric \"f1\"");
    await expect(fit(model, { x: tensor(new Float32Array(120), [40, 3]), y: data.y }, silent)).rejects.toThrow(/\[40,3\]|3/);
  });
});

describe(`earlyStopping (${msg})`, () => {
  it('stops after patience epochs without improvement and restores the best weights', async () => {
    const data = blobs(120, seed);
    const model = mlp(seed);
    const snapshots: Float32Array[][] = [];
    // Training loss falls every epoch, so with mode 'max' the best epoch is the first one.
    const es = earlyStopping({ monitor: 'loss', mode: 'max', patience: 2, restoreBestWeights: true });
    const h = await fit(model, data, {
      epochs: 20, batchSize: 16, lr: 0.01, seed, ...silent,
      callbacks: [es, { onEpochEnd: () => { snapshots.push(weights(model)); } }],
    });
    expect(es.bestEpoch).toBe(0);
    expect(es.stoppedEpoch).toBe(2);
    expect(h.epoch).toEqual([0, 1, 2]);
    expect(h.stopReason).toBe('earlyStopping');
    expect(weights(model)).toEqual(snapshots[0]);
    expect(weights(model)).not.toEqual(snapshots[2]);
  });

  it('keeps the last weights without restoreBestWeights, and honours minDelta', async () => {
    const data = blobs(120, seed);
    const model = mlp(seed);
    const snapshots: Float32Array[][] = [];
    const es = earlyStopping({ monitor: 'valLoss', minDelta: 1e9, patience: 1 });
    const h = await fit(model, data, {
      epochs: 10, batchSize: 16, seed, validationSplit: 0.2, ...silent,
      callbacks: [es, { onEpochEnd: () => { snapshots.push(weights(model)); } }],
    });
    expect(h.epoch).toEqual([0, 1]);
    expect(es.stoppedEpoch).toBe(1);
    expect(weights(model)).toEqual(snapshots[1]);
  });

  it('restores the weights of the epoch with the lowest validation loss', async () => {
    // Tiny noisy training set + lots of epochs: validation loss falls, then rises as the model overfits.
    const train = blobs(24, seed);
    const flipped = Int32Array.from(train.y, (c, i) => (i % 3 === 0 ? (c + 1) % 3 : c));
    const val = blobs(200, seed + 1);
    const model = new Sequential([new Linear(2, 64), new Tanh(), new Linear(64, 3)], { seed });
    const snapshots: Float32Array[][] = [];
    const es = earlyStopping({ patience: 5, restoreBestWeights: true });
    const h = await fit(model, { x: train.x, y: flipped }, {
      epochs: 300, batchSize: 8, lr: 0.003, seed, validationData: val, ...silent,
      callbacks: [es, { onEpochEnd: () => { snapshots.push(weights(model)); } }],
    });
    const best = h.valLoss.indexOf(Math.min(...h.valLoss));
    expect(es.bestEpoch, msg).toBe(best);
    expect(weights(model), msg).toEqual(snapshots[best]);
    if (h.stopReason === 'earlyStopping') expect(h.epoch.length, msg).toBe(best + 5 + 1);
  });

  it('names the monitored key when it is not logged', async () => {
    const data = blobs(40, seed);
    await expect(fit(mlp(seed), data, { epochs: 2, callbacks: earlyStopping({ monitor: 'valAuc' }), ...silent }))
      .rejects.toThrow("earlyStopping: monitored value 'valAuc' is not logged (logged: loss, lr, seconds, accuracy)");
  });
});

describe(`abort (${msg})`, () => {
  it('stops at the next batch and resolves with the completed epochs', async () => {
    const data = blobs(128, seed);
    const model = mlp(seed);
    const ac = new AbortController();
    let batches = 0;
    const h = await fit(model, data, {
      epochs: 10, batchSize: 32, seed, signal: ac.signal, ...silent,
      onBatchEnd: (b, _l, ctx) => {
        batches++;
        if (ctx.epoch === 1 && b === 1) ac.abort();
      },
    });
    expect(h.aborted).toBe(true);
    expect(h.stopReason).toBe('aborted');
    expect(h.epoch).toEqual([0]);
    expect(batches).toBe(6);
  });

  it('yields to the event loop, so a timer can abort a long run', async () => {
    const data = blobs(64, seed);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 30);
    const h = await fit(mlp(seed), data, { epochs: 1_000_000, batchSize: 8, seed, signal: ac.signal, ...silent });
    expect(h.aborted).toBe(true);
    expect(h.epoch.length).toBeLessThan(1_000_000);
  });

  it('returns at once for an already-aborted signal', async () => {
    const model = mlp(seed);
    const before = weights(model);
    const h = await fit(model, blobs(32, seed), { epochs: 5, signal: AbortSignal.abort(), ...silent });
    expect(h.aborted).toBe(true);
    expect(h.epoch).toEqual([]);
    expect(weights(model)).toEqual(before);
  });
});

describe('progress output', () => {
  function sink(isTTY: boolean): { write(s: string): boolean; isTTY: boolean; text: () => string } {
    const chunks: string[] = [];
    return { isTTY, write: (s: string) => { chunks.push(s); return true; }, text: () => chunks.join('') };
  }

  it('prints one summary line per epoch when not a TTY', async () => {
    const out = sink(false);
    await fit(mlp(seed), blobs(100, seed), { epochs: 3, batchSize: 25, seed, validationSplit: 0.2, output: out });
    const lines = out.text().trimEnd().split('\n');
    expect(lines.length).toBe(3);
    lines.forEach((line, i) => {
      expect(line).toMatch(new RegExp(
        `^Epoch ${i + 1}/3 - \\d+\\.\\ds - [\\d,]+ samples/s - loss \\d\\.\\d{4} - accuracy \\d\\.\\d{4} - ` +
          'valLoss \\d\\.\\d{4} - valAccuracy \\d\\.\\d{4} - lr 0\\.001$',
      ));
    });
  });

  it('prints nothing with verbose 0 and lines with verbose 2 even on a TTY', async () => {
    const quiet = sink(false);
    await fit(mlp(seed), blobs(50, seed), { epochs: 2, seed, output: quiet, verbose: 0 });
    expect(quiet.text()).toBe('');
    const tty = sink(true);
    await fit(mlp(seed), blobs(50, seed), { epochs: 2, seed, output: tty, verbose: 2 });
    expect(tty.text().trimEnd().split('\n').length).toBe(2);
  });

  it('draws a progress bar per epoch on a TTY', async () => {
    const out = sink(true);
    await fit(mlp(seed), blobs(100, seed), { epochs: 2, batchSize: 10, seed, output: out });
    const text = out.text();
    expect(text).toMatch(/Epoch 1\/2 \[[=-]+\] 100\/100 \| loss \d\.\d{4} - accuracy \d\.\d{4} \| [\d,]+ samples\/s/);
    expect(text).toContain('Epoch 2/2');
    expect(text).toContain('ETA');
  });
});

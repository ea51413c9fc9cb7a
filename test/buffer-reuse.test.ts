// Buffer reuse in training: pooled vs fresh buffers give identical results, kept tensors are never overwritten, steady-state steps allocate nothing.
import { afterEach, describe, expect, it } from 'vitest';
import { Tensor } from '../lib/tensor';
import { Sequential, Linear, ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Dropout, Softmax, Module } from '../lib/nn';
import { crossEntropy, mseLoss, bceWithLogits, huberLoss } from '../lib/nn/losses';
import { Adam, SGD } from '../lib/optim';
import { fit } from '../lib/train';
import { bufferPoolStats, clearBufferPool, setBufferPooling } from '../lib/buffer-pool';
import { Rng, randomSeed } from '../lib/random';
import { backendsUnderTest, setBackend } from './helpers/gradcheck';

const seed = randomSeed();
const label = `(seed ${seed})`;

afterEach(() => {
  setBufferPooling(true);
});

function randomData(rng: Rng, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = 2 * rng.next() - 1;
  return a;
}

type ActName = 'relu' | 'leakyRelu' | 'sigmoid' | 'tanh' | 'gelu' | 'geluTanh';
const ACTS: ActName[] = ['relu', 'leakyRelu', 'sigmoid', 'tanh', 'gelu', 'geluTanh'];

function actLayer(a: ActName): Module {
  switch (a) {
    case 'relu': return new ReLU();
    case 'leakyRelu': return new LeakyReLU(0.1);
    case 'sigmoid': return new Sigmoid();
    case 'tanh': return new Tanh();
    case 'gelu': return new GELU();
    case 'geluTanh': return new GELU({ approximate: 'tanh' });
  }
}

function mlp(act: ActName, modelSeed: number, out = 4, dropout = false): Sequential {
  const layers: Module[] = [new Linear(6, 9), actLayer(act)];
  if (dropout) layers.push(new Dropout(0.3));
  layers.push(new Linear(9, 7), actLayer(act), new Linear(7, out));
  return new Sequential(layers, { seed: modelSeed });
}

function snapshot(m: Module): Float32Array[] {
  return m.parameters().map((p) => Float32Array.from(p.data));
}

type LossKind = 'ce' | 'ceSum' | 'ceNone' | 'mse' | 'bce' | 'huber';

/** A hand-written training loop over varying batch sizes; returns the final parameters and every loss. */
function trainByHand(act: ActName, loss: LossKind, steps: number, dataSeed: number): { params: Float32Array[]; losses: number[] } {
  const rng = new Rng(dataSeed);
  const model = mlp(act, dataSeed, 4, true);
  const opt = new Adam(model.parameters(), { lr: 0.01 });
  const sizes = [5, 5, 1, 3, 5, 2, 5, 5];
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const rows = sizes[s % sizes.length];
    const x = new Tensor(randomData(rng, rows * 6), [rows, 6]);
    opt.zeroGrad();
    const pred = model.forward(x);
    let l: Tensor;
    const labels = new Int32Array(rows).map(() => Math.floor(rng.next() * 4));
    const target = new Tensor(randomData(rng, rows * 4), [rows, 4]);
    switch (loss) {
      case 'ce': l = crossEntropy(pred, labels); break;
      case 'ceSum': l = crossEntropy(pred, labels, { reduction: 'sum' }); break;
      case 'ceNone': l = crossEntropy(pred, labels, { reduction: 'none' }).mean(); break;
      case 'mse': l = mseLoss(pred, target); break;
      case 'bce': l = bceWithLogits(pred, target.sigmoid()); break;
      case 'huber': l = huberLoss(pred, target, { delta: 0.5 }); break;
    }
    losses.push(l.item());
    l.backward();
    opt.step();
  }
  return { params: snapshot(model), losses };
}

describe.each(backendsUnderTest())('buffer reuse (%s backend)', (backend) => {
  it('a hand-written loop gives bit-identical results with and without pooling', () => {
    setBackend(backend);
    for (const act of ACTS) {
      for (const loss of ['ce', 'ceSum', 'ceNone', 'mse', 'bce', 'huber'] as LossKind[]) {
        const dataSeed = (seed + ACTS.indexOf(act) * 7 + loss.length) >>> 0;
        setBufferPooling(false);
        const fresh = trainByHand(act, loss, 24, dataSeed);
        setBufferPooling(true);
        const pooled = trainByHand(act, loss, 24, dataSeed);
        const pooledAgain = trainByHand(act, loss, 24, dataSeed);
        expect(pooled.losses, `${label} ${act} ${loss}`).toEqual(fresh.losses);
        expect(pooled.params, `${label} ${act} ${loss}`).toEqual(fresh.params);
        expect(pooledAgain.params, `${label} ${act} ${loss}`).toEqual(fresh.params);
      }
    }
  });

  it('fit gives bit-identical weights and history with and without pooling', async () => {
    setBackend(backend);
    const rng = new Rng(seed);
    const n = 203; // a partial last batch
    const x = randomData(rng, n * 6);
    const y = new Int32Array(n).map(() => Math.floor(rng.next() * 3));
    const run = async (pool: boolean, act: ActName): Promise<{ p: Float32Array[]; loss: number[]; acc: number[] }> => {
      setBufferPooling(pool);
      const model = new Sequential([new Linear(6, 16), actLayer(act), new Dropout(0.2), new Linear(16, 3), new Softmax()], { seed });
      // Softmax then crossEntropy is odd but legal; it exercises a non-fused layer inside the arena.
      const h = await fit(model, { x, y, features: 6 }, { epochs: 3, batchSize: 32, seed, verbose: 0, validationSplit: 0.1 });
      return { p: snapshot(model), loss: h.loss, acc: h.valAccuracy };
    };
    for (const act of ['relu', 'gelu', 'tanh'] as ActName[]) {
      const fresh = await run(false, act);
      const pooled = await run(true, act);
      expect(pooled.loss, `${label} ${act}`).toEqual(fresh.loss);
      expect(pooled.acc, `${label} ${act}`).toEqual(fresh.acc);
      expect(pooled.p, `${label} ${act}`).toEqual(fresh.p);
    }
    // Float targets (mse) through fit as well.
    const targets = new Tensor(randomData(rng, n * 2), [n, 2]);
    const runMse = async (pool: boolean): Promise<Float32Array[]> => {
      setBufferPooling(pool);
      const model = new Sequential([new Linear(6, 8), new Tanh(), new Linear(8, 2)], { seed });
      await fit(model, { x: new Tensor(x, [n, 6]), y: targets }, { epochs: 2, batchSize: 16, seed, verbose: 0, optimizer: 'sgd' });
      return snapshot(model);
    };
    expect(await runMse(true), label).toEqual(await runMse(false));
  });

  it('tensors the user keeps from a step are never overwritten by later steps', () => {
    setBackend(backend);
    const rng = new Rng((seed ^ 0x5151) >>> 0);
    const model = mlp('gelu', seed, 3);
    const opt = new SGD(model.parameters(), { lr: 0.1 });
    const kept: { pred: Tensor; copy: Float32Array; loss: Tensor; lossCopy: number; xGrad: Tensor; xGradCopy: Float32Array }[] = [];
    for (let s = 0; s < 30; s++) {
      const x = new Tensor(randomData(rng, 4 * 6), [4, 6], true);
      opt.zeroGrad();
      const pred = model.forward(x);
      const loss = crossEntropy(pred, new Int32Array([0, 1, 2, 1]));
      loss.backward();
      opt.step();
      const xGrad = x.grad as Tensor;
      kept.push({ pred, copy: Float32Array.from(pred.data), loss, lossCopy: loss.item(), xGrad, xGradCopy: Float32Array.from(xGrad.data) });
    }
    for (const k of kept) {
      expect(k.pred.data, label).toEqual(k.copy);
      expect(k.loss.item(), label).toBe(k.lossCopy);
      expect(k.xGrad.data, label).toEqual(k.xGradCopy);
    }
  });

  it('fit keeps no pooled buffer in tensors that outlive a step (custom loss sees fresh tensors)', async () => {
    setBackend(backend);
    const rng = new Rng((seed ^ 0x7777) >>> 0);
    const n = 64;
    const x = randomData(rng, n * 6);
    const y = new Int32Array(n).map(() => Math.floor(rng.next() * 4));
    const model = mlp('relu', seed, 4);
    const kept: { pred: Tensor; copy: Float32Array }[] = [];
    await fit(model, { x, y, features: 6 }, {
      epochs: 2, batchSize: 16, seed, verbose: 0,
      loss: (pred, target) => {
        kept.push({ pred, copy: Float32Array.from(pred.data) });
        return crossEntropy(pred, target as Int32Array);
      },
    });
    expect(kept.length).toBe(8);
    for (const k of kept) expect(k.pred.data, label).toEqual(k.copy);
  });
});

describe.each(backendsUnderTest())('steady-state allocation (%s backend)', (backend) => {
  const sizes = [784, 64, 32, 10];
  function bigMlp(): Sequential {
    return new Sequential([
      new Linear(sizes[0], sizes[1]), new ReLU(), new Linear(sizes[1], sizes[2]), new GELU(), new Dropout(0.1),
      new Linear(sizes[2], sizes[3]),
    ], { seed });
  }

  it('fit steps after the first allocate no Float32Array at all (pool counter and global constructor count)', async () => {
    setBackend(backend);
    clearBufferPool();
    const rng = new Rng(seed);
    const n = 32 * 12; // whole batches only: every step has the same shapes
    const x = randomData(rng, n * sizes[0]);
    const y = new Int32Array(n).map(() => Math.floor(rng.next() * 10));
    const model = bigMlp();
    let poolAtStep2 = -1;
    let poolAtEnd = -1;
    let reusesAtStep2 = -1;
    let reusesAtEnd = -1;
    await fit(model, { x, y, features: sizes[0] }, {
      epochs: 1, batchSize: 32, seed, verbose: 0, clipGradNorm: 5,
      onBatchEnd: (b) => {
        if (b === 2) ({ allocations: poolAtStep2, reuses: reusesAtStep2 } = bufferPoolStats());
        if (b === 11) ({ allocations: poolAtEnd, reuses: reusesAtEnd } = bufferPoolStats());
      },
    });
    expect(poolAtStep2, label).toBeGreaterThan(0);
    expect(poolAtEnd, `${label} pool allocations during 9 steady-state fit steps`).toBe(poolAtStep2);
    expect(reusesAtEnd, label).toBeGreaterThan(reusesAtStep2);

    // Global count: every Float32Array constructed anywhere during 9 steady-state steps.
    // The global constructor is swapped for a counting Proxy (library code looks Float32Array up at
    // call time); subarray views are made through the species constructor and are not counted.
    const model2 = bigMlp();
    let windowCount = -1;
    let atStart = 0;
    let total = 0;
    const original = globalThis.Float32Array;
    globalThis.Float32Array = new Proxy(original, {
      construct(target, args, newTarget) {
        total++;
        return Reflect.construct(target, args, newTarget === globalThis.Float32Array ? target : newTarget) as object;
      },
    });
    try {
      await fit(model2, { x, y, features: sizes[0] }, {
        epochs: 1, batchSize: 32, seed, verbose: 0,
        onBatchEnd: (b) => {
          if (b === 2) atStart = total;
          if (b === 11) windowCount = total - atStart;
        },
      });
    } finally {
      globalThis.Float32Array = original;
    }
    expect(atStart, 'the counting Proxy sees the first steps allocate').toBeGreaterThan(0);
    expect(windowCount, `${label} Float32Arrays constructed during 9 steady-state fit steps`).toBe(0);
  });

  it('a hand-written loop reuses every gradient buffer after the first step', () => {
    setBackend(backend);
    clearBufferPool();
    const rng = new Rng((seed ^ 0x1234) >>> 0);
    const model = bigMlp();
    const opt = new Adam(model.parameters());
    const x = new Tensor(randomData(rng, 16 * sizes[0]), [16, sizes[0]]);
    const labels = new Int32Array(16).map(() => Math.floor(rng.next() * 10));
    const step = (): void => {
      opt.zeroGrad();
      crossEntropy(model.forward(x), labels).backward();
      opt.step();
    };
    step();
    step();
    const before = bufferPoolStats();
    for (let i = 0; i < 10; i++) step();
    const after = bufferPoolStats();
    expect(after.allocations, label).toBe(before.allocations);
    expect(after.reuses, label).toBeGreaterThan(before.reuses);
  });
});

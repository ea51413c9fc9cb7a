// trainingStep: a hand-written loop's step in a pooled arena gives the same losses and weights as without, allocates
// nothing in steady state, and rejects results that would outlive the arena.
import { describe, expect, it } from 'vitest';
import { trainingStep } from '../lib/autograd';
import { IntTensor } from '../lib/int-tensor';
import { Sequential, Embedding, LearnedPositionalEncoding, DecoderBlock, LayerNorm, Linear } from '../lib/nn';
import { crossEntropy } from '../lib/nn/losses';
import { Adam } from '../lib/optim';
import { bufferPoolStats } from '../lib/buffer-pool';
import { linear } from '../lib/ops/linear';
import { Rng, randomSeed } from '../lib/random';
import { backendsUnderTest, setBackend } from './helpers/gradcheck';

const seed = randomSeed();
const label = `(seed ${seed})`;
const V = 11, B = 3, T = 5;

function tinyGpt(): Sequential {
  return new Sequential([
    new Embedding(V, 16), new LearnedPositionalEncoding(T, 16), new DecoderBlock(16, 2, { dropout: 0.1 }), new DecoderBlock(16, 2),
    new LayerNorm(16), new Linear(16, V),
  ], { seed });
}

function batch(rng: Rng): { ids: IntTensor; targets: Int32Array } {
  const ids = new Int32Array(B * T), targets = new Int32Array(B * T);
  for (let i = 0; i < B * T; i++) {
    ids[i] = Math.floor(rng.next() * V);
    targets[i] = Math.floor(rng.next() * V);
  }
  return { ids: new IntTensor(ids, [B, T]), targets };
}

describe.each(backendsUnderTest())('trainingStep (%s backend)', (backend) => {
  it(`gives the losses and weights of the same loop without it ${label}`, () => {
    setBackend(backend);
    const run = (arena: boolean): { losses: number[]; weights: Float32Array[] } => {
      const model = tinyGpt();
      const opt = new Adam(model.parameters(), { lr: 1e-2 });
      const rng = new Rng((seed ^ 0x5f5f) >>> 0);
      const losses: number[] = [];
      for (let s = 0; s < 6; s++) {
        const { ids, targets } = batch(rng);
        const body = (): number => {
          opt.zeroGrad();
          const loss = crossEntropy(model.forward(ids).reshape([B * T, V]), targets);
          loss.backward();
          opt.step();
          return loss.item();
        };
        losses.push(arena ? trainingStep(body) : body());
      }
      return { losses, weights: model.parameters().map((p) => Float32Array.from(p.data)) };
    };
    const plain = run(false), pooled = run(true);
    expect(pooled.losses).toEqual(plain.losses);
    for (let i = 0; i < plain.weights.length; i++) expect(pooled.weights[i]).toEqual(plain.weights[i]);
  });

  it(`allocates no new pooled buffers in steady state ${label}`, () => {
    setBackend(backend);
    const model = tinyGpt();
    const opt = new Adam(model.parameters(), { lr: 1e-2 });
    const { ids, targets } = batch(new Rng(seed));
    const step = (): number => trainingStep(() => {
      opt.zeroGrad();
      const loss = crossEntropy(model.forward(ids).reshape([B * T, V]), targets);
      loss.backward();
      opt.step();
      return loss.item();
    });
    step();
    step();
    const before = bufferPoolStats();
    for (let i = 0; i < 4; i++) step();
    const after = bufferPoolStats();
    expect(after.allocations).toBe(before.allocations);
    expect(after.reuses).toBeGreaterThan(before.reuses);
  });
});

describe('trainingStep errors and nesting', () => {
  const w = new Linear(4, 3, { seed: 1 });
  const x = new Linear(4, 4, { seed: 2 }).weight; // any [4, 4] tensor

  it('rejects a tensor made inside the step as its result, and a Promise', () => {
    expect(() => trainingStep(() => linear(x, w.weight, w.bias))).toThrow(/trainingStep: fn returned a tensor made inside the step/);
    expect(() => trainingStep(() => Promise.resolve(1))).toThrow(/trainingStep: fn returned a Promise/);
    expect(() => trainingStep(42 as unknown as () => number)).toThrow(/trainingStep/);
  });

  it('returns numbers and tensors made outside; nested calls share the outer pool', () => {
    expect(trainingStep(() => 3)).toBe(3);
    expect(trainingStep(() => x)).toBe(x);
    const inner = trainingStep(() => trainingStep(() => linear(x, w.weight, w.bias).sum().item()));
    expect(Number.isFinite(inner)).toBe(true);
    // After the arena closed, op outputs are fresh again: a tensor made outside a step may be kept.
    const kept = linear(x, w.weight, w.bias);
    const copy = Float32Array.from(kept.data);
    trainingStep(() => linear(x, w.weight, w.bias).sum().item());
    expect(kept.data).toEqual(copy);
  });
});

// generate(): cached generation gives the same tokens and logits as running the whole window each step (greedy and
// seeded sampling, past the context length), each cached step runs only the new token, and the samplers' options.
import { describe, expect, it } from 'vitest';
import * as nn from '../lib/nn';
import { Rng } from '../lib/random';
import { generate, sampleLogits } from '../lib/generate';
import type { IntTensor } from '../lib/int-tensor';

const V = 11;

function gpt(context: number): nn.Sequential {
  return new nn.Sequential([
    new nn.Embedding(V, 16), new nn.LearnedPositionalEncoding(context, 16),
    new nn.DecoderBlock(16, 4), new nn.DecoderBlock(16, 4), new nn.LayerNorm(16), new nn.Linear(16, V),
  ], { seed: 3 });
}

function encoderLm(): nn.Sequential {
  const layer = new nn.TransformerEncoderLayer(16, 2, { dimFeedforward: 24, batchFirst: true, normFirst: true, activation: 'gelu', rope: true, dropout: 0.1 });
  return new nn.Sequential([
    new nn.Embedding(V, 16), new nn.SinusoidalPositionalEncoding(16, { maxLength: 64 }),
    new nn.TransformerEncoder(layer, 2, { causal: true, norm: true }), new nn.Linear(16, V),
  ], { seed: 4 });
}

function expectSameRun(model: nn.Module, prompt: number[], opts: Parameters<typeof generate>[2]): void {
  const a = generate(model, prompt, { ...opts, returnLogits: true });
  const b = generate(model, prompt, { ...opts, returnLogits: true, cache: false });
  expect(a.tokens).toEqual(b.tokens);
  expect(a.tokens.length).toBe(opts.maxTokens);
  a.logits!.forEach((row, i) => row.forEach((v, j) => expect(Math.abs(v - b.logits![i][j]), `token ${i} logit ${j}`).toBeLessThan(1e-5)));
}

describe('generate with a key/value cache', () => {
  it('DecoderBlock GPT: same tokens and logits as uncached, greedy and sampled, sliding past the 8-token context', () => {
    const model = gpt(8);
    expectSameRun(model, [1, 2, 3], { maxTokens: 20, temperature: 0 });
    expectSameRun(model, [4], { maxTokens: 20, temperature: 1.3, seed: 9 });
    expectSameRun(model, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], { maxTokens: 5, topK: 3, seed: 2 }); // prompt longer than the context
  });

  it('causal TransformerEncoder with RoPE and sinusoidal positions: same as uncached; dropout is off while generating', () => {
    const model = encoderLm();
    expectSameRun(model, [3, 1], { maxTokens: 12, topP: 0.9, seed: 5 });
    expect(model.training).toBe(true); // restored
  });

  it('each cached step embeds only the new token (the prompt once)', () => {
    const model = gpt(64);
    const emb = model.layers[0] as nn.Embedding;
    const seen: number[] = [];
    const orig = emb.forward.bind(emb);
    emb.forward = (ids) => {
      seen.push((ids as IntTensor).shape[1]);
      return orig(ids);
    };
    generate(model, [1, 2, 3, 4, 5], { maxTokens: 6, seed: 1 });
    expect(seen).toEqual([5, 1, 1, 1, 1, 1]);
    seen.length = 0;
    generate(model, [1, 2, 3, 4, 5], { maxTokens: 3, seed: 1, cache: false });
    expect(seen).toEqual([5, 6, 7]);
  });

  it('seeded sampling repeats; stopToken ends the run and is included', () => {
    const model = gpt(8);
    const a = generate(model, [1], { maxTokens: 15, seed: 42 }).tokens;
    expect(generate(model, [1], { maxTokens: 15, seed: 42 }).tokens).toEqual(a);
    const stop = a[4];
    const s = generate(model, [1], { maxTokens: 15, seed: 42, stopToken: stop }).tokens;
    expect(s[s.length - 1]).toBe(stop);
    expect(s).toEqual(a.slice(0, a.indexOf(stop) + 1));
  });

  it('errors: empty prompt, bad ids and options, a model without a cached form', () => {
    const model = gpt(8);
    expect(() => generate(model, [], { maxTokens: 2 })).toThrow(/prompt/);
    expect(() => generate(model, [1, -2], { maxTokens: 2 })).toThrow(/prompt\[1\]/);
    expect(() => generate(model, [1], { maxTokens: 2, topP: 0 })).toThrow(/topP/);
    expect(() => generate(model, [1], { maxTokens: 2, temprature: 1 } as never)).toThrow(/temprature/);
    const notCausal = new nn.Sequential([new nn.Embedding(V, 8), new nn.TransformerEncoder(new nn.TransformerEncoderLayer(8, 2, { batchFirst: true }), 1), new nn.Linear(8, V)]);
    expect(() => generate(notCausal, [1], { maxTokens: 2 })).toThrow(/not causal/);
  });
});

describe('sampleLogits', () => {
  const logits = [0.1, 2.0, -1.0, 1.9, 0.5];
  it('temperature 0, topK 1 and a tiny topP pick the argmax', () => {
    const rng = new Rng(1);
    expect(sampleLogits(logits, { temperature: 0 }, rng)).toBe(1);
    for (let i = 0; i < 20; i++) expect(sampleLogits(logits, { topK: 1 }, rng)).toBe(1);
    for (let i = 0; i < 20; i++) expect(sampleLogits(logits, { topP: 0.01 }, rng)).toBe(1);
  });
  it('frequencies follow softmax(logits / T) within topK', () => {
    const rng = new Rng(7);
    const counts = new Array(5).fill(0);
    const n = 20000;
    for (let i = 0; i < n; i++) counts[sampleLogits(logits, { temperature: 2, topK: 3 }, rng)]++;
    const w = [2.0, 1.9, 0.5].map((x) => Math.exp(x / 2));
    const z = w.reduce((a, b) => a + b, 0);
    expect(counts[0] + counts[2]).toBe(0);
    expect(Math.abs(counts[1] / n - w[0] / z)).toBeLessThan(0.015);
    expect(Math.abs(counts[3] / n - w[1] / z)).toBeLessThan(0.015);
    expect(Math.abs(counts[4] / n - w[2] / z)).toBeLessThan(0.015);
  });
});

// generate(): autoregressive sampling from a language model (temperature, top-k, top-p, seeded), with a key/value
// cache so that each new token costs O(length) (the cached forward of each layer type), or without one.
import { Tensor } from './tensor';
import { IntTensor } from './int-tensor';
import { noGrad } from './autograd';
import { add } from './ops/elementwise';
import { narrow } from './ops/view';
import { Rng, randomSeed } from './random';
import { Module } from './nn/module';
import { Sequential } from './nn/sequential';
import { Embedding } from './nn/embedding';
import { LearnedPositionalEncoding, SinusoidalPositionalEncoding, sinusoidalTable } from './nn/positional';
import { DecoderBlock } from './nn/decoder-block';
import { TransformerEncoder } from './nn/transformer-encoder';
import { emptyAttentionCache, type AttentionCache } from './nn/multihead-attention';
import { LayerNorm } from './nn/layer-norm';
import { Linear } from './nn/linear';
import { argumentError, checkBoolean, checkNumber, checkOptions, checkPositiveInt, checkSeed, invalid } from './validate';

/** Options of generate(): how many tokens, how to sample them (temperature, topK, topP, seed), when to stop, the cache. */
export interface GenerateOptions {
  /** Tokens to generate (at most; fewer when stopToken comes). */
  maxTokens: number;
  /** Softmax temperature (default 1); 0 picks the most likely token (greedy). */
  temperature?: number;
  /** Sample only among the k most likely tokens. */
  topK?: number;
  /** Sample only among the most likely tokens whose probabilities sum to at least p (nucleus sampling), 0 < p <= 1. */
  topP?: number;
  /** Seed of the sampler (default: random). */
  seed?: number;
  /** Stop after generating this token (it is included in the result). */
  stopToken?: number | null;
  /** Use the key/value cache (default true; false runs the whole context through forward for every token). */
  cache?: boolean;
  /** Also return the logits each token was sampled from (default false). */
  returnLogits?: boolean;
}

/** What generate() returns: the new token ids and, with returnLogits, the logits each was drawn from. */
export interface GenerateResult {
  /** The generated token ids (the prompt not included). */
  tokens: number[];
  /** With returnLogits: the logits ([vocab]) each generated token was drawn from. */
  logits: Float32Array[] | null;
}

/**
 * The longest context a model's positional encoding allows (Infinity without one).
 * @param model - the language model.
 * @returns the positional encoding's maxLength, or Infinity when the model has none.
 * @example
 * ```ts
 * contextLength(model) // 64
 * ```
 */
export function contextLength(model: Module): number {
  let n = Infinity;
  const walk = (m: Module): void => {
    if (m instanceof LearnedPositionalEncoding || m instanceof SinusoidalPositionalEncoding) n = Math.min(n, m.maxLength);
    for (const [, c] of m.children()) walk(c);
  };
  walk(model);
  return n;
}

/** Layers that act on each position alone: the cached forward runs them on the new positions as they are. */
function positionwise(m: Module): boolean {
  if (m instanceof LayerNorm || m instanceof Linear || m instanceof Embedding) return true;
  const type = m.toConfig().type;
  return ['ReLU', 'GELU', 'Tanh', 'Sigmoid', 'LeakyReLU', 'Dropout', 'Identity', 'SiLU', 'ELU', 'Softplus'].includes(type);
}

/** A Sequential language model run a few positions at a time over per-layer key/value caches. */
class CachedRunner {
  private caches = new Map<Module, AttentionCache>();
  position = 0;

  constructor(private readonly layers: readonly Module[]) {
    for (const l of layers) {
      if (l instanceof TransformerEncoder && !l.causal) {
        throw argumentError('generate', `${l.describe()} is not causal (new TransformerEncoder(layer, n, { causal: true })): it cannot generate with a cache; pass cache: false`);
      }
      if (!(l instanceof LearnedPositionalEncoding || l instanceof SinusoidalPositionalEncoding || l instanceof DecoderBlock || l instanceof TransformerEncoder || positionwise(l))) {
        throw argumentError('generate', `layer ${l.describe()} has no cached forward; pass cache: false to run the whole context each step`);
      }
    }
  }

  reset(): void {
    this.caches.clear();
    this.position = 0;
  }

  private cacheOf(m: Module): AttentionCache {
    let c = this.caches.get(m);
    if (c === undefined) {
      c = emptyAttentionCache();
      this.caches.set(m, c);
    }
    return c;
  }

  /** Runs the new tokens; returns the logits of the last one. */
  step(ids: readonly number[]): Float32Array {
    const t = ids.length;
    const pos = this.position;
    let h: Tensor | IntTensor = new IntTensor(Int32Array.from(ids), [1, t]);
    for (const l of this.layers) {
      if (l instanceof LearnedPositionalEncoding) {
        h = add(h as Tensor, narrow(l.weight, 0, pos, t));
      } else if (l instanceof SinusoidalPositionalEncoding) {
        const D = l.embeddingDim;
        h = add(h as Tensor, new Tensor(sinusoidalTable(pos + t, D, l.base).slice(pos * D), [t, D]));
      } else if (l instanceof DecoderBlock) {
        h = l.forwardCached(h as Tensor, this.cacheOf(l));
      } else if (l instanceof TransformerEncoder) {
        for (const layer of l.layers) h = layer.forwardCached(h as Tensor, this.cacheOf(layer));
        if (l.norm !== null) h = l.norm.forward(h as Tensor);
      } else {
        h = l.forward(h) as Tensor;
      }
    }
    this.position = pos + t;
    return lastRow(h as Tensor);
  }
}

/** The logits of the last position of [1, t, V] (or [t, V]). */
function lastRow(y: Tensor): Float32Array {
  const V = y.shape[y.ndim - 1];
  return y.data.slice(y.size - V);
}

/**
 * Draws a token from logits: temperature 0 is argmax; otherwise softmax(logits / temperature) restricted to the topK
 * most likely and to the smallest set whose probability reaches topP, sampled with rng.
 * @param logits one row of logits, [vocab].
 * @param opts temperature (default 1; 0 = argmax), topK, topP.
 * @param rng the generator to sample with.
 * @returns the token id drawn.
 * @example
 * ```ts
 * sampleLogits([0.1, 2.0, -1], { temperature: 0 }, new Rng(1)) // 1
 * ```
 */
export function sampleLogits(logits: ArrayLike<number>, opts: { temperature?: number; topK?: number; topP?: number }, rng: Rng): number {
  const V = logits.length;
  const temperature = opts.temperature ?? 1;
  let best = 0;
  for (let i = 1; i < V; i++) if (logits[i] > logits[best]) best = i;
  if (temperature === 0) return best;
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b] - logits[a]);
  const keep = Math.min(V, opts.topK ?? V);
  const max = logits[order[0]];
  const p = new Float64Array(keep);
  let total = 0;
  for (let r = 0; r < keep; r++) {
    p[r] = Math.exp((logits[order[r]] - max) / temperature);
    total += p[r];
  }
  let n = keep;
  if (opts.topP !== undefined && opts.topP < 1) {
    let acc = 0;
    for (let r = 0; r < keep; r++) {
      acc += p[r] / total;
      if (acc >= opts.topP) {
        n = r + 1;
        break;
      }
    }
  }
  let mass = 0;
  for (let r = 0; r < n; r++) mass += p[r];
  let u = rng.next() * mass;
  for (let r = 0; r < n; r++) {
    u -= p[r];
    if (u < 0) return order[r];
  }
  return order[n - 1];
}

/**
 * Continues `prompt` (token ids) with up to maxTokens tokens sampled from `model`, a language model whose forward takes
 * ids [1, length] and returns logits [1, length, vocab] (a Sequential of Embedding, a positional encoding, DecoderBlocks
 * or a causal TransformerEncoder, LayerNorm, Linear). With the cache (default) the prompt runs once and each new token
 * runs alone over the cached keys and values: O(length) per token. The context is the positional encoding's
 * maxLength: past it, the window slides (the cache is rebuilt from the last maxLength tokens, as the uncached path
 * reads them). Runs in eval mode without recording gradients.
 * @param model - a language model (an nn.Module: ids [1, length] in, logits [1, length, vocab] out).
 * @param prompt - the token ids to continue (a non-empty array of integers >= 0).
 * @param opts - maxTokens (required, an integer >= 0), temperature (default 1; 0 = greedy), topK, topP (in (0, 1]), seed (default random), stopToken, cache (default true), returnLogits (default false).
 * @returns the generated token ids (without the prompt) and, with returnLogits, the logits each was drawn from.
 * @throws Error when model is not a Module, an option is unknown or out of range, or the prompt is empty or holds a value that is not a token id.
 * @example
 * ```ts
 * const { tokens } = generate(model, vocab.encode('an'), { maxTokens: 10, temperature: 0.8, seed: 1 });
 * ```
 */
export function generate(model: Module, prompt: ArrayLike<number>, opts: GenerateOptions): GenerateResult {
  const where = 'generate';
  if (!(model instanceof Module)) invalid(where, 'model', 'a Module', model);
  const o = checkOptions(where, opts, ['maxTokens', 'temperature', 'topK', 'topP', 'seed', 'stopToken', 'cache', 'returnLogits']);
  const maxTokens = checkNumber(where, 'maxTokens', o.maxTokens, { integer: true, min: 0 });
  const temperature = o.temperature === undefined ? 1 : checkNumber(where, 'temperature', o.temperature, { min: 0 });
  const topK = o.topK === undefined ? undefined : checkPositiveInt(where, 'topK', o.topK);
  const topP = o.topP === undefined ? undefined : checkNumber(where, 'topP', o.topP, { above: 0, max: 1 });
  const rng = new Rng(o.seed === undefined ? randomSeed() : checkSeed(where, 'seed', o.seed));
  const stop = o.stopToken === undefined || o.stopToken === null ? null : checkNumber(where, 'stopToken', o.stopToken, { integer: true, min: 0 });
  const useCache = o.cache === undefined ? true : checkBoolean(where, 'cache', o.cache);
  const keepLogits = o.returnLogits === undefined ? false : checkBoolean(where, 'returnLogits', o.returnLogits);
  if (prompt === null || typeof prompt !== 'object' || typeof prompt.length !== 'number' || prompt.length === 0) {
    invalid(where, 'prompt', 'a non-empty array of token ids', prompt);
  }
  const ids = Array.from(prompt, (v, i) => {
    if (!Number.isSafeInteger(v) || v < 0) invalid(where, `prompt[${i}]`, 'a token id (an integer >= 0)', v);
    return v;
  });
  const context = contextLength(model);
  const wasTraining = model.training;
  model.eval();
  const tokens: number[] = [];
  const logits: Float32Array[] = [];
  try {
    noGrad(() => {
      const runner = useCache ? new CachedRunner(model instanceof Sequential ? model.layers : [model]) : null;
      const window = (): number[] => (ids.length > context ? ids.slice(ids.length - context) : ids);
      let last: Float32Array = runner !== null ? runner.step(window()) : lastRow(forwardIds(model, window()));
      for (let n = 0; n < maxTokens; n++) {
        const next = sampleLogits(last, { temperature, topK, topP }, rng);
        tokens.push(next);
        if (keepLogits) logits.push(last);
        ids.push(next);
        if (stop !== null && next === stop) break;
        if (n === maxTokens - 1) break;
        if (runner === null) last = lastRow(forwardIds(model, window()));
        else if (runner.position + 1 > context) {
          runner.reset();
          last = runner.step(window());
        } else {
          last = runner.step([next]);
        }
      }
    });
  } finally {
    if (wasTraining) model.train();
  }
  return { tokens, logits: keepLogits ? logits : null };
}

function forwardIds(model: Module, ids: number[]): Tensor {
  const y = model.forward(new IntTensor(Int32Array.from(ids), [1, ids.length])) as Tensor;
  if (!(y instanceof Tensor) || y.ndim < 2) throw argumentError('generate', 'the model must return logits [1, length, vocab] for ids [1, length]');
  return y;
}

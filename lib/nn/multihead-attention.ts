// MultiheadAttention: input projections, heads of scaled dot-product attention (the fused kernel; composed from ops
// when attention weights or a general attnMask are asked for) and the output projection.
import { Tensor, shapeToString, zeros } from '../tensor';
import { IntTensor } from '../int-tensor';
import { add, mul } from '../ops/elementwise';
import { linear } from '../ops/linear';
import { dropout } from '../ops/dropout';
import { softmax } from '../ops/activation';
import { mean } from '../ops/reduce';
import { reshape } from '../ops/shape';
import { narrow } from '../ops/view';
import { bmm, causalMask, maskedFill, permute, swapAxes } from '../ops/seq';
import { isTracing } from '../autograd';
import { rope, scaledDotProductAttention, selfAttentionPacked } from '../ops/attention';
import { Rng, globalGenerator } from '../random';
import { Module } from './module';
import { Linear } from './linear';
import type { LayerConfig } from './config';
import { glorotUniform, uniformFill } from './init';
import { keyRules, register } from './registry';
import { argumentError, checkBoolean, checkNumber, checkOptions, checkPositiveInt, checkSeed, checkTensor, invalid } from '../validate';

/** Options of nn.MultiheadAttention: dropout on the attention weights, bias, batchFirst, causal and seed. */
/** Options of nn.MultiheadAttention: dropout on the attention weights, bias, batchFirst, causal, rope and seed. */
export interface MultiheadAttentionOptions {
  /** Dropout on the attention weights in training mode (default 0). */
  dropout?: number;
  /** Biases on the input and output projections (default true). */
  bias?: boolean;
  /** Inputs and output are [batch, length, embedDim] (true) or [length, batch, embedDim] (false, PyTorch's default). */
  batchFirst?: boolean;
  /** forward(x) masks future positions (a decoder's self-attention); attend() takes isCausal per call. Default false. */
  causal?: boolean;
  /** Rotary position embedding of queries and keys (RoPE): true (base 10000) or { base }. Default off. */
  rope?: boolean | { base?: number };
  /** Seed for the weights and the dropout masks. */
  seed?: number;
}

/** Per-call options of attention: keyPaddingMask, attnMask, isCausal, and whether to return (averaged) attention weights. */
/** Per-call options of attention: keyPaddingMask, attnMask, isCausal, and whether to return (averaged) attention weights. */
export interface AttendOptions {
  /** Shape [batch, sourceLength]: nonzero marks a padding key that no query attends to (PyTorch's key_padding_mask, bool). */
  keyPaddingMask?: Tensor | IntTensor | null;
  /** [targetLength, sourceLength] or [batch * numHeads, targetLength, sourceLength]: nonzero masks a pair (PyTorch's bool attn_mask). */
  attnMask?: Tensor | IntTensor | null;
  /** Mask the future: query i sees keys 0..i (default: the layer's causal option). */
  isCausal?: boolean;
  /** Also return the attention weights (default false). */
  needWeights?: boolean;
  /** Average the returned weights over heads (default true, as PyTorch): [batch, target, source], else [batch, heads, target, source]. */
  averageWeights?: boolean;
}

interface MultiheadAttentionConfig extends LayerConfig {
  embedDim: number;
  numHeads: number;
  dropout: number;
  bias: boolean;
  batchFirst: boolean;
  causal: boolean;
  /** RoPE's base, or null without RoPE. */
  rope: number | null;
}

/** A mask as a float 1/0 Tensor. */
function maskTensor(where: string, name: string, m: unknown): Tensor {
  if (m instanceof IntTensor) return m.toFloat();
  return checkTensor(where, name, m);
}

/**
 * torch.nn.MultiheadAttention: projections of query, key and value (in_proj_weight [3E, E] and in_proj_bias [3E],
 * PyTorch's names and layout), numHeads heads of scaled dot-product attention softmax(q k^T / sqrt(E / numHeads)) v,
 * and out_proj (a Linear). Attention runs on the fused kernel (ops/attention.ts: memory grows with length, not
 * length^2, dropout included); asking for the weights (needWeights) or passing a general attnMask takes the composed
 * path (bmm, maskedFill, softmax), which materialises them. forward(x) is self-attention (causal when the layer is);
 * attend(query, key, value, opts) takes masks and returns the weights too.
 */
export class MultiheadAttention extends Module {
  readonly embedDim: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly dropoutP: number;
  readonly batchFirst: boolean;
  readonly causal: boolean;
  /** RoPE's base (queries and keys rotated by position), or null. */
  readonly ropeBase: number | null;
  /** Shape [3 * embedDim, embedDim]: the query, key and value projections stacked. */
  readonly inProjWeight: Tensor;
  /** [3 * embedDim], or null without bias. */
  readonly inProjBias: Tensor | null;
  readonly outProj: Linear;
  private seed: number | undefined;
  private readonly hasOwnSeed: boolean;
  private rng: Rng | null;

  /**
   * Creates the layer (query, key, value and output projections, as torch.nn.MultiheadAttention).
   * @param embedDim the model dimension, a positive integer divisible by numHeads.
   * @param numHeads attention heads, a positive integer.
   * @param opts dropout (on the attention weights in training, in [0, 1), default 0), bias (default true), batchFirst (default false), causal (default false), rope (true for base 10000, or { base }; default off), seed.
   * @throws Error when a size is not a positive integer, embedDim is not divisible by numHeads, an option is unknown or out of range, or rope is asked for with an odd head dimension.
   * @example
   * ```ts
   * const mha = new nn.MultiheadAttention(64, 4, { batchFirst: true, causal: true, seed: 1 });
   * ```
   */
  constructor(embedDim: number, numHeads: number, opts: MultiheadAttentionOptions = {}) {
    super();
    const where = 'MultiheadAttention';
    checkPositiveInt(where, 'embedDim', embedDim);
    checkPositiveInt(where, 'numHeads', numHeads);
    if (embedDim % numHeads !== 0) throw argumentError(where, `embedDim ${embedDim} must be divisible by numHeads ${numHeads}`);
    const o = checkOptions(where, opts, ['dropout', 'bias', 'batchFirst', 'causal', 'rope', 'seed']);
    this.dropoutP = o.dropout === undefined ? 0 : checkNumber(where, 'dropout', o.dropout, { min: 0, below: 1 });
    const bias = o.bias === undefined ? true : checkBoolean(where, 'bias', o.bias);
    this.batchFirst = o.batchFirst === undefined ? false : checkBoolean(where, 'batchFirst', o.batchFirst);
    this.causal = o.causal === undefined ? false : checkBoolean(where, 'causal', o.causal);
    this.ropeBase = ropeBaseOf(where, o.rope);
    if (this.ropeBase !== null && (embedDim / numHeads) % 2 !== 0) {
      throw argumentError(where, `rope needs an even head dimension, got embedDim ${embedDim} / numHeads ${numHeads} = ${embedDim / numHeads}`);
    }
    this.seed = o.seed === undefined ? undefined : checkSeed(where, 'seed', o.seed);
    this.hasOwnSeed = this.seed !== undefined;
    this.rng = this.seed === undefined ? null : new Rng(this.seed);
    this.embedDim = embedDim;
    this.numHeads = numHeads;
    this.headDim = embedDim / numHeads;
    this.inProjWeight = this.registerParameter('in_proj_weight', zeros([3 * embedDim, embedDim]));
    this.inProjBias = bias ? this.registerParameter('in_proj_bias', zeros([3 * embedDim])) : null;
    this.outProj = this.registerModule('out_proj', new Linear(embedDim, embedDim, { bias }));
    this.resetParameters();
  }

  /**
   * Re-draws the weights with PyTorch's init: in_proj_weight Glorot uniform, out_proj.weight uniform
   * +-1/sqrt(embedDim), biases zero.
   * @param seed an integer in [0, 2^32) for this draw (default: the layer's seed, else the global generator).
   * @throws Error when seed is given and is not an integer in [0, 2^32).
   * @example mha.resetParameters(7);
   */
  resetParameters(seed?: number): void {
    if (seed !== undefined) checkSeed('MultiheadAttention.resetParameters', 'seed', seed);
    const s = seed ?? this.seed;
    const rng = s === undefined ? globalGenerator() : new Rng(s);
    glorotUniform(this.inProjWeight.data, this.embedDim, 3 * this.embedDim, rng);
    uniformFill(this.outProj.weight.data, 1 / Math.sqrt(this.embedDim), rng);
    if (this.inProjBias) this.inProjBias.data.fill(0);
    if (this.outProj.bias) this.outProj.bias.data.fill(0);
    for (const p of this.parameters()) p._version++;
  }

  /**
   * Seeds the weights and the dropout masks from `seed` and re-draws the weights, unless the layer was given
   * its own seed. Sequential({ seed }) calls it.
   * @param seed an integer in [0, 2^32).
   * @example new nn.Sequential(new nn.MultiheadAttention(64, 4, { batchFirst: true }), { seed: 1 })
   */
  override seedIfUnseeded(seed: number): void {
    if (this.hasOwnSeed) return;
    this.seed = seed;
    this.rng = new Rng(seed);
    this.resetParameters();
  }

  /**
   * Self-attention of x over itself (query = key = value = x), causal when the layer was made with causal.
   * @param x a Tensor [batch, length, embedDim] with batchFirst, else [length, batch, embedDim].
   * @returns a Tensor of x's shape.
   * @throws Error when x is not a 3-D Tensor whose last dimension is embedDim.
   * @example new nn.MultiheadAttention(16, 4, { batchFirst: true }).forward(randn([2, 5, 16])).shape // [2, 5, 16]
   */
  override forward(x: Tensor): Tensor {
    return this.attend(x, x, x).output;
  }

  /**
   * Attention of query over key/value, with masks; returns the output and (needWeights) the attention weights.
   * @param query a Tensor [batch, targetLength, embedDim] with batchFirst, else [targetLength, batch, embedDim].
   * @param key a Tensor [batch, sourceLength, embedDim] (same layout).
   * @param value a Tensor of key's shape.
   * @param opts keyPaddingMask [batch, sourceLength] and attnMask [targetLength, sourceLength] or
   * [batch * numHeads, targetLength, sourceLength] (nonzero masks; default none), isCausal (default: the layer's
   * causal), needWeights (default false), averageWeights (average the weights over heads, default true).
   * @returns output: a Tensor of query's shape; weights: [batch, targetLength, sourceLength] (averaged) or
   * [batch, numHeads, targetLength, sourceLength] when needWeights, else null.
   * @throws Error when query, key or value is not a 3-D Tensor ending in embedDim, they disagree on batch or
   * source length, an option is unknown or not a boolean, isCausal is set with targetLength != sourceLength, or
   * a mask has the wrong shape.
   * @example
   * ```ts
   * const { output, weights } = mha.attend(q, kv, kv, { needWeights: true });
   * ```
   */
  attend(query: Tensor, key: Tensor, value: Tensor, opts: AttendOptions = {}): { output: Tensor; weights: Tensor | null } {
    const where = `${this.describe()}.attend`;
    const o = checkOptions(where, opts, ['keyPaddingMask', 'attnMask', 'isCausal', 'needWeights', 'averageWeights']);
    const E = this.embedDim;
    const H = this.numHeads;
    const Dh = this.headDim;
    for (const [name, t] of [['query', query], ['key', key], ['value', value]] as const) {
      checkTensor(where, name, t);
      if (t.ndim !== 3 || t.shape[2] !== E) {
        throw argumentError(where, `${name} of shape ${shapeToString(t.shape)} must be ${this.batchFirst ? '[batch, length' : '[length, batch'}, ${E}]`);
      }
    }
    // Work batch-first: [B, T, E].
    const [q0, k0, v0] = this.batchFirst ? [query, key, value] : [query, key, value].map((t) => swapAxes(t, 0, 1));
    const [B, T] = q0.shape;
    const S = k0.shape[1];
    if (k0.shape[0] !== B || v0.shape[0] !== B || v0.shape[1] !== S) {
      throw argumentError(where, `query ${shapeToString(query.shape)}, key ${shapeToString(key.shape)} and value ${shapeToString(value.shape)} disagree on batch or source length`);
    }
    const isCausal = o.isCausal === undefined ? this.causal : checkBoolean(where, 'isCausal', o.isCausal);
    const needWeights = o.needWeights === undefined ? false : checkBoolean(where, 'needWeights', o.needWeights);
    const average = o.averageWeights === undefined ? true : checkBoolean(where, 'averageWeights', o.averageWeights);

    // Projections, split into heads: [B, H, L, Dh].
    const project = (x: Tensor, part: number, L: number): Tensor => {
      const w = narrow(this.inProjWeight, 0, part * E, E);
      const b = this.inProjBias === null ? null : narrow(this.inProjBias, 0, part * E, E);
      return permute(reshape(linear(x, w, b), [B, L, H, Dh]), [0, 2, 1, 3]);
    };
    // Self-attention: one projection by the whole in_proj_weight (one GEMM, no weight slices), split after.
    // (ONNX tracing takes the three projections: the split moves the batch off the first axis, which export tracks.)
    const fused = query === key && key === value && !isTracing();
    const hasAttnMask = o.attnMask !== undefined && o.attnMask !== null;
    if (isCausal && T !== S) throw argumentError(where, `isCausal needs query and key of the same length, got ${T} and ${S}`);
    if (fused && this.ropeBase === null && !hasAttnMask && !needWeights) {
      // The packed path: one projection, the kernel reads its heads in place and writes them side by side.
      const qkv = linear(q0, this.inProjWeight, this.inProjBias);
      const heads = selfAttentionPacked(qkv, H, {
        causal: isCausal, keyPaddingMask: o.keyPaddingMask ?? null, dropout: this.dropoutP, training: this.training,
        generator: this.rng ?? globalGenerator(),
      });
      const output = this.outProj.forward(heads);
      return { output: this.batchFirst ? output : swapAxes(output, 0, 1), weights: null };
    }
    let [q, k, v] = fused ? this.projectQkv(q0) : [project(q0, 0, T), project(k0, 1, S), project(v0, 2, S)];
    if (this.ropeBase !== null) {
      q = rope(q, 0, this.ropeBase);
      k = rope(k, 0, this.ropeBase);
    }
    let weights: Tensor | null = null;
    let context: Tensor; // [B, H, T, Dh]
    if (!hasAttnMask && !needWeights) {
      // The fused kernel: no T x S matrix, dropout inside the kernel.
      context = scaledDotProductAttention(q, k, v, {
        causal: isCausal, keyPaddingMask: o.keyPaddingMask ?? null, dropout: this.dropoutP, training: this.training,
        generator: this.rng ?? globalGenerator(),
      });
    } else {
      ({ context, weights } = this.composed(where, q, k, v, isCausal, o.attnMask ?? null, o.keyPaddingMask ?? null));
    }
    const heads = reshape(permute(context, [0, 2, 1, 3]), [B, T, E]);
    let output = this.outProj.forward(heads);
    if (!this.batchFirst) output = swapAxes(output, 0, 1);
    if (!needWeights || weights === null) return { output, weights: null };
    return { output, weights: average ? mean(weights, 1) : weights };
  }

  /**
   * Causal self-attention of new positions over a key/value cache of the positions before them (generation):
   * the new keys and values are appended to `cache` (in place), so each new token costs O(cached length), not
   * O(length^2). RoPE counts positions from the cache length. Runs in eval mode (no dropout).
   * @param x the new positions, a Tensor [batch, t, embedDim] (batch-first whatever the layer's batchFirst).
   * @param cache the key/value cache ({ key: null, value: null, length: 0 } before the first call), updated in place; its batch must match x's.
   * @returns a Tensor [batch, t, embedDim].
   * @throws Error when x is not a 3-D Tensor ending in embedDim, or the cache holds another batch size.
   * @example const cache = { key: null, value: null, length: 0 }; mha.eval().attendCached(prompt, cache); mha.attendCached(next, cache);
   */
  attendCached(x: Tensor, cache: AttentionCache): Tensor {
    const where = `${this.describe()}.attendCached`;
    checkTensor(where, 'x', x);
    const E = this.embedDim;
    if (x.ndim !== 3 || x.shape[2] !== E) throw argumentError(where, `x of shape ${shapeToString(x.shape)} must be [batch, length, ${E}]`);
    const [B, t] = x.shape;
    const past = cache.length;
    if (cache.key !== null && cache.key.shape[0] !== B) throw argumentError(where, `the cache holds batch ${cache.key.shape[0]}, x has batch ${B}`);
    let [q, k, v] = this.projectQkv(x);
    if (this.ropeBase !== null) {
      q = rope(q, past, this.ropeBase);
      k = rope(k, past, this.ropeBase);
    }
    cache.key = appendPositions(cache.key, k);
    cache.value = appendPositions(cache.value, v);
    cache.length = past + t;
    const context = scaledDotProductAttention(q, cache.key, cache.value, { causal: true, training: false });
    return this.outProj.forward(reshape(permute(context, [0, 2, 1, 3]), [B, t, E]));
  }

  /** Queries, keys and values of x [B, L, E] as [B, H, L, Dh] each, from one product with in_proj_weight [3E, E]. */
  private projectQkv(x: Tensor): [Tensor, Tensor, Tensor] {
    const [B, L] = x.shape;
    const H = this.numHeads, Dh = this.headDim;
    // [B, L, 3E] -> [3, B, H, L, Dh]: q, k and v are the three contiguous blocks of the first axis.
    const qkv = permute(reshape(linear(x, this.inProjWeight, this.inProjBias), [B, L, 3, H, Dh]), [2, 0, 3, 1, 4]);
    const part = (i: number): Tensor => reshape(narrow(qkv, 0, i, 1), [B, H, L, Dh]);
    return [part(0), part(1), part(2)];
  }

  /** Attention from ops (bmm, maskedFill, softmax): materialises the [B, H, T, S] weights, which it returns. */
  private composed(where: string, q: Tensor, k: Tensor, v: Tensor, isCausal: boolean, attnMask: Tensor | IntTensor | null,
    keyPaddingMask: Tensor | IntTensor | null): { context: Tensor; weights: Tensor } {
    const [B, H, T, Dh] = q.shape;
    const S = k.shape[2];
    let scores = mul(bmm(q, swapAxes(k, -1, -2)), 1 / Math.sqrt(Dh)); // [B, H, T, S]
    // Masks: nonzero = not attended. Combined into one broadcastable mask.
    let mask: Tensor | null = null;
    const orMask = (m: Tensor): void => {
      mask = mask === null ? m : maxMask(mask, m);
    };
    if (isCausal) orMask(causalMask(T));
    if (attnMask !== null) {
      const m = maskTensor(where, 'attnMask', attnMask);
      if (m.ndim === 2 && m.shape[0] === T && m.shape[1] === S) orMask(m);
      else if (m.ndim === 3 && m.shape[0] === B * H && m.shape[1] === T && m.shape[2] === S) orMask(reshape(m, [B, H, T, S]));
      else throw argumentError(where, `attnMask of shape ${shapeToString(m.shape)} must be [${T}, ${S}] or [${B * H}, ${T}, ${S}]`);
    }
    if (keyPaddingMask !== null) {
      const m = maskTensor(where, 'keyPaddingMask', keyPaddingMask);
      if (m.ndim !== 2 || m.shape[0] !== B || m.shape[1] !== S) {
        throw argumentError(where, `keyPaddingMask of shape ${shapeToString(m.shape)} must be [batch ${B}, source length ${S}]`);
      }
      orMask(reshape(m, [B, 1, 1, S]));
    }
    if (mask !== null) scores = maskedFill(scores, mask, -Infinity);
    const weights = softmax(scores, -1);
    const attn = this.dropoutP > 0 && this.training ? dropout(weights, this.dropoutP, true, this.rng ?? globalGenerator()) : weights;
    return { context: bmm(attn, v), weights };
  }

  override toConfig(): MultiheadAttentionConfig {
    return {
      type: 'MultiheadAttention', embedDim: this.embedDim, numHeads: this.numHeads, dropout: this.dropoutP,
      bias: this.inProjBias !== null, batchFirst: this.batchFirst, causal: this.causal, rope: this.ropeBase,
    };
  }

  override describe(): string {
    return `MultiheadAttention(${this.embedDim}, heads=${this.numHeads}${this.causal ? ', causal' : ''}${this.batchFirst ? ', batchFirst' : ''}${this.ropeBase !== null ? ', rope' : ''})`;
  }
}

/**
 * The keys and values of the positions seen so far ([batch, heads, length, headDim]), for attendCached and the
 * forwardCached methods of the blocks built on attention. Start a generation with
 * `{ key: null, value: null, length: 0 }`; each cached call returns the cache grown by its new positions.
 */
export interface AttentionCache {
  /** The keys of the positions seen so far, [batch, heads, length, headDim]; null before the first call. */
  key: Tensor | null;
  /** The values of the positions seen so far, [batch, heads, length, headDim]; null before the first call. */
  value: Tensor | null;
  /** How many positions the cache holds (the position of the next token). */
  length: number;
}

/** An empty cache for attendCached. */
export function emptyAttentionCache(): AttentionCache {
  return { key: null, value: null, length: 0 };
}

/** [B, H, S, D] followed by [B, H, t, D] along the length axis (a copy: O(S) per step). */
function appendPositions(past: Tensor | null, next: Tensor): Tensor {
  if (past === null) return next.detach();
  const [B, H, S, D] = past.shape;
  const t = next.shape[2];
  const out = new Float32Array(B * H * (S + t) * D);
  for (let bh = 0; bh < B * H; bh++) {
    out.set(past.data.subarray(bh * S * D, (bh + 1) * S * D), bh * (S + t) * D);
    out.set(next.data.subarray(bh * t * D, (bh + 1) * t * D), (bh * (S + t) + S) * D);
  }
  return new Tensor(out, [B, H, S + t, D]);
}

/** The rope option as a base (true: 10000) or null. */
function ropeBaseOf(where: string, v: unknown): number | null {
  if (v === undefined || v === false) return null;
  if (v === true) return 10000;
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const o = checkOptions(`${where} rope`, v as { base?: number }, ['base']);
    return o.base === undefined ? 10000 : checkNumber(where, 'rope.base', o.base, { min: 1 });
  }
  return invalid(where, 'rope', 'true, false or { base }', v);
}

/** A config's rope key: null or RoPE's base (a number >= 1). Configs saved before RoPE have no key: fromConfig needs it. */
const ROPE_RULE = { expect: 'null or a number >= 1 (the RoPE base)', ok: (v: unknown) => v === null || (typeof v === 'number' && Number.isFinite(v) && v >= 1) };

/** Elementwise max of two 1/0 masks, broadcasting (a logical or), without gradient. */
function maxMask(a: Tensor, b: Tensor): Tensor {
  // (a + b) > 0, computed on values: masks carry no gradient.
  const s = add(a.detach(), b.detach());
  const out = new Float32Array(s.size);
  for (let i = 0; i < out.length; i++) out[i] = s.data[i] !== 0 ? 1 : 0;
  return new Tensor(out, s.shape);
}

register<MultiheadAttentionConfig>(MultiheadAttention, {
  keys: {
    embedDim: keyRules.positiveInt, numHeads: keyRules.positiveInt, dropout: keyRules.probability,
    bias: keyRules.boolean, batchFirst: keyRules.boolean, causal: keyRules.boolean, rope: ROPE_RULE,
  },
  fromConfig: (c) => new MultiheadAttention(c.embedDim, c.numHeads, {
    dropout: c.dropout, bias: c.bias, batchFirst: c.batchFirst, causal: c.causal, rope: c.rope === null ? false : { base: c.rope },
  }),
  parameters: (c) => [
    { name: 'in_proj_weight', shape: [3 * c.embedDim, c.embedDim] },
    ...(c.bias ? [{ name: 'in_proj_bias', shape: [3 * c.embedDim] }] : []),
    { name: 'out_proj.weight', shape: [c.embedDim, c.embedDim] },
    ...(c.bias ? [{ name: 'out_proj.bias', shape: [c.embedDim] }] : []),
  ],
});

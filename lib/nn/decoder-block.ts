// DecoderBlock: a GPT-style pre-norm decoder-only block (causal multi-head self-attention, GELU MLP).
import { Tensor } from '../tensor';
import { add } from '../ops/elementwise';
import { dropout } from '../ops/dropout';
import { gelu } from '../ops/activation';
import { Rng, globalGenerator } from '../random';
import { Module } from './module';
import { Linear } from './linear';
import { LayerNorm } from './layer-norm';
import { MultiheadAttention, type AttentionCache } from './multihead-attention';
import type { LayerConfig } from './config';
import { keyRules, register } from './registry';
import { checkNumber, checkOptions, checkPositiveInt, checkSeed, checkTensor, invalid } from '../validate';

/** Options of nn.DecoderBlock (a pre-norm transformer decoder block): the MLP width, dropout and seed. */
export interface DecoderBlockOptions {
  /** Hidden width of the MLP (default 4 * embedDim). */
  mlpDim?: number;
  /** Dropout after attention and after the MLP, and on the attention weights (default 0). */
  dropout?: number;
  /** Seed for the weights and dropout masks. */
  seed?: number;
}

interface DecoderBlockConfig extends LayerConfig {
  embedDim: number;
  numHeads: number;
  mlpDim: number;
  dropout: number;
}

/**
 * A GPT-style decoder-only block on [batch, length, embedDim], pre-norm:
 *   x = x + dropout(attn(ln1(x)))   (causal multi-head self-attention)
 *   x = x + dropout(fc2(gelu(fc1(ln2(x)))))
 * Stack them in a Sequential after an Embedding and a positional encoding.
 */
export class DecoderBlock extends Module {
  readonly embedDim: number;
  readonly numHeads: number;
  readonly mlpDim: number;
  readonly dropoutP: number;
  readonly ln1: LayerNorm;
  readonly attn: MultiheadAttention;
  readonly ln2: LayerNorm;
  readonly fc1: Linear;
  readonly fc2: Linear;
  private rng: Rng | null;
  private readonly hasOwnSeed: boolean;

  /**
   * Creates the block: pre-norm causal self-attention and an MLP, each with a residual connection (GPT-style).
   * @param embedDim the model dimension, a positive integer divisible by numHeads.
   * @param numHeads attention heads, a positive integer.
   * @param opts mlpDim (default 4 * embedDim), dropout (in [0, 1), default 0), seed.
   * @throws Error when a size is not a positive integer, embedDim is not divisible by numHeads, or an option is unknown or out of range.
   * @example
   * ```ts
   * const block = new nn.DecoderBlock(64, 4, { seed: 1 }); // [batch, length, 64] -> [batch, length, 64]
   * ```
   */
  constructor(embedDim: number, numHeads: number, opts: DecoderBlockOptions = {}) {
    super();
    const where = 'DecoderBlock';
    checkPositiveInt(where, 'embedDim', embedDim);
    checkPositiveInt(where, 'numHeads', numHeads);
    const o = checkOptions(where, opts, ['mlpDim', 'dropout', 'seed']);
    this.mlpDim = o.mlpDim === undefined ? 4 * embedDim : checkPositiveInt(where, 'mlpDim', o.mlpDim);
    this.dropoutP = o.dropout === undefined ? 0 : checkNumber(where, 'dropout', o.dropout, { min: 0, below: 1 });
    const seed = o.seed === undefined ? undefined : checkSeed(where, 'seed', o.seed);
    this.hasOwnSeed = seed !== undefined;
    this.rng = seed === undefined ? null : new Rng(seed);
    this.embedDim = embedDim;
    this.numHeads = numHeads;
    this.ln1 = this.registerModule('ln1', new LayerNorm(embedDim));
    this.attn = this.registerModule('attn', new MultiheadAttention(embedDim, numHeads, { batchFirst: true, causal: true, dropout: this.dropoutP, seed }));
    this.ln2 = this.registerModule('ln2', new LayerNorm(embedDim));
    this.fc1 = this.registerModule('fc1', new Linear(embedDim, this.mlpDim, { seed: seed === undefined ? undefined : (seed + 1) >>> 0 }));
    this.fc2 = this.registerModule('fc2', new Linear(this.mlpDim, embedDim, { seed: seed === undefined ? undefined : (seed + 2) >>> 0 }));
  }

  /**
   * Seeds the dropout masks, the attention and the two MLP layers from `seed` (the MLP layers from seed + 1
   * and seed + 2), unless the block was given its own seed. Sequential({ seed }) calls it.
   * @param seed an integer in [0, 2^32).
   * @example new nn.Sequential(new nn.DecoderBlock(64, 4), { seed: 1 }) // calls seedIfUnseeded with a per-layer seed
   */
  override seedIfUnseeded(seed: number): void {
    if (this.hasOwnSeed) return;
    this.rng = new Rng(seed);
    this.attn.seedIfUnseeded(seed);
    this.fc1.seedIfUnseeded((seed + 1) >>> 0);
    this.fc2.seedIfUnseeded((seed + 2) >>> 0);
  }

  /**
   * Runs the block on a whole sequence: causal self-attention then the GELU MLP, each pre-normed and added
   * back (dropout on both branches in training mode).
   * @param x a Tensor [batch, length, embedDim].
   * @returns a Tensor [batch, length, embedDim].
   * @throws Error when x is not a 3-D Tensor whose last dimension is embedDim.
   * @example new nn.DecoderBlock(16, 2, { seed: 1 }).forward(randn([2, 5, 16])).shape // [2, 5, 16]
   */
  override forward(x: Tensor): Tensor {
    checkTensor(`${this.describe()}.forward`, 'input', x);
    if (x.ndim !== 3 || x.shape[2] !== this.embedDim) {
      invalid(`${this.describe()}.forward`, 'input', `a Tensor [batch, length, ${this.embedDim}]`, x);
    }
    const drop = (t: Tensor): Tensor => (this.dropoutP > 0 && this.training ? dropout(t, this.dropoutP, true, this.rng ?? globalGenerator()) : t);
    const h = add(x, drop(this.attn.forward(this.ln1.forward(x))));
    return add(h, drop(this.fc2.forward(gelu(this.fc1.forward(this.ln2.forward(h))))));
  }

  /**
   * The block for new positions over the attention's key/value cache (generation; eval mode, no dropout):
   * x's keys and values are appended to `cache`, so each new token costs O(cached length).
   * @param x the new positions, a Tensor [batch, t, embedDim].
   * @param cache this block's key/value cache ({ key: null, value: null, length: 0 } before the first call), updated in place; its batch must match x's.
   * @returns a Tensor [batch, t, embedDim].
   * @throws Error when x is not [batch, t, embedDim], or the cache holds another batch size.
   * @example const cache = { key: null, value: null, length: 0 }; block.eval().forwardCached(prompt, cache); block.forwardCached(next, cache);
   */
  forwardCached(x: Tensor, cache: AttentionCache): Tensor {
    const h = add(x, this.attn.attendCached(this.ln1.forward(x), cache));
    return add(h, this.fc2.forward(gelu(this.fc1.forward(this.ln2.forward(h)))));
  }

  override toConfig(): DecoderBlockConfig {
    return { type: 'DecoderBlock', embedDim: this.embedDim, numHeads: this.numHeads, mlpDim: this.mlpDim, dropout: this.dropoutP };
  }

  override describe(): string {
    return `DecoderBlock(${this.embedDim}, heads=${this.numHeads}, mlp=${this.mlpDim})`;
  }
}

register<DecoderBlockConfig>(DecoderBlock, {
  keys: { embedDim: keyRules.positiveInt, numHeads: keyRules.positiveInt, mlpDim: keyRules.positiveInt, dropout: keyRules.probability },
  fromConfig: (c) => new DecoderBlock(c.embedDim, c.numHeads, { mlpDim: c.mlpDim, dropout: c.dropout }),
  parameters: (c) => [
    { name: 'ln1.weight', shape: [c.embedDim] }, { name: 'ln1.bias', shape: [c.embedDim] },
    { name: 'attn.in_proj_weight', shape: [3 * c.embedDim, c.embedDim] }, { name: 'attn.in_proj_bias', shape: [3 * c.embedDim] },
    { name: 'attn.out_proj.weight', shape: [c.embedDim, c.embedDim] }, { name: 'attn.out_proj.bias', shape: [c.embedDim] },
    { name: 'ln2.weight', shape: [c.embedDim] }, { name: 'ln2.bias', shape: [c.embedDim] },
    { name: 'fc1.weight', shape: [c.mlpDim, c.embedDim] }, { name: 'fc1.bias', shape: [c.mlpDim] },
    { name: 'fc2.weight', shape: [c.embedDim, c.mlpDim] }, { name: 'fc2.bias', shape: [c.embedDim] },
  ],
});

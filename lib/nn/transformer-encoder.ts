// TransformerEncoderLayer and TransformerEncoder with PyTorch's semantics, parameter names and defaults.
import { Tensor, shapeToString } from '../tensor';
import { IntTensor } from '../int-tensor';
import { add } from '../ops/elementwise';
import { dropout } from '../ops/dropout';
import { activate } from '../ops/activation';
import { swapAxes } from '../ops/seq';
import { Rng, globalGenerator } from '../random';
import { Module } from './module';
import { Linear } from './linear';
import { LayerNorm } from './layer-norm';
import { MultiheadAttention, type AttentionCache } from './multihead-attention';
import type { LayerConfig } from './config';
import { keyRules, register } from './registry';
import { argumentError, checkBoolean, checkNumber, checkOneOf, checkOptions, checkPositiveInt, checkSeed, checkTensor, invalid } from '../validate';

/** Options of nn.TransformerEncoderLayer (PyTorch's defaults): feed-forward width, dropout, activation, norm placement, layout, RoPE, seed. */
export interface TransformerEncoderLayerOptions {
  /** Hidden width of the feed-forward block (default 2048, as PyTorch). */
  dimFeedforward?: number;
  /** Dropout after attention, inside and after the feed-forward block, and on the attention weights (default 0.1). */
  dropout?: number;
  /** 'relu' (default) or 'gelu'. */
  activation?: 'relu' | 'gelu';
  /** LayerNorm epsilon (default 1e-5). */
  layerNormEps?: number;
  /** [batch, length, dModel] (true) or [length, batch, dModel] (false, the default). */
  batchFirst?: boolean;
  /** Pre-norm (x + sa(norm1(x))) instead of post-norm (norm1(x + sa(x)), the default). */
  normFirst?: boolean;
  /** Rotary position embedding in the attention (true, or { base }). Default off (PyTorch has none). */
  rope?: boolean | { base?: number };
  /** Seed for the weights and dropout masks. */
  seed?: number;
}

/** Per-call masks of TransformerEncoderLayer.encode / TransformerEncoder.encode (PyTorch's forward arguments). */
export interface EncodeOptions {
  /** Shape [batch, length]: nonzero marks padding (PyTorch's src_key_padding_mask). */
  keyPaddingMask?: Tensor | IntTensor | null;
  /** Shape [length, length]: nonzero masks a pair (PyTorch's bool src_mask). */
  mask?: Tensor | IntTensor | null;
  /** Causal self-attention (each position sees itself and the past). Default false. */
  isCausal?: boolean;
}

interface TransformerEncoderLayerConfig extends LayerConfig {
  dModel: number;
  nhead: number;
  dimFeedforward: number;
  dropout: number;
  activation: 'relu' | 'gelu';
  layerNormEps: number;
  batchFirst: boolean;
  normFirst: boolean;
  rope: number | null;
}

/**
 * torch.nn.TransformerEncoderLayer: self-attention then a feed-forward block (linear1, activation, linear2), each
 * with a residual connection and a LayerNorm, post-norm by default:
 *   x = norm1(x + dropout1(selfAttn(x)));  x = norm2(x + dropout2(linear2(dropout(act(linear1(x))))))
 * and with normFirst: x = x + dropout1(selfAttn(norm1(x)));  x = x + dropout2(ff(norm2(x))).
 * Parameter names follow PyTorch (self_attn.in_proj_weight, linear1.weight, norm1.weight, ...), so a torch state
 * dict loads as is. Attention runs on the fused kernel.
 */
export class TransformerEncoderLayer extends Module {
  readonly dModel: number;
  readonly nhead: number;
  readonly dimFeedforward: number;
  readonly dropoutP: number;
  readonly activation: 'relu' | 'gelu';
  readonly layerNormEps: number;
  readonly batchFirst: boolean;
  readonly normFirst: boolean;
  readonly selfAttn: MultiheadAttention;
  readonly linear1: Linear;
  readonly linear2: Linear;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  private rng: Rng | null;
  private readonly hasOwnSeed: boolean;

  /**
   * Creates the layer (as torch.nn.TransformerEncoderLayer).
   * @param dModel the model dimension, a positive integer divisible by nhead.
   * @param nhead attention heads, a positive integer.
   * @param opts dimFeedforward (default 2048), dropout (default 0.1), activation ('relu' default, or 'gelu'), layerNormEps (default 1e-5), batchFirst (default false), normFirst (pre-norm, default false), rope (default off), seed.
   * @throws Error when a size is not a positive integer, dModel is not divisible by nhead, or an option is unknown or out of range.
   * @example
   * ```ts
   * const layer = new nn.TransformerEncoderLayer(64, 4, { dimFeedforward: 128, batchFirst: true, seed: 1 });
   * ```
   */
  constructor(dModel: number, nhead: number, opts: TransformerEncoderLayerOptions = {}) {
    super();
    const where = 'TransformerEncoderLayer';
    checkPositiveInt(where, 'dModel', dModel);
    checkPositiveInt(where, 'nhead', nhead);
    const o = checkOptions(where, opts, ['dimFeedforward', 'dropout', 'activation', 'layerNormEps', 'batchFirst', 'normFirst', 'rope', 'seed']);
    this.dModel = dModel;
    this.nhead = nhead;
    this.dimFeedforward = o.dimFeedforward === undefined ? 2048 : checkPositiveInt(where, 'dimFeedforward', o.dimFeedforward);
    this.dropoutP = o.dropout === undefined ? 0.1 : checkNumber(where, 'dropout', o.dropout, { min: 0, below: 1 });
    this.activation = o.activation === undefined ? 'relu' : checkOneOf(where, 'activation', o.activation, ['relu', 'gelu'] as const);
    this.layerNormEps = o.layerNormEps === undefined ? 1e-5 : checkNumber(where, 'layerNormEps', o.layerNormEps, { min: 0 });
    this.batchFirst = o.batchFirst === undefined ? false : checkBoolean(where, 'batchFirst', o.batchFirst);
    this.normFirst = o.normFirst === undefined ? false : checkBoolean(where, 'normFirst', o.normFirst);
    const seed = o.seed === undefined ? undefined : checkSeed(where, 'seed', o.seed);
    this.hasOwnSeed = seed !== undefined;
    this.rng = seed === undefined ? null : new Rng(seed);
    const sub = (k: number): number | undefined => (seed === undefined ? undefined : (seed + k) >>> 0);
    this.selfAttn = this.registerModule('self_attn', new MultiheadAttention(dModel, nhead, {
      batchFirst: true, dropout: this.dropoutP, rope: o.rope ?? false, seed,
    }));
    this.linear1 = this.registerModule('linear1', new Linear(dModel, this.dimFeedforward, { seed: sub(1) }));
    this.linear2 = this.registerModule('linear2', new Linear(this.dimFeedforward, dModel, { seed: sub(2) }));
    this.norm1 = this.registerModule('norm1', new LayerNorm(dModel, { eps: this.layerNormEps }));
    this.norm2 = this.registerModule('norm2', new LayerNorm(dModel, { eps: this.layerNormEps }));
  }

  /**
   * Seeds the dropout masks, the self-attention and the feed-forward layers from `seed` (linear1 and linear2
   * from seed + 1 and seed + 2), unless the layer was given its own seed. Sequential({ seed }) calls it.
   * @param seed an integer in [0, 2^32).
   * @example new nn.Sequential(new nn.TransformerEncoderLayer(64, 4, { batchFirst: true }), { seed: 1 })
   */
  override seedIfUnseeded(seed: number): void {
    if (this.hasOwnSeed) return;
    this.rng = new Rng(seed);
    this.selfAttn.seedIfUnseeded(seed);
    this.linear1.seedIfUnseeded((seed + 1) >>> 0);
    this.linear2.seedIfUnseeded((seed + 2) >>> 0);
  }

  /**
   * Runs the layer without masks (encode(x) with no options).
   * @param x a Tensor [batch, length, dModel] with batchFirst, else [length, batch, dModel].
   * @returns a Tensor of x's shape.
   * @throws Error when x is not a 3-D Tensor whose last dimension is dModel.
   * @example new nn.TransformerEncoderLayer(16, 2, { batchFirst: true }).forward(randn([2, 5, 16])).shape // [2, 5, 16]
   */
  override forward(x: Tensor): Tensor {
    return this.encode(x);
  }

  /**
   * The layer with masks (PyTorch's forward(src, src_mask, src_key_padding_mask, is_causal)).
   * @param x a Tensor [batch, length, dModel] with batchFirst, else [length, batch, dModel].
   * @param opts keyPaddingMask ([batch, length], nonzero = padding), mask ([length, length], nonzero = masked
   * pair), isCausal (default false); all default to no masking.
   * @returns a Tensor of x's shape.
   * @throws Error when x is not a 3-D Tensor whose last dimension is dModel, an option is unknown, or a mask
   * has the wrong shape.
   * @example layer.encode(x, { isCausal: true }) // x [2, 5, 16] -> [2, 5, 16]
   */
  encode(x: Tensor, opts: EncodeOptions = {}): Tensor {
    const where = `${this.describe()}.forward`;
    checkTensor(where, 'input', x);
    const o = checkOptions(where, opts, ['keyPaddingMask', 'mask', 'isCausal']);
    if (x.ndim !== 3 || x.shape[2] !== this.dModel) {
      invalid(where, 'input', `a Tensor ${this.batchFirst ? '[batch, length' : '[length, batch'}, ${this.dModel}]`, x);
    }
    const xb = this.batchFirst ? x : swapAxes(x, 0, 1);
    const y = this.encodeBatchFirst(xb, o);
    return this.batchFirst ? y : swapAxes(y, 0, 1);
  }

  /**
   * The layer on [batch, length, dModel] without checking its input (TransformerEncoder keeps this layout
   * between layers and checks once).
   * @param x a Tensor [batch, length, dModel].
   * @param o the masks, as for encode (not checked here).
   * @returns a Tensor [batch, length, dModel].
   * @example layer.encodeBatchFirst(x, { isCausal: true }) // x [batch, length, dModel]
   */
  encodeBatchFirst(x: Tensor, o: EncodeOptions): Tensor {
    const drop = (t: Tensor): Tensor => (this.dropoutP > 0 && this.training ? dropout(t, this.dropoutP, true, this.rng ?? globalGenerator()) : t);
    const sa = (t: Tensor): Tensor => drop(this.selfAttn.attend(t, t, t, {
      keyPaddingMask: o.keyPaddingMask ?? null, attnMask: o.mask ?? null, isCausal: o.isCausal ?? false,
    }).output);
    const ff = (t: Tensor): Tensor => drop(this.linear2.forward(drop(activate(this.linear1.forward(t), this.activation))));
    if (this.normFirst) {
      const h = add(x, sa(this.norm1.forward(x)));
      return add(h, ff(this.norm2.forward(h)));
    }
    const h = this.norm1.forward(add(x, sa(x)));
    return this.norm2.forward(add(h, ff(h)));
  }

  /**
   * The layer (batch-first, causal) for new positions over its attention's key/value cache (generation,
   * eval mode: no dropout); x's keys and values are appended to `cache`.
   * @param x the new positions, a Tensor [batch, t, dModel] (batch-first whatever the layer's batchFirst).
   * @param cache this layer's key/value cache ({ key: null, value: null, length: 0 } before the first call), updated in place; its batch must match x's.
   * @returns a Tensor [batch, t, dModel].
   * @throws Error when x is not [batch, t, dModel], or the cache holds another batch size.
   * @example const cache = { key: null, value: null, length: 0 }; layer.eval().forwardCached(prompt, cache); layer.forwardCached(next, cache);
   */
  forwardCached(x: Tensor, cache: AttentionCache): Tensor {
    const ff = (t: Tensor): Tensor => this.linear2.forward(activate(this.linear1.forward(t), this.activation));
    if (this.normFirst) {
      const h = add(x, this.selfAttn.attendCached(this.norm1.forward(x), cache));
      return add(h, ff(this.norm2.forward(h)));
    }
    const h = this.norm1.forward(add(x, this.selfAttn.attendCached(x, cache)));
    return this.norm2.forward(add(h, ff(h)));
  }

  override toConfig(): TransformerEncoderLayerConfig {
    return {
      type: 'TransformerEncoderLayer', dModel: this.dModel, nhead: this.nhead, dimFeedforward: this.dimFeedforward, dropout: this.dropoutP,
      activation: this.activation, layerNormEps: this.layerNormEps, batchFirst: this.batchFirst, normFirst: this.normFirst, rope: this.selfAttn.ropeBase,
    };
  }

  override describe(): string {
    return `TransformerEncoderLayer(${this.dModel}, heads=${this.nhead}, ff=${this.dimFeedforward}${this.normFirst ? ', normFirst' : ''})`;
  }
}

const layerKeys = {
  dModel: keyRules.positiveInt, nhead: keyRules.positiveInt, dimFeedforward: keyRules.positiveInt, dropout: keyRules.probability,
  activation: keyRules.oneOf(['relu', 'gelu']), layerNormEps: keyRules.finite, batchFirst: keyRules.boolean, normFirst: keyRules.boolean,
  rope: { expect: 'null or a number >= 1 (the RoPE base)', ok: (v: unknown) => v === null || (typeof v === 'number' && Number.isFinite(v) && v >= 1) },
};

function layerFromConfig(c: TransformerEncoderLayerConfig): TransformerEncoderLayer {
  return new TransformerEncoderLayer(c.dModel, c.nhead, {
    dimFeedforward: c.dimFeedforward, dropout: c.dropout, activation: c.activation, layerNormEps: c.layerNormEps,
    batchFirst: c.batchFirst, normFirst: c.normFirst, rope: c.rope === null ? false : { base: c.rope },
  });
}

function layerParameters(c: TransformerEncoderLayerConfig, prefix = ''): { name: string; shape: number[] }[] {
  const E = c.dModel, F = c.dimFeedforward;
  return [
    ['self_attn.in_proj_weight', [3 * E, E]], ['self_attn.in_proj_bias', [3 * E]], ['self_attn.out_proj.weight', [E, E]], ['self_attn.out_proj.bias', [E]],
    ['linear1.weight', [F, E]], ['linear1.bias', [F]], ['linear2.weight', [E, F]], ['linear2.bias', [E]],
    ['norm1.weight', [E]], ['norm1.bias', [E]], ['norm2.weight', [E]], ['norm2.bias', [E]],
  ].map(([n, shape]) => ({ name: `${prefix}${n as string}`, shape: shape as number[] }));
}

register<TransformerEncoderLayerConfig>(TransformerEncoderLayer, {
  keys: layerKeys,
  fromConfig: layerFromConfig,
  parameters: (c) => layerParameters(c),
});

/** Options of nn.TransformerEncoder: a final LayerNorm and causal self-attention. */
export interface TransformerEncoderOptions {
  /** A final LayerNorm after the last layer (PyTorch's norm argument): true, or a LayerNorm. Default none. */
  norm?: boolean | LayerNorm;
  /** Causal self-attention in every layer for forward(x) (default false). */
  causal?: boolean;
}

interface TransformerEncoderConfig extends LayerConfig {
  layer: TransformerEncoderLayerConfig;
  numLayers: number;
  norm: boolean;
  causal: boolean;
}

/**
 * torch.nn.TransformerEncoder: numLayers copies of encoderLayer (same config and, as torch's deep copy, the same
 * starting weights) run in turn, then an optional LayerNorm. Parameters are named layers.<i>.<name> and norm.*.
 */
export class TransformerEncoder extends Module {
  readonly layers: TransformerEncoderLayer[];
  readonly norm: LayerNorm | null;
  readonly causal: boolean;
  private readonly layerConfig: TransformerEncoderLayerConfig;

  /**
   * Creates the stack: numLayers copies of encoderLayer (the first is encoderLayer itself; the others copy its weights).
   * @param encoderLayer the layer to repeat, an nn.TransformerEncoderLayer.
   * @param numLayers copies, a positive integer.
   * @param opts norm (true: a final LayerNorm, or your own LayerNorm over dModel; default none), causal (mask future positions, default false).
   * @throws Error when encoderLayer is not a TransformerEncoderLayer, numLayers is not a positive integer, an option is unknown, or norm does not normalise dModel features.
   * @example
   * ```ts
   * const enc = new nn.TransformerEncoder(new nn.TransformerEncoderLayer(64, 4, { batchFirst: true }), 2, { norm: true });
   * ```
   */
  constructor(encoderLayer: TransformerEncoderLayer, numLayers: number, opts: TransformerEncoderOptions = {}) {
    super();
    const where = 'TransformerEncoder';
    if (!(encoderLayer instanceof TransformerEncoderLayer)) invalid(where, 'encoderLayer', 'a TransformerEncoderLayer', encoderLayer);
    checkPositiveInt(where, 'numLayers', numLayers);
    const o = checkOptions(where, opts, ['norm', 'causal']);
    this.causal = o.causal === undefined ? false : checkBoolean(where, 'causal', o.causal);
    this.layerConfig = encoderLayer.toConfig();
    const state = encoderLayer.stateDict();
    this.layers = [];
    for (let i = 0; i < numLayers; i++) {
      const l = i === 0 ? encoderLayer : layerFromConfig(this.layerConfig);
      if (i > 0) l.loadStateDict(Object.fromEntries(Object.entries(state).map(([k, t]) => [k, new Tensor(t.data.slice(), t.shape)])));
      this.layers.push(this.registerModule(`layers.${i}`, l)); // torch's names: layers.<i>.<param>
    }
    let norm: LayerNorm | null = null;
    if (o.norm instanceof LayerNorm) norm = o.norm;
    else if (o.norm !== undefined && checkBoolean(where, 'norm', o.norm)) norm = new LayerNorm(encoderLayer.dModel, { eps: encoderLayer.layerNormEps });
    if (norm !== null) {
      if (norm.normalizedShape.length !== 1 || norm.normalizedShape[0] !== encoderLayer.dModel) {
        throw argumentError(where, `norm normalises ${shapeToString(norm.normalizedShape)}, the layers produce ${encoderLayer.dModel} features`);
      }
      this.registerModule('norm', norm);
    }
    this.norm = norm;
  }

  /**
   * Runs every layer (then the final norm, if any), causal when the encoder was made with causal.
   * @param x a Tensor [batch, length, dModel] with batchFirst, else [length, batch, dModel].
   * @returns a Tensor of x's shape.
   * @throws Error when x is not a 3-D Tensor whose last dimension is dModel.
   * @example new nn.TransformerEncoder(new nn.TransformerEncoderLayer(16, 2, { batchFirst: true }), 2).forward(randn([2, 5, 16])).shape // [2, 5, 16]
   */
  override forward(x: Tensor): Tensor {
    return this.encode(x, { isCausal: this.causal });
  }

  /**
   * PyTorch's forward(src, mask, src_key_padding_mask, is_causal): every layer with the same masks, then the
   * final norm, if any.
   * @param x a Tensor [batch, length, dModel] with batchFirst, else [length, batch, dModel].
   * @param opts keyPaddingMask ([batch, length], nonzero = padding), mask ([length, length], nonzero = masked
   * pair), isCausal (default false: forward passes the encoder's causal option).
   * @returns a Tensor of x's shape.
   * @throws Error when x is not a 3-D Tensor whose last dimension is dModel, an option is unknown, or a mask
   * has the wrong shape.
   * @example encoder.encode(x, { keyPaddingMask: pad }) // pad [batch, length]: 1 marks padding
   */
  encode(x: Tensor, opts: EncodeOptions = {}): Tensor {
    const where = `${this.describe()}.forward`;
    checkTensor(where, 'input', x);
    const o = checkOptions(where, opts, ['keyPaddingMask', 'mask', 'isCausal']);
    const E = this.layerConfig.dModel;
    const bf = this.layerConfig.batchFirst;
    if (x.ndim !== 3 || x.shape[2] !== E) invalid(where, 'input', `a Tensor ${bf ? '[batch, length' : '[length, batch'}, ${E}]`, x);
    let h = bf ? x : swapAxes(x, 0, 1);
    for (const l of this.layers) h = l.encodeBatchFirst(h, o);
    if (this.norm !== null) h = this.norm.forward(h);
    return bf ? h : swapAxes(h, 0, 1);
  }

  override toConfig(): TransformerEncoderConfig {
    return { type: 'TransformerEncoder', layer: this.layerConfig, numLayers: this.layers.length, norm: this.norm !== null, causal: this.causal };
  }

  override describe(): string {
    return `TransformerEncoder(${this.layers.length} x ${this.layers[0].describe()}${this.norm ? ', norm' : ''})`;
  }
}

register<TransformerEncoderConfig>(TransformerEncoder, {
  keys: {
    layer: { expect: 'a TransformerEncoderLayer config', ok: (v) => typeof v === 'object' && v !== null && (v as LayerConfig).type === 'TransformerEncoderLayer' },
    numLayers: keyRules.positiveInt, norm: keyRules.boolean, causal: keyRules.boolean,
  },
  fromConfig: (c) => new TransformerEncoder(layerFromConfig(c.layer), c.numLayers, { norm: c.norm, causal: c.causal }),
  parameters: (c) => [
    ...Array.from({ length: c.numLayers }, (_, i) => layerParameters(c.layer, `layers.${i}.`)).flat(),
    ...(c.norm ? [{ name: 'norm.weight', shape: [c.layer.dModel] }, { name: 'norm.bias', shape: [c.layer.dModel] }] : []),
  ],
});

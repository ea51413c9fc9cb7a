// Positional encodings added to [..., length, dim] inputs: learned (an embedding table over positions) and sinusoidal (no parameters).
import { Tensor, shapeToString } from '../tensor';
import { add } from '../ops/elementwise';
import { narrow } from '../ops/view';
import { checkWeightLayer } from './init';
import { NormalTable } from './embedding';
import { Module } from './module';
import type { LayerConfig } from './config';
import { keyRules, register } from './registry';
import { checkElementCount, checkNumber, checkOptions, checkPositiveInt, checkTensor } from '../validate';

/** The input must be [..., length, dim] with length <= maxLength and the layer's dim. */
function checkSequence(where: string, x: Tensor, maxLength: number, dim: number): number {
  checkTensor(where, 'input', x);
  if (x.ndim < 2 || x.shape[x.ndim - 1] !== dim) {
    throw new Error(`${where}: input of shape ${shapeToString(x.shape)} must be [..., length, ${dim}]`);
  }
  const T = x.shape[x.ndim - 2];
  if (T > maxLength) throw new Error(`${where}: input of shape ${shapeToString(x.shape)} has ${T} positions, more than maxLength ${maxLength}`);
  return T;
}

/** Options of nn.LearnedPositionalEncoding: seed of the position table's initialisation. */
export interface LearnedPositionalEncodingOptions {
  /** Seed for the N(0, 1) initialisation of the position table. */
  seed?: number;
}

interface LearnedPositionalConfig extends LayerConfig {
  maxLength: number;
  embeddingDim: number;
}

/**
 * x + weight[0:length] for x of shape [..., length, embeddingDim]: a learned vector per position (an
 * nn.Embedding over positions 0..maxLength-1, initialised N(0, 1) like nn.Embedding, as GPT-style models use).
 */
export class LearnedPositionalEncoding extends NormalTable {
  readonly maxLength: number;

  /**
   * Creates the layer (the table drawn from N(0, 1)).
   * @param maxLength the longest sequence, a positive integer.
   * @param embeddingDim the vector size, a positive integer.
   * @param opts seed.
   * @throws Error when a size is not a positive integer, the table is too large, or an option is unknown; forward throws for a sequence longer than maxLength or of another width.
   * @example
   * ```ts
   * const pos = new nn.LearnedPositionalEncoding(64, 32); // adds a learned vector per position to [batch, length, 32]
   * ```
   */
  constructor(maxLength: number, embeddingDim: number, opts: LearnedPositionalEncodingOptions = {}) {
    const o = checkWeightLayer('LearnedPositionalEncoding', { maxLength, embeddingDim }, [maxLength, embeddingDim], opts, ['seed']);
    super('LearnedPositionalEncoding', maxLength, embeddingDim, o.seed);
    this.maxLength = maxLength;
    this.resetParameters();
  }

  /**
   * Adds the learned position vectors: row p of the table to position p of every sequence.
   * @param x a Tensor [..., length, embeddingDim] (e.g. [batch, length, embeddingDim]), length at most maxLength.
   * @returns a Tensor of x's shape.
   * @throws Error when x is not a Tensor of at least 2 dimensions ending in embeddingDim, or its length exceeds maxLength.
   * @example new nn.LearnedPositionalEncoding(64, 16).forward(randn([2, 10, 16])).shape // [2, 10, 16]
   */
  override forward(x: Tensor): Tensor {
    const T = checkSequence(`${this.describe()}.forward`, x, this.maxLength, this.embeddingDim);
    return add(x, T === this.maxLength ? this.weight : narrow(this.weight, 0, 0, T));
  }

  override toConfig(): LearnedPositionalConfig {
    return { type: 'LearnedPositionalEncoding', maxLength: this.maxLength, embeddingDim: this.embeddingDim };
  }

  override describe(): string {
    return `LearnedPositionalEncoding(${this.maxLength}, ${this.embeddingDim})`;
  }
}

register<LearnedPositionalConfig>(LearnedPositionalEncoding, {
  keys: { maxLength: keyRules.positiveInt, embeddingDim: keyRules.positiveInt },
  fromConfig: (c) => new LearnedPositionalEncoding(c.maxLength, c.embeddingDim),
  parameters: (c) => [{ name: 'weight', shape: [c.maxLength, c.embeddingDim] }],
});

/** Options of nn.SinusoidalPositionalEncoding: maxLength (default 5000). */
export interface SinusoidalPositionalEncodingOptions {
  /** Longest sequence (default 5000). */
  maxLength?: number;
  /** The wavelength base (default 10000, as in "Attention Is All You Need"). */
  base?: number;
}

interface SinusoidalConfig extends LayerConfig {
  embeddingDim: number;
  maxLength: number;
  base: number;
}

/**
 * The table of "Attention Is All You Need": pe[p, 2i] = sin(p / base^(2i/dim)), pe[p, 2i+1] = cos(same)
 * (an odd dim ends with a sin column), [length, dim], computed in float64 and rounded to float32.
 * @param length the number of positions, a non-negative integer.
 * @param dim the vector size per position, a positive integer.
 * @param base the wavelength base, a number above 0 (default 10000).
 * @returns a Float32Array of length * dim values, row-major [length, dim].
 * @throws Error when length is not a non-negative integer, dim is not a positive integer, or base is not above 0.
 * @example nn.sinusoidalTable(2, 4) // [0, 1, 0, 1, sin 1, cos 1, sin 0.01, cos 0.01]
 */
export function sinusoidalTable(length: number, dim: number, base = 10000): Float32Array {
  checkNumber('sinusoidalTable', 'length', length, { integer: true, min: 0 });
  checkPositiveInt('sinusoidalTable', 'dim', dim);
  checkNumber('sinusoidalTable', 'base', base, { above: 0 });
  const out = new Float32Array(length * dim);
  for (let i = 0; i < dim; i += 2) {
    const freq = Math.exp((-i / dim) * Math.log(base));
    for (let p = 0; p < length; p++) {
      out[p * dim + i] = Math.sin(p * freq);
      if (i + 1 < dim) out[p * dim + i + 1] = Math.cos(p * freq);
    }
  }
  return out;
}

/** x + pe[0:length] for x of shape [..., length, embeddingDim], pe the fixed sinusoidal table (no parameters). */
export class SinusoidalPositionalEncoding extends Module {
  readonly embeddingDim: number;
  readonly maxLength: number;
  readonly base: number;
  private table: Tensor | null = null;

  /**
   * Creates the layer (no parameters).
   * @param embeddingDim the vector size, a positive integer.
   * @param opts maxLength (default 5000), base (default 10000, above 0).
   * @throws Error when embeddingDim or maxLength is not a positive integer, base is not above 0, an option is unknown, or the table would be too large; forward throws for a sequence longer than maxLength or of another width.
   * @example
   * ```ts
   * const pos = new nn.SinusoidalPositionalEncoding(32, { maxLength: 128 });
   * ```
   */
  constructor(embeddingDim: number, opts: SinusoidalPositionalEncodingOptions = {}) {
    super();
    checkPositiveInt('SinusoidalPositionalEncoding', 'embeddingDim', embeddingDim);
    const o = checkOptions('SinusoidalPositionalEncoding', opts, ['maxLength', 'base']);
    this.embeddingDim = embeddingDim;
    this.maxLength = o.maxLength === undefined ? 5000 : checkPositiveInt('SinusoidalPositionalEncoding', 'maxLength', o.maxLength);
    this.base = o.base === undefined ? 10000 : checkNumber('SinusoidalPositionalEncoding', 'base', o.base, { above: 0 });
    checkElementCount('SinusoidalPositionalEncoding', [this.maxLength, embeddingDim], 'the table shape');
  }

  /**
   * Adds the fixed sinusoidal table (see sinusoidalTable) to the positions of x; the table is computed once
   * for the longest length seen.
   * @param x a Tensor [..., length, embeddingDim] (e.g. [batch, length, embeddingDim]), length at most maxLength.
   * @returns a Tensor of x's shape.
   * @throws Error when x is not a Tensor of at least 2 dimensions ending in embeddingDim, or its length exceeds maxLength.
   * @example new nn.SinusoidalPositionalEncoding(16, { maxLength: 64 }).forward(randn([2, 10, 16])).shape // [2, 10, 16]
   */
  override forward(x: Tensor): Tensor {
    const T = checkSequence(`${this.describe()}.forward`, x, this.maxLength, this.embeddingDim);
    // The table grows to the longest length seen (never beyond maxLength), then is narrowed per call.
    if (this.table === null || this.table.shape[0] < T) this.table = new Tensor(sinusoidalTable(T, this.embeddingDim, this.base), [T, this.embeddingDim]);
    return add(x, this.table.shape[0] === T ? this.table : narrow(this.table, 0, 0, T));
  }

  override toConfig(): SinusoidalConfig {
    return { type: 'SinusoidalPositionalEncoding', embeddingDim: this.embeddingDim, maxLength: this.maxLength, base: this.base };
  }

  override describe(): string {
    return `SinusoidalPositionalEncoding(${this.embeddingDim}, maxLength=${this.maxLength})`;
  }
}

register<SinusoidalConfig>(SinusoidalPositionalEncoding, {
  keys: { embeddingDim: keyRules.positiveInt, maxLength: keyRules.positiveInt, base: keyRules.positiveFinite },
  fromConfig: (c) => new SinusoidalPositionalEncoding(c.embeddingDim, { maxLength: c.maxLength, base: c.base }),
  parameters: () => [],
});

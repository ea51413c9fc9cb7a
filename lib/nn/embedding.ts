// Embedding: a lookup table [numEmbeddings, embeddingDim] indexed by integer ids (PyTorch init N(0, 1), paddingIdx row zero), config and ONNX Gather.
import { Tensor, zeros } from '../tensor';
import { IntTensor } from '../int-tensor';
import { embedding } from '../ops/seq';
import { InitSeed, checkWeightLayer, normalFill } from './init';
import { Module } from './module';
import type { LayerConfig } from './config';
import { keyRules, register, type KeyRule } from './registry';
import { checkNumber } from '../validate';

/** Options of nn.Embedding: paddingIdx (a row kept at zero, with no gradient) and seed. */
export interface EmbeddingOptions {
  /**
   * The padding id: its row starts at zero and never gets a gradient (so an optimizer without weight
   * decay never moves it). Negative counts from the end, as in PyTorch.
   */
  paddingIdx?: number | null;
  /** Seed for the N(0, 1) initialisation (same seed, same table). */
  seed?: number;
}

export interface EmbeddingConfig extends LayerConfig {
  type: 'Embedding';
  numEmbeddings: number;
  embeddingDim: number;
  paddingIdx: number | null;
}

/**
 * A learned table [rows, embeddingDim] drawn from N(0, 1), seeded: what Embedding and
 * LearnedPositionalEncoding (an embedding over positions) share. Subclasses call resetParameters() last in their constructor.
 */
export abstract class NormalTable extends Module {
  readonly embeddingDim: number;
  /** Shape [rows, embeddingDim]. */
  readonly weight: Tensor;
  private readonly initSeed: InitSeed;

  /** `seed` is the layer's own seed option (checked, naming `where`), or undefined. */
  protected constructor(where: string, rows: number, embeddingDim: number, seed: unknown) {
    super();
    this.embeddingDim = embeddingDim;
    this.initSeed = new InitSeed(where, seed);
    this.weight = this.registerParameter('weight', zeros([rows, embeddingDim]));
  }

  /** The row kept at zero (Embedding's padding row), or null. */
  protected zeroRow(): number | null {
    return null;
  }

  /** Re-draws the table from N(0, 1) (from `seed`, else the layer's seed, else the global generator); the zero row stays zero. */
  resetParameters(seed?: number): void {
    const rng = this.initSeed.rng(`${this.constructor.name}.resetParameters`, seed);
    normalFill(this.weight.data, rng);
    const z = this.zeroRow();
    if (z !== null) this.weight.data.fill(0, z * this.embeddingDim, (z + 1) * this.embeddingDim);
    this.weight._version++;
  }

  override seedIfUnseeded(seed: number): void {
    if (this.initSeed.adopt(seed)) this.resetParameters();
  }
}

/**
 * A table of numEmbeddings vectors of embeddingDim values: forward(ids) gives [...ids.shape, embeddingDim]
 * (torch.nn.Embedding). ids are an IntTensor (or a float Tensor of integer values) in [0, numEmbeddings).
 * The backward adds each id's output gradient into its row of weight.grad directly: no dense
 * [numEmbeddings x embeddingDim] array is made per step (see ops.embedding).
 */
export class Embedding extends NormalTable {
  readonly numEmbeddings: number;
  /** The padding row (non-negative), or null. */
  readonly paddingIdx: number | null;

  /**
   * Creates the layer (the table drawn from N(0, 1); the padding row zero).
   * @param numEmbeddings the vocabulary size (rows of the table), a positive integer.
   * @param embeddingDim the vector size, a positive integer.
   * @param opts paddingIdx (a row kept at zero, negative counts from the end; default none), seed.
   * @throws Error when a size is not a positive integer, the table is too large, an option is unknown, or paddingIdx is not an integer in [-numEmbeddings, numEmbeddings).
   * @example
   * ```ts
   * const emb = new nn.Embedding(1000, 32, { paddingIdx: 0 }); // ids [batch, length] -> [batch, length, 32]
   * ```
   */
  constructor(numEmbeddings: number, embeddingDim: number, opts: EmbeddingOptions = {}) {
    const o = checkWeightLayer('Embedding', { numEmbeddings, embeddingDim }, [numEmbeddings, embeddingDim], opts, ['paddingIdx', 'seed']);
    let paddingIdx: number | null = null;
    if (o.paddingIdx !== undefined && o.paddingIdx !== null) {
      const p = checkNumber('Embedding', 'paddingIdx', o.paddingIdx, { integer: true, min: -numEmbeddings, max: numEmbeddings - 1 });
      paddingIdx = p < 0 ? p + numEmbeddings : p;
    }
    super('Embedding', numEmbeddings, embeddingDim, o.seed);
    this.numEmbeddings = numEmbeddings;
    this.paddingIdx = paddingIdx;
    this.resetParameters();
  }

  /** The padding row stays zero. */
  protected override zeroRow(): number | null {
    return this.paddingIdx;
  }

  /**
   * Looks up one row of the table per id.
   * @param ids an IntTensor of any shape (or a float Tensor holding integers), each in [0, numEmbeddings).
   * @returns a Tensor [...ids.shape, embeddingDim].
   * @throws Error when an id is not an integer in [0, numEmbeddings).
   * @example new nn.Embedding(100, 8).forward(intTensor([[1, 2, 3]])).shape // [1, 3, 8]
   */
  override forward(ids: Tensor | IntTensor): Tensor {
    return embedding(this.weight, ids, { paddingIdx: this.paddingIdx });
  }

  override toConfig(): EmbeddingConfig {
    return { type: 'Embedding', numEmbeddings: this.numEmbeddings, embeddingDim: this.embeddingDim, paddingIdx: this.paddingIdx };
  }

  override describe(): string {
    return `Embedding(${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx === null ? '' : `, paddingIdx=${this.paddingIdx}`})`;
  }
}

/** TensorProto.DataType INT64 (the Cast target of the exported ids). */
const ONNX_INT64 = 7;

const intOrNull: KeyRule = { expect: 'an integer or null', ok: (v) => v === null || Number.isSafeInteger(v) };

register<EmbeddingConfig>(Embedding, {
  keys: { numEmbeddings: keyRules.positiveInt, embeddingDim: keyRules.positiveInt, paddingIdx: intOrNull },
  fromConfig: (c) => new Embedding(c.numEmbeddings, c.embeddingDim, { paddingIdx: c.paddingIdx }),
  parameters: (c) => [{ name: 'weight', shape: [c.numEmbeddings, c.embeddingDim] }],
  onnx(ctx, c) {
    // The model input is float (ids as float values, exact below 2^24): Cast to int64, then Gather rows (axis 0).
    const weight = ctx.initializer(`${ctx.prefix}weight`, [c.numEmbeddings, c.embeddingDim], ctx.param('weight'));
    const ids = ctx.node('Cast', [ctx.current], [{ name: 'to', int: ONNX_INT64 }]);
    ctx.current = ctx.node('Gather', [weight, ids], [{ name: 'axis', int: 0 }]);
    ctx.shape = [...ctx.shape, c.embeddingDim];
  },
  onnxImport: {
    attributes: { Gather: { axis: 'int' } },
    node(n, ctx) {
      // Gather(table, ids) with a constant 2-D table on axis 0 (torch.onnx.export's nn.Embedding).
      const table = ctx.constant(n.inputs[0]);
      if (n.int('axis', 0) !== 0 || table === null || table.dims.length !== 2 || ctx.constant(n.inputs[1]) !== null) {
        throw new Error(`${n.label}: only a Gather of rows (axis 0) from a constant 2-D table by the running ids is supported (an nn.Embedding)`);
      }
      const [V, D] = table.dims;
      return { config: { type: 'Embedding', numEmbeddings: V, embeddingDim: D, paddingIdx: null }, params: { weight: Float32Array.from(table.data) } };
    },
    // Each id becomes a vector: the sample shape gains the embedding dimension.
    sampleAfter: (l, sample) => (sample === null ? null : [...sample, (l.config as EmbeddingConfig).embeddingDim]),
  },
});

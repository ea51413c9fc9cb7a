// Linear (alias Dense): y = x W^T + b with W [out, in]; its own init (PyTorch's default unless told), config and ONNX Gemm.
import { Tensor, shapeToString, zeros } from '../tensor';
import { linear } from '../ops/linear';
import { Module } from './module';
import type { LayerConfig } from './config';
import { InitSeed, checkWeightLayer, initWeightAndBias, type InitScheme } from './init';
import { keyRules, register } from './registry';
import { checkBoolean, checkOneOf, checkTensor } from '../validate';

/** Options of nn.Linear: bias (default true), init ('default' as PyTorch, 'kaiming' or 'glorot') and seed. */
export interface LinearOptions {
  /** Add a bias vector (default true). */
  bias?: boolean;
  /**
   * Weight initialisation (the layer's own, whatever follows it):
   * 'default' (PyTorch's nn.Linear default: weight and bias uniform in +-1/sqrt(inFeatures)),
   * 'kaiming' (He normal, std sqrt(2/inFeatures), bias 0: suits ReLU-family activations),
   * 'glorot' (Xavier uniform, limit sqrt(6/(in+out)), bias 0: suits tanh/sigmoid).
   */
  init?: LinearInit;
  /** Seed for the weight initialisation (same seed, same weights). */
  seed?: number;
}

/** How nn.Linear initialises its weights: 'default' (PyTorch's uniform), 'kaiming' or 'glorot'. */
export type LinearInit = 'default' | InitScheme;

export interface LinearConfig extends LayerConfig {
  type: 'Linear';
  inFeatures: number;
  outFeatures: number;
  bias: boolean;
}

/**
 * A fully connected layer: y = x W^T + b, with W [outFeatures, inFeatures] (as torch.nn.Linear).
 * Throws when the sizes are not positive integers.
 * @example const layer = new nn.Linear(64, 10, { seed: 1 }); layer.forward(randn([32, 64])) // [32, 10]
 */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Shape [outFeatures, inFeatures] (PyTorch layout). */
  readonly weight: Tensor;
  /** Shape [outFeatures], or null without bias. */
  readonly bias: Tensor | null;
  /** The scheme the weights are drawn with. */
  readonly initScheme: LinearInit;
  private readonly initSeed: InitSeed;

  /**
   * Creates the layer (weights drawn at once, from opts.seed when given, else from the global generator or Sequential's seed).
   * @param inFeatures input features (the last dimension of the input), a positive integer.
   * @param outFeatures output features, a positive integer.
   * @param opts bias (default true), init ('default': PyTorch's uniform in +-1/sqrt(inFeatures); 'kaiming' or 'glorot'), seed.
   * @throws Error when a size is not a positive integer, the weight is too large, an option is unknown, init is not one of the three, or bias is not a boolean.
   * @example
   * ```ts
   * const layer = new nn.Linear(64, 10, { init: 'kaiming', seed: 1 });
   * ```
   */
  constructor(inFeatures: number, outFeatures: number, opts: LinearOptions = {}) {
    super();
    const o = checkWeightLayer('Linear', { inFeatures, outFeatures }, [outFeatures, inFeatures], opts, ['bias', 'init', 'seed']);
    const init = o.init === undefined ? 'default' : checkOneOf('Linear', 'init', o.init, ['default', 'kaiming', 'glorot'] as const);
    const bias = o.bias === undefined ? true : checkBoolean('Linear', 'bias', o.bias);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.initScheme = init;
    this.initSeed = new InitSeed('Linear', o.seed);
    this.weight = this.registerParameter('weight', zeros([outFeatures, inFeatures]));
    this.bias = bias ? this.registerParameter('bias', zeros([outFeatures])) : null;
    this.resetParameters();
  }

  /**
   * Re-draws the weights and bias with the layer's init scheme, from `seed` when given (else the layer's
   * own seed; with neither, the global generator).
   * @param seed the seed to draw from (default: the layer's own seed, else the global generator).
   * @example layer.resetParameters(42); // the same weights as new nn.Linear(in, out, { seed: 42 })
   */
  resetParameters(seed?: number): void {
    const rng = this.initSeed.rng('Linear.resetParameters', seed);
    initWeightAndBias(this.initScheme, this.weight.data, this.bias ? this.bias.data : null, this.inFeatures, this.outFeatures, rng);
    this.weight._version++;
    if (this.bias) this.bias._version++;
  }

  /**
   * Draws the weights from `seed` unless the layer was given its own seed (used by Sequential's seed).
   * @param seed the seed to draw from when the layer has none of its own.
   * @example new nn.Sequential(new nn.Linear(4, 8), new nn.Linear(8, 2), { seed: 1 }) // seeds each Linear
   */
  override seedIfUnseeded(seed: number): void {
    if (this.initSeed.adopt(seed)) this.resetParameters();
  }

  /**
   * Applies the layer.
   * @param x the input [..., inFeatures].
   * @returns x W^T + b, [..., outFeatures].
   * @throws Error when x is not a Tensor or its last dimension is not inFeatures.
   * @example new nn.Linear(64, 10).forward(randn([32, 64])).shape // [32, 10]
   */
  override forward(x: Tensor): Tensor {
    this.checkInput(x);
    return linear(x, this.weight, this.bias, 'none');
  }

  /**
   * The input must be a Tensor whose last dimension is inFeatures (said in the layer's terms).
   * @param x the input to check.
   * @throws Error when x is not a Tensor or its last dimension is not inFeatures.
   * @example new nn.Linear(4, 2).checkInput(randn([3, 5])) // throws: 5 features in its last dimension, expected 4
   */
  checkInput(x: Tensor): void {
    if (!(x instanceof Tensor)) checkTensor(`${this.describe()}.forward`, 'input', x);
    if (x.ndim === 0 || x.shape[x.ndim - 1] !== this.inFeatures) {
      throw new Error(
        `${this.describe()}.forward: input of shape ${shapeToString(x.shape)} has ` +
          `${x.ndim === 0 ? 'no feature dimension' : `${x.shape[x.ndim - 1]} features in its last dimension`}, expected ${this.inFeatures}`,
      );
    }
  }

  override inputFeatures(): number {
    return this.inFeatures;
  }

  override toConfig(): LinearConfig {
    return { type: 'Linear', inFeatures: this.inFeatures, outFeatures: this.outFeatures, bias: this.bias !== null };
  }

  override describe(): string {
    return `Linear(${this.inFeatures} -> ${this.outFeatures}${this.bias ? ', bias' : ', no bias'})`;
  }
}

register<LinearConfig>(Linear, {
  keys: { inFeatures: keyRules.positiveInt, outFeatures: keyRules.positiveInt, bias: keyRules.boolean },
  fromConfig: (c) => new Linear(c.inFeatures, c.outFeatures, { bias: c.bias }),
  parameters: (c) => [
    { name: 'weight', shape: [c.outFeatures, c.inFeatures] },
    ...(c.bias ? [{ name: 'bias', shape: [c.outFeatures] }] : []),
  ],
  inference: () => ({ kind: 'linear' }),
  onnx(ctx, c) {
    const { shape } = ctx;
    if (shape.length !== 1 || shape[0] !== c.inFeatures) {
      throw new Error(
        `onnx.exportModel: ${ctx.where} Linear(${c.inFeatures} -> ${c.outFeatures}) gets input [${['batch', ...shape].join(',')}]; ` +
          `expected [batch,${c.inFeatures}] (add a Flatten layer or fix inputShape)`,
      );
    }
    const inputs = [ctx.current, ctx.initializer(`${ctx.prefix}weight`, [c.outFeatures, c.inFeatures], ctx.param('weight'))];
    if (c.bias) inputs.push(ctx.initializer(`${ctx.prefix}bias`, [c.outFeatures], ctx.param('bias')));
    ctx.current = ctx.node('Gemm', inputs, [{ name: 'alpha', float: 1 }, { name: 'beta', float: 1 }, { name: 'transB', int: 1 }]);
    ctx.shape = [c.outFeatures];
  },
  keepsNoTensors: true,
});

/** Keras-style name for Linear. */
export const Dense = Linear;
export type Dense = Linear;

// Linear (alias Dense): y = x W^T + b with W [out, in]; runs fused with a following activation.
import type { Activation } from '../backend/contract';
import { Tensor, shapeToString, zeros } from '../tensor';
import { linear } from '../ops/linear';
import { Rng, globalGenerator } from '../random';
import { Module } from './module';
import type { LayerConfig } from './config';
import { glorotUniform, initForActivation, kaimingNormal, type InitScheme } from './init';
import {
  checkBoolean, checkElementCount, checkNumber, checkOneOf, checkOptions, checkPositiveInt, checkSeed, checkTensor,
} from '../validate';

export interface LinearOptions {
  /** Add a bias vector (default true). */
  bias?: boolean;
  /** Weight initialisation; by default chosen from the activation that follows (see Sequential). */
  init?: InitScheme;
  /** Seed for the weight initialisation (same seed, same weights). */
  seed?: number;
}


export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Shape [outFeatures, inFeatures] (PyTorch layout). */
  readonly weight: Tensor;
  /** Shape [outFeatures], or null without bias. */
  readonly bias: Tensor | null;
  /** The scheme the current weights were drawn with. */
  initScheme: InitScheme;
  private readonly explicitInit: InitScheme | undefined;
  private readonly seed: number | undefined;

  constructor(inFeatures: number, outFeatures: number, opts: LinearOptions = {}) {
    super();
    checkPositiveInt('Linear', 'inFeatures', inFeatures);
    checkPositiveInt('Linear', 'outFeatures', outFeatures);
    checkElementCount('Linear', [outFeatures, inFeatures], 'the weight shape');
    const o = checkOptions('Linear', opts, ['bias', 'init', 'seed']);
    const init = o.init === undefined ? undefined : checkOneOf('Linear', 'init', o.init, ['kaiming', 'glorot'] as const);
    const bias = o.bias === undefined ? true : checkBoolean('Linear', 'bias', o.bias);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.explicitInit = init;
    this.seed = o.seed === undefined ? undefined : checkSeed('Linear', 'seed', o.seed);
    this.weight = this.registerParameter('weight', zeros([outFeatures, inFeatures]));
    this.bias = bias ? this.registerParameter('bias', zeros([outFeatures])) : null;
    this.initScheme = init ?? 'glorot';
    this.resetParameters(null);
  }

  /** True when the caller fixed the init scheme or the seed (Sequential then leaves those alone). */
  get hasExplicitInit(): boolean {
    return this.explicitInit !== undefined;
  }
  get hasSeed(): boolean {
    return this.seed !== undefined;
  }

  /**
   * Re-draws the weights (bias to zero) for the activation that follows this layer.
   * The layer's own seed wins over `seed`; with neither, the global generator is used.
   */
  resetParameters(following: Activation | null, seed?: number, negativeSlope = 0.01): void {
    if (seed !== undefined) checkSeed('Linear.resetParameters', 'seed', seed);
    checkNumber('Linear.resetParameters', 'negativeSlope', negativeSlope);
    const scheme = this.explicitInit ?? initForActivation(following);
    const s = this.seed ?? seed;
    const rng = s === undefined ? globalGenerator() : new Rng(s);
    if (scheme === 'kaiming') {
      kaimingNormal(this.weight.data, this.inFeatures, rng, following === 'leakyRelu' ? negativeSlope : 0);
    } else {
      glorotUniform(this.weight.data, this.inFeatures, this.outFeatures, rng);
    }
    if (this.bias) this.bias.data.fill(0);
    this.weight._version++;
    if (this.bias) this.bias._version++;
    this.initScheme = scheme;
  }

  override forward(x: Tensor): Tensor {
    this.checkInput(x);
    return linear(x, this.weight, this.bias, 'none');
  }

  /** act(x W^T + b) as one fused kernel call (forward and backward). */
  forwardFused(x: Tensor, act: Activation, alpha: number): Tensor {
    this.checkInput(x);
    return linear(x, this.weight, this.bias, act, alpha);
  }

  /** The input must be a Tensor whose last dimension is inFeatures (said in the layer's terms). */
  private checkInput(x: Tensor): void {
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

  override toConfig(): LayerConfig {
    return { type: 'Linear', inFeatures: this.inFeatures, outFeatures: this.outFeatures, bias: this.bias !== null };
  }

  override describe(): string {
    return `Linear(${this.inFeatures} -> ${this.outFeatures}${this.bias ? ', bias' : ', no bias'})`;
  }
}

/** Keras-style name for Linear. */
export const Dense = Linear;
export type Dense = Linear;

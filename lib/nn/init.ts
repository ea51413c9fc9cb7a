// Weight initialisers: Kaiming/He normal (ReLU family) and Glorot/Xavier uniform, seeded.
import type { Activation } from '../backend/contract';
import { Rng, globalGenerator } from '../random';
import { checkElementCount, checkNumber, checkOneOf, checkOptions, checkPositiveInt, checkSeed, invalid } from '../validate';
import { ACTIVATION_CODE } from '../backend/contract';

/** The arguments every initialiser takes: the array to fill, fan sizes and a generator. */
function checkInitArgs(op: string, out: unknown, fans: [string, unknown][], rng: unknown): void {
  if (!(out instanceof Float32Array)) invalid(op, 'out', 'a Float32Array (the weights to fill)', out);
  for (const [name, v] of fans) checkPositiveInt(op, name, v);
  if (!(rng instanceof Rng)) invalid(op, 'rng', 'an Rng', rng);
}

/** A weight initialisation: 'kaiming' (He, for ReLU-like activations) or 'glorot' (Xavier). */
export type InitScheme = 'kaiming' | 'glorot';

/**
 * The scheme suited to the activation that follows a layer: Kaiming for ReLU-like, Glorot otherwise.
 * @param act the activation ('relu', 'leakyRelu', 'gelu', 'geluTanh', 'sigmoid', 'tanh', ...) or null for none.
 * @returns 'kaiming' for relu, leakyRelu, gelu and geluTanh; 'glorot' for the others and null.
 * @throws Error when act is neither null nor a known activation name.
 * @example nn.initForActivation('relu') // 'kaiming'
 */
export function initForActivation(act: Activation | null): InitScheme {
  if (act !== null && !Object.prototype.hasOwnProperty.call(ACTIVATION_CODE, act)) {
    checkOneOf('initForActivation', 'act (or null)', act, Object.keys(ACTIVATION_CODE));
  }
  return act === 'relu' || act === 'leakyRelu' || act === 'gelu' || act === 'geluTanh' ? 'kaiming' : 'glorot';
}

/**
 * Kaiming/He normal: fills `out` with N(0, gain^2 / fanIn), gain = sqrt(2 / (1 + a^2)) (a = leaky slope, 0 for ReLU).
 * @param out the values to fill, in place.
 * @param fanIn the inputs per output unit (in features; for a conv, inChannels / groups * kernel area), a positive integer.
 * @param rng the generator the values are drawn from.
 * @param negativeSlope a, the slope of the leaky ReLU that follows (default 0: ReLU).
 * @throws Error when out is not a Float32Array, fanIn is not a positive integer, rng is not an Rng, or
 * negativeSlope is not a finite number.
 * @example nn.kaimingNormal(layer.weight.data, 784, new Rng(1));
 */
export function kaimingNormal(out: Float32Array, fanIn: number, rng: Rng, negativeSlope = 0): void {
  checkInitArgs('kaimingNormal', out, [['fanIn', fanIn]], rng);
  checkNumber('kaimingNormal', 'negativeSlope', negativeSlope);
  const std = Math.sqrt(2 / (1 + negativeSlope * negativeSlope)) / Math.sqrt(fanIn);
  for (let i = 0; i < out.length; i++) out[i] = std * rng.normal();
}

/**
 * Glorot/Xavier uniform: fills `out` with U(-l, l), l = sqrt(6 / (fanIn + fanOut)).
 * @param out the values to fill, in place.
 * @param fanIn the inputs per output unit, a positive integer.
 * @param fanOut the outputs per input unit, a positive integer.
 * @param rng the generator the values are drawn from.
 * @throws Error when out is not a Float32Array, fanIn or fanOut is not a positive integer, or rng is not an Rng.
 * @example nn.glorotUniform(layer.weight.data, 128, 10, new Rng(1));
 */
export function glorotUniform(out: Float32Array, fanIn: number, fanOut: number, rng: Rng): void {
  checkInitArgs('glorotUniform', out, [['fanIn', fanIn], ['fanOut', fanOut]], rng);
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  for (let i = 0; i < out.length; i++) out[i] = limit * (2 * rng.next() - 1);
}

/**
 * Fills `out` with U(-bound, bound): PyTorch's nn.Linear default with bound = 1/sqrt(fanIn) (weight and bias).
 * @param out the values to fill, in place.
 * @param bound the half-width of the interval, a number >= 0.
 * @param rng the generator the values are drawn from.
 * @throws Error when out is not a Float32Array, bound is not a finite number >= 0, or rng is not an Rng.
 * @example nn.uniformFill(layer.bias.data, 1 / Math.sqrt(784), new Rng(1));
 */
export function uniformFill(out: Float32Array, bound: number, rng: Rng): void {
  if (!(out instanceof Float32Array)) invalid('uniformFill', 'out', 'a Float32Array (the values to fill)', out);
  checkNumber('uniformFill', 'bound', bound, { min: 0 });
  if (!(rng instanceof Rng)) invalid('uniformFill', 'rng', 'an Rng', rng);
  for (let i = 0; i < out.length; i++) out[i] = bound * (2 * rng.next() - 1);
}

/**
 * A layer's weight and bias drawn by scheme: 'default' (PyTorch's Linear/Conv default, kaiming-uniform with
 * a = sqrt(5): both uniform in +-1/sqrt(fanIn)), 'kaiming' (He normal, bias 0), 'glorot' (Xavier uniform, bias 0).
 */
export function initWeightAndBias(
  scheme: 'default' | InitScheme, weight: Float32Array, bias: Float32Array | null, fanIn: number, fanOut: number, rng: Rng,
): void {
  if (scheme === 'kaiming') {
    kaimingNormal(weight, fanIn, rng);
    if (bias) bias.fill(0);
  } else if (scheme === 'glorot') {
    glorotUniform(weight, fanIn, fanOut, rng);
    if (bias) bias.fill(0);
  } else {
    const bound = 1 / Math.sqrt(fanIn);
    uniformFill(weight, bound, rng);
    if (bias) uniformFill(bias, bound, rng);
  }
}

/**
 * A layer's seed for its initial weights: its own (given as an option, checked naming `where`), or one
 * Sequential({ seed }) hands it through seedIfUnseeded, or none (the global generator).
 */
export class InitSeed {
  private seed: number | undefined;
  private readonly own: boolean;

  constructor(where: string, seed: unknown) {
    this.seed = seed === undefined ? undefined : checkSeed(where, 'seed', seed);
    this.own = this.seed !== undefined;
  }

  /** The generator of a (re-)draw: from `seed` when given (checked, naming `where`), else the layer's seed, else the global generator. */
  rng(where: string, seed?: number): Rng {
    if (seed !== undefined) checkSeed(where, 'seed', seed);
    const s = seed ?? this.seed;
    return s === undefined ? globalGenerator() : new Rng(s);
  }

  /** Takes `seed` unless the layer has its own; true when taken (the layer then re-draws its weights). */
  adopt(seed: number): boolean {
    if (this.own) return false;
    this.seed = seed;
    return true;
  }
}

/** Fills `out` from N(0, 1) (nn.Embedding's init). */
export function normalFill(out: Float32Array, rng: Rng): void {
  for (let i = 0; i < out.length; i++) out[i] = rng.normal();
}

/**
 * The checks a layer with one weight matrix starts with: each size (named by its key) a positive integer,
 * the weight's element count within one tensor's limit, and only the accepted option keys. Returns the options.
 */
export function checkWeightLayer<T extends object>(
  where: string, sizes: Record<string, number>, weightShape: readonly number[], opts: T | undefined, accepted: readonly string[],
): T {
  for (const [name, v] of Object.entries(sizes)) checkPositiveInt(where, name, v);
  checkElementCount(where, weightShape, 'the weight shape');
  return checkOptions(where, opts, accepted);
}

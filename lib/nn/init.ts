// Weight initialisers: Kaiming/He normal (ReLU family) and Glorot/Xavier uniform, seeded.
import type { Activation } from '../backend/contract';
import { Rng } from '../random';

export type InitScheme = 'kaiming' | 'glorot';

/** The scheme suited to the activation that follows a layer: Kaiming for ReLU-like, Glorot otherwise. */
export function initForActivation(act: Activation | null): InitScheme {
  return act === 'relu' || act === 'leakyRelu' || act === 'gelu' || act === 'geluTanh' ? 'kaiming' : 'glorot';
}

/** Kaiming/He normal: N(0, gain^2 / fanIn), gain = sqrt(2 / (1 + a^2)) (a = leaky slope, 0 for ReLU). */
export function kaimingNormal(out: Float32Array, fanIn: number, rng: Rng, negativeSlope = 0): void {
  const std = Math.sqrt(2 / (1 + negativeSlope * negativeSlope)) / Math.sqrt(fanIn);
  for (let i = 0; i < out.length; i++) out[i] = std * rng.normal();
}

/** Glorot/Xavier uniform: U(-l, l), l = sqrt(6 / (fanIn + fanOut)). */
export function glorotUniform(out: Float32Array, fanIn: number, fanOut: number, rng: Rng): void {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  for (let i = 0; i < out.length; i++) out[i] = limit * (2 * rng.next() - 1);
}

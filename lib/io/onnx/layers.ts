// LayerSpec: the framework-neutral description of one layer that ONNX import produces.
import type { LayerConfig } from '../../nn/config';

/** One layer of a sequential network, with its parameters as plain arrays (weight is [out, in], row-major). */
export type LayerSpec =
  | {
      kind: 'Linear';
      /** Parameter-name prefix, e.g. "0." for the first child of a Sequential. */
      name: string;
      inFeatures: number;
      outFeatures: number;
      weight: Float32Array;
      bias: Float32Array | null;
    }
  | { kind: 'ReLU'; name: string }
  | { kind: 'LeakyReLU'; name: string; negativeSlope: number }
  | { kind: 'Sigmoid'; name: string }
  | { kind: 'Tanh'; name: string }
  | { kind: 'GELU'; name: string; approximate: 'none' | 'tanh' }
  | { kind: 'Softmax'; name: string }
  | { kind: 'Dropout'; name: string; p: number }
  | { kind: 'Flatten'; name: string }
  /** A layer read by its registered onnxImport (nn/registry.ts): its config and parameters (names without prefix). */
  | { kind: 'registered'; name: string; config: LayerConfig; params: Record<string, Float32Array> };

/** A short human description, used in error messages: "Linear(64 -> 10)", "GELU(tanh)". */
export function describeLayer(layer: LayerSpec): string {
  switch (layer.kind) {
    case 'Linear':
      return `Linear(${layer.inFeatures} -> ${layer.outFeatures})`;
    case 'LeakyReLU':
      return `LeakyReLU(${layer.negativeSlope})`;
    case 'GELU':
      return `GELU(${layer.approximate})`;
    case 'Dropout':
      return `Dropout(${layer.p})`;
    case 'registered':
      return layer.config.type;
    default:
      return layer.kind;
  }
}

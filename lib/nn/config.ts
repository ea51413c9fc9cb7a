// The JSON architecture description of a model (LayerConfig), as produced by Module.toConfig().
// Every key is always written and always required: fromConfig rejects unknown and missing keys.

export type LayerConfig =
  | { type: 'Sequential'; layers: LayerConfig[] }
  | { type: 'Linear'; inFeatures: number; outFeatures: number; bias: boolean }
  | { type: 'ReLU' }
  | { type: 'LeakyReLU'; negativeSlope: number }
  | { type: 'Sigmoid' }
  | { type: 'Tanh' }
  | { type: 'GELU'; approximate: 'none' | 'tanh' }
  | { type: 'Softmax' }
  | { type: 'Dropout'; p: number }
  | { type: 'Flatten'; startDim: number };

/** Every layer type name fromConfig understands. */
export const LAYER_TYPES: readonly LayerConfig['type'][] = [
  'Sequential', 'Linear', 'ReLU', 'LeakyReLU', 'Sigmoid', 'Tanh', 'GELU', 'Softmax', 'Dropout', 'Flatten',
];

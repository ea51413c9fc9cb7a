// nn.fromConfig: rebuilds a module (fresh weights) from its toConfig() JSON.
import { Module } from './module';
import { LAYER_TYPES, type LayerConfig } from './config';
import { Linear } from './linear';
import { GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh } from './activations';
import { Dropout } from './dropout';
import { Flatten } from './flatten';
import { Sequential } from './sequential';

function field(cfg: Record<string, unknown>, key: string, kind: 'number' | 'boolean' | 'string', where: string): unknown {
  const v = cfg[key];
  if (typeof v !== kind) {
    throw new Error(`fromConfig: ${where}: field '${key}' must be a ${kind}, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
  }
  return v;
}

/** Builds the module described by cfg. Throws "unknown layer type 'X'" for types it does not know. */
export function fromConfig(config: LayerConfig | Record<string, unknown>, path = 'model'): Module {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new Error(`fromConfig: ${path}: expected a layer config object, got ${JSON.stringify(config)}`);
  }
  const cfg = config as Record<string, unknown>;
  const type = cfg.type;
  switch (type) {
    case 'Sequential': {
      const layers = cfg.layers;
      if (!Array.isArray(layers)) throw new Error(`fromConfig: ${path}: Sequential needs a 'layers' array`);
      return new Sequential(layers.map((l: unknown, i: number) => fromConfig(l as Record<string, unknown>, `${path}.${i}`)));
    }
    case 'Linear':
      return new Linear(
        field(cfg, 'inFeatures', 'number', path) as number,
        field(cfg, 'outFeatures', 'number', path) as number,
        { bias: cfg.bias === undefined ? true : (field(cfg, 'bias', 'boolean', path) as boolean) },
      );
    case 'ReLU':
      return new ReLU();
    case 'LeakyReLU':
      return new LeakyReLU(cfg.negativeSlope === undefined ? 0.01 : (field(cfg, 'negativeSlope', 'number', path) as number));
    case 'Sigmoid':
      return new Sigmoid();
    case 'Tanh':
      return new Tanh();
    case 'GELU':
      return new GELU({ approximate: cfg.approximate === undefined ? 'none' : (field(cfg, 'approximate', 'string', path) as 'none' | 'tanh') });
    case 'Softmax':
      return new Softmax();
    case 'Dropout':
      return new Dropout(cfg.p === undefined ? 0.5 : (field(cfg, 'p', 'number', path) as number));
    case 'Flatten':
      return new Flatten(cfg.startDim === undefined ? 1 : (field(cfg, 'startDim', 'number', path) as number));
    default:
      throw new Error(
        `fromConfig: ${path}: unknown layer type '${String(type)}' (known: ${LAYER_TYPES.join(', ')})`,
      );
  }
}

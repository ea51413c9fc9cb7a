// nn.fromConfig: rebuilds a module (fresh weights) from its toConfig() JSON, after checking the whole config.
//
// Each layer type lists its keys and what each must hold. A config is checked completely before any layer
// is built: unknown keys, missing keys and out-of-range values are errors (never a default), and the
// parameter shapes a config implies can be computed without allocating them (load() compares them with
// the weights file first).
import { Module } from './module';
import { LAYER_TYPES, type LayerConfig } from './config';
import { Linear } from './linear';
import { GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh } from './activations';
import { Dropout } from './dropout';
import { Flatten } from './flatten';
import { Sequential } from './sequential';

/** A key of a layer config: what it must hold, in words, and the test. */
interface KeyRule {
  expect: string;
  ok(v: unknown): boolean;
}

const positiveInt: KeyRule = { expect: 'a positive integer', ok: (v) => Number.isSafeInteger(v) && (v as number) > 0 };
const integer: KeyRule = { expect: 'an integer', ok: (v) => Number.isSafeInteger(v) };
const boolean: KeyRule = { expect: 'true or false', ok: (v) => typeof v === 'boolean' };
const finite: KeyRule = { expect: 'a finite number', ok: (v) => typeof v === 'number' && Number.isFinite(v) };
const probability: KeyRule = { expect: 'a number in [0, 1)', ok: (v) => typeof v === 'number' && v >= 0 && v < 1 };
const geluForm: KeyRule = { expect: "'none' or 'tanh'", ok: (v) => v === 'none' || v === 'tanh' };
const layerList: KeyRule = { expect: 'an array of layer configs', ok: (v) => Array.isArray(v) };

/** A parameter a config implies: its dotted name (as namedParameters() gives it) and shape. */
export interface ParameterShape {
  name: string;
  shape: number[];
}

interface LayerRule {
  keys: Record<string, KeyRule>;
  build(cfg: never): Module;
  parameters?(cfg: never): ParameterShape[];
}

type RuleFor<T extends LayerConfig['type']> = {
  keys: { [K in Exclude<keyof Extract<LayerConfig, { type: T }>, 'type'>]: KeyRule };
  build(cfg: Extract<LayerConfig, { type: T }>): Module;
  parameters?(cfg: Extract<LayerConfig, { type: T }>): ParameterShape[];
};

const RULES: { [T in LayerConfig['type']]: RuleFor<T> } = {
  Sequential: {
    keys: { layers: layerList },
    build: (c) => new Sequential(c.layers.map((l) => buildChecked(l))),
    parameters: (c) => c.layers.flatMap((l, i) => configParameters(l).map((p) => ({ name: `${i}.${p.name}`, shape: p.shape }))),
  },
  Linear: {
    keys: { inFeatures: positiveInt, outFeatures: positiveInt, bias: boolean },
    build: (c) => new Linear(c.inFeatures, c.outFeatures, { bias: c.bias }),
    parameters: (c) => [
      { name: 'weight', shape: [c.outFeatures, c.inFeatures] },
      ...(c.bias ? [{ name: 'bias', shape: [c.outFeatures] }] : []),
    ],
  },
  ReLU: { keys: {}, build: () => new ReLU() },
  LeakyReLU: { keys: { negativeSlope: finite }, build: (c) => new LeakyReLU(c.negativeSlope) },
  Sigmoid: { keys: {}, build: () => new Sigmoid() },
  Tanh: { keys: {}, build: () => new Tanh() },
  GELU: { keys: { approximate: geluForm }, build: (c) => new GELU({ approximate: c.approximate }) },
  Softmax: { keys: {}, build: () => new Softmax() },
  Dropout: { keys: { p: probability }, build: (c) => new Dropout(c.p) },
  Flatten: { keys: { startDim: integer }, build: (c) => new Flatten(c.startDim) },
};

/** Deepest nesting of Sequentials a config may have (keeps a hostile file from exhausting the stack). */
export const MAX_CONFIG_DEPTH = 64;

function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/**
 * Checks a whole config without building anything. Throws `fromConfig: <path>: ...` for a non-object,
 * an unknown layer type, an unknown or missing key, or a value of the wrong kind or range.
 */
export function checkConfig(config: unknown, path = 'model', depth = 0): asserts config is LayerConfig {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new Error(`fromConfig: ${path}: expected a layer config object, got ${shown(config)}`);
  }
  const cfg = config as Record<string, unknown>;
  const type = cfg.type;
  if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(RULES, type)) {
    throw new Error(`fromConfig: ${path}: unknown layer type ${typeof type === 'string' ? `'${type}'` : shown(type)} (known: ${LAYER_TYPES.join(', ')})`);
  }
  const rule = RULES[type as LayerConfig['type']] as LayerRule;
  const allowed = ['type', ...Object.keys(rule.keys)];
  for (const key of Object.keys(cfg)) {
    if (!allowed.includes(key)) throw new Error(`fromConfig: ${path}: ${type} has no key '${key}' (its keys: ${allowed.join(', ')})`);
  }
  for (const [key, k] of Object.entries(rule.keys)) {
    if (!Object.prototype.hasOwnProperty.call(cfg, key)) throw new Error(`fromConfig: ${path}: ${type} is missing key '${key}' (${k.expect})`);
    if (!k.ok(cfg[key])) throw new Error(`fromConfig: ${path}: ${type} key '${key}' must be ${k.expect}, got ${shown(cfg[key])}`);
  }
  if (type === 'Sequential') {
    if (depth >= MAX_CONFIG_DEPTH) throw new Error(`fromConfig: ${path}: Sequentials nest deeper than ${MAX_CONFIG_DEPTH} levels`);
    (cfg.layers as unknown[]).forEach((l, i) => checkConfig(l, `${path}.${i}`, depth + 1));
  }
}

/** The parameters (names and shapes, in namedParameters() order) that a checked config implies. Allocates nothing. */
export function configParameters(config: LayerConfig): ParameterShape[] {
  const rule = RULES[config.type] as LayerRule;
  return rule.parameters ? rule.parameters(config as never) : [];
}

function buildChecked(config: LayerConfig): Module {
  return (RULES[config.type] as LayerRule).build(config as never);
}

/** Builds the module described by `config` (fresh weights) after checking all of it (see checkConfig). */
export function fromConfig(config: LayerConfig | Record<string, unknown>, path = 'model'): Module {
  checkConfig(config, path);
  return buildChecked(config);
}

// nn.fromConfig: rebuilds a module (fresh weights) from its toConfig() JSON, after checking the whole config.
//
// Each layer type's definition (registry.ts, written in the layer's own file) lists its keys and what each
// must hold. A config is checked completely before any layer is built: unknown keys, missing keys and
// out-of-range values are errors (never a default), and the parameter shapes a config implies can be
// computed without allocating them (load() compares them with the weights file first).
import type { Module } from './module';
import type { LayerConfig } from './config';
import { acceptsAnyKeys, definitionOfType, installConfigCheck, layerTypes, type LayerDefinition, type ParameterShape } from './registry';
import './layers';

export type { ParameterShape };

/** Deepest nesting of containers a config may have (keeps a hostile file from exhausting the stack). */
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
  const def = typeof type === 'string' ? definitionOfType(type) : undefined;
  if (def === undefined) {
    throw new Error(
      `fromConfig: ${path}: unknown layer type ${typeof type === 'string' ? `'${type}'` : shown(type)} ` +
        `(known: ${layerTypes().join(', ')}; register your own with nn.register)`,
    );
  }
  if (!acceptsAnyKeys(def)) {
    const allowed = ['type', ...Object.keys(def.keys)];
    for (const key of Object.keys(cfg)) {
      if (!allowed.includes(key)) throw new Error(`fromConfig: ${path}: ${def.type} has no key '${key}' (its keys: ${allowed.join(', ')})`);
    }
    for (const [key, k] of Object.entries(def.keys)) {
      if (!Object.prototype.hasOwnProperty.call(cfg, key)) {
        if (k.optional === true) continue;
        throw new Error(`fromConfig: ${path}: ${def.type} is missing key '${key}' (${k.expect})`);
      }
      if (!k.ok(cfg[key])) throw new Error(`fromConfig: ${path}: ${def.type} key '${key}' must be ${k.expect}, got ${shown(cfg[key])}`);
    }
  }
  if (def.children) {
    if (depth >= MAX_CONFIG_DEPTH) throw new Error(`fromConfig: ${path}: ${def.type}s nest deeper than ${MAX_CONFIG_DEPTH} levels`);
    def.children(cfg as LayerConfig).forEach((l, i) => checkConfig(l, `${path}.${i}`, depth + 1));
  }
}

installConfigCheck((config) => checkConfig(config));

function definition(config: LayerConfig): LayerDefinition {
  return definitionOfType(config.type) as LayerDefinition;
}

/** The parameters and buffers (names and shapes, as stateDict() lists them) that a checked config implies. */
export function configParameters(config: LayerConfig): ParameterShape[] {
  const def = definition(config);
  if (def.parameters) return def.parameters(config);
  if (def.children) {
    return def.children(config).flatMap((l, i) => configParameters(l).map((p) => ({ ...p, name: `${i}.${p.name}` })));
  }
  // A user layer without a parameters() rule: build one and look.
  return Object.entries(buildChecked(config).stateDict()).map(([name, t]) => ({ name, shape: [...t.shape] }));
}

function buildChecked(config: LayerConfig): Module {
  return definition(config).fromConfig(config, buildChecked);
}

/**
 * Builds the module described by `config` (fresh weights) after checking all of it (see checkConfig).
 * @param config a layer config as module.toConfig() returns it: `{ type, ...keys }`, containers nesting
 * their layers' configs.
 * @param path the name of the config in error messages (default 'model').
 * @returns a new Module of that type with fresh weights (load a stateDict to restore trained ones).
 * @throws Error `fromConfig: <path>: ...` for a config that is not an object, an unknown layer type, an
 * unknown or missing key, a value of the wrong kind or range, or nesting deeper than 64 levels.
 * @example
 * ```ts
 * const copy = nn.fromConfig(model.toConfig()); copy.loadStateDict(model.stateDict());
 * ```
 */
export function fromConfig(config: LayerConfig | Record<string, unknown>, path = 'model'): Module {
  checkConfig(config, path);
  return buildChecked(config);
}

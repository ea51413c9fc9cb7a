// The layer registry: each layer type registers once (config keys, builder, parameter shapes, inference role, ONNX export) and everything else asks here.
import type { Activation } from '../backend/contract';
import type { Module } from './module';
import type { LayerConfig } from './config';

/** A key of a layer config: what it must hold, in words, and the test. */
export interface KeyRule {
  expect: string;
  ok(v: unknown): boolean;
  /** The key may be left out (configs saved before it existed); when present it must pass `ok`. */
  optional?: boolean;
}

/** Key rules shared by the built-in layers (a layer may also write its own). */
export const keyRules = {
  positiveInt: { expect: 'a positive integer', ok: (v: unknown) => Number.isSafeInteger(v) && (v as number) > 0 } as KeyRule,
  integer: { expect: 'an integer', ok: (v: unknown) => Number.isSafeInteger(v) } as KeyRule,
  boolean: { expect: 'true or false', ok: (v: unknown) => typeof v === 'boolean' } as KeyRule,
  finite: { expect: 'a finite number', ok: (v: unknown) => typeof v === 'number' && Number.isFinite(v) } as KeyRule,
  positiveFinite: { expect: 'a positive finite number', ok: (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0 } as KeyRule,
  probability: { expect: 'a number in [0, 1)', ok: (v: unknown) => typeof v === 'number' && v >= 0 && v < 1 } as KeyRule,
  positiveIntList: {
    expect: 'a non-empty array of positive integers',
    ok: (v: unknown) => Array.isArray(v) && v.length > 0 && v.every((d) => Number.isSafeInteger(d) && d > 0),
  } as KeyRule,
  layerList: { expect: 'an array of layer configs', ok: (v: unknown) => Array.isArray(v) } as KeyRule,
  /** A nested layer config that nn.fromConfig accepts (checked in full: from-config.ts installs the checker). */
  layerConfig: { expect: 'a valid layer config', ok: (v: unknown) => isValidNestedConfig(v) } as KeyRule,
  layerConfigOrNull: { expect: 'null or a valid layer config', ok: (v: unknown) => v === null || isValidNestedConfig(v) } as KeyRule,
  oneOf(values: readonly string[]): KeyRule {
    return { expect: values.map((s) => `'${s}'`).join(' or '), ok: (v) => typeof v === 'string' && values.includes(v) };
  },
};

/**
 * The whole-config check of nn.fromConfig, installed by from-config.ts (which imports every layer file:
 * a layer file importing it would be an import cycle, so nested-config key rules reach it through here).
 */
let nestedConfigCheck: ((config: unknown) => void) | null = null;

/** @internal Called once by from-config.ts. */
export function installConfigCheck(check: (config: unknown) => void): void {
  nestedConfigCheck = check;
}

function isValidNestedConfig(v: unknown): boolean {
  if (nestedConfigCheck === null) return typeof v === 'object' && v !== null && !Array.isArray(v);
  try {
    nestedConfigCheck(v);
    return true;
  } catch {
    return false;
  }
}

/** A parameter a config implies: its dotted name (as namedParameters() gives it) and shape. */
export interface ParameterShape {
  name: string;
  shape: number[];
  /** How the saved weights file stores it when not float32: 'I8' or 'BF16' (quantised layers' weights). */
  dtype?: 'I8' | 'BF16';
}

/** An activation the planner may fuse into the Linear before it. */
export interface FusedActivation {
  act: Activation;
  alpha: number;
}

/**
 * What the inference planner may do with a layer: 'linear' (a dense step), an activation (fused into the
 * preceding Linear or Conv), 'identity' (vanishes at inference), 'softmax' (a final row softmax). Layers without a
 * role run through their own forward (ops).
 */
export type InferenceRole =
  | { kind: 'linear' }
  | { kind: 'activation'; activation: FusedActivation }
  | { kind: 'identity' }
  | { kind: 'softmax' }
  /** A Conv1d/Conv2d: at inference the planner fuses a following BatchNorm (folded) and activation into it. */
  | { kind: 'conv' }
  /** A BatchNorm with running statistics: folded into a Conv right before it (nn/plan.ts), else its forward. */
  | { kind: 'batchNorm' };

/** An ONNX attribute, written by the export context. */
export type OnnxAttribute =
  | { name: string; float: number }
  | { name: string; int: number }
  | { name: string; ints: number[] }
  | { name: string; string: string };

/**
 * What a layer's ONNX export sees (implemented by lib/io/onnx/encode.ts): the running value, its
 * per-sample shape, the layer's parameters, and node/initializer builders with unique names.
 */
export interface OnnxExportContext {
  readonly opset: number;
  /** The value the layer reads; set it to the layer's output. */
  current: string;
  /** Per-sample shape of `current` (no batch dimension); set it to the output's. */
  shape: number[];
  /** Parameter-name prefix of this layer, e.g. "0." (used for node and initializer names). */
  readonly prefix: string;
  /** "layer 0" or "the model", for error messages. */
  readonly where: string;
  /** The layer's parameter `name` (without prefix) as float values; throws naming the layer when absent. */
  param(name: string): Float32Array;
  /** Adds a float initializer; returns its (unique) name. */
  initializer(base: string, dims: number[], values: Float32Array): string;
  /** Adds a 1-D int64 initializer (shapes, axes, indices); returns its name. */
  ints(base: string, values: ArrayLike<number>): string;
  /** Adds a float scalar initializer; returns its name. */
  scalar(base: string, value: number): string;
  /** Adds an int8 initializer (quantised weights, zero points; exporter of lib/io/onnx/qdq.ts); returns its name. */
  int8Initializer?(base: string, dims: number[], values: Int8Array): string;
  /** Appends a node; returns its output name. */
  node(opType: string, inputs: string[], attrs?: OnnxAttribute[], docString?: string): string;
  /** Appends a node on `current` and makes its output `current`. */
  chain(opType: string, attrs?: OnnxAttribute[], docString?: string): void;
}

/** An ONNX node as a layer's import sees it (implemented by lib/io/onnx/graph.ts). */
export interface OnnxNodeView {
  readonly opType: string;
  /** "LayerNormalization node 'ln'" for error messages. */
  readonly label: string;
  readonly inputs: string[];
  readonly output: string;
  float(name: string, fallback: number): number;
  int(name: string, fallback: number): number;
  ints(name: string): number[] | null;
  string(name: string, fallback: string): string;
}

/** What a layer's ONNX import can ask about the graph. */
export interface OnnxImportContext {
  /** The constant (initializer or folded Constant) named `name`, or null when it is computed. */
  constant(name: string): { dims: number[]; data: Float64Array } | null;
  /** Per-sample shape of the value the layer reads (null entries or null: unknown). */
  readonly sample: (number | null)[] | null;
}

/** A layer read from ONNX: its config and its parameters (names without prefix). */
export interface ImportedLayer {
  config: LayerConfig;
  params: Record<string, Float32Array>;
  /** The per-sample output shape when the layer changes it (null entries: unknown); absent: unchanged. */
  sample?: (number | null)[] | null;
}

/** How a layer is read back from ONNX. */
export interface OnnxImport {
  /** The operators this layer reads and the attributes each may carry (others are an error). */
  attributes: Record<string, Record<string, 'float' | 'int' | 'ints' | 'string'>>;
  /** One node of one of those operators -> the layer (throw naming node.label for forms it cannot read). */
  node?(n: OnnxNodeView, ctx: OnnxImportContext): ImportedLayer;
  /** A region of nodes between two single values (a decomposition) -> the layer, or null when it is not this layer's. */
  region?(nodes: OnnxNodeView[], input: string, ctx: OnnxImportContext): ImportedLayer | null;
  /** Folds a node that follows the layer into it (e.g. a Mul by its scale); false when it does not apply. */
  absorb?(layer: ImportedLayer, n: OnnxNodeView, ctx: OnnxImportContext): boolean;
  /** The per-sample shape after the imported layer (absent: unchanged); null entries or null: unknown. */
  sampleAfter?(layer: ImportedLayer, sample: (number | null)[] | null): (number | null)[] | null;
}

/** Everything myelin needs to know about a layer type besides its class's own methods. */
export interface LayerDefinition<C extends LayerConfig = LayerConfig> {
  /** The config's `type` (also the name in error messages). */
  type: string;
  /** The module class (an instance of exactly this class counts as this layer). */
  cls: abstract new (...args: never[]) => Module;
  /** Config keys besides `type`, each required (fromConfig rejects unknown and missing keys). */
  keys: Record<string, KeyRule>;
  /** Builds a fresh module from a checked config; `build` builds a child config (for containers). */
  fromConfig(cfg: C, build: (child: LayerConfig) => Module): Module;
  /** Parameter names and shapes a checked config implies, without allocating (default: build one and look). */
  parameters?(cfg: C): ParameterShape[];
  /** Child configs of a container (their parameters are named "<index>.<name>"). */
  children?(cfg: C): LayerConfig[];
  /**
   * For a container whose forward runs its children one after another (Sequential): those children, in
   * order. The planner then plans them as one chain (fusing across them) instead of running the container's forward.
   */
  chain?(m: Module): Module[];
  /** How the inference planner treats this layer (absent: it runs through its forward). */
  inference?(cfg: C): InferenceRole | null;
  /** Writes the layer as ONNX nodes (absent: ONNX export says the layer is not supported). */
  onnx?(ctx: OnnxExportContext, cfg: C): void;
  /** Reads the layer back from ONNX nodes (layers without it are read by lib/io/onnx/graph.ts's own rules). */
  onnxImport?: OnnxImport;
  /**
   * True for layers whose forward keeps no tensor anywhere user code can reach (fit may then recycle a
   * step's buffers). 'view' when forward may return a view of its input (Flatten, Dropout).
   */
  keepsNoTensors?: boolean | 'view';
}

const byType = new Map<string, LayerDefinition>();
const byClass = new Map<object, LayerDefinition>();

/** A Module class with a static fromConfig (the short form of nn.register). */
export interface RegistrableClass {
  new (...args: never[]): Module;
  fromConfig?(cfg: LayerConfig, build: (child: LayerConfig) => Module): Module;
  name: string;
}

/**
 * Registers a layer type so that fromConfig, load, save, ONNX export and the planner know it.
 * `nn.register(MyBlock)` uses MyBlock.name as the type and MyBlock.fromConfig to rebuild it (its config keys
 * are then not checked); pass a definition to say more. Registering the same class again replaces its definition.
 * @param cls the Module subclass.
 * @param def optional: type (default cls.name), fromConfig (default the static cls.fromConfig), keys (the
 * config's keys and their rules: given, fromConfig checks them).
 * @throws Error when cls is not a function (class), neither def nor cls provides a fromConfig function, or the
 * type is already registered by another class.
 * @example
 * ```ts
 * class Twice extends nn.Module {
 *   forward(x) { return x.mul(2); }
 *   toConfig() { return { type: 'Twice' }; }
 *   static fromConfig() { return new Twice(); }
 * }
 * nn.register(Twice);
 * ```
 */
export function register<C extends LayerConfig>(cls: RegistrableClass, def?: Partial<LayerDefinition<C>>): void {
  if (typeof cls !== 'function') throw new Error(`nn.register: expected a Module class, got ${typeof cls}`);
  const type = def?.type ?? cls.name;
  const fromConfig = def?.fromConfig ?? cls.fromConfig?.bind(cls);
  if (typeof fromConfig !== 'function') {
    throw new Error(`nn.register: ${type} needs a static fromConfig(config) method or a fromConfig in the definition`);
  }
  const existing = byType.get(type);
  if (existing !== undefined && existing.cls !== cls) {
    throw new Error(`nn.register: layer type '${type}' is already registered by another class`);
  }
  const full = { keys: {}, ...def, type, cls, fromConfig, open: def?.keys === undefined } as LayerDefinition;
  byType.set(type, full);
  byClass.set(cls.prototype as object, full);
}

/** The definition registered for a config type, or undefined. */
export function definitionOfType(type: string): LayerDefinition | undefined {
  return byType.get(type);
}

/**
 * The definition of a module when it is exactly a registered class with its forward untouched (a subclass
 * or an instance with a patched forward is a different layer: it runs through its own forward).
 */
export function definitionOf(m: Module): LayerDefinition | undefined {
  const def = byClass.get(Object.getPrototypeOf(m) as object);
  if (def === undefined || Object.prototype.hasOwnProperty.call(m, 'forward')) return undefined;
  return def;
}

/** Every registered definition. */
export function definitions(): LayerDefinition[] {
  return [...byType.values()];
}

/**
 * Every registered layer type name.
 * @example nn.layerTypes().includes('Conv2d') // true
 */
export function layerTypes(): string[] {
  return [...byType.keys()];
}

/** True when the definition checks no keys (registered with nn.register(cls) and no key rules). */
export function acceptsAnyKeys(def: LayerDefinition): boolean {
  return (def as LayerDefinition & { open?: boolean }).open === true;
}

/**
 * How the planner may treat module `m` at inference (null: it runs through its own forward). Only an exact
 * registered class with an unpatched forward has a role.
 */
export function inferenceRole(m: Module): InferenceRole | null {
  const def = definitionOf(m);
  return def?.inference ? def.inference(m.toConfig()) : null;
}

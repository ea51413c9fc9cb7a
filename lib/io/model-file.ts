// Saving and loading models and training checkpoints as directories (model.json + safetensors), crash-safely.
import * as path from 'path';
import { Tensor } from '../tensor';
import { Module, fromConfig, LayerConfig } from '../nn';
import { encodeSafetensors, decodeSafetensors, NamedArray } from './safetensors';
import { commitModelDir, readManifest, readListedFile, FileToWrite, Manifest, MANIFEST_NAME } from './model-dir';

/** Value of model.json's "format" field. */
export const MODEL_FORMAT = 'myelin-model';
/** Layout version of model.json; bumped on incompatible changes. */
export const MODEL_FORMAT_VERSION = 1;

export const WEIGHTS_FILE = 'model.safetensors';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const TRAINING_STATE_FILE = 'training-state.json';

/** What save() needs from a model (every nn.Module has it). */
export interface SavableModel {
  toConfig(): LayerConfig;
  namedParameters(): [string, Tensor][];
}

/** Anything with a stateDict: the optimizers in lib/optim. */
export interface StatefulOptimizer {
  stateDict(): unknown;
  loadStateDict?(state: never): void;
}

/** JSON-safe values (the metadata users may attach). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface SaveOptions {
  /** Also save this optimizer's state (makes the directory a training checkpoint). */
  optimizer?: StatefulOptimizer;
  /** Epochs completed so far (checkpoints). */
  epoch?: number;
  /** Training history so far (any JSON-serialisable value, e.g. fit's History). */
  history?: unknown;
  /** Shape of one input row, e.g. [784]; inferred from a leading Linear layer when omitted. */
  inputShape?: number[];
  /** Free-form JSON stored in model.json (task, class names, ...). */
  metadata?: Record<string, JsonValue>;
  /** Extra training state for resuming (e.g. the shuffle seed), stored with the checkpoint. */
  trainingState?: Record<string, JsonValue>;
}

export interface LoadOptions {
  /** Check every file's size and sha256 against model.json (default true). */
  verify?: boolean;
}

/** What model.json says about a saved model (without the weights). */
export interface ModelInfo {
  formatVersion: number;
  myelinVersion: string;
  architecture: LayerConfig;
  inputShape: number[] | null;
  metadata: Record<string, JsonValue>;
  /** Epochs completed, for checkpoints; null for plain models. */
  epoch: number | null;
  isCheckpoint: boolean;
  savedAt: string;
}

/** A loaded checkpoint: the model, the optimizer state to pass to optimizer.loadStateDict, progress. */
export interface Checkpoint {
  model: Module;
  info: ModelInfo;
  /** null when the directory holds no optimizer state. */
  optimizerState: unknown;
  epoch: number;
  history: unknown;
  trainingState: Record<string, JsonValue>;
}

function myelinVersion(): string {
  try {
    // lib/io and dist/io both sit two levels below the package root.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require(path.join(__dirname, '..', '..', 'package.json')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The input row shape implied by a leading Linear (through shape-preserving layers), or null. */
export function inferInputShape(config: LayerConfig): number[] | null {
  const c = config as { type: string; layers?: LayerConfig[]; inFeatures?: number };
  if (c.type === 'Linear' && typeof c.inFeatures === 'number') return [c.inFeatures];
  if (c.type === 'Sequential' && Array.isArray(c.layers)) {
    for (const layer of c.layers) {
      const t = (layer as { type: string }).type;
      if (t === 'Linear' || t === 'Sequential') return inferInputShape(layer);
      if (t === 'Flatten') return null;
    }
  }
  return null;
}

// ---- optimizer state: tensors go to safetensors, the rest to JSON with {"$tensor": name} references ----

interface TensorRef { $tensor: string; kind: 'Tensor' | 'Float32Array' }

function splitState(value: unknown, where: string, tensors: NamedArray[]): unknown {
  if (value instanceof Tensor) {
    tensors.push({ name: where, shape: value.shape.slice(), data: value.data });
    return { $tensor: where, kind: 'Tensor' } satisfies TensorRef;
  }
  if (value instanceof Float32Array) {
    tensors.push({ name: where, shape: [value.length], data: value });
    return { $tensor: where, kind: 'Float32Array' } satisfies TensorRef;
  }
  if (ArrayBuffer.isView(value)) throw new Error(`save: optimizer state '${where}' is a ${value.constructor.name}; only Float32Array and Tensor can be saved`);
  if (Array.isArray(value)) return value.map((v, i) => splitState(v, `${where}.${i}`, tensors));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v === undefined) continue;
      out[k] = splitState(v, where === '' ? k : `${where}.${k}`, tensors);
    }
    return out;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return { $number: String(value) };
  if (typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint') {
    throw new Error(`save: optimizer state '${where}' is a ${typeof value} and cannot be saved`);
  }
  return value;
}

function joinState(value: unknown, tensors: Map<string, { shape: number[]; data: Float32Array }>, file: string): unknown {
  if (Array.isArray(value)) return value.map((v) => joinState(v, tensors, file));
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    if (typeof obj.$tensor === 'string') {
      const t = tensors.get(obj.$tensor);
      if (t === undefined) throw new Error(`load: ${file} lacks tensor '${obj.$tensor}' referenced by ${TRAINING_STATE_FILE}`);
      return obj.kind === 'Tensor' ? new Tensor(t.data, t.shape) : t.data;
    }
    if (typeof obj.$number === 'string' && Object.keys(obj).length === 1) return Number(obj.$number);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) out[k] = joinState(v, tensors, file);
    return out;
  }
  return value;
}

// ---- save ----

/**
 * Saves `model` into directory `dir` (created if needed): model.json (architecture, versions, input
 * shape, metadata) and model.safetensors (float32 weights named as namedParameters(): "0.weight", ...).
 * With an optimizer, also optimizer.safetensors and training-state.json (a resumable checkpoint).
 * Crash-safe: a reader (or a crash at any moment) sees the previous save or this one, never a mix.
 */
export function save(model: SavableModel, dir: string, options: SaveOptions = {}): void {
  const architecture = model.toConfig();
  const weights: NamedArray[] = model.namedParameters().map(([name, t]) => ({ name, shape: t.shape.slice(), data: t.data }));
  const version = myelinVersion();
  const files: FileToWrite[] = [
    { role: 'weights', name: WEIGHTS_FILE, contents: encodeSafetensors(weights, { format: 'pt', producer: `myelin ${version}` }) },
  ];
  const isCheckpoint = options.optimizer !== undefined;
  if (options.optimizer !== undefined) {
    const tensors: NamedArray[] = [];
    const state = splitState(options.optimizer.stateDict(), '', tensors);
    files.push({ role: 'optimizer', name: OPTIMIZER_FILE, contents: encodeSafetensors(tensors, { producer: `myelin ${version}` }) });
    const training = {
      epoch: options.epoch ?? 0,
      history: options.history ?? null,
      optimizer: state,
      trainingState: options.trainingState ?? {},
    };
    files.push({ role: 'trainingState', name: TRAINING_STATE_FILE, contents: JSON.stringify(training) });
  }
  const inputShape = options.inputShape ?? inferInputShape(architecture);
  commitModelDir(dir, files, {
    format: MODEL_FORMAT,
    formatVersion: MODEL_FORMAT_VERSION,
    myelinVersion: version,
    savedAt: new Date().toISOString(),
    architecture,
    inputShape,
    epoch: isCheckpoint ? options.epoch ?? 0 : null,
    metadata: options.metadata ?? {},
  });
}

// ---- load ----

function checkInfo(manifest: Manifest, manifestPath: string): ModelInfo {
  const m = manifest as Record<string, unknown>;
  const fail = (msg: string): never => { throw new Error(`load: ${manifestPath}: ${msg}`); };
  if (m.format !== MODEL_FORMAT) fail(`format is ${JSON.stringify(m.format)}, expected "${MODEL_FORMAT}"`);
  if (m.formatVersion !== MODEL_FORMAT_VERSION) {
    fail(`format version ${JSON.stringify(m.formatVersion)} is not supported (this myelin reads version ${MODEL_FORMAT_VERSION})`);
  }
  const arch = m.architecture;
  if (arch === null || typeof arch !== 'object' || Array.isArray(arch) || typeof (arch as { type?: unknown }).type !== 'string') {
    fail('architecture must be a layer config object with a "type"');
  }
  const inputShape = m.inputShape ?? null;
  if (inputShape !== null && !(Array.isArray(inputShape) && inputShape.every((d) => Number.isInteger(d) && (d as number) > 0))) {
    fail(`inputShape must be null or a list of positive integers, got ${JSON.stringify(inputShape)}`);
  }
  const epoch = m.epoch ?? null;
  if (epoch !== null && !(Number.isInteger(epoch) && (epoch as number) >= 0)) fail(`epoch must be a non-negative integer, got ${JSON.stringify(epoch)}`);
  const metadata = m.metadata ?? {};
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) fail('metadata must be an object');
  return {
    formatVersion: MODEL_FORMAT_VERSION,
    myelinVersion: typeof m.myelinVersion === 'string' ? m.myelinVersion : 'unknown',
    architecture: arch as LayerConfig,
    inputShape: inputShape as number[] | null,
    metadata: metadata as Record<string, JsonValue>,
    epoch: epoch as number | null,
    isCheckpoint: manifest.files.optimizer !== undefined,
    savedAt: typeof m.savedAt === 'string' ? m.savedAt : '',
  };
}

/** Builds the model from the architecture and fills in the weights after checking names and shapes. */
function buildModel(info: ModelInfo, tensors: Map<string, { shape: number[]; data: Float32Array }>, manifestPath: string, weightsFile: string): Module {
  let model: Module;
  try {
    model = fromConfig(info.architecture);
  } catch (err) {
    throw new Error(`load: ${manifestPath}: architecture: ${(err as Error).message}`);
  }
  const params = model.namedParameters();
  const expected = new Set(params.map(([n]) => n));
  const missing = params.map(([n]) => n).filter((n) => !tensors.has(n));
  const extra = [...tensors.keys()].filter((n) => !expected.has(n));
  if (missing.length > 0) throw new Error(`load: ${weightsFile}: missing tensor(s) ${missing.map((n) => `'${n}'`).join(', ')} required by the architecture`);
  if (extra.length > 0) throw new Error(`load: ${weightsFile}: unexpected tensor(s) ${extra.map((n) => `'${n}'`).join(', ')} not in the architecture`);
  const sd: Record<string, Float32Array> = {};
  for (const [name, p] of params) {
    const t = tensors.get(name)!;
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      throw new Error(`load: ${weightsFile}: tensor '${name}' has shape [${t.shape.join(',')}], the architecture needs [${p.shape.join(',')}]`);
    }
    sd[name] = t.data;
  }
  model.loadStateDict(sd);
  model.eval();
  return model;
}

/** Reads model.json only (no weights): architecture, versions, input shape, metadata. */
export function readModelInfo(dir: string): ModelInfo {
  const { manifest, manifestPath } = readManifest(dir);
  return checkInfo(manifest, manifestPath);
}

function loadParts(dir: string, options: LoadOptions): { model: Module; info: ModelInfo; manifest: Manifest; manifestPath: string } {
  const verify = options.verify ?? true;
  const { manifest, manifestPath } = readManifest(dir);
  const info = checkInfo(manifest, manifestPath);
  const { bytes, file } = readListedFile(dir, manifest, 'weights', verify);
  const { tensors } = decodeSafetensors(bytes, file);
  const model = buildModel(info, tensors, manifestPath, file);
  return { model, info, manifest, manifestPath };
}

/**
 * Loads a model saved by save() (or `myelin train`). Everything is validated before the model is
 * returned: model.json, file sizes and digests, the safetensors header, tensor names and shapes.
 * The model is returned in eval mode.
 */
export function load(dir: string, options: LoadOptions = {}): Module {
  return loadParts(dir, options).model;
}

/** Loads a model together with its model.json facts. */
export function loadWithInfo(dir: string, options: LoadOptions = {}): { model: Module; info: ModelInfo } {
  const { model, info } = loadParts(dir, options);
  return { model, info };
}

/** Loads a checkpoint: model, optimizer state (for optimizer.loadStateDict), epoch, history. */
export function loadCheckpoint(dir: string, options: LoadOptions = {}): Checkpoint {
  const verify = options.verify ?? true;
  const { model, info, manifest, manifestPath } = loadParts(dir, options);
  if (manifest.files.optimizer === undefined || manifest.files.trainingState === undefined) {
    return { model, info, optimizerState: null, epoch: info.epoch ?? 0, history: null, trainingState: {} };
  }
  const opt = readListedFile(dir, manifest, 'optimizer', verify);
  const { tensors } = decodeSafetensors(opt.bytes, opt.file);
  const st = readListedFile(dir, manifest, 'trainingState', verify);
  let raw: unknown;
  try {
    raw = JSON.parse(st.bytes.toString('utf8'));
  } catch (err) {
    throw new Error(`load: ${st.file} is not valid JSON: ${(err as Error).message}`);
  }
  const r = raw as { epoch?: unknown; history?: unknown; optimizer?: unknown; trainingState?: unknown };
  if (r === null || typeof r !== 'object' || !Number.isInteger(r.epoch) || (r.epoch as number) < 0) {
    throw new Error(`load: ${st.file}: epoch must be a non-negative integer`);
  }
  const optimizerState = joinState(r.optimizer, tensors, opt.file);
  if (info.epoch !== null && info.epoch !== r.epoch) {
    throw new Error(`load: ${manifestPath} says epoch ${info.epoch} but ${st.file} says ${String(r.epoch)}`);
  }
  const trainingState = (r.trainingState !== null && typeof r.trainingState === 'object' ? r.trainingState : {}) as Record<string, JsonValue>;
  return { model, info, optimizerState, epoch: r.epoch as number, history: r.history ?? null, trainingState };
}

export { MANIFEST_NAME };

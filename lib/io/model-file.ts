// Saving and loading models and training checkpoints as directories (model.json + safetensors), crash-safely.
import { Tensor } from '../tensor';
import { Module, fromConfig, LayerConfig } from '../nn';
import { checkConfig, configParameters } from '../nn/from-config';
import { encodeSafetensors, decodeSafetensors, NamedArray } from './safetensors';
import { isIntegerBuffer, stateDictArrays } from './safetensors-state';
import { Preprocessor } from '../data/preprocess';
import { packageVersion } from '../constants';
import { commitModelDir, readManifest, readListedFile, FileToWrite, Manifest, MANIFEST_NAME, DIGEST_KEY } from './model-dir';

/** Value of model.json's "format" field. */
export const MODEL_FORMAT = 'myelin-model';
/**
 * Layout version of model.json that save() writes; bumped on incompatible changes. Version 2 added
 * the manifest's own digest (`sha256`), which version 2 files must have. Version 1 files (no digest)
 * still load, with a warning: damage to their model.json can go unnoticed.
 */
export const MODEL_FORMAT_VERSION = 2;
const READABLE_FORMAT_VERSIONS = [1, 2];

/** The weights file of a saved model directory (safetensors; PyTorch's safetensors.torch.load_file reads it). */
export const WEIGHTS_FILE = 'model.safetensors';
/** The optimizer-state file of a checkpoint directory. */
export const OPTIMIZER_FILE = 'optimizer.safetensors';
/** The training-state file of a checkpoint directory (epoch, history, seed). */
export const TRAINING_STATE_FILE = 'training-state.json';
/** The data files of the format: the only files save() ever replaces or removes. */
const FORMAT_FILES: ReadonlySet<string> = new Set([WEIGHTS_FILE, OPTIMIZER_FILE, TRAINING_STATE_FILE]);
/** model.json's keys besides the digest (each one required). */
const MANIFEST_KEYS = ['format', 'formatVersion', 'myelinVersion', 'savedAt', 'architecture', 'inputShape', 'epoch', 'metadata', 'files'];
/** Format 2 adds the preprocessing block: null, or a model.preprocessor (lib/data/preprocess), checked key by key. */
const PREPROCESSING_KEY = 'preprocessing';

/** What save() needs from a model (every nn.Module has it). */
export interface SavableModel {
  toConfig(): LayerConfig;
  namedParameters(): [string, Tensor][];
  /** State tensors that are not trained (nn.Module's: BatchNorm running statistics), saved with the weights. */
  namedBuffers?(): [string, Tensor][];
  /** Saved in model.json's preprocessing block when set (nn.Module's model.preprocessor). */
  preprocessor?: Preprocessor | null;
}

/** Anything with a stateDict: the optimizers in lib/optim. */
export interface StatefulOptimizer {
  stateDict(): unknown;
  loadStateDict?(state: never): void;
}

/** JSON-safe values (the metadata users may attach). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Options of save: optimizer state (a checkpoint), epoch, history, trainingState, inputShape and metadata. */
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

/** Options of load: verify (check the sha256 of every file, default true). */
export interface LoadOptions {
  /**
   * Check model.json's own sha256 and every data file's sha256 (default true). With false, a model.json
   * edited by hand still loads; sizes, structure, tensor names and shapes are always checked.
   */
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
  /** The preprocessing the model carries (scalers, fill values, class names, CSV columns), or null. */
  preprocessing: Preprocessor | null;
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


/**
 * The input row shape implied by a leading Linear (through shape-preserving layers), or null.
 * @param config a layer config (model.toConfig()).
 * @returns [inFeatures] of the first Linear of a (nested) Sequential, or of a Linear config itself; null when a
 * Flatten or another layer that sets the shape comes first, or there is no Linear.
 * @example io.inferInputShape(new nn.Sequential(new nn.Linear(64, 10)).toConfig()) // [64]
 */
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
 * @param options optimizer (its state makes the directory a checkpoint), epoch, history, inputShape, metadata.
 * @throws Error naming the path when `dir` is an existing file or cannot be written, or the model has no config.
 * @example save(model, 'digits-model', { metadata: { task: 'classification' } });
 */
export function save(model: SavableModel, dir: string, options: SaveOptions = {}): void {
  if (typeof dir !== 'string' || dir === '') throw new Error(`save: the directory must be a non-empty path string, got ${typeof dir === 'string' ? "''" : typeof dir}`);
  const architecture = model.toConfig();
  // PyTorch's layout: float32 tensors, int64 num_batches_tracked (safetensors-state.ts).
  const weights: NamedArray[] = stateDictArrays(Object.fromEntries([...model.namedParameters(), ...(model.namedBuffers?.() ?? [])]));
  const version = packageVersion();
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
  const prep = model.preprocessor ?? null;
  if (prep !== null && !(prep instanceof Preprocessor)) throw new Error('save: model.preprocessor must be a data.Preprocessor (or null)');
  if (prep !== null && !prep.fitted) throw new Error('save: model.preprocessor is not fitted: call its fit(trainingData) (or train with fit\'s standardize option) before saving');
  if (prep !== null && inputShape !== null && inputShape.reduce((a, b) => a * b, 1) !== prep.features) {
    throw new Error(`save: model.preprocessor was fitted on ${prep.features} features but the model's input shape is [${inputShape.join(',')}]`);
  }
  commitModelDir(dir, files, {
    format: MODEL_FORMAT,
    formatVersion: MODEL_FORMAT_VERSION,
    myelinVersion: version,
    savedAt: new Date().toISOString(),
    architecture,
    inputShape,
    epoch: isCheckpoint ? options.epoch ?? 0 : null,
    metadata: options.metadata ?? {},
    [PREPROCESSING_KEY]: prep === null ? null : (prep.toJSON() as unknown as JsonValue),
  }, FORMAT_FILES);
}

// ---- load ----

const warnedUnverified = new Set<string>();

/** model.json's format and version; decides whether its digest is required (always, from version 2). */
function checkFormat(m: Record<string, unknown>, manifestPath: string): { digestRequired: boolean } {
  if (m.format !== MODEL_FORMAT) throw new Error(`load: ${manifestPath}: format is ${JSON.stringify(m.format)}, expected "${MODEL_FORMAT}"`);
  const v = m.formatVersion;
  if (!READABLE_FORMAT_VERSIONS.includes(v as number)) {
    throw new Error(`load: ${manifestPath}: format version ${JSON.stringify(v)} is not supported (this myelin reads versions ${READABLE_FORMAT_VERSIONS.join(' and ')})`);
  }
  return { digestRequired: v !== 1 };
}

/** Version 1 wrote Flatten without startDim when it was 1; every key is required now. */
function upgradeV1Architecture(cfg: unknown): unknown {
  if (cfg === null || typeof cfg !== 'object' || Array.isArray(cfg)) return cfg;
  const c = cfg as Record<string, unknown>;
  if (c.type === 'Flatten' && !Object.prototype.hasOwnProperty.call(c, 'startDim')) return { type: 'Flatten', startDim: 1, ...c };
  if (c.type === 'Sequential' && Array.isArray(c.layers)) return { ...c, layers: c.layers.map(upgradeV1Architecture) };
  return cfg;
}

/** Checks every key of model.json (unknown and missing keys are errors, never defaults) and the architecture. */
function checkInfo(manifest: Manifest, manifestPath: string): ModelInfo {
  const m = manifest as Record<string, unknown>;
  const fail = (msg: string): never => { throw new Error(`load: ${manifestPath}: ${msg}`); };
  const version = m.formatVersion as number;
  const keys = version === 1 ? MANIFEST_KEYS : [...MANIFEST_KEYS, PREPROCESSING_KEY, DIGEST_KEY];
  for (const k of Object.keys(m)) if (!keys.includes(k)) fail(`unknown key '${k}' (model.json has: ${keys.join(', ')})`);
  for (const k of keys) if (!Object.prototype.hasOwnProperty.call(m, k)) fail(`missing key '${k}'`);
  if (typeof m.myelinVersion !== 'string') fail(`myelinVersion must be a string, got ${JSON.stringify(m.myelinVersion)}`);
  if (typeof m.savedAt !== 'string') fail(`savedAt must be a string, got ${JSON.stringify(m.savedAt)}`);
  const arch = version === 1 ? upgradeV1Architecture(m.architecture) : m.architecture;
  try {
    checkConfig(arch);
  } catch (err) {
    fail(`architecture: ${(err as Error).message}`);
  }
  const inputShape = m.inputShape;
  if (inputShape !== null && !(Array.isArray(inputShape) && inputShape.every((d) => Number.isSafeInteger(d) && (d as number) > 0))) {
    fail(`inputShape must be null or a list of positive integers, got ${JSON.stringify(inputShape)}`);
  }
  const epoch = m.epoch;
  if (epoch !== null && !(Number.isSafeInteger(epoch) && (epoch as number) >= 0)) fail(`epoch must be null or a non-negative integer, got ${JSON.stringify(epoch)}`);
  const metadata = m.metadata;
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) fail('metadata must be an object');
  const roles = Object.keys(manifest.files);
  const known = ['weights', 'optimizer', 'trainingState'];
  for (const r of roles) if (!known.includes(r)) fail(`files has an unknown entry '${r}' (known: ${known.join(', ')})`);
  if (!roles.includes('weights')) fail("files lists no 'weights' file");
  const isCheckpoint = roles.includes('optimizer');
  if (isCheckpoint !== roles.includes('trainingState')) fail("files must list both 'optimizer' and 'trainingState' (a checkpoint) or neither");
  if (isCheckpoint !== (epoch !== null)) fail(isCheckpoint ? 'a checkpoint must record its epoch' : 'epoch must be null for a model without optimizer state');
  let preprocessing: Preprocessor | null = null;
  if (version !== 1 && m[PREPROCESSING_KEY] !== null) {
    preprocessing = Preprocessor.fromJSON(m[PREPROCESSING_KEY], `load: ${manifestPath}`);
    const width = inputShape === null ? null : (inputShape as number[]).reduce((a, b) => a * b, 1);
    if (width !== null && width !== preprocessing.features) fail(`preprocessing is for ${preprocessing.features} features but inputShape is ${JSON.stringify(inputShape)}`);
  }
  if (version === 1 && !warnedUnverified.has(manifestPath)) {
    warnedUnverified.add(manifestPath);
    process.emitWarning(
      `${manifestPath} has format version 1, which carries no digest: damage to model.json cannot be detected. Save the model again to upgrade it.`,
      { code: 'MYELIN_UNVERIFIED_MODEL' },
    );
  }
  return {
    formatVersion: version,
    myelinVersion: m.myelinVersion as string,
    architecture: arch as LayerConfig,
    inputShape: inputShape as number[] | null,
    metadata: metadata as Record<string, JsonValue>,
    epoch: epoch as number | null,
    preprocessing,
    isCheckpoint,
    savedAt: m.savedAt as string,
  };
}

function readInfo(dir: string, verify: boolean): { info: ModelInfo; manifest: Manifest; manifestPath: string } {
  const { manifest, manifestPath } = readManifest(dir, { verify, checkFormat });
  return { info: checkInfo(manifest, manifestPath), manifest, manifestPath };
}

/**
 * Reads the weights and builds the model. The parameter shapes the architecture implies are checked
 * against the weights file's size and header before anything is allocated for the model, so a small
 * model.json cannot make load() allocate a huge model.
 */
function loadModel(dir: string, info: ModelInfo, manifest: Manifest, manifestPath: string, verify: boolean): Module {
  const expected = configParameters(info.architecture);
  const floats = expected.reduce((sum, p) => sum + p.shape.reduce((a, d) => a * d, 1), 0);
  const weightsBytes = manifest.files.weights.bytes;
  if (floats * 4 > weightsBytes) {
    throw new Error(
      `load: ${manifestPath}: the architecture has ${floats} parameters (${floats * 4} bytes as float32) but ${manifest.files.weights.path} is ${weightsBytes} bytes`,
    );
  }
  const { bytes, file } = readListedFile(dir, manifest, 'weights', verify);
  const { tensors } = decodeSafetensors(bytes, file);
  const names = new Set(expected.map((p) => p.name));
  const missing = expected.filter((p) => !tensors.has(p.name)).map((p) => p.name);
  const extra = [...tensors.keys()].filter((n) => !names.has(n));
  if (missing.length > 0) throw new Error(`load: ${file}: missing tensor(s) ${missing.map((n) => `'${n}'`).join(', ')} required by the architecture`);
  if (extra.length > 0) throw new Error(`load: ${file}: unexpected tensor(s) ${extra.map((n) => `'${n}'`).join(', ')} not in the architecture`);
  const sd: Record<string, Float32Array> = {};
  for (const p of expected) {
    const t = tensors.get(p.name)!;
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      throw new Error(`load: ${file}: tensor '${p.name}' has shape [${t.shape.join(',')}], the architecture needs [${p.shape.join(',')}]`);
    }
    if (t.dtype !== 'F32' && !isIntegerBuffer(p.name)) throw new Error(`load: ${file}: tensor '${p.name}' is ${t.dtype}; the architecture needs float32 (F32)`);
    sd[p.name] = t.data;
  }
  let model: Module;
  try {
    model = fromConfig(info.architecture);
  } catch (err) {
    throw new Error(`load: ${manifestPath}: architecture: ${(err as Error).message}`);
  }
  model.loadStateDict(sd);
  model.eval();
  return model;
}

/**
 * Reads model.json only (no weights): architecture, versions, input shape, metadata.
 * @param dir the saved model's directory.
 * @param options verify (default true): check model.json's own sha256.
 * @returns the ModelInfo model.json holds.
 * @throws Error naming the file and the problem: a missing directory or model.json, invalid JSON, a missing or
 * unknown key, or (with verify) a digest that does not match.
 * @example io.readModelInfo('digits-model').architecture.type // 'Sequential'
 */
export function readModelInfo(dir: string, options: LoadOptions = {}): ModelInfo {
  return readInfo(dir, options.verify ?? true).info;
}

function loadParts(dir: string, options: LoadOptions): { model: Module; info: ModelInfo; manifest: Manifest; manifestPath: string } {
  const verify = options.verify ?? true;
  const { info, manifest, manifestPath } = readInfo(dir, verify);
  const model = loadModel(dir, info, manifest, manifestPath, verify);
  model.preprocessor = info.preprocessing;
  return { model, info, manifest, manifestPath };
}

/**
 * Loads a model saved by save() (or `myelin train`). Everything is validated before the model is
 * returned: model.json, file sizes and digests, the safetensors header, tensor names and shapes.
 * The model is returned in eval mode.
 * @param options verify (default true): check model.json's own sha256 and every file's.
 * @throws Error naming the file and the problem: a missing or unknown key, a digest or size that does not
 *   match, a symbolic link or special file, weights whose names or shapes differ from the architecture.
 * @example const model = load('digits-model'); model.predict(x);
 */
export function load(dir: string, options: LoadOptions = {}): Module {
  return loadParts(dir, options).model;
}

/**
 * Loads a model together with its model.json facts (load() plus readModelInfo() in one read).
 * @param dir the saved model's directory.
 * @param options verify (default true): check model.json's own sha256 and every data file's.
 * @returns model (in eval mode) and info.
 * @throws Error naming the file and the problem, as load() does.
 * @example const { model, info } = io.loadWithInfo('digits-model');
 */
export function loadWithInfo(dir: string, options: LoadOptions = {}): { model: Module; info: ModelInfo } {
  const { model, info } = loadParts(dir, options);
  return { model, info };
}

/**
 * Loads a checkpoint: model, optimizer state (for optimizer.loadStateDict), epoch, history.
 * @param dir - a checkpoint directory written by save with an optimizer, or by fit's checkpointDir.
 * @param options - verify (check every listed file's checksum against the manifest, default true).
 * @returns the model, its model.json facts, the optimizer state (null when the directory holds none), epoch, history and training state.
 * @throws Error when the directory or a listed file is missing or fails its checksum, or the training state is not valid JSON.
 * @example
 * ```ts
 * const ckpt = loadCheckpoint('ckpt');
 * optimizer.loadStateDict(ckpt.optimizerState!);
 * ```
 */
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

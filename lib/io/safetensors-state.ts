// A model's state dict as a safetensors file laid out as PyTorch writes one (safetensors.torch.save_file of
// model.state_dict()): the same names, float32 tensors, int64 num_batches_tracked; and such a file read back into a model.
import type { Module } from '../nn/module';
import { shapeToString, type Tensor } from '../tensor';
import { readSafetensorsSync, writeSafetensorsSync, type NamedArray } from './safetensors';
import { checkBoolean, checkOptions, describe } from '../validate';
import { packageVersion } from '../constants';

/** State-dict entries PyTorch keeps as int64 (BatchNorm's num_batches_tracked): written as I64, read from I64/I32/F32. */
export function isIntegerBuffer(name: string): boolean {
  return name === 'num_batches_tracked' || name.endsWith('.num_batches_tracked');
}

/** The state dict as safetensors entries, in stateDict() order, integer buffers as I64. */
export function stateDictArrays(state: Record<string, Tensor>): NamedArray[] {
  return Object.entries(state).map(([name, t]) => ({ name, shape: t.shape.slice(), data: t.data, dtype: isIntegerBuffer(name) ? 'I64' : 'F32' }));
}

function checkModel(where: string, model: unknown): Module {
  const m = model as Module | null;
  if (m === null || typeof m !== 'object' || typeof m.stateDict !== 'function' || typeof m.loadStateDict !== 'function') {
    throw new Error(`${where}: model must be a myelin Module, got ${describe(model)}`);
  }
  return m;
}

/**
 * Writes `model`'s state dict (parameters and buffers such as BatchNorm's running statistics) to `file` as
 * safetensors, atomically, named as model.stateDict() names them ("0.weight", "3.body.1.running_mean", ...):
 * PyTorch's names for the same architecture, so `model.load_state_dict(safetensors.torch.load_file(file))` reads
 * it. Float tensors are F32, num_batches_tracked I64 (as PyTorch stores it); metadata { format: 'pt' }.
 * @param model the nn.Module to save.
 * @param file the path of the .safetensors file to write (replaced atomically).
 * @param options metadata: extra string entries for the header (default none; format and producer are set).
 * @throws Error when model is not an nn.Module, file is not a non-empty string, an option is unknown, a metadata
 * value is not a string, or the write fails.
 * @example io.saveStateDict(model, 'model.safetensors');
 */
export function saveStateDict(model: Module, file: string, options: { metadata?: Record<string, string> } = {}): void {
  const where = 'io.saveStateDict';
  const m = checkModel(where, model);
  if (typeof file !== 'string' || file === '') throw new Error(`${where}: file must be a non-empty path string, got ${describe(file)}`);
  const o = checkOptions(where, options, ['metadata']);
  const metadata = { format: 'pt', producer: `myelin ${packageVersion()}`, ...(o.metadata ?? {}) };
  for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw new Error(`${where}: metadata['${k}'] must be a string, got ${describe(v)}`);
  writeSafetensorsSync(file, stateDictArrays(m.stateDict()), metadata);
}

/** The shortest description of how two name lists differ by a prefix (PyTorch's DataParallel adds "module."). */
function prefixHint(unexpected: string[], expected: string[]): string {
  const want = new Set(expected);
  const dot = unexpected[0]?.indexOf('.') ?? -1;
  if (dot > 0) {
    const prefix = unexpected[0].slice(0, dot + 1);
    if (unexpected.every((n) => n.startsWith(prefix) && want.has(n.slice(prefix.length)))) return ` (the file's names carry a prefix '${prefix}': strip it, e.g. save model.module.state_dict() in PyTorch)`;
  }
  return '';
}

/** Options of loadStateDictFile. */
export interface LoadStateDictOptions {
  /** true (default): the file must hold exactly the model's names; false loads the names both have (as PyTorch's strict=False). */
  strict?: boolean;
}

/**
 * Reads a safetensors state dict (written by PyTorch's safetensors.torch.save_file(model.state_dict()) or by
 * saveStateDict) into `model`, whose architecture must match: the same names (PyTorch's state_dict names, e.g.
 * "0.weight", "1.running_var", "1.num_batches_tracked"), the same shapes. Float tensors must be F32 (convert
 * a half or double model with model.float() before saving); integer tensors (I64, I32) are read only into integer
 * buffers such as num_batches_tracked. The model is unchanged when it throws.
 * @param model the nn.Module to load into.
 * @param file the .safetensors file.
 * @param options strict (default true): the file must hold exactly the model's names; false loads the names both have.
 * @returns the names loaded.
 * @throws Error naming the file when model is not an nn.Module, file is not a non-empty string, an option is
 * unknown, the file is not valid safetensors, names are missing or unexpected (strict), or a tensor's dtype or
 * shape differs from the model's (every mismatch is listed).
 * @example io.loadStateDictFile(model, 'pytorch_model.safetensors');
 */
export function loadStateDictFile(model: Module, file: string, options: LoadStateDictOptions = {}): string[] {
  const where = 'io.loadStateDictFile';
  const m = checkModel(where, model);
  if (typeof file !== 'string' || file === '') throw new Error(`${where}: file must be a non-empty path string, got ${describe(file)}`);
  const o = checkOptions(where, options, ['strict']);
  const strict = o.strict === undefined ? true : checkBoolean(where, 'strict', o.strict);
  const fail = (msg: string): never => {
    throw new Error(`${where}: '${file}': ${msg}`);
  };
  let tensors;
  try {
    tensors = readSafetensorsSync(file).tensors;
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`);
  }
  const state = m.stateDict();
  const names = Object.keys(state);
  const missing = names.filter((n) => !tensors.has(n));
  const unexpected = [...tensors.keys()].filter((n) => !(n in state));
  if (strict && (missing.length > 0 || unexpected.length > 0)) {
    const parts: string[] = [];
    if (missing.length > 0) parts.push(`missing ${missing.map((n) => `'${n}'`).join(', ')} (the model has them, the file does not)`);
    if (unexpected.length > 0) parts.push(`unexpected ${unexpected.map((n) => `'${n}'`).join(', ')} (in the file, not in the model)`);
    fail(`the names do not match the model's state dict: ${parts.join('; ')}${prefixHint(unexpected, missing)}; pass { strict: false } to load the names both have`);
  }
  const loaded: Record<string, Float32Array> = {};
  const problems: string[] = [];
  for (const name of names) {
    const t = tensors.get(name);
    if (t === undefined) continue;
    const p = state[name];
    if (t.dtype !== 'F32' && !isIntegerBuffer(name)) problems.push(`'${name}' is ${t.dtype} in the file but is a float32 tensor of the model`);
    else if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      problems.push(`'${name}' has shape ${shapeToString(t.shape)} in the file, the model's is ${shapeToString(p.shape)}`);
    } else loaded[name] = t.data;
  }
  if (problems.length > 0) fail(`${problems.join('; ')} (is the file from a different architecture? model.toConfig() describes this one)`);
  for (const name of names) if (!(name in loaded)) loaded[name] = state[name].data.slice();
  m.loadStateDict(loaded);
  return names.filter((n) => tensors.has(n));
}

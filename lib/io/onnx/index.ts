// myelin.onnx: exportModel (myelin Sequential -> .onnx file) and importModel (.onnx file -> trainable Sequential).
import { Module, Sequential, fromConfig, type LayerConfig } from '../../nn';
import { writeFileAtomic } from '../atomic';
import { readRegularFile } from '../read-file';
import { encodeLayers, type ExportLayer } from './encode';
import { definitionOfType } from '../../nn/registry';
import { decodeModelProto } from './decode';
import { layersFromModel } from './graph';
import { addIntegrityDigest, checkIntegrityDigest } from './integrity';
import { LayerSpec } from './layers';
import { MIN_EXPORT_OPSET, MAX_EXPORT_OPSET } from './schema';
import { packageVersion } from '../../constants';

export { MIN_EXPORT_OPSET, MAX_EXPORT_OPSET };
export type { LayerSpec };

/** Largest ONNX file importModel reads: protobuf's 2 GB message limit (larger models use external data). */
export const MAX_ONNX_BYTES = 2 ** 31 - 1;

export interface ExportOptions {
  /**
   * Shape of one input batch, batch dimension first, e.g. [1, 64] or [1, 1, 8, 8] (like PyTorch's dummy input).
   * The batch dimension is written as the dynamic dimension 'batch'. Default: [1, inFeatures of the first Linear].
   */
  inputShape?: number[];
  /** Default-domain opset, 13..24. Default 13. GELU is written as the Gelu operator from opset 20 on. */
  opset?: number;
  /** Graph input name. Default 'input'. */
  inputName?: string;
  /** Graph output name. Default 'output'. */
  outputName?: string;
}


/** Flattens a model into its leaf layers (containers inlined), with their parameters from the state dict. */
export function layersOf(model: Module): ExportLayer[] {
  const state = model.stateDict();
  const out: ExportLayer[] = [];
  const visit = (cfg: LayerConfig, prefix: string): void => {
    const def = definitionOfType(cfg.type);
    if (def?.children) {
      def.children(cfg).forEach((child, i) => visit(child, `${prefix}${i}.`));
      return;
    }
    const params: Record<string, Float32Array> = {};
    for (const [name, t] of Object.entries(state)) {
      if (name.startsWith(prefix) && !name.slice(prefix.length).includes('.')) params[name.slice(prefix.length)] = t.data;
    }
    out.push({ name: prefix, config: cfg, params });
  };
  let config: LayerConfig;
  try {
    config = model.toConfig();
  } catch (err) {
    throw new Error(`onnx.exportModel: ${model.constructor.name} cannot describe itself (${(err as Error).message}); it is not supported by ONNX export`);
  }
  visit(config, '');
  return out;
}

/** The per-sample input shape: the first Linear's inFeatures, when no Flatten comes before it. */
function defaultSampleShape(layers: ExportLayer[]): number[] {
  for (const { config } of layers) {
    if (typeof config.inFeatures === 'number') return [config.inFeatures];
    if (config.type === 'Flatten' && config.startDim === 1) break;
  }
  throw new Error('onnx.exportModel: cannot tell the input shape (no Linear before any Flatten); pass { inputShape: [1, ...] }');
}

/** The model as ONNX bytes (what exportModel writes), with a sha256 of the file that importModel checks. */
export function toOnnxBytes(model: Module, opts: ExportOptions = {}): Uint8Array {
  const layers = layersOf(model);
  let sampleShape: number[];
  if (opts.inputShape !== undefined) {
    if (!Array.isArray(opts.inputShape) || opts.inputShape.length < 2) {
      throw new Error(`onnx.exportModel: inputShape must include the batch dimension first, e.g. [1, 64]; got ${JSON.stringify(opts.inputShape)}`);
    }
    sampleShape = opts.inputShape.slice(1);
  } else {
    sampleShape = defaultSampleShape(layers);
  }
  return addIntegrityDigest(encodeLayers(layers, {
    inputShape: sampleShape,
    opset: opts.opset ?? MIN_EXPORT_OPSET,
    inputName: opts.inputName ?? 'input',
    outputName: opts.outputName ?? 'output',
    producerVersion: packageVersion(),
  }));
}

/**
 * Writes `model` (a Sequential of Linear/Dense, ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Softmax, Dropout, Flatten)
 * to `file` as an ONNX model with a dynamic batch dimension, atomically (temp file + fsync + rename).
 * Throws naming the layer for anything ONNX export does not support.
 */
export async function exportModel(model: Module, file: string, opts: ExportOptions = {}): Promise<void> {
  const bytes = toOnnxBytes(model, opts);
  await writeFileAtomic(file, bytes);
}

/** Builds a trainable Sequential from LayerSpecs (fresh modules, weights copied in). */
export function sequentialFromLayers(layers: LayerSpec[]): Sequential {
  const configs: LayerConfig[] = layers.map((l): LayerConfig => {
    switch (l.kind) {
      case 'Linear': return { type: 'Linear', inFeatures: l.inFeatures, outFeatures: l.outFeatures, bias: l.bias !== null };
      case 'LeakyReLU': return { type: 'LeakyReLU', negativeSlope: l.negativeSlope };
      case 'GELU': return { type: 'GELU', approximate: l.approximate };
      case 'Dropout': return { type: 'Dropout', p: l.p };
      case 'Flatten': return { type: 'Flatten', startDim: 1 };
      case 'registered': return l.config;
      default: return { type: l.kind };
    }
  });
  const model = fromConfig({ type: 'Sequential', layers: configs }) as Sequential;
  const state: Record<string, Float32Array> = {};
  layers.forEach((l, i) => {
    if (l.kind === 'registered') for (const [k, v] of Object.entries(l.params)) state[`${i}.${k}`] = v;
    if (l.kind !== 'Linear') return;
    state[`${i}.weight`] = l.weight;
    if (l.bias) state[`${i}.bias`] = l.bias;
  });
  model.loadStateDict(state);
  return model;
}

/** Parses ONNX bytes into a trainable Sequential; `source` names the file in errors. */
export function fromOnnxBytes(bytes: Uint8Array, source = 'ONNX model'): Sequential {
  let layers: LayerSpec[];
  try {
    checkIntegrityDigest(bytes);
    layers = layersFromModel(decodeModelProto(bytes)).layers;
  } catch (err) {
    const msg = (err as Error).message;
    const prefix = msg.startsWith('not a valid ONNX model') ? '' : 'cannot import: ';
    throw new Error(`onnx.importModel: '${source}': ${prefix}${msg}`);
  }
  return sequentialFromLayers(layers);
}

/**
 * Reads an ONNX file written by exportModel or by torch.onnx.export (chains of Gemm or MatMul+Add, Relu, LeakyRelu,
 * Sigmoid, Tanh, Softmax over the last axis, Flatten, Identity, Dropout, Gelu or its Erf/Tanh decomposition) and
 * returns an equivalent myelin Sequential that can be trained further. Throws naming the file for corrupted files,
 * unsupported operators (all listed) and graphs that are not a chain.
 */
export async function importModel(file: string): Promise<Sequential> {
  return fromOnnxBytes(await readRegularFile(file, { maxBytes: MAX_ONNX_BYTES }, 'onnx.importModel'), file);
}

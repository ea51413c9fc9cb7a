// myelin.onnx: exportModel (any myelin Module, traced -> .onnx file) and importModel (.onnx file -> trainable Sequential for chains, nn.Graph for DAGs).
import { Module, Sequential, Flatten, Graph, fromConfig, type LayerConfig } from '../../nn';
import { Tensor } from '../../tensor';
import { traceToOnnx, type ExampleInputs } from './trace';
import { graphFromModel } from './dag';
import { writeFileAtomic } from '../atomic';
import { readRegularFile } from '../read-file';
import type { ExportLayer } from './encode';
import { definitionOfType } from '../../nn/registry';
import { decodeModelProto } from './decode';
import { layersFromModel, prepareGraph, NotAChainError } from './graph';
import { addIntegrityDigest, checkIntegrityDigest } from './integrity';
import { LayerSpec } from './layers';
import { MIN_EXPORT_OPSET, MAX_EXPORT_OPSET } from './schema';
import { packageVersion } from '../../constants';
import { checkBoolean } from '../../validate';

export { MIN_EXPORT_OPSET, MAX_EXPORT_OPSET };
export type { LayerSpec, ExampleInputs };

/** Largest ONNX file importModel reads: protobuf's 2 GB message limit (larger models use external data). */
export const MAX_ONNX_BYTES = 2 ** 31 - 1;

/** Options of onnx.exportModel: the example input to trace (or inputShape), opset, and the input and output names. */
export interface ExportOptions {
  /**
   * Example input(s) the model is traced on (like torch.onnx.export's args): a Tensor, an array of Tensors
   * (forward(a, b): graph inputs input_0, input_1, ...) or a record of Tensors (forward({ a, b }): inputs named
   * by the keys). The first dimension of each is written as the dynamic dimension 'batch'.
   */
  input?: ExampleInputs;
  /**
   * Instead of input: the shape of one input batch, batch dimension first, e.g. [1, 64] or [1, 1, 8, 8].
   * Default (neither given): [1, inFeatures of the first Linear].
   */
  inputShape?: number[];
  /** Default-domain opset, 13..24. Default 13. GELU is written as the Gelu operator from opset 20 on. */
  opset?: number;
  /** Graph input name for a single input. Default 'input'. */
  inputName?: string;
  /** Graph output name for a single output (several are named by the record keys, or output_0, ...). Default 'output'. */
  outputName?: string;
  /**
   * Fold each BatchNorm into the Conv before it (weights and bias rescaled; one node fewer), as torch.onnx.export
   * does in eval mode. Default: true when the model is in eval mode (model.eval()), false in training mode, where
   * the BatchNormalization nodes are kept (with their running statistics) for tools that train further.
   */
  foldBatchNorm?: boolean;
}


/**
 * Flattens a model into its leaf layers (containers inlined), with their parameters from the state dict.
 * @param model the model to flatten.
 * @returns one entry per leaf layer in forward order: name (the parameter-name prefix, e.g. '0.' or '2.body.1.'),
 * config and params (by local name, e.g. weight).
 * @throws Error when model.toConfig() throws (a layer that cannot describe itself is not supported by export).
 * @example onnx.layersOf(model).map((l) => l.config.type) // ['Linear', 'ReLU', 'Linear']
 */
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

/** The example input when none is given: [1, inFeatures] of the first Linear, when no Flatten comes before it. */
function defaultExample(model: Module): Tensor {
  const stop = (m: Module): number | null | 'flatten' => {
    if (m instanceof Flatten) return 'flatten';
    const children = m.children();
    if (children.length === 0) return m.inputFeatures();
    for (const [, c] of children) {
      const f = stop(c);
      if (f !== null) return f;
    }
    return null;
  };
  const f = stop(model);
  if (typeof f !== 'number') {
    throw new Error('onnx.exportModel: cannot tell the input shape (no Linear before any Flatten); pass { input: exampleTensor } or { inputShape: [1, ...] }');
  }
  return exampleOfShape([1, f]);
}

/** A tensor of `shape` with varied values (the trace follows the ops; values only need to be ordinary). */
function exampleOfShape(shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7 + 0.3)), shape);
}

/**
 * The model as ONNX bytes (what exportModel writes), with a sha256 of the file that importModel checks.
 * @param model the model to export.
 * @param opts input or inputShape (the example traced; default [1, inFeatures of the first Linear]), opset (default
 * 13), inputName / outputName, foldBatchNorm (default: the model is in eval mode); see ExportOptions.
 * @returns the serialized ModelProto.
 * @throws Error when model is not a Module, both input and inputShape are given, inputShape is not a list of at
 * least 2 positive integers, foldBatchNorm is not a boolean, no example can be inferred, or a layer or op cannot be
 * written to ONNX.
 * @example const bytes = onnx.toOnnxBytes(model, { inputShape: [1, 64] });
 */
export function toOnnxBytes(model: Module, opts: ExportOptions = {}): Uint8Array {
  if (!(model instanceof Module)) throw new Error(`onnx.exportModel: model must be a Module, got ${model === null ? 'null' : typeof model}`);
  let example: ExampleInputs;
  if (opts.input !== undefined) {
    if (opts.inputShape !== undefined) throw new Error('onnx.exportModel: pass input or inputShape, not both');
    example = opts.input;
  } else if (opts.inputShape !== undefined) {
    const s = opts.inputShape;
    if (!Array.isArray(s) || s.length < 2) {
      throw new Error(`onnx.exportModel: inputShape must include the batch dimension first, e.g. [1, 64]; got ${JSON.stringify(s)}`);
    }
    if (s.some((d) => !Number.isSafeInteger(d) || d <= 0)) throw new Error(`onnx.exportModel: inputShape must list positive integers, got [${s.join(',')}]`);
    example = exampleOfShape(s);
  } else {
    example = defaultExample(model);
  }
  return addIntegrityDigest(traceToOnnx(model, example, {
    opset: opts.opset ?? MIN_EXPORT_OPSET,
    inputName: opts.inputName ?? 'input',
    outputName: opts.outputName ?? 'output',
    producerVersion: packageVersion(),
    foldBatchNorm: opts.foldBatchNorm === undefined ? !model.training : checkBoolean('onnx.exportModel', 'foldBatchNorm', opts.foldBatchNorm),
  }));
}

/**
 * Writes `model` to `file` as ONNX, atomically (temp file + fsync + rename). The model is traced: one forward
 * pass on the example input (opts.input, or zeros-like of opts.inputShape, or [1, inFeatures]) in eval mode, each
 * op written as ONNX nodes; layers with a registered ONNX export (Linear -> Gemm, LayerNorm -> LayerNormalization)
 * are written by it. The first dimension is dynamic ('batch'). Throws naming the op and module without a mapping.
 * @param model the model to write (any nn.Module whose ops and layers have ONNX mappings).
 * @param file the .onnx path (written atomically).
 * @param opts input (example inputs to trace) or inputShape (per-row shape; default [inFeatures]), opset (default 13), inputName (default 'input'), outputName (default 'output'), foldBatchNorm (default: true in eval mode).
 * @throws Error naming the op and module that have no ONNX mapping, for an unknown or bad option, or when the file cannot be written.
 * @example
 * ```ts
 * await onnx.exportModel(model, 'model.onnx', { inputShape: [64] });
 * ```
 */
export async function exportModel(model: Module, file: string, opts: ExportOptions = {}): Promise<void> {
  const bytes = toOnnxBytes(model, opts);
  await writeFileAtomic(file, bytes);
}

/**
 * Builds a trainable Sequential from LayerSpecs (fresh modules, weights copied in).
 * @param layers the layers in order, as the ONNX importer reads them (Linear with its weight and bias,
 * activations, Dropout, Flatten, or a registered layer's config and params).
 * @returns a Sequential with those layers and weights.
 * @throws Error when a layer's config is invalid (as fromConfig checks) or a weight has the wrong size for its layer.
 * @example onnx.sequentialFromLayers([{ kind: 'Linear', name: '0.', inFeatures: 2, outFeatures: 1, weight: Float32Array.of(1, 1), bias: null }])
 */
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

/**
 * Parses ONNX bytes into a trainable model: a Sequential when the graph is a chain of layers (as before), else an
 * nn.Graph (residual adds, branches joined by Concat, several inputs or outputs).
 * @param bytes the ONNX file's contents.
 * @param source the file's name in error messages (default 'ONNX model').
 * @returns a Sequential or an nn.Graph holding the weights.
 * @throws Error `onnx.importModel: '<source>': ...` when the bytes are not a valid ONNX model, the integrity digest
 * myelin wrote does not match, or the graph uses an operator, attribute or shape the importer does not support.
 * @example const model = onnx.fromOnnxBytes(fs.readFileSync('model.onnx'), 'model.onnx');
 */
export function fromOnnxBytes(bytes: Uint8Array, source = 'ONNX model'): Sequential | Graph {
  try {
    checkIntegrityDigest(bytes);
    const prepared = prepareGraph(decodeModelProto(bytes));
    try {
      return sequentialFromLayers(layersFromModel(prepared).layers);
    } catch (err) {
      if (!(err instanceof NotAChainError)) throw err;
      return graphFromModel(prepared);
    }
  } catch (err) {
    const msg = (err as Error).message;
    const prefix = msg.startsWith('not a valid ONNX model') ? '' : 'cannot import: ';
    throw new Error(`onnx.importModel: '${source}': ${prefix}${msg}`);
  }
}

/**
 * Reads an ONNX file written by exportModel or by torch.onnx.export. A chain (Gemm or MatMul+Add, Relu, LeakyRelu,
 * Sigmoid, Tanh, Softmax over the last axis, Flatten, Identity, Dropout, Gelu or its Erf/Tanh decomposition,
 * LayerNormalization) comes back as a Sequential; any other graph of those operators plus Add, Sub, Mul, Div,
 * MatMul, Concat, Reshape (several consumers of one value, several inputs and outputs), the shape arithmetic of
 * torch's attention (Shape, Gather, Slice, Unsqueeze, Squeeze, Expand, Where, comparisons, Cast) and LSTM/GRU nodes
 * (as nn.LSTM/nn.GRU) as an nn.Graph; torch's encoder layers become nn.TransformerEncoderLayer modules. Both train
 * further. Throws naming the file for corrupted files and unsupported operators (all listed).
 * @param file the .onnx path (at most 2 GiB).
 * @returns a Sequential for a chain of supported operators, else an nn.Graph; both train further.
 * @throws Error naming the file when it is missing, not a regular file, corrupted, or uses unsupported operators (all listed).
 * @example
 * ```ts
 * const model = await onnx.importModel('model.onnx');
 * ```
 */
export async function importModel(file: string): Promise<Sequential | Graph> {
  return fromOnnxBytes(await readRegularFile(file, { maxBytes: MAX_ONNX_BYTES }, 'onnx.importModel'), file);
}

// quantize(model, { dtype, calibration }): a Sequential of Linear / Conv2d layers (with activations, BatchNorm) computing in int8 or bf16.
import { Tensor } from '../tensor';
import { noGrad } from '../autograd';
import { Linear } from '../nn/linear';
import { Conv2d } from '../nn/conv';
import { MaxPool2d } from '../nn/pool';
import type { Module } from '../nn/module';
import { Sequential } from '../nn/sequential';
import { inferenceRole } from '../nn/registry';
import { foldBatchNorm } from '../nn/fold-bn';
import { checkOneOf, checkOptions, describe } from '../validate';
import { QuantizedLinear } from './linear';
import { QuantizedConv2d, explicitPadding, type FusedMaxPool } from './conv';
import type { QuantDtype } from './base';

export { QuantizedLinear, type QuantizedLinearConfig } from './linear';
export { QuantizedConv2d, type QuantizedConv2dConfig } from './conv';
export type { QuantDtype } from './base';

/** Options of quantize: dtype ('int8' or 'bf16') and calibration data. */
export interface QuantizeOptions {
  /** 'int8': int8 weights (a scale per output channel) and inputs; 'bf16': bfloat16 weights and inputs. */
  dtype: QuantDtype;
  /**
   * int8 only: representative input rows ([rows, ...features] Tensor, as predict takes them: the model's
   * preprocessor, if it has one, is applied to them first). Each layer's input then gets
   * one static scale (max |x| / 127 over these rows, as the float32 model computes them); without
   * it, every input row (for a Conv2d: every output pixel's patch) is scaled on the fly by its own max |x|.
   */
  calibration?: Tensor;
}

/** A Conv2d quantize() can turn into a QuantizedConv2d (groups 1, symmetric padding); others stay float32. */
function quantizableConv(layer: Module): layer is Conv2d {
  return layer instanceof Conv2d && layer.groups === 1 && explicitPadding(layer) !== null;
}

/**
 * A copy of a Sequential model whose Linear and Conv2d layers compute in int8 or bf16, each with the
 * activation right after it fused in (and, for a Conv2d, the eval-mode BatchNorm2d after it folded into its
 * weights first; a MaxPool2d after that, without padding, dilation or ceil mode, runs inside it too); other layers (Flatten, pooling, Dropout, Softmax, ...) are kept in float32. A Conv2d with
 * groups or asymmetric 'same' padding stays float32. The original model is not changed. predict,
 * predictAsync and evaluate run it; save/load keep it (weights stored as I8 or BF16); it does not train.
 * @param model - an nn.Sequential with at least one nn.Linear or nn.Conv2d layer (not changed).
 * @param options - dtype ('int8' or 'bf16', required) and, for int8 only, calibration: a Tensor of representative input rows [rows, ...features] (default: each input row scaled by its own max |x|).
 * @returns a new Sequential for inference (predict, predictAsync, evaluate).
 * @throws Error when model is not a Sequential, an option is unknown, dtype is not 'int8' or 'bf16', calibration is given with bf16 or is not a Tensor of at least one row and 2 dimensions, or the model has no Linear or Conv2d layer.
 * @example
 * ```ts
 * const q = quantize(model, { dtype: 'int8', calibration: xTrain.slice(0, 256) });
 * const y = predict(q, xTest);
 * ```
 */
export function quantize(model: Sequential, options: QuantizeOptions): Sequential {
  if (!(model instanceof Sequential)) throw new Error(`quantize: model must be a Sequential, got ${describe(model)}`);
  const o = checkOptions('quantize', options, ['dtype', 'calibration']);
  const dtype = checkOneOf('quantize', 'dtype', o.dtype, ['int8', 'bf16'] as const);
  if (o.calibration !== undefined) {
    if (dtype !== 'int8') throw new Error(`quantize: calibration applies to dtype 'int8' only, got dtype '${dtype}'`);
    if (!(o.calibration instanceof Tensor) || o.calibration.ndim < 2 || o.calibration.shape[0] < 1) {
      throw new Error(`quantize: calibration must be a Tensor of input rows [rows, ...features], got ${describe(o.calibration)}`);
    }
  }
  const layers = model.layers;
  if (!layers.some((l) => l instanceof Linear || quantizableConv(l))) throw new Error('quantize: the model has no Linear or Conv2d layer to quantise');
  const nested = layers.findIndex((l) => l instanceof Sequential);
  if (nested >= 0) throw new Error(`quantize: layer ${nested} is a nested Sequential; flatten it into one Sequential first`);
  // Calibration rows are inputs as predict takes them: the model's preprocessor (if any) scales them first.
  const prep = model.preprocessor;
  const rows = o.calibration === undefined ? undefined : prep == null ? o.calibration : prep.inputs(o.calibration, 'quantize');
  const scales = rows === undefined ? null : calibrate(layers, rows);
  const out: Module[] = [];
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i];
    if (!(layer instanceof Linear) && !quantizableConv(layer)) {
      out.push(layer);
      continue;
    }
    let source: Linear | Conv2d = layer;
    let next = i + 1;
    if (layer instanceof Conv2d && next < layers.length) {
      // An eval-mode BatchNorm2d right after the conv: folded into its weights (as the inference planner does).
      const folded = foldBatchNorm([layer, layers[next]]);
      if (folded !== null) {
        source = folded.layers[0] as Conv2d;
        next++;
      }
    }
    const role = next < layers.length ? inferenceRole(layers[next]) : null;
    const fused = role !== null && role.kind === 'activation' ? role.activation : null;
    if (fused !== null) next++; // the activation runs inside the quantised layer
    // A MaxPool2d (no padding, dilation 1, floor mode) after the conv and its activation runs inside it too,
    // on the conv's output planes while they are in cache.
    let pool: FusedMaxPool | null = null;
    const p = next < layers.length ? layers[next] : null;
    if (source instanceof Conv2d && p instanceof MaxPool2d && p.padding.every((v) => v === 0) && p.dilation.every((v) => v === 1) && !p.ceilMode) {
      pool = [p.kernelSize[0], p.kernelSize[1], p.stride[0], p.stride[1]];
      next++;
    }
    const scale = scales === null ? 0 : scales[i];
    const act = fused === null ? 'none' : fused.act, alpha = fused === null ? 0.01 : fused.alpha;
    out.push(source instanceof Linear
      ? QuantizedLinear.fromLinear(source, dtype, act, alpha, scale)
      : QuantizedConv2d.fromConv2d(source, dtype, act, alpha, scale, pool));
    i = next - 1;
  }
  const q = new Sequential(out);
  q.preprocessor = model.preprocessor;
  q.eval();
  return q;
}

/** Per Linear / Conv2d layer index: max |input| / 127 over the calibration rows, run through the float32 model. */
function calibrate(layers: readonly Module[], rows: Tensor): number[] {
  const scales: number[] = new Array(layers.length).fill(0);
  const modes = layers.map((l) => l.training);
  layers.forEach((l) => l.eval());
  try {
    noGrad(() => {
      let h = rows;
      layers.forEach((layer, i) => {
        if (layer instanceof Linear || quantizableConv(layer)) {
          let m = 0;
          for (const v of h.data) {
            if (!Number.isFinite(v)) throw new Error(`quantize: the calibration data reaches layer ${i} (${layer.describe()}) with a NaN or infinite value`);
            const a = Math.abs(v);
            if (a > m) m = a;
          }
          // (Near-)zero inputs: any scale gives zeros; 1/127 keeps the kernel's static mode (scales >= 1e-30).
          scales[i] = m >= 127e-30 ? Math.fround(m / 127) : Math.fround(1 / 127);
        }
        h = layer.forward(h) as Tensor; // a Sequential layer returns one Tensor
      });
    });
  } finally {
    layers.forEach((l, i) => l.train(modes[i]));
  }
  return scales;
}

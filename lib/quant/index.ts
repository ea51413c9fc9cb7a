// quantize(model, { dtype, calibration }): a Sequential of Linear(+activation) layers computing in int8 or bf16.
import { Tensor } from '../tensor';
import { noGrad } from '../autograd';
import { Linear } from '../nn/linear';
import type { Module } from '../nn/module';
import { Sequential } from '../nn/sequential';
import { inferenceRole } from '../nn/registry';
import { planChain } from '../nn/plan';
import { checkOneOf, checkOptions, describe } from '../validate';
import { QuantizedLinear, type QuantDtype } from './linear';

export { QuantizedLinear, type QuantDtype, type QuantizedLinearConfig } from './linear';

/** Options of quantize: dtype ('int8' or 'bf16') and calibration data. */
export interface QuantizeOptions {
  /** 'int8': int8 weights (a scale per output channel) and inputs; 'bf16': bfloat16 weights and inputs. */
  dtype: QuantDtype;
  /**
   * int8 only: representative input rows ([rows, inFeatures] Tensor, as predict takes them: the model's
   * preprocessor, if it has one, is applied to them first). Each layer's input then gets
   * one static scale (max |x| / 127 over these rows, as the float32 model computes them); without
   * it, every input row is scaled on the fly by its own max |x|.
   */
  calibration?: Tensor;
}

/**
 * A copy of a Sequential model whose Linear layers (each with the activation right after it fused
 * in) compute in int8 or bf16; other layers (Flatten, Dropout, Softmax, ...) are kept. The original
 * model is not changed. predict, predictAsync and evaluate run it; it does not train.
 * @param model - an nn.Sequential with at least one nn.Linear layer (not changed).
 * @param options - dtype ('int8' or 'bf16', required) and, for int8 only, calibration: a Tensor of representative input rows [rows, ...features] (default: each input row scaled by its own max |x|).
 * @returns a new Sequential for inference (predict, predictAsync, evaluate).
 * @throws Error when model is not a Sequential, an option is unknown, dtype is not 'int8' or 'bf16', calibration is given with bf16 or is not a Tensor of at least one row and 2 dimensions, or the model has no Linear layer.
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
  if (!layers.some((l) => l instanceof Linear)) throw new Error('quantize: the model has no Linear layer to quantise');
  const fused = planChain(layers.map(inferenceRole)).fused;
  // Calibration rows are inputs as predict takes them: the model's preprocessor (if any) scales them first.
  const prep = model.preprocessor;
  const rows = o.calibration === undefined ? undefined : prep == null ? o.calibration : prep.inputs(o.calibration, 'quantize');
  const scales = rows === undefined ? null : calibrate(layers, rows);
  const out: Module[] = [];
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i];
    if (layer instanceof Sequential) throw new Error(`quantize: layer ${i} is a nested Sequential; flatten it into one Sequential first`);
    if (!(layer instanceof Linear)) {
      out.push(layer);
      continue;
    }
    const f = fused[i];
    const scale = scales === null ? 0 : scales[i];
    out.push(QuantizedLinear.fromLinear(layer, dtype, f === null ? 'none' : f.act, f === null ? 0.01 : f.alpha, scale));
    if (f !== null) i++; // the activation runs inside the quantised layer
  }
  const q = new Sequential(out);
  q.preprocessor = model.preprocessor;
  q.eval();
  return q;
}

/** Per Linear layer index: max |input| / 127 over the calibration rows, run through the float32 model. */
function calibrate(layers: readonly Module[], rows: Tensor): number[] {
  const scales: number[] = new Array(layers.length).fill(0);
  const modes = layers.map((l) => l.training);
  layers.forEach((l) => l.eval());
  try {
    noGrad(() => {
      let h = rows;
      layers.forEach((layer, i) => {
        if (layer instanceof Linear) {
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

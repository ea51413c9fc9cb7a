// evaluate() and predict(): batched inference in eval mode without gradients, plus the shared evaluation pass fit uses.
import { Tensor } from '../tensor';
import { noGrad } from '../autograd';
import { prepareData, BatchBuilder, PreparedData, preprocessForModel } from './prepared';
import { resolveLoss, LossSpec, LossFunction, defaultLossName } from './losses';
import { makeMetrics, Metric, MetricFunction, MetricName } from './metrics';
import type { FitData, TrainableModel } from './types';
import { checkOptions } from '../validate';
import { PREDICT_BATCH_SIZE } from '../constants';

export interface EvaluateOptions {
  /** Rows per forward pass. Default PREDICT_BATCH_SIZE (1024, as predict). */
  batchSize?: number;
  /** Default: 'crossEntropy' for integer labels, 'mse' for float targets. */
  loss?: LossSpec;
  /** Default: ['accuracy'] for integer labels, none for float targets. */
  metrics?: ReadonlyArray<MetricName | 'loss' | MetricFunction>;
}

/** Loss (mean over rows) and each metric, e.g. { loss: 0.08, accuracy: 0.97 }. */
export interface EvaluateResult {
  loss: number;
  accuracy?: number;
  [metric: string]: number | undefined;
}

function checkBatchSize(op: string, batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`${op}: batchSize must be a positive integer, got ${batchSize}`);
  }
}

/** Runs the model over prepared rows in eval mode under noGrad; restores the previous train/eval mode. */
export function evaluatePrepared(
  model: TrainableModel, d: PreparedData, lossFn: LossFunction, metrics: Metric[], batchSize: number,
): EvaluateResult {
  if (d.n === 0) throw new Error('evaluate: no rows to evaluate');
  const wasTraining = (model as { training?: boolean }).training;
  model.eval();
  try {
    return noGrad(() => {
      const batches = new BatchBuilder(d, batchSize);
      for (const m of metrics) m.reset();
      let lossSum = 0;
      for (let start = 0; start < d.n; start += batchSize) {
        const end = Math.min(d.n, start + batchSize);
        const rows = end - start;
        const pred = model.forward(batches.input(null, start, end));
        const target = batches.target(null, start, end);
        lossSum += lossFn(pred, target).item() * rows;
        for (const m of metrics) m.update(pred, target, rows);
      }
      const out: EvaluateResult = { loss: lossSum / d.n };
      for (const m of metrics) out[m.name] = m.result();
      return out;
    });
  } finally {
    if (wasTraining === true) model.train();
  }
}

/** Mean loss and metrics of the model on { x, y }, in eval mode, without recording gradients. */
export function evaluate(model: TrainableModel, data: FitData, options: EvaluateOptions = {}): EvaluateResult {
  options = checkOptions('evaluate', options, ['batchSize', 'loss', 'metrics']);
  const batchSize = options.batchSize ?? PREDICT_BATCH_SIZE;
  checkBatchSize('evaluate', batchSize);
  const d = preprocessForModel(model, data, prepareData(data, 'evaluate'), 'evaluate');
  const lossName = options.loss ?? defaultLossName(d);
  const lossFn = resolveLoss(lossName, d, 'evaluate');
  const metrics = makeMetrics(options.metrics ?? (d.labels ? ['accuracy'] : []), lossName);
  return evaluatePrepared(model, d, lossFn, metrics, batchSize);
}

export interface PredictOptions {
  /** Rows per forward pass. Default PREDICT_BATCH_SIZE (1024, as predict). */
  batchSize?: number;
}

/**
 * Model outputs for every row of x ([n, ...features] Tensor, or a flat Float32Array with
 * `features` values per row), batched, in eval mode without gradients. Uses model.predict when the
 * model has one (nn.Module does).
 */
export function predict(
  model: TrainableModel, x: Tensor | Float32Array, options: PredictOptions & { features?: number } = {},
): Tensor {
  const batchSize = options.batchSize ?? PREDICT_BATCH_SIZE;
  checkBatchSize('predict', batchSize);
  const own = (model as { predict?: (x: Tensor | Float32Array, o?: { batchSize?: number }) => Tensor }).predict;
  let input: Tensor;
  if (x instanceof Tensor) {
    input = x;
  } else if (x instanceof Float32Array) {
    if (options.features === undefined) {
      if (typeof own === 'function') return own.call(model, x, { batchSize });
      throw new Error('predict: a flat Float32Array input needs options.features (values per row)');
    }
    if (!Number.isInteger(options.features) || options.features < 1 || x.length % options.features !== 0) {
      throw new Error(`predict: x has ${x.length} values, not a multiple of features = ${options.features}`);
    }
    input = new Tensor(x, [x.length / options.features, options.features]);
  } else {
    throw new Error('predict: x must be a Tensor or a Float32Array');
  }
  if (typeof own === 'function') return own.call(model, input, { batchSize });
  if (input.ndim < 1 || input.shape[0] === 0) throw new Error(`predict: x of shape [${input.shape.join(',')}] has no rows`);
  const n = input.shape[0];
  const rowSize = input.size / n;
  const wasTraining = (model as { training?: boolean }).training;
  model.eval();
  try {
    return noGrad(() => {
      let out: Float32Array | null = null;
      let outShape: number[] = [];
      for (let start = 0; start < n; start += batchSize) {
        const end = Math.min(n, start + batchSize);
        const batch = new Tensor(input.data.subarray(start * rowSize, end * rowSize), [end - start, ...input.shape.slice(1)]);
        const y = model.forward(batch);
        const per = y.size / (end - start);
        if (out === null) {
          out = new Float32Array(n * per);
          outShape = [n, ...y.shape.slice(1)];
        }
        out.set(y.data, start * per);
      }
      return new Tensor(out as Float32Array, outShape);
    });
  } finally {
    if (wasTraining === true) model.train();
  }
}

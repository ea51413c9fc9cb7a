// evaluate() and predict(): batched inference in eval mode without gradients, plus the shared evaluation pass fit uses.
import { noGrad } from '../autograd';
import { prepareData, BatchBuilder, PreparedData, preprocessForModel } from './prepared';
import { resolveLoss, LossSpec, LossFunction, defaultLossName } from './loss-spec';
import { makeMetrics, Metric, MetricFunction, MetricName } from './metrics';
import type { FitData, TrainableModel } from './types';
import { checkOptions } from '../validate';
import { forwardOne } from './checks';

export interface EvaluateOptions {
  /** Rows per forward pass. Default 256. */
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
        const pred = forwardOne('evaluate', model, batches.args(null, start, end));
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
  const batchSize = options.batchSize ?? 256;
  checkBatchSize('evaluate', batchSize);
  const d = preprocessForModel(model, data, prepareData(data, 'evaluate'), 'evaluate');
  const lossName = options.loss ?? defaultLossName(d);
  const lossFn = resolveLoss(lossName, d, 'evaluate');
  const metrics = makeMetrics(options.metrics ?? (d.labels ? ['accuracy'] : []), lossName);
  return evaluatePrepared(model, d, lossFn, metrics, batchSize);
}

/** train.predict is serve's predict (one implementation; default batch size 1024). */
export { predict, type PredictOptions } from '../serve/run';

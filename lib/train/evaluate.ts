// evaluate() and predict(): batched inference in eval mode without gradients, plus the shared evaluation pass fit uses.
import { noGrad } from '../autograd';
import { prepareData, BatchBuilder, PreparedData, preprocessForModel } from './prepared';
import type { Tensor } from '../tensor';
import { resolveLoss, type LossFunction } from './loss-spec';
import { makeMetrics, type Metric, type BatchTarget } from './metrics';
import { singleOutputSpecs, outputsLoss, outputsMetrics, type OutputLossSpec, type LossWeights, type OutputMetricSpecs } from './outputs';
import type { FitData, TrainableModel } from './types';
import { checkOptions } from '../validate';
import { forwardOne } from './checks';
import { PREDICT_BATCH_SIZE } from '../constants';

export interface EvaluateOptions {
  /** Rows per forward pass. Default PREDICT_BATCH_SIZE (1024, as predict). */
  batchSize?: number;
  /** Default: 'crossEntropy' for integer labels, 'mse' for float targets. Several outputs: as fit's loss (per output, summed with lossWeights). */
  loss?: OutputLossSpec;
  /** Several outputs: the weight of each output's loss in the reported loss (default 1 each). */
  lossWeights?: LossWeights;
  /** Default: ['accuracy'] for integer labels, none for float targets (per output with several: 'digitAccuracy'). */
  metrics?: OutputMetricSpecs;
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
        const args = batches.args(null, start, end);
        const pred = d.outputs ? (model.forward(...args) as Tensor) : forwardOne('evaluate', model, args);
        const target = batches.targets(null, start, end) as BatchTarget;
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
  options = checkOptions('evaluate', options, ['batchSize', 'loss', 'lossWeights', 'metrics']);
  const batchSize = options.batchSize ?? PREDICT_BATCH_SIZE;
  checkBatchSize('evaluate', batchSize);
  const d = preprocessForModel(model, data, prepareData(data, 'evaluate'), 'evaluate');
  if (d.outputs) {
    const loss = outputsLoss('evaluate', d, options.loss, options.lossWeights);
    return evaluatePrepared(model, d, loss.fn as unknown as LossFunction, outputsMetrics('evaluate', d, options.metrics, loss.specs), batchSize);
  }
  const { lossName, metricSpecs } = singleOutputSpecs('evaluate', d, options.loss, options.lossWeights, options.metrics);
  const lossFn = resolveLoss(lossName, d, 'evaluate');
  const metrics = makeMetrics(metricSpecs, lossName);
  return evaluatePrepared(model, d, lossFn, metrics, batchSize);
}

/** train.predict is serve's predict (one implementation; default batch size 1024). */
export { predict, type PredictOptions } from '../serve/run';

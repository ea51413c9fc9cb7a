// Built-in fit() callbacks: earlyStopping (with best-weight restore) and lrScheduler.
import type { Callback, EpochLogs, TrainContext } from './types';
import { checkCallback } from './checks';
import { higherIsBetter } from '../optim/plateau';

/** Options of earlyStopping: monitor (default 'valLoss'), patience, minDelta, mode and restoreBestWeights. */
export interface EarlyStoppingOptions {
  /** Log key to watch: 'valLoss' (default; falls back to 'loss' without validation data), 'valAccuracy', ... */
  monitor?: string;
  /** Epochs in a row without improvement that stop training. Default 0 (like 1: stop at the first one). */
  patience?: number;
  /** Smallest change that counts as an improvement. Default 0. */
  minDelta?: number;
  /** 'min' for losses, 'max' for scores; 'auto' (default) picks 'max' for accuracy, precision, recall, f1, auc and r2 (and their val* twins). */
  mode?: 'min' | 'max' | 'auto';
  /** Put back the weights of the best epoch when training ends (early or not). Default false. */
  restoreBestWeights?: boolean;
}

/** The earlyStopping callback; its fields are readable after fit (bestEpoch, bestValue, stoppedEpoch). */
export interface EarlyStopping extends Callback {
  readonly monitor: string;
  /** 0-based epoch with the best monitored value, -1 before any. */
  bestEpoch: number;
  bestValue: number;
  /** 0-based epoch at which it stopped training, -1 if it did not. */
  stoppedEpoch: number;
}

/**
 * Stops training when the monitored value has not improved by more than minDelta for `patience`
 * epochs (Keras semantics); optionally restores the best weights at the end of training.
 * @param options monitor (default 'valLoss', 'loss' without validation data), patience (default 0), minDelta (default 0), mode ('auto' default, 'min' or 'max'), restoreBestWeights (default false).
 * @returns the callback for fit's callbacks; after fit, its bestEpoch, bestValue and stoppedEpoch.
 * @throws Error when patience is not a non-negative integer.
 * @example
 * ```ts
 * await fit(model, data, { epochs: 100, validationSplit: 0.2, callbacks: [earlyStopping({ patience: 5, restoreBestWeights: true })] });
 * ```
 */
export function earlyStopping(options: EarlyStoppingOptions = {}): EarlyStopping {
  const patience = options.patience ?? 0;
  const minDelta = Math.abs(options.minDelta ?? 0);
  if (!Number.isInteger(patience) || patience < 0) {
    throw new Error(`earlyStopping: patience must be a non-negative integer, got ${options.patience}`);
  }
  const requested = options.monitor ?? 'valLoss';
  let monitor = requested;
  let sign = 1; // +1: lower is better; -1: higher is better.
  let wait = 0;
  let best: Record<string, Float32Array> | null = null;

  const cb: EarlyStopping = {
    monitor: requested,
    bestEpoch: -1,
    bestValue: NaN,
    stoppedEpoch: -1,
    onTrainBegin(): void {
      wait = 0;
      best = null;
      cb.bestEpoch = -1;
      cb.bestValue = NaN;
      cb.stoppedEpoch = -1;
      monitor = requested;
    },
    onEpochEnd(epoch: number, logs: EpochLogs, ctx: TrainContext): void {
      let value = logs[monitor];
      if (value === undefined && options.monitor === undefined && monitor === 'valLoss') {
        monitor = 'loss'; // no validation data: watch the training loss
        value = logs.loss;
      }
      if (value === undefined) {
        const known = Object.keys(logs).filter((k) => logs[k] !== undefined).join(', ');
        throw new Error(`earlyStopping: monitored value '${monitor}' is not logged (logged: ${known})`);
      }
      const mode = options.mode ?? 'auto';
      sign = mode === 'max' || (mode === 'auto' && higherIsBetter(monitor)) ? -1 : 1;
      const improved = Number.isNaN(cb.bestValue) || sign * (value - cb.bestValue) < -minDelta;
      if (improved) {
        cb.bestValue = value;
        cb.bestEpoch = epoch;
        wait = 0;
        if (options.restoreBestWeights) {
          const sd = ctx.model.stateDict();
          best = {};
          for (const [k, t] of Object.entries(sd)) best[k] = Float32Array.from(t.data);
        }
        return;
      }
      wait++;
      // Keras semantics: stop once `patience` epochs in a row did not improve (patience 0 acts as 1).
      if (wait >= Math.max(patience, 1)) {
        cb.stoppedEpoch = epoch;
        ctx.stopTraining = true;
        ctx.stopReason = 'earlyStopping';
      }
    },
    onTrainEnd(ctx: TrainContext): void {
      if (options.restoreBestWeights && best !== null) ctx.model.loadStateDict(best);
    },
  };
  return cb;
}

/** A learning-rate schedule: the lr for a 0-based epoch, given the current lr. */
export type LrSchedule = (epoch: number, lr: number) => number;

/** A stateful schedule object (optim.StepLR, CosineAnnealingLR, ...) advanced with step(). */
export interface SteppedSchedule {
  step(): number;
}

/**
 * Changes the learning rate every epoch. With a function: sets optimizer.lr = schedule(epoch, lr)
 * at the start of each epoch (Keras LearningRateScheduler). With an optim schedule object (built on
 * the same optimizer you pass to fit): calls schedule.step() at the end of each epoch (PyTorch).
 * @param schedule a function (epoch, lr) => lr, or an optim schedule (StepLR, ...) on fit's optimizer.
 * @returns the callback for fit's callbacks.
 * @throws Error when schedule is neither; during fit, when the function returns something other than a finite number >= 0.
 * @example
 * ```ts
 * callbacks: [lrScheduler((epoch, lr) => (epoch < 10 ? lr : lr * 0.9))]
 * ```
 */
export function lrScheduler(schedule: LrSchedule | SteppedSchedule): Callback {
  if (typeof schedule === 'object' && schedule !== null && typeof schedule.step === 'function') {
    return {
      onEpochEnd(): void {
        schedule.step();
      },
    };
  }
  if (typeof schedule !== 'function') {
    throw new Error('lrScheduler: schedule must be a function (epoch, lr) => lr or a schedule object with step()');
  }
  return {
    onEpochBegin(epoch: number, ctx: TrainContext): void {
      const lr = schedule(epoch, ctx.optimizer.lr);
      if (!(typeof lr === 'number' && Number.isFinite(lr) && lr >= 0)) {
        throw new Error(`lrScheduler: schedule returned ${lr} for epoch ${epoch}, expected a finite number >= 0`);
      }
      ctx.optimizer.lr = lr;
    },
  };
}

/** Options of cosineDecay: peak lr, minLr and warmupSteps (per-batch cosine decay). */
export interface CosineDecayOptions {
  /** Peak learning rate; default the optimizer's lr when training begins (pass it when resuming). */
  lr?: number;
  /** Learning rate reached at the last step. Default 0. */
  minLr?: number;
  /** Steps of linear warmup from 0 to the peak before the decay. Default 0. */
  warmupSteps?: number;
}

/**
 * Per-batch cosine decay of the learning rate from its peak to minLr over all epochs * steps of the
 * run, optionally after a linear warmup; sets the lr for the next batch after each batch. Steps
 * count from epoch 0, so a run resumed with initialEpoch (and the same `lr`) follows the same curve.
 * @param options lr (the peak; default the optimizer's lr), minLr (default 0), warmupSteps (default 0).
 * @returns the callback for fit's callbacks.
 * @throws Error when minLr is below 0 or warmupSteps is not a non-negative integer.
 * @example
 * ```ts
 * callbacks: [cosineDecay({ minLr: 1e-5, warmupSteps: 100 })]
 * ```
 */
export function cosineDecay(options: CosineDecayOptions = {}): Callback {
  const minLr = options.minLr ?? 0;
  const warmup = options.warmupSteps ?? 0;
  if (!(minLr >= 0)) throw new Error(`cosineDecay: minLr must be >= 0, got ${minLr}`);
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`cosineDecay: warmupSteps must be a non-negative integer, got ${warmup}`);
  let peak = 0;
  const lrAt = (step: number, total: number): number => {
    if (step < warmup) return (peak * step) / warmup;
    const span = Math.max(total - warmup, 1);
    const t = Math.min((step - warmup) / span, 1);
    return minLr + (peak - minLr) * 0.5 * (1 + Math.cos(Math.PI * t));
  };
  return {
    onTrainBegin(ctx: TrainContext): void {
      peak = options.lr ?? ctx.optimizer.lr;
      ctx.optimizer.lr = lrAt(ctx.initialEpoch * ctx.stepsPerEpoch, ctx.epochs * ctx.stepsPerEpoch);
    },
    onBatchEnd(batch: number, _logs, ctx: TrainContext): void {
      const step = ctx.epoch * ctx.stepsPerEpoch + batch + 1;
      ctx.optimizer.lr = lrAt(step, ctx.epochs * ctx.stepsPerEpoch);
    },
  };
}

/**
 * A callback from plain functions, e.g. callbacks: [lambda({ onEpochEnd: (e, logs) => ... })].
 * @param hooks any of onTrainBegin, onEpochBegin, onBatchEnd, onEpochEnd, onTrainEnd (functions; other keys are ignored).
 * @returns the hooks, checked.
 * @throws Error when hooks is not an object (or is an array), or one of those hooks is given and is not a function.
 * @example await fit(model, data, { callbacks: [callbacks.lambda({ onEpochEnd: (e, logs) => console.log(e, logs.loss) })] });
 */
export function lambda(hooks: Callback): Callback {
  return checkCallback('lambda', hooks, 'hooks');
}

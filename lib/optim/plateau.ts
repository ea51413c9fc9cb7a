// ReduceLROnPlateau: cuts the learning rate by a factor when a monitored value stops improving (PyTorch's rule, Keras's options); a fit callback or stepped by hand.
import type { HasLearningRate } from './schedules';
import { checkNonNegativeInt, checkNumber, checkOneOf, checkOptions, describe, invalid } from '../validate';

/** True for log keys where larger is better (accuracy, precision, recall, f1, auc, r2 and their val* twins). */
export function higherIsBetter(key: string): boolean {
  const name = /^val[A-Z]/.test(key) ? key.slice(3) : key;
  return /acc|precision|recall|f1|auc|^r2$/i.test(name);
}

/** What the fit callbacks here read from fit's training context. */
export interface ScheduleContext {
  optimizer: HasLearningRate;
  epochs: number;
  initialEpoch: number;
  stepsPerEpoch: number;
}

/** An optimizer (anything with a numeric lr) rather than an options object. */
export function isOptimizerLike(v: unknown): v is HasLearningRate {
  return typeof v === 'object' && v !== null && typeof (v as HasLearningRate).lr === 'number';
}

/** Options of optim.ReduceLROnPlateau: the value monitored, mode, factor, patience, minDelta, cooldown and minLr. */
export interface ReduceLROnPlateauOptions {
  /** Log key a fit callback watches: default 'valLoss' ('loss' when fit has no validation data). */
  monitor?: string;
  /** 'min' (lower is better), 'max', or 'auto' (default): 'max' for accuracy, precision, recall, f1, auc, r2. */
  mode?: 'min' | 'max' | 'auto';
  /** lr becomes lr * factor, in (0, 1). Default 0.1. */
  factor?: number;
  /** Epochs without improvement tolerated before a cut. Default 10. */
  patience?: number;
  /** An improvement must beat the best value by more than this (absolute). Default 1e-4. */
  minDelta?: number;
  /** Epochs after a cut during which bad epochs are not counted. Default 0. */
  cooldown?: number;
  /** The lr is never cut below this. Default 0. */
  minLr?: number;
}

const PLATEAU_OPTIONS = ['monitor', 'mode', 'factor', 'patience', 'minDelta', 'cooldown', 'minLr'] as const;

/** Smallest lr change applied (PyTorch's eps): a cut smaller than this is skipped. */
const EPS = 1e-8;

/**
 * Reduces the learning rate by `factor` once the monitored value has not improved by more than
 * minDelta for more than `patience` steps (PyTorch's ReduceLROnPlateau with threshold_mode 'abs').
 * Use it as a fit callback (`callbacks: [new optim.ReduceLROnPlateau({ patience: 3 })]`: it reads
 * logs[monitor] after each epoch and drives fit's optimizer), or call step(value) yourself.
 */
export class ReduceLROnPlateau {
  readonly monitor: string;
  readonly mode: 'min' | 'max';
  readonly factor: number;
  readonly patience: number;
  readonly minDelta: number;
  readonly cooldown: number;
  readonly minLr: number;
  /** The optimizer whose lr it sets (fit's, when used as a callback without one). */
  optimizer: HasLearningRate | null;
  /** Best value seen (Infinity / -Infinity before any). */
  best: number;
  /** Steps in a row without improvement. */
  badEpochs = 0;
  /** Steps of cooldown left. */
  cooldownCounter = 0;
  /** How many times the lr was cut. */
  reductions = 0;
  private readonly explicitMonitor: boolean;
  private watching: string;

  /**
   * Creates the schedule, on an optimizer (options second) or, as a fit callback, from options alone.
   * @param optimizer the optimizer whose lr it sets, or (as a fit callback) the options.
   * @param options monitor (default 'valLoss'), mode ('auto' default, 'min' or 'max'), factor (in (0, 1), default 0.1), patience (default 10), minDelta (default 1e-4), cooldown (default 0), minLr (default 0).
   * @throws Error when options follow something that is not an optimizer, an option is unknown, monitor is not a non-empty string, mode is not one of the three, or a number is out of range.
   * @example
   * ```ts
   * await fit(model, data, { epochs: 50, validationSplit: 0.2, callbacks: [new optim.ReduceLROnPlateau({ patience: 3 })] });
   * ```
   */
  constructor(optimizer?: HasLearningRate | ReduceLROnPlateauOptions, options?: ReduceLROnPlateauOptions) {
    const op = 'ReduceLROnPlateau';
    let opts: ReduceLROnPlateauOptions | undefined = options;
    if (isOptimizerLike(optimizer)) {
      this.optimizer = optimizer;
    } else {
      if (options !== undefined) throw new Error(`${op}: the first argument must be an optimizer when options follow it, got ${describe(optimizer)}`);
      this.optimizer = null;
      opts = optimizer;
    }
    const o = checkOptions(op, opts, PLATEAU_OPTIONS);
    if (o.monitor !== undefined && (typeof o.monitor !== 'string' || o.monitor === '')) invalid(op, 'monitor', "a log key such as 'valLoss'", o.monitor);
    this.explicitMonitor = o.monitor !== undefined;
    this.monitor = o.monitor ?? 'valLoss';
    this.watching = this.monitor;
    const mode = o.mode === undefined ? 'auto' : checkOneOf(op, 'mode', o.mode, ['min', 'max', 'auto'] as const);
    this.mode = mode === 'auto' ? (higherIsBetter(this.monitor) ? 'max' : 'min') : mode;
    this.factor = o.factor === undefined ? 0.1 : checkNumber(op, 'factor', o.factor, { above: 0, below: 1 });
    this.patience = o.patience === undefined ? 10 : checkNonNegativeInt(op, 'patience', o.patience);
    this.minDelta = o.minDelta === undefined ? 1e-4 : checkNumber(op, 'minDelta', o.minDelta, { min: 0 });
    this.cooldown = o.cooldown === undefined ? 0 : checkNonNegativeInt(op, 'cooldown', o.cooldown);
    this.minLr = o.minLr === undefined ? 0 : checkNumber(op, 'minLr', o.minLr, { min: 0 });
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  private improved(value: number): boolean {
    return this.mode === 'min' ? value < this.best - this.minDelta : value > this.best + this.minDelta;
  }

  /**
   * Records one monitored value (once per epoch) and cuts the lr if it has plateaued: after more than `patience`
   * values without improvement by minDelta, lr becomes max(lr * factor, minLr), then `cooldown` values are not
   * counted.
   * @param value the monitored value this epoch (e.g. the validation loss); NaN counts as no improvement.
   * @returns the optimizer's learning rate after the step.
   * @throws Error when value is not a number, or the schedule has no optimizer (built from options alone and not
   * yet bound by fit).
   * @example sched.step(valLoss);
   */
  step(value: number): number {
    if (typeof value !== 'number') invalid('ReduceLROnPlateau.step', 'value', 'a number', value);
    const opt = this.optimizer;
    if (opt === null) throw new Error('ReduceLROnPlateau.step: no optimizer (pass one to the constructor, or use it as a fit callback)');
    if (this.improved(value)) {
      this.best = value;
      this.badEpochs = 0;
    } else {
      this.badEpochs++;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.badEpochs = 0; // bad epochs during cooldown are not counted
    }
    if (this.badEpochs > this.patience) {
      const next = Math.max(opt.lr * this.factor, this.minLr);
      if (opt.lr - next > EPS) {
        opt.lr = next;
        this.reductions++;
      }
      this.cooldownCounter = this.cooldown;
      this.badEpochs = 0;
    }
    return opt.lr;
  }

  /**
   * Fit hook: binds fit's optimizer (or checks it is the one given) and starts watching the monitored key afresh.
   * @param ctx the run: optimizer, epochs, initialEpoch and stepsPerEpoch.
   * @throws Error when the schedule was built on another optimizer than fit's.
   * @example await fit(model, data, { validationData, callbacks: [new optim.ReduceLROnPlateau({ patience: 2 })] });
   */
  onTrainBegin(ctx: ScheduleContext): void {
    if (this.optimizer === null) this.optimizer = ctx.optimizer;
    else if (this.optimizer !== ctx.optimizer) {
      throw new Error('ReduceLROnPlateau: it was built on a different optimizer than the one fit trains (pass that optimizer to fit, or build it without one)');
    }
    this.watching = this.monitor;
  }

  /**
   * Fit hook: steps with logs[monitor] (logs.loss when 'valLoss' was defaulted and fit has no validation data).
   * @param _epoch the epoch that ended (unused).
   * @param logs the epoch's logged values by key (loss, valLoss, metrics).
   * @throws Error when the monitored key is not logged (the message lists the keys that are), or as step() does.
   * @example await fit(model, data, { callbacks: [sched] }); // fit calls it with each epoch's logs
   */
  onEpochEnd(_epoch: number, logs: Record<string, number | undefined>): void {
    let value = logs[this.watching];
    if (value === undefined && !this.explicitMonitor && this.watching === 'valLoss') {
      this.watching = 'loss';
      value = logs.loss;
    }
    if (value === undefined) {
      const known = Object.keys(logs).filter((k) => logs[k] !== undefined).join(', ');
      throw new Error(`ReduceLROnPlateau: monitored value '${this.watching}' is not logged (logged: ${known})`);
    }
    this.step(value);
  }

  /**
   * The schedule's counters, to save with a checkpoint and restore with loadStateDict.
   * @returns best (Infinity / -Infinity before the first value), badEpochs, cooldownCounter and reductions.
   * @example JSON.stringify(sched.stateDict()) // best Infinity is written as null, which loadStateDict accepts
   */
  stateDict(): { best: number; badEpochs: number; cooldownCounter: number; reductions: number } {
    return { best: this.best, badEpochs: this.badEpochs, cooldownCounter: this.cooldownCounter, reductions: this.reductions };
  }

  /**
   * Restores stateDict() (best may be null, as JSON writes Infinity: no best yet).
   * @param sd `{ best, badEpochs, cooldownCounter, reductions }` as stateDict() returned it (reductions optional, default 0).
   * @throws Error when sd is not an object, best is neither null nor a number (NaN included), or badEpochs,
   * cooldownCounter or reductions is not a non-negative integer.
   * @example sched.loadStateDict(saved.schedule);
   */
  loadStateDict(sd: { best: number | null; badEpochs: number; cooldownCounter: number; reductions?: number }): void {
    const op = 'ReduceLROnPlateau.loadStateDict';
    if (sd === null || typeof sd !== 'object') throw new Error(`${op}: expected { best, badEpochs, cooldownCounter }, got ${describe(sd)}`);
    if (sd.best !== null && (typeof sd.best !== 'number' || Number.isNaN(sd.best))) {
      throw new Error(`${op}: best must be a number, got ${describe(sd.best)}`);
    }
    this.badEpochs = checkNonNegativeInt(op, 'badEpochs', sd.badEpochs);
    this.cooldownCounter = checkNonNegativeInt(op, 'cooldownCounter', sd.cooldownCounter);
    this.reductions = sd.reductions === undefined ? 0 : checkNonNegativeInt(op, 'reductions', sd.reductions);
    this.best = sd.best ?? (this.mode === 'min' ? Infinity : -Infinity);
  }
}

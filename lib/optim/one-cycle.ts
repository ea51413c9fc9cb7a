// OneCycleLR: the 1cycle policy (warm up to maxLr, anneal far below the start) stepped once per batch, PyTorch's formula; a fit callback or stepped by hand.
import type { HasLearningRate } from './schedules';
import { isOptimizerLike, type ScheduleContext } from './plateau';
import { checkNonNegativeInt, checkNumber, checkOneOf, checkOptions, checkPositiveInt, describe, invalid } from '../validate';

/** Options of optim.OneCycleLR: maxLr, totalSteps (or epochs x stepsPerEpoch), pctStart, anneal strategy and the initial / final divisors. */
export interface OneCycleLROptions {
  /** Peak learning rate, reached after pctStart of the steps. */
  maxLr: number;
  /** Steps in the cycle. Or give epochs and stepsPerEpoch; as a fit callback, default epochs x batches per epoch of the run. */
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  /** Fraction of the steps spent rising to maxLr. Default 0.3. */
  pctStart?: number;
  /** 'cos' (default) or 'linear' interpolation within each phase. */
  anneal?: 'cos' | 'linear';
  /** The first lr is maxLr / divFactor. Default 25. */
  divFactor?: number;
  /** The last lr is maxLr / divFactor / finalDivFactor. Default 1e4. */
  finalDivFactor?: number;
}

const ONE_CYCLE_OPTIONS = ['maxLr', 'totalSteps', 'epochs', 'stepsPerEpoch', 'pctStart', 'anneal', 'divFactor', 'finalDivFactor'] as const;

/**
 * The 1cycle learning-rate policy (Smith & Topin), as torch.optim.lr_scheduler.OneCycleLR computes
 * it (without momentum cycling): from maxLr / divFactor up to maxLr over the first pctStart of the
 * steps, then down to maxLr / divFactor / finalDivFactor at step totalSteps - 1. Step it once per
 * batch. As a fit callback (`callbacks: [new optim.OneCycleLR({ maxLr: 0.01 })]`) it drives fit's
 * optimizer, takes totalSteps from the run (epochs x batches per epoch) and steps after each batch;
 * a run resumed at initialEpoch continues the same curve.
 */
export class OneCycleLR {
  readonly maxLr: number;
  /** The lr at step 0: maxLr / divFactor. */
  readonly initialLr: number;
  /** The lr at the last step: initialLr / finalDivFactor. */
  readonly minLr: number;
  readonly pctStart: number;
  readonly anneal: 'cos' | 'linear';
  /** Steps in the cycle (null until a fit callback learns it from the run). */
  totalSteps: number | null;
  optimizer: HasLearningRate | null;
  /** Number of step() calls so far. */
  t = 0;
  private readonly fromRun: boolean;

  /**
   * Creates the schedule, on an optimizer (options second) or, as a fit callback, from options alone.
   * @param optimizer the optimizer whose lr it sets, or (as a fit callback) the options.
   * @param options maxLr (> 0, required), totalSteps or epochs with stepsPerEpoch (as a fit callback: default from the run), pctStart (default 0.3, in [0, 1]), anneal ('cos' default, or 'linear'), divFactor (default 25), finalDivFactor (default 1e4).
   * @throws Error when options are missing or follow something that is not an optimizer, an option is unknown or out of range, maxLr is missing, both totalSteps and epochs/stepsPerEpoch are given, only one of epochs and stepsPerEpoch is given, or an optimizer is given without the step count.
   * @example
   * ```ts
   * await fit(model, data, { epochs: 5, optimizer: 'sgd', lr: 0.01, callbacks: [new optim.OneCycleLR({ maxLr: 0.1 })] });
   * ```
   */
  constructor(optimizer: HasLearningRate | OneCycleLROptions, options?: OneCycleLROptions) {
    const op = 'OneCycleLR';
    let opts: OneCycleLROptions;
    if (isOptimizerLike(optimizer)) {
      this.optimizer = optimizer;
      if (options === undefined) throw new Error(`${op}: options { maxLr, totalSteps } are required after the optimizer`);
      opts = options;
    } else {
      if (options !== undefined) throw new Error(`${op}: the first argument must be an optimizer when options follow it, got ${describe(optimizer)}`);
      this.optimizer = null;
      opts = optimizer;
    }
    if (opts === undefined) throw new Error(`${op}: options { maxLr } are required`);
    const o = checkOptions(op, opts, ONE_CYCLE_OPTIONS);
    if (o.maxLr === undefined) throw new Error(`${op}: maxLr is required (the peak learning rate)`);
    this.maxLr = checkNumber(op, 'maxLr', o.maxLr, { above: 0 });
    const divFactor = o.divFactor === undefined ? 25 : checkNumber(op, 'divFactor', o.divFactor, { above: 0 });
    const finalDivFactor = o.finalDivFactor === undefined ? 1e4 : checkNumber(op, 'finalDivFactor', o.finalDivFactor, { above: 0 });
    this.initialLr = this.maxLr / divFactor;
    this.minLr = this.initialLr / finalDivFactor;
    this.pctStart = o.pctStart === undefined ? 0.3 : checkNumber(op, 'pctStart', o.pctStart, { min: 0, max: 1 });
    this.anneal = o.anneal === undefined ? 'cos' : checkOneOf(op, 'anneal', o.anneal, ['cos', 'linear'] as const);
    const byEpochs = o.epochs !== undefined || o.stepsPerEpoch !== undefined;
    if (o.totalSteps !== undefined && byEpochs) throw new Error(`${op}: give totalSteps, or epochs with stepsPerEpoch, not both`);
    if (o.totalSteps !== undefined) {
      this.totalSteps = checkPositiveInt(op, 'totalSteps', o.totalSteps);
    } else if (byEpochs) {
      if (o.epochs === undefined || o.stepsPerEpoch === undefined) throw new Error(`${op}: epochs and stepsPerEpoch go together (or give totalSteps)`);
      this.totalSteps = checkPositiveInt(op, 'epochs', o.epochs) * checkPositiveInt(op, 'stepsPerEpoch', o.stepsPerEpoch);
    } else {
      if (this.optimizer !== null) throw new Error(`${op}: give totalSteps, or epochs with stepsPerEpoch (only a fit callback can take them from the run)`);
      this.totalSteps = null;
    }
    this.fromRun = this.totalSteps === null;
    if (this.optimizer !== null) this.optimizer.lr = this.lrAt(0);
  }

  /**
   * The learning rate after t steps: rising from initialLr to maxLr until step pctStart * totalSteps - 1, then
   * falling to minLr at step totalSteps - 1 (cosine or linear), held there after.
   * @param t the step count, from 0.
   * @returns the learning rate.
   * @throws Error when totalSteps is not known yet (a fit callback built without it, before fit starts).
   * @example new optim.OneCycleLR(opt, { maxLr: 0.1, totalSteps: 100 }).lrAt(0) // 0.004 (maxLr / 25)
   */
  lrAt(t: number): number {
    const total = this.totalSteps;
    if (total === null) throw new Error('OneCycleLR: totalSteps is not known yet (it is set when fit starts)');
    const interpolate = (from: number, to: number, pct: number): number =>
      this.anneal === 'cos' ? to + ((from - to) / 2) * (Math.cos(Math.PI * pct) + 1) : (to - from) * pct + from;
    const peakStep = this.pctStart * total - 1; // PyTorch's end of the rising phase (may be fractional)
    if (t <= peakStep) return interpolate(this.initialLr, this.maxLr, peakStep <= 0 ? 1 : t / peakStep);
    const span = total - 1 - peakStep;
    return interpolate(this.maxLr, this.minLr, span <= 0 ? 1 : Math.min((t - peakStep) / span, 1));
  }

  /**
   * Advances one step and sets the optimizer's lr; throws past totalSteps (as PyTorch does).
   * @returns the new learning rate.
   * @throws Error when the schedule has no optimizer (built from options alone and not yet bound by fit), or it
   * would step past totalSteps.
   * @example sched.step(); // after each batch's opt.step()
   */
  step(): number {
    const opt = this.optimizer;
    if (opt === null) throw new Error('OneCycleLR.step: no optimizer (pass one to the constructor, or use it as a fit callback)');
    const total = this.totalSteps as number;
    if (this.t + 1 > total) throw new Error(`OneCycleLR.step: stepped ${this.t + 1} times, past totalSteps = ${total}`);
    this.t++;
    opt.lr = this.lrAt(this.t);
    return opt.lr;
  }

  /** The current learning rate. */
  get lr(): number {
    return this.lrAt(this.t);
  }

  /**
   * Fit hook: binds fit's optimizer, takes totalSteps from the run if not given, and starts at initialEpoch's first step.
   * @param ctx the run: optimizer, epochs, initialEpoch and stepsPerEpoch (batches per epoch).
   * @throws Error when the schedule was built on another optimizer than fit's, or its totalSteps is fewer than
   * epochs x stepsPerEpoch.
   * @example await fit(model, data, { epochs: 5, callbacks: [new optim.OneCycleLR({ maxLr: 0.1 })] }); // fit calls the hooks
   */
  onTrainBegin(ctx: ScheduleContext): void {
    if (this.optimizer === null) this.optimizer = ctx.optimizer;
    else if (this.optimizer !== ctx.optimizer) {
      throw new Error('OneCycleLR: it was built on a different optimizer than the one fit trains (pass that optimizer to fit, or build it without one)');
    }
    const runSteps = ctx.epochs * ctx.stepsPerEpoch;
    if (this.fromRun) this.totalSteps = runSteps;
    else if ((this.totalSteps as number) < runSteps) {
      throw new Error(
        `OneCycleLR: totalSteps ${this.totalSteps} is fewer than the ${runSteps} steps fit will take ` +
          `(${ctx.epochs} epochs x ${ctx.stepsPerEpoch} batches); leave it out to use the run's length`,
      );
    }
    this.t = ctx.initialEpoch * ctx.stepsPerEpoch;
    this.optimizer.lr = this.lrAt(this.t);
  }

  /**
   * Fit hook: one step per batch.
   * @example await fit(model, data, { callbacks: [sched] }); // steps sched after every batch
   */
  onBatchEnd(): void {
    this.step();
  }

  /**
   * The schedule's position, to save with a checkpoint and restore with loadStateDict.
   * @returns t (steps taken) and totalSteps (null until known).
   * @example const saved = sched.stateDict(); // later: sched.loadStateDict(saved)
   */
  stateDict(): { t: number; totalSteps: number | null } {
    return { t: this.t, totalSteps: this.totalSteps };
  }

  /**
   * Restores stateDict() and sets the optimizer's lr to match.
   * @param sd `{ t, totalSteps }` as stateDict() returned it (totalSteps null or absent keeps the current one).
   * @throws Error when sd is not an object, t is not a non-negative integer or exceeds totalSteps, or totalSteps
   * is given and is not a positive integer.
   * @example sched.loadStateDict(saved.schedule);
   */
  loadStateDict(sd: { t: number; totalSteps?: number | null }): void {
    const op = 'OneCycleLR.loadStateDict';
    if (sd === null || typeof sd !== 'object') invalid(op, 'the state dict', 'an object { t, totalSteps } as stateDict() returns', sd);
    const total = sd.totalSteps === undefined || sd.totalSteps === null ? this.totalSteps : checkPositiveInt(op, 'totalSteps', sd.totalSteps);
    const t = checkNonNegativeInt(op, 't (the step counter)', sd.t);
    if (total !== null && t > total) invalid(op, 't (the step counter)', `at most totalSteps = ${total}`, t);
    this.totalSteps = total;
    this.t = t;
    if (this.optimizer !== null && this.totalSteps !== null) this.optimizer.lr = this.lrAt(this.t);
  }
}

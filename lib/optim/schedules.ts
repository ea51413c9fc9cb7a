// Learning-rate schedules (StepLR, ExponentialLR, CosineAnnealingLR, LinearWarmup) that set optimizer.lr.
import type { Optimizer } from './base';
import { checkNonNegativeInt, checkNumber, checkOptions, checkPositiveInt, invalid, isPlainObject } from '../validate';

/** Anything with a settable learning rate. */
export interface HasLearningRate {
  lr: number;
}

/**
 * A schedule computes lr as a pure function of a step counter t (starting at 0) and the base lr
 * (the optimizer's lr when the schedule was created). Call step() once per epoch or once per
 * batch: t counts whichever you choose, and the lengths you pass (stepSize, tMax, warmupSteps)
 * are in the same unit. Creating a schedule sets lr to lrAt(0).
 */
export abstract class LRSchedule {
  readonly optimizer: HasLearningRate;
  readonly baseLr: number;
  /** Number of step() calls so far. */
  t = 0;

  /**
   * The base constructor: takes the optimizer's current lr as the base (subclasses then set lr to lrAt(0)).
   * @param optimizer the optimizer whose lr the schedule sets (any object with a numeric lr).
   * @throws Error when optimizer is not an object, or its lr is not a finite number >= 0.
   * @example class Halving extends optim.LRSchedule { constructor(opt) { super(opt); this.start(); } lrAt(t) { return this.baseLr / 2 ** t; } }
   */
  constructor(optimizer: HasLearningRate | Optimizer) {
    const where = new.target.name;
    if (optimizer === null || typeof optimizer !== 'object') invalid(where, 'optimizer', 'an optimizer (an object with a numeric lr)', optimizer);
    this.optimizer = optimizer;
    this.baseLr = checkNumber(where, 'the optimizer\'s lr', optimizer.lr, { min: 0 });
  }

  /**
   * The learning rate after t steps (a pure function of t and baseLr).
   * @param t the step count, from 0.
   * @returns the learning rate.
   * @example sched.lrAt(10) // the lr 10 steps in, without stepping
   */
  abstract lrAt(t: number): number;

  /**
   * Advances one step and updates the optimizer's lr; returns the new lr.
   * @example for (let epoch = 0; epoch < 30; epoch++) { trainOneEpoch(); sched.step(); }
   */
  step(): number {
    this.t++;
    this.optimizer.lr = this.lrAt(this.t);
    return this.optimizer.lr;
  }

  /** Current learning rate. */
  get lr(): number {
    return this.lrAt(this.t);
  }

  /**
   * The schedule's position, to save with a checkpoint and restore with loadStateDict.
   * @returns t (steps taken) and baseLr.
   * @example const saved = sched.stateDict(); // later: sched.loadStateDict(saved)
   */
  stateDict(): { t: number; baseLr: number } {
    return { t: this.t, baseLr: this.baseLr };
  }

  /**
   * Restores the step counter (and sets the optimizer's lr accordingly).
   * @param sd `{ t }` as stateDict() returned it (baseLr, if present, is ignored: the base is this schedule's).
   * @throws Error when sd is not a plain object or t is not a non-negative integer.
   * @example sched.loadStateDict(saved.schedule);
   */
  loadStateDict(sd: { t: number }): void {
    const where = `${this.constructor.name}.loadStateDict`;
    if (!isPlainObject(sd)) invalid(where, 'the state dict', 'an object { t } as stateDict() returns', sd);
    this.t = checkNonNegativeInt(where, 't (the step counter)', sd.t);
    this.optimizer.lr = this.lrAt(this.t);
  }

  protected start(): void {
    this.optimizer.lr = this.lrAt(0);
  }
}

function positive(op: string, name: string, v: unknown): number {
  return checkNumber(op, name, v, { above: 0 });
}

/** A schedule's options object: a plain object with only the listed keys. */
function scheduleOptions<T extends object>(op: string, opts: T, keys: readonly string[]): T {
  if (opts === undefined) invalid(op, 'options', `an object with ${keys.map((k) => `'${k}'`).join(', ')}`, opts);
  return checkOptions(op, opts, keys);
}

/** lr = base * gamma^floor(t / stepSize). */
export class StepLR extends LRSchedule {
  /** Steps between two decays. */
  readonly stepSize: number;
  /** Factor of each decay (default 0.1). */
  readonly gamma: number;
  /**
   * Creates the schedule and sets the optimizer's lr to the step-0 value.
   * @param optimizer the optimizer whose lr it sets (its lr at construction is the base).
   * @param opts stepSize (steps between decays, a positive integer, required), gamma (factor of each decay, default 0.1, > 0).
   * @throws Error when optimizer has no numeric lr >= 0, an option is unknown, stepSize is not a positive integer, or gamma is not above 0.
   * @example
   * ```ts
   * const sched = new optim.StepLR(opt, { stepSize: 10, gamma: 0.5 }); // call sched.step() once per epoch
   * ```
   */
  constructor(optimizer: HasLearningRate, opts: { stepSize: number; gamma?: number }) {
    super(optimizer);
    const { stepSize, gamma } = scheduleOptions('StepLR', opts, ['stepSize', 'gamma']);
    this.stepSize = checkPositiveInt('StepLR', 'stepSize', stepSize);
    this.gamma = positive('StepLR', 'gamma', gamma ?? 0.1);
    this.start();
  }
  /**
   * baseLr * gamma^floor(t / stepSize).
   * @param t the step count, from 0.
   * @returns the learning rate.
   * @example new optim.StepLR(opt, { stepSize: 10 }).lrAt(25) // opt's lr at creation * 0.01
   */
  override lrAt(t: number): number {
    return this.baseLr * Math.pow(this.gamma, Math.floor(t / this.stepSize));
  }
}

/** lr = base * gamma^t. */
export class ExponentialLR extends LRSchedule {
  readonly gamma: number;
  /**
   * Creates the schedule and sets the optimizer's lr to the step-0 value.
   * @param optimizer the optimizer whose lr it sets (its lr at construction is the base).
   * @param opts gamma (the factor per step, > 0, required).
   * @throws Error when optimizer has no numeric lr >= 0, an option is unknown, or gamma is not above 0.
   * @example
   * ```ts
   * const sched = new optim.ExponentialLR(opt, { gamma: 0.95 });
   * ```
   */
  constructor(optimizer: HasLearningRate, opts: { gamma: number }) {
    super(optimizer);
    this.gamma = positive('ExponentialLR', 'gamma', scheduleOptions('ExponentialLR', opts, ['gamma']).gamma);
    this.start();
  }
  /**
   * baseLr * gamma^t.
   * @param t the step count, from 0.
   * @returns the learning rate.
   * @example new optim.ExponentialLR(opt, { gamma: 0.9 }).lrAt(2) // base lr * 0.81
   */
  override lrAt(t: number): number {
    return this.baseLr * Math.pow(this.gamma, t);
  }
}

/**
 * lr = etaMin + (base - etaMin) (1 + cos(pi t / tMax)) / 2 for t <= tMax, and etaMin afterwards
 * (PyTorch's closed form, held at the minimum instead of rising again).
 */
export class CosineAnnealingLR extends LRSchedule {
  readonly tMax: number;
  readonly etaMin: number;
  /**
   * Creates the schedule and sets the optimizer's lr to the step-0 value.
   * @param optimizer the optimizer whose lr it sets (its lr at construction is the base).
   * @param opts tMax (steps to the minimum, a positive integer, required), etaMin (the minimum lr, default 0, >= 0).
   * @throws Error when optimizer has no numeric lr >= 0, an option is unknown, tMax is not a positive integer, or etaMin is below 0.
   * @example
   * ```ts
   * const sched = new optim.CosineAnnealingLR(opt, { tMax: 100, etaMin: 1e-5 });
   * ```
   */
  constructor(optimizer: HasLearningRate, opts: { tMax: number; etaMin?: number }) {
    super(optimizer);
    const o = scheduleOptions('CosineAnnealingLR', opts, ['tMax', 'etaMin']);
    this.tMax = checkPositiveInt('CosineAnnealingLR', 'tMax', o.tMax);
    this.etaMin = o.etaMin === undefined ? 0 : checkNumber('CosineAnnealingLR', 'etaMin', o.etaMin, { min: 0 });
    this.start();
  }
  /**
   * etaMin + (baseLr - etaMin) * (1 + cos(pi * t / tMax)) / 2 for t < tMax; etaMin from tMax on.
   * @param t the step count, from 0.
   * @returns the learning rate.
   * @example new optim.CosineAnnealingLR(opt, { tMax: 100 }).lrAt(50) // (base lr + etaMin) / 2
   */
  override lrAt(t: number): number {
    if (t >= this.tMax) return this.etaMin;
    return this.etaMin + ((this.baseLr - this.etaMin) * (1 + Math.cos((Math.PI * t) / this.tMax))) / 2;
  }
}

/**
 * Linear warmup from base * startFactor to base over warmupSteps steps, then hands over to an
 * optional schedule (which then sees t - warmupSteps), else stays at base.
 */
export class LinearWarmup extends LRSchedule {
  readonly warmupSteps: number;
  readonly startFactor: number;
  readonly after: LRSchedule | null;
  /**
   * Creates the schedule and sets the optimizer's lr to the step-0 value.
   * @param optimizer the optimizer whose lr it sets.
   * @param opts warmupSteps (a positive integer, required), startFactor (the first lr as a fraction of base, in [0, 1], default 0), after (a schedule of the same optimizer to hand over to; default: stay at base).
   * @throws Error when optimizer has no numeric lr >= 0, an option is unknown, warmupSteps is not a positive integer, startFactor is outside [0, 1], or after is not a schedule or drives another optimizer.
   * @example
   * ```ts
   * const sched = new optim.LinearWarmup(opt, { warmupSteps: 500, after: new optim.CosineAnnealingLR(opt, { tMax: 10_000 }) });
   * ```
   */
  constructor(optimizer: HasLearningRate, opts: { warmupSteps: number; startFactor?: number; after?: LRSchedule }) {
    super(optimizer);
    const o = scheduleOptions('LinearWarmup', opts, ['warmupSteps', 'startFactor', 'after']);
    this.warmupSteps = checkPositiveInt('LinearWarmup', 'warmupSteps', o.warmupSteps);
    this.startFactor = o.startFactor === undefined ? 0 : checkNumber('LinearWarmup', 'startFactor', o.startFactor, { min: 0, max: 1 });
    if (o.after !== undefined && !(o.after instanceof LRSchedule)) invalid('LinearWarmup', 'after', 'a schedule (StepLR, CosineAnnealingLR, ...)', o.after);
    this.after = o.after ?? null;
    if (this.after && this.after.optimizer !== optimizer) {
      throw new Error('LinearWarmup: the wrapped schedule must drive the same optimizer');
    }
    this.start();
  }
  /**
   * Linear warmup: base * (startFactor + (1 - startFactor) * t / warmupSteps) for t < warmupSteps; then the
   * wrapped schedule at t - warmupSteps (or the base lr without one). The base is the wrapped schedule's baseLr
   * when there is one.
   * @param t the step count, from 0.
   * @returns the learning rate.
   * @example new optim.LinearWarmup(opt, { warmupSteps: 10 }).lrAt(5) // half the base lr (startFactor default 0)
   */
  override lrAt(t: number): number {
    const base = this.after ? this.after.baseLr : this.baseLr;
    if (t < this.warmupSteps) return base * (this.startFactor + ((1 - this.startFactor) * t) / this.warmupSteps);
    return this.after ? this.after.lrAt(t - this.warmupSteps) : base;
  }
}

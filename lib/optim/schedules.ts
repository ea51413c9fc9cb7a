// Learning-rate schedules (StepLR, ExponentialLR, CosineAnnealingLR, LinearWarmup) that set optimizer.lr.
import type { Optimizer } from './optimizer';

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

  constructor(optimizer: HasLearningRate | Optimizer) {
    this.optimizer = optimizer;
    this.baseLr = optimizer.lr;
  }

  /** The learning rate after t steps. */
  abstract lrAt(t: number): number;

  /** Advances one step and updates the optimizer's lr; returns the new lr. */
  step(): number {
    this.t++;
    this.optimizer.lr = this.lrAt(this.t);
    return this.optimizer.lr;
  }

  /** Current learning rate. */
  get lr(): number {
    return this.lrAt(this.t);
  }

  stateDict(): { t: number; baseLr: number } {
    return { t: this.t, baseLr: this.baseLr };
  }

  /** Restores the step counter (and sets the optimizer's lr accordingly). */
  loadStateDict(sd: { t: number }): void {
    if (!Number.isInteger(sd.t) || sd.t < 0) throw new Error(`${this.constructor.name}.loadStateDict: bad step counter ${String(sd.t)}`);
    this.t = sd.t;
    this.optimizer.lr = this.lrAt(this.t);
  }

  protected start(): void {
    this.optimizer.lr = this.lrAt(0);
  }
}

function positiveInt(op: string, name: string, v: unknown): number {
  if (!Number.isInteger(v) || (v as number) < 1) throw new Error(`${op}: ${name} must be a positive integer, got ${String(v)}`);
  return v as number;
}

function positive(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new Error(`${op}: ${name} must be a positive number, got ${String(v)}`);
  return v;
}

/** lr = base * gamma^floor(t / stepSize). */
export class StepLR extends LRSchedule {
  readonly stepSize: number;
  readonly gamma: number;
  constructor(optimizer: HasLearningRate, opts: { stepSize: number; gamma?: number }) {
    super(optimizer);
    this.stepSize = positiveInt('StepLR', 'stepSize', opts.stepSize);
    this.gamma = positive('StepLR', 'gamma', opts.gamma ?? 0.1);
    this.start();
  }
  override lrAt(t: number): number {
    return this.baseLr * Math.pow(this.gamma, Math.floor(t / this.stepSize));
  }
}

/** lr = base * gamma^t. */
export class ExponentialLR extends LRSchedule {
  readonly gamma: number;
  constructor(optimizer: HasLearningRate, opts: { gamma: number }) {
    super(optimizer);
    this.gamma = positive('ExponentialLR', 'gamma', opts.gamma);
    this.start();
  }
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
  constructor(optimizer: HasLearningRate, opts: { tMax: number; etaMin?: number }) {
    super(optimizer);
    this.tMax = positiveInt('CosineAnnealingLR', 'tMax', opts.tMax);
    const etaMin = opts.etaMin ?? 0;
    if (typeof etaMin !== 'number' || !(etaMin >= 0)) throw new Error(`CosineAnnealingLR: etaMin must be >= 0, got ${String(etaMin)}`);
    this.etaMin = etaMin;
    this.start();
  }
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
  constructor(optimizer: HasLearningRate, opts: { warmupSteps: number; startFactor?: number; after?: LRSchedule }) {
    super(optimizer);
    this.warmupSteps = positiveInt('LinearWarmup', 'warmupSteps', opts.warmupSteps);
    const f = opts.startFactor ?? 0;
    if (typeof f !== 'number' || !(f >= 0 && f <= 1)) throw new Error(`LinearWarmup: startFactor must be in [0, 1], got ${String(f)}`);
    this.startFactor = f;
    this.after = opts.after ?? null;
    if (this.after && this.after.optimizer !== optimizer) {
      throw new Error('LinearWarmup: the wrapped schedule must drive the same optimizer');
    }
    this.start();
  }
  override lrAt(t: number): number {
    const base = this.after ? this.after.baseLr : this.baseLr;
    if (t < this.warmupSteps) return base * (this.startFactor + ((1 - this.startFactor) * t) / this.warmupSteps);
    return this.after ? this.after.lrAt(t - this.warmupSteps) : base;
  }
}

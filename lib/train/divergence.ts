// Divergence watch for fit(): a loss that explodes, or a model collapsed to one class with accuracy at chance.
import type { EpochLogs, TrainingWarning } from './types';

/** An epoch loss this many times the first batch's loss counts as exploded. */
export const LOSS_EXPLOSION_FACTOR = 100;
/** Epochs in a row of collapse (accuracy at chance, one class predicted) that raise 'accuracyAtChance'. */
export const CHANCE_EPOCHS = 3;
/** Accuracy within this much (absolute) of the majority-class share counts as chance level. */
export const CHANCE_MARGIN = 0.05;
/** A model predicting one class for at least this share of the sampled rows counts as collapsed. */
export const COLLAPSE_SHARE = 0.95;

/** Classification facts the monitor needs to judge chance level. */
export interface ChanceLevel {
  /** Share of the most common training label (the accuracy of always guessing it). */
  majorityShare: number;
  /** The share of sampled training rows the model assigns to its most predicted class, and that class. */
  dominantPrediction(): { share: number; cls: number };
}

/**
 * Watches the training losses and accuracy. Each kind of warning is raised once per fit call:
 * - 'lossExploded': an epoch's mean training loss above LOSS_EXPLOSION_FACTOR x the loss of the
 *   run's first batch (the untrained model's);
 * - 'accuracyAtChance': CHANCE_EPOCHS epochs in a row in which the training accuracy is at most
 *   majorityShare + CHANCE_MARGIN and the model predicts one class for >= COLLAPSE_SHARE of (up to
 *   512) training rows: its output no longer depends on the input. A slow but healthy start still
 *   predicts many classes, so it is not flagged.
 */
export class DivergenceMonitor {
  private firstLoss: number | null = null;
  private chanceRun = 0;
  private readonly raised = new Set<TrainingWarning['code']>();

  constructor(private readonly chance: ChanceLevel | null) {}

  /** Records a batch loss (only the run's first one is kept). */
  batch(loss: number): void {
    if (this.firstLoss === null) this.firstLoss = loss;
  }

  /** Judges an epoch; returns the warnings it raises (at most one of each kind per run). */
  epoch(epoch: number, logs: EpochLogs): TrainingWarning[] {
    const out: TrainingWarning[] = [];
    const first = this.firstLoss;
    if (!this.raised.has('lossExploded') && first !== null && first > 0 && logs.loss > LOSS_EXPLOSION_FACTOR * first) {
      out.push({
        epoch, code: 'lossExploded',
        message: `training diverged: the loss of epoch ${epoch + 1} (${fmt(logs.loss)}) is ${fmt(logs.loss / first)} times ` +
          `the first batch's (${fmt(first)}); lower the learning rate (it is ${fmt(logs.lr)}) or pass clipGradNorm`,
      });
    }
    const c = this.chance;
    if (c !== null && logs.accuracy !== undefined && !this.raised.has('accuracyAtChance')) {
      const atChance = logs.accuracy <= c.majorityShare + CHANCE_MARGIN;
      const dominant = atChance ? c.dominantPrediction() : null;
      this.chanceRun = dominant !== null && dominant.share >= COLLAPSE_SHARE ? this.chanceRun + 1 : 0;
      if (this.chanceRun >= CHANCE_EPOCHS && dominant !== null) {
        out.push({
          epoch, code: 'accuracyAtChance',
          message: `training is not learning: for ${this.chanceRun} epochs the model has predicted class ${dominant.cls} for ` +
            `${pct(dominant.share)} of the sampled rows, whatever the input, and its accuracy (${pct(logs.accuracy)} at ` +
            `epoch ${epoch + 1}) is at chance level (the most common class is ${pct(c.majorityShare)} of the rows); the ` +
            `learning rate (${fmt(logs.lr)}) is probably too high`,
        });
      }
    }
    for (const w of out) this.raised.add(w.code);
    return out;
  }
}

function fmt(v: number): string {
  return Number(v.toPrecision(3)).toString();
}

function pct(v: number): string {
  return `${(v * 100).toFixed(1)}%`;
}

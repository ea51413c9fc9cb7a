// Divergence watch for fit(): a loss that explodes, or a model collapsed to a constant output after a loss spike.
import type { EpochLogs, TrainingWarning } from './types';
import type { OutputProfile } from './checks';

/** An epoch loss this many times the first batch's loss counts as exploded ('lossExploded'). */
export const LOSS_EXPLOSION_FACTOR = 100;
/** An epoch loss this many times the first batch's counts as a spike (a precondition of 'accuracyAtChance'). */
export const LOSS_SPIKE_FACTOR = 2;
/** Epochs in a row of collapse that raise 'accuracyAtChance'. */
export const COLLAPSE_EPOCHS = 2;
/** Accuracy within this much (absolute) of the majority-class share counts as chance level. */
export const CHANCE_MARGIN = 0.05;
/** A model predicting one class for at least this share of the sampled rows... */
export const COLLAPSE_SHARE = 0.95;
/** ...with outputs that vary across rows by at most this (relative) spread has collapsed. */
export const COLLAPSE_SPREAD = 0.1;

/** Classification facts the monitor needs to judge chance level. */
export interface ChanceLevel {
  /** Share of the most common training label (the accuracy of always guessing it). */
  majorityShare: number;
  /** How the model's outputs on (up to 512) training rows depend on the input, measured when asked. */
  profile(): OutputProfile;
}

/**
 * Watches the training losses and accuracy. Each kind of warning is raised once per fit call:
 * - 'lossExploded': an epoch's mean training loss above LOSS_EXPLOSION_FACTOR x the loss of the
 *   run's first batch (the untrained model's);
 * - 'accuracyAtChance': after an epoch loss above LOSS_SPIKE_FACTOR x the first batch's, COLLAPSE_EPOCHS
 *   epochs in a row in which the training accuracy is at most majorityShare + CHANCE_MARGIN and the
 *   model's output no longer depends on its input: one class for >= COLLAPSE_SHARE of (up to 512)
 *   training rows, and every output's range across those rows <= COLLAPSE_SPREAD x (1 + its
 *   magnitude). Too large a step kills the hidden units and leaves only the biases; a slow but
 *   healthy start has no spike and still varies with its input, so it is not flagged.
 */
export class DivergenceMonitor {
  private firstLoss: number | null = null;
  private spiked = false;
  private collapsedRun = 0;
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
    if (first !== null && first > 0 && logs.loss > LOSS_SPIKE_FACTOR * first) this.spiked = true;
    if (!this.raised.has('lossExploded') && first !== null && first > 0 && logs.loss > LOSS_EXPLOSION_FACTOR * first) {
      out.push({
        epoch, code: 'lossExploded',
        message: `training diverged: the loss of epoch ${epoch + 1} (${fmt(logs.loss)}) is ${fmt(logs.loss / first)} times ` +
          `the first batch's (${fmt(first)}); lower the learning rate (it is ${fmt(logs.lr)}) or pass clipGradNorm`,
      });
    }
    const c = this.chance;
    if (c !== null && this.spiked && logs.accuracy !== undefined && !this.raised.has('accuracyAtChance')) {
      const p = logs.accuracy <= c.majorityShare + CHANCE_MARGIN ? c.profile() : null;
      const collapsed = p !== null && p.share >= COLLAPSE_SHARE && p.spread <= COLLAPSE_SPREAD;
      this.collapsedRun = collapsed ? this.collapsedRun + 1 : 0;
      if (this.collapsedRun >= COLLAPSE_EPOCHS && p !== null) {
        out.push({
          epoch, code: 'accuracyAtChance',
          message: `training diverged: after a loss spike the model's output no longer depends on its input ` +
            `(for ${this.collapsedRun} epochs it has predicted class ${p.cls} for ${pct(p.share)} of the sampled rows) ` +
            `and its accuracy (${pct(logs.accuracy)} at epoch ${epoch + 1}) is at chance level (the most common class ` +
            `is ${pct(c.majorityShare)} of the rows); lower the learning rate (it is ${fmt(logs.lr)})`,
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

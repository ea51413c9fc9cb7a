// Training checkpoints for fit(): a callback saving model + optimizer + epoch + history each epoch, and resuming from one.
import type { Callback, History, TrainContext, TrainableModel, TrainableOptimizer } from '../train/types';
import type { LayerConfig } from '../nn/config';
import type { Tensor } from '../tensor';
import { save, loadCheckpoint, SaveOptions, StatefulOptimizer } from './model-file';

/** The model shape checkpointing needs (nn.Module has it). */
interface CheckpointableModel {
  toConfig(): LayerConfig;
  namedParameters(): [string, Tensor][];
}

function asCheckpointable(model: TrainableModel, op: string): CheckpointableModel & TrainableModel {
  const m = model as TrainableModel & Partial<CheckpointableModel>;
  if (typeof m.toConfig !== 'function' || typeof m.namedParameters !== 'function') {
    throw new Error(`${op}: the model must be an nn.Module (needs toConfig() and namedParameters())`);
  }
  return m as CheckpointableModel & TrainableModel;
}

function asStateful(optimizer: TrainableOptimizer, op: string): StatefulOptimizer & { loadStateDict(sd: unknown): void } {
  const o = optimizer as TrainableOptimizer & { stateDict?: unknown; loadStateDict?: unknown };
  if (typeof o.stateDict !== 'function' || typeof o.loadStateDict !== 'function') {
    throw new Error(`${op}: the optimizer must provide stateDict() and loadStateDict()`);
  }
  return o as unknown as StatefulOptimizer & { loadStateDict(sd: unknown): void };
}

/**
 * A fit() callback that saves a resumable checkpoint into `dir` at the end of every epoch: weights,
 * optimizer state, epochs completed, history and the shuffle seed. Each save is crash-safe.
 */
export function checkpointCallback(dir: string, options: Pick<SaveOptions, 'metadata' | 'inputShape'> = {}): Callback {
  return {
    onTrainBegin(ctx: TrainContext): void {
      asCheckpointable(ctx.model, 'fit: checkpointDir');
      asStateful(ctx.optimizer, 'fit: checkpointDir');
    },
    onEpochEnd(epoch: number, _logs, ctx: TrainContext): void {
      const model = asCheckpointable(ctx.model, 'fit: checkpointDir');
      save(model, dir, {
        ...options,
        optimizer: asStateful(ctx.optimizer, 'fit: checkpointDir'),
        epoch: epoch + 1,
        history: ctx.history,
        trainingState: { seed: ctx.seed, epochs: ctx.epochs, batchSize: ctx.batchSize },
      });
    },
  };
}

/** What fit needs to continue from a checkpoint. */
export interface ResumeState {
  /** Epochs already completed: fit's initialEpoch. */
  epoch: number;
  /** The shuffle seed of the interrupted run (null if not recorded). */
  seed: number | null;
  history: History | null;
  /** Loads the saved optimizer state into fit's optimizer (same type and parameters). */
  restoreOptimizer(optimizer: TrainableOptimizer): void;
}

/**
 * Reads a checkpoint written by checkpointCallback (fit's checkpointDir) and copies its weights into
 * `model`, whose architecture must match. Returns the epoch, seed, history and an optimizer restorer.
 */
export function readResumeState(dir: string, model: TrainableModel): ResumeState {
  const target = asCheckpointable(model, 'fit: resumeFrom');
  const ck = loadCheckpoint(dir);
  const want = JSON.stringify(target.toConfig());
  const got = JSON.stringify(ck.info.architecture);
  if (want !== got) {
    throw new Error(`fit: resumeFrom '${dir}': the checkpoint's architecture ${got} differs from the model's ${want}`);
  }
  if (ck.optimizerState === null) throw new Error(`fit: resumeFrom '${dir}' holds a model without optimizer state (not a checkpoint)`);
  model.loadStateDict(Object.fromEntries(ck.model.namedParameters().map(([k, t]) => [k, t.data])));
  const seed = typeof ck.trainingState.seed === 'number' ? ck.trainingState.seed : null;
  const history = ck.history !== null && typeof ck.history === 'object' && Array.isArray((ck.history as History).epoch)
    ? (ck.history as History)
    : null;
  return {
    epoch: ck.epoch,
    seed,
    history,
    restoreOptimizer(optimizer: TrainableOptimizer): void {
      const o = asStateful(optimizer, 'fit: resumeFrom');
      try {
        o.loadStateDict(ck.optimizerState);
      } catch (err) {
        throw new Error(`fit: resumeFrom '${dir}': ${(err as Error).message}`);
      }
    },
  };
}

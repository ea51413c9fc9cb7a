// Training checkpoints for fit(): a callback saving model + optimizer + epoch + history each epoch, and resuming from one.
import type { Callback, History, TrainContext, TrainableModel, TrainableOptimizer } from '../train/types';
import type { LayerConfig } from '../nn/config';
import type { Tensor } from '../tensor';
import { Module } from '../nn/module';
import { Dropout, checkGeneratorState, type GeneratorState } from '../nn/dropout';
import { globalGenerator } from '../random';
import { save, loadCheckpoint, SaveOptions, StatefulOptimizer, JsonValue } from './model-file';

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

/** Every Dropout inside `model` with its dotted module path ("3", "1.2"). */
function dropoutLayers(model: unknown): [string, Dropout][] {
  const out: [string, Dropout][] = [];
  const walk = (m: Module, prefix: string): void => {
    if (m instanceof Dropout) out.push([prefix || '(model)', m]);
    for (const [name, child] of m.children()) walk(child, prefix ? `${prefix}.${name}` : name);
  };
  if (model instanceof Module) walk(model, '');
  return out;
}

/**
 * The random state training consumes besides the shuffle seed: each Dropout's own mask generator (null
 * when it draws from the global generator) and the global generator. Saved with each checkpoint so a
 * resumed run draws the same masks as an uninterrupted one.
 */
interface RandomState {
  global: GeneratorState;
  dropout: Record<string, GeneratorState | null>;
}

function randomStateOf(model: unknown): RandomState {
  return {
    global: globalGenerator().getState(),
    dropout: Object.fromEntries(dropoutLayers(model).map(([name, d]) => [name, d.generatorState()])),
  };
}

/**
 * Checks a saved random state against the model and returns the function that puts it back: each
 * Dropout's generator, and the global one when a Dropout draws from it.
 */
function randomStateRestorer(model: unknown, saved: unknown, where: string): () => void {
  const layers = dropoutLayers(model);
  if (saved === undefined) return () => undefined; // checkpoints written before the random state was saved
  const s = saved as Partial<RandomState> | null;
  if (s === null || typeof s !== 'object' || s.dropout === null || typeof s.dropout !== 'object') {
    throw new Error(`${where}: the saved random state is damaged (${JSON.stringify(saved)})`);
  }
  const names = Object.keys(s.dropout);
  if (names.length !== layers.length || layers.some(([n]) => !names.includes(n))) {
    throw new Error(`${where}: the checkpoint has random state for Dropout layers [${names.join(', ')}], the model has [${layers.map(([n]) => n).join(', ')}]`);
  }
  const states = layers.map(([n, d]) => {
    const st = s.dropout![n];
    return [d, st === null ? null : checkGeneratorState(st, `${where}: Dropout '${n}'`)] as const;
  });
  const global = checkGeneratorState(s.global, `${where}: global generator`);
  return () => {
    for (const [d, st] of states) d.setGeneratorState(st);
    if (states.some(([, st]) => st === null)) globalGenerator().setState(global);
  };
}

/**
 * A fit() callback that saves a resumable checkpoint into `dir` at the end of every epoch: weights,
 * optimizer state, epochs completed, history, the shuffle seed and the Dropout random state. Each save
 * is crash-safe. fit's checkpointDir option installs it; readResumeState reads it back.
 * @param dir the checkpoint directory (created or overwritten at each epoch end).
 * @param options metadata (strings stored in model.json) and inputShape (the model's input row shape), as save() takes them.
 * @returns the callback (onTrainBegin checks the model and optimizer; onEpochEnd saves). Its hooks throw when the
 * model is not an nn.Module or the optimizer has no stateDict/loadStateDict, and as save() does.
 * @example await fit(model, data, { epochs: 10, callbacks: [io.checkpointCallback('ckpt')] });
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
        trainingState: {
          seed: ctx.seed, epochs: ctx.epochs, batchSize: ctx.batchSize,
          random: randomStateOf(ctx.model) as unknown as JsonValue,
        },
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
 * Reads a checkpoint written by checkpointCallback (fit's checkpointDir) and copies its weights and
 * Dropout random state into `model`, whose architecture must match (the global generator's state is
 * restored too when a Dropout draws from it). Returns the epoch, seed, history and an optimizer restorer.
 * @param dir the checkpoint directory.
 * @param model the model to restore into: an nn.Module with the checkpoint's architecture (its toConfig()).
 * @returns epoch (epochs completed: fit's initialEpoch), seed (or null), history (or null) and
 * restoreOptimizer(optimizer), which loads the saved optimizer state (it throws when the optimizer's type or
 * parameters differ).
 * @throws Error when model is not an nn.Module, the directory is not a valid saved model (as load() checks), its
 * architecture differs from the model's, it has no optimizer state, or its random state does not fit the model's
 * Dropout layers.
 * @example const { epoch } = io.readResumeState('ckpt', model);
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
  const restoreRandom = randomStateRestorer(model, ck.trainingState.random, `fit: resumeFrom '${dir}'`);
  model.loadStateDict(Object.fromEntries(Object.entries(ck.model.stateDict()).map(([k, t]) => [k, t.data])));
  // The checkpoint's preprocessing (fit's standardize) comes back with the weights when the model has none.
  const m = model as { preprocessor?: unknown };
  if ('preprocessor' in m && m.preprocessor === null) m.preprocessor = ck.model.preprocessor;
  restoreRandom();
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

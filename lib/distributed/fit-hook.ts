// fit({ distributed }): what data-parallel training changes in fit (lib/train/fit.ts calls these and
// nothing else): rank 0's weights broadcast, each rank's rows per epoch, gradient all-reduce, the
// epoch's loss summed over ranks, and which ranks log and write checkpoints.
import * as fs from 'fs';
import * as path from 'path';
import type { Tensor } from '../tensor';
import type { Dataset } from '../data/dataset';
import type { TrainableModel } from '../train/types';
import { DistributedSampler } from './sampler';
import { GradientReducer, type ReducerStats } from './reducer';
import { group as currentGroup, type ProcessGroup } from './group';

/** fit's `distributed` option: true (the group of distributed.init), a group, or these settings. */
export type DistributedFitOption = boolean | ProcessGroup | DistributedFitSettings;

/** The object form of fit's distributed option. */
export interface DistributedFitSettings {
  /** Default: the group distributed.init() joined. */
  group?: ProcessGroup;
  /** Gradient bytes per all-reduce bucket. Default 1 MiB. */
  bucketBytes?: number;
  /** Every rank prints progress (default: rank 0 only). */
  logAllRanks?: boolean;
  /** Every rank writes checkpointDir (default: rank 0 only; give each rank its own directory). */
  checkpointAllRanks?: boolean;
  /** Called after every epoch with this rank's cumulative all-reduce counters (bytes, backward and wait time). */
  onStats?: (stats: ReducerStats) => void;
}

/** What every data-parallel run shares (fit on arrays, fit on a data.Dataset): the reducer, who logs and writes checkpoints, the epoch totals. */
export class DistributedTraining {
  readonly reducer: GradientReducer;
  readonly logs: boolean;
  readonly writesCheckpoints: boolean;

  constructor(readonly group: ProcessGroup, protected readonly settings: DistributedFitSettings, params: Tensor[], extras = 0) {
    this.reducer = new GradientReducer(params, group, settings.bucketBytes, extras);
    this.logs = group.rank === 0 || settings.logAllRanks === true;
    this.writesCheckpoints = group.rank === 0 || settings.checkpointAllRanks === true;
  }

  /**
   * Rank 0's values of `mine` (integers below 2^32, each sent as two exact 16-bit halves); throws naming
   * the first that differs on this rank, except those `adopt` says to take from rank 0.
   */
  protected agreeWithRank0(op: string, mine: number[], names: string[], adopt: (i: number) => boolean = () => false): number[] {
    const group = this.group;
    const halves = new Float32Array(mine.flatMap((v) => [Math.floor(v / 65536), v % 65536]));
    group.broadcast(halves, 0);
    return mine.map((v, i) => {
      const theirs = halves[2 * i] * 65536 + halves[2 * i + 1];
      if (theirs !== v && !adopt(i)) {
        throw new Error(`${op}: distributed ranks disagree on ${names[i]}: rank 0 has ${theirs}, rank ${group.rank} has ${v}; every rank must call ${op} with the same data and options`);
      }
      return theirs;
    });
  }

  get stats(): ReducerStats {
    return this.reducer.stats;
  }

  /**
   * At the end of an epoch: sums the epoch's loss totals over the ranks (so the logged loss is the whole
   * epoch's) and, given the model, broadcasts rank 0's buffers (BatchNorm running statistics, which each
   * rank otherwise gathers from its own batches), so every rank validates and checkpoints the same model.
   */
  reduceTotals(t: { lossSum: number; weightSum: number; seen: number }, model?: TrainableModel): void {
    const a = this.group.allreduce(new Float32Array([t.lossSum, t.weightSum, t.seen]));
    [t.lossSum, t.weightSum, t.seen] = [a[0], a[1], a[2]];
    if (model !== undefined) this.broadcastBuffers(model);
    this.settings.onStats?.({ ...this.reducer.stats });
  }

  private broadcastBuffers(model: TrainableModel): void {
    const params = new Set(this.reducer.params);
    const buffers = Object.values(model.stateDict()).filter((t) => !params.has(t));
    if (buffers.length === 0) return;
    const flat = new Float32Array(buffers.reduce((s, t) => s + t.size, 0));
    let at = 0;
    for (const t of buffers) { flat.set(t.data, at); at += t.size; }
    this.group.broadcast(flat, 0);
    at = 0;
    for (const t of buffers) {
      t.data.set(flat.subarray(at, at + t.size));
      t._version++;
      at += t.size;
    }
  }

  /** Writes (rank 0) or checks (resume) the world size beside a checkpoint: resuming needs the same one. */
  recordWorldSize(dir: string): void {
    if (this.group.rank !== 0) return;
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'distributed.json');
    fs.writeFileSync(`${file}.tmp`, JSON.stringify({ worldSize: this.group.worldSize }));
    fs.renameSync(`${file}.tmp`, file);
  }
}

/** The distributed side of one fit() run on in-memory rows. */
export class DistributedRun extends DistributedTraining {
  readonly sampler: DistributedSampler;
  /** The shuffle seed of every rank: rank 0's when fit was given none (each process drew its own). */
  readonly seed: number;

  constructor(group: ProcessGroup, settings: DistributedFitSettings, params: Tensor[], rows: number, seed: number, seedGiven: boolean, shuffle: boolean) {
    super(group, settings, params);
    seed = this.agree(rows, seed, seedGiven, shuffle);
    this.seed = seed;
    this.sampler = new DistributedSampler(rows, { rank: group.rank, worldSize: group.worldSize, seed, shuffle });
    this.reducer.broadcastParameters();
  }

  /** Rank 0's rows, seed and shuffle; throws when this rank's differ (a seed fit was not given is adopted). */
  private agree(rows: number, seed: number, seedGiven: boolean, shuffle: boolean): number {
    // Same rows, seed and shuffle on every rank, or the shards would overlap.
    const names = ['the number of training rows', 'the seed', 'shuffle'];
    return this.agreeWithRank0('fit', [rows, seed >>> 0, shuffle ? 1 : 0], names, (i) => i === 1 && !seedGiven)[1];
  }

  checkResume(dir: string): void {
    const file = path.join(dir, 'distributed.json');
    if (!fs.existsSync(file)) return;
    const saved = (JSON.parse(fs.readFileSync(file, 'utf8')) as { worldSize?: unknown }).worldSize;
    if (saved !== this.group.worldSize) {
      throw new Error(`fit: resumeFrom ${dir} was trained with worldSize ${String(saved)}, this run has ${this.group.worldSize}; resume with the same number of processes (the shards of every epoch depend on it)`);
    }
  }
}

/** The group and settings of fit's distributed option, or null when training runs in one process. */
function resolveOption(option: DistributedFitOption | undefined): { group: ProcessGroup; settings: DistributedFitSettings } | null {
  if (option === undefined || option === false) return null;
  let settings: DistributedFitSettings;
  if (option === true) settings = {};
  else if (typeof option === 'object' && option !== null && typeof (option as ProcessGroup).allreduce === 'function') settings = { group: option as ProcessGroup };
  else if (typeof option === 'object' && option !== null) settings = option as DistributedFitSettings;
  else throw new Error(`fit: distributed must be true, a process group or { group, bucketBytes, logAllRanks, checkpointAllRanks, onStats }, got ${JSON.stringify(option)}`);
  const g = settings.group ?? currentGroup();
  if (g === null) throw new Error('fit: distributed training needs a process group: call myelin.distributed.init() first (or start the script with `myelin run --nproc N`)');
  return { group: g, settings };
}

/** fit's distributed option resolved to a run, or null when training runs in one process. */
export function distributedRun(option: DistributedFitOption | undefined, params: Tensor[], rows: number, seed: number, seedGiven: boolean, shuffle: boolean): DistributedRun | null {
  const o = resolveOption(option);
  return o === null ? null : new DistributedRun(o.group, o.settings, params, rows, seed, seedGiven, shuffle);
}

/**
 * The distributed side of fit(model, dataset): every rank reads the same stream and keeps its share,
 * round-robin over batches (rank r trains on batches r, r + W, r + 2W, ... of batchSize rows), so step s
 * of all ranks together is batch s of one process with batchSize x W. The stream's length is unknown, so
 * each step's all-reduce carries one more float, each rank's "I have a batch for the next step": the
 * epoch ends after the step where that sum is 0, on every rank at once (a rank whose share ran out
 * first takes empty steps, weight 0, until then). With stepsPerEpoch every rank takes that many steps.
 */
export class DistributedStreamRun extends DistributedTraining {
  constructor(group: ProcessGroup, settings: DistributedFitSettings, params: Tensor[], checks: { batchSize: number; stepsPerEpoch: number; epochs: number; initialEpoch: number }) {
    super(group, settings, params, 1);
    const names = ['batchSize', 'stepsPerEpoch (0: none)', 'epochs', 'initialEpoch'];
    this.agreeWithRank0('fit', [checks.batchSize, checks.stepsPerEpoch, checks.epochs, checks.initialEpoch], names);
    this.reducer.broadcastParameters();
  }

  /** This rank's share of a dataset's elements: those at positions p with floor(p / per) % W == rank. */
  shard<T>(ds: Dataset<T>, per: number): Dataset<T> {
    const { rank, worldSize } = this.group;
    return worldSize === 1 ? ds : ds.filter((_e, i) => Math.floor(i / per) % worldSize === rank);
  }

  /** True when some rank has a batch: one small all-reduce (at the start of an epoch). */
  anyRank(has: boolean): boolean {
    return this.group.allreduce(new Float32Array([has ? 1 : 0]))[0] > 0;
  }

  /** After a step's backward: true when some rank said it has a batch for the next step. */
  get anyNext(): boolean {
    return this.reducer.extras[0] > 0;
  }
}

/** fit(model, dataset)'s distributed option resolved to a run, or null when training runs in one process. */
export function distributedStreamRun(option: DistributedFitOption | undefined, params: Tensor[], checks: ConstructorParameters<typeof DistributedStreamRun>[3]): DistributedStreamRun | null {
  const o = resolveOption(option);
  return o === null ? null : new DistributedStreamRun(o.group, o.settings, params, checks);
}

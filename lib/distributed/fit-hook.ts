// fit({ distributed }): what data-parallel training changes in fit (lib/train/fit.ts calls these and
// nothing else): rank 0's weights broadcast, each rank's rows per epoch, gradient all-reduce, the
// epoch's loss summed over ranks, and which ranks log and write checkpoints.
import * as fs from 'fs';
import * as path from 'path';
import type { Tensor } from '../tensor';
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

/** The distributed side of one fit() run. */
export class DistributedRun {
  readonly sampler: DistributedSampler;
  readonly reducer: GradientReducer;
  readonly logs: boolean;
  readonly writesCheckpoints: boolean;
  /** The shuffle seed of every rank: rank 0's when fit was given none (each process drew its own). */
  readonly seed: number;

  constructor(readonly group: ProcessGroup, private readonly settings: DistributedFitSettings, params: Tensor[], rows: number, seed: number, seedGiven: boolean, shuffle: boolean) {
    seed = this.agree(rows, seed, seedGiven, shuffle);
    this.seed = seed;
    this.sampler = new DistributedSampler(rows, { rank: group.rank, worldSize: group.worldSize, seed, shuffle });
    this.reducer = new GradientReducer(params, group, settings.bucketBytes);
    this.logs = group.rank === 0 || settings.logAllRanks === true;
    this.writesCheckpoints = group.rank === 0 || settings.checkpointAllRanks === true;
    this.reducer.broadcastParameters();
  }

  /** Rank 0's rows, seed and shuffle; throws when this rank's differ (a seed fit was not given is adopted). */
  private agree(rows: number, seed: number, seedGiven: boolean, shuffle: boolean): number {
    // Same rows, seed and shuffle on every rank, or the shards would overlap: rank 0's values, checked
    // before the first step (each integer as two exact 16-bit halves).
    const mine = [rows, seed >>> 0, shuffle ? 1 : 0];
    const group = this.group;
    const halves = new Float32Array(mine.flatMap((v) => [Math.floor(v / 65536), v % 65536]));
    group.broadcast(halves, 0);
    mine.forEach((v, i) => {
      const theirs = halves[2 * i] * 65536 + halves[2 * i + 1];
      if (i === 1 && !seedGiven) seed = theirs;
      else if (theirs !== v) {
        const what = ['the number of training rows', 'the seed', 'shuffle'][i];
        throw new Error(`fit: distributed ranks disagree on ${what}: rank 0 has ${theirs}, rank ${group.rank} has ${v}; every rank must call fit with the same data, seed and shuffle`);
      }
    });
    return seed;
  }

  get stats(): ReducerStats {
    return this.reducer.stats;
  }

  /** Sums the epoch's loss totals over the ranks (so the logged loss is the whole epoch's). */
  reduceTotals(t: { lossSum: number; weightSum: number; seen: number }): void {
    const a = this.group.allreduce(new Float32Array([t.lossSum, t.weightSum, t.seen]));
    [t.lossSum, t.weightSum, t.seen] = [a[0], a[1], a[2]];
    this.settings.onStats?.({ ...this.reducer.stats });
  }

  /** Writes (rank 0) or checks (resume) the world size beside a checkpoint: resuming needs the same one. */
  recordWorldSize(dir: string): void {
    if (this.group.rank !== 0) return;
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'distributed.json');
    fs.writeFileSync(`${file}.tmp`, JSON.stringify({ worldSize: this.group.worldSize }));
    fs.renameSync(`${file}.tmp`, file);
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

/** fit's distributed option resolved to a run, or null when training runs in one process. */
export function distributedRun(option: DistributedFitOption | undefined, params: Tensor[], rows: number, seed: number, seedGiven: boolean, shuffle: boolean): DistributedRun | null {
  if (option === undefined || option === false) return null;
  let settings: DistributedFitSettings;
  if (option === true) settings = {};
  else if (typeof option === 'object' && option !== null && typeof (option as ProcessGroup).allreduce === 'function') settings = { group: option as ProcessGroup };
  else if (typeof option === 'object' && option !== null) settings = option as DistributedFitSettings;
  else throw new Error(`fit: distributed must be true, a process group or { group, bucketBytes, logAllRanks, checkpointAllRanks, onStats }, got ${JSON.stringify(option)}`);
  const g = settings.group ?? currentGroup();
  if (g === null) throw new Error('fit: distributed training needs a process group: call myelin.distributed.init() first (or start the script with `myelin run --nproc N`)');
  return new DistributedRun(g, settings, params, rows, seed, seedGiven, shuffle);
}

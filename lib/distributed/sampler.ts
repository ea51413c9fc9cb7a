// DistributedSampler: each rank's rows of every epoch (seeded shuffle, every row exactly once per epoch across ranks).
import { permutation } from '../data/split';
import { deriveSeed } from '../random';
import { checkBoolean, checkNumber, checkOptions } from '../validate';

/**
 * Splits n rows among worldSize ranks, epoch by epoch. The epoch's order is the one fit() uses in
 * one process (data.permutation(n, deriveSeed(seed, epoch)), or 0..n-1 without shuffle); rank r takes
 * positions r, r + worldSize, r + 2 worldSize, ... of it. No padding: every row is used exactly once
 * per epoch, and the ranks' shares differ by at most one row. Batch b of every rank together is then
 * exactly batch b of one process with batchSize x worldSize (positions b·B·W .. (b+1)·B·W - 1), the
 * last, shorter batch included; a rank whose share has run out takes an empty step (it still joins the
 * all-reduce, with weight 0).
 */
export class DistributedSampler {
  readonly n: number;
  readonly rank: number;
  readonly worldSize: number;
  readonly seed: number;
  readonly shuffle: boolean;

  /**
   * A sampler of n rows for one rank.
   * @param n the number of rows, a non-negative integer.
   * @param opts rank (0..worldSize-1), worldSize (a positive integer), seed (the shuffle seed, the same on every
   * rank), shuffle (default true).
   * @throws Error when opts is not an options object or has an unknown key, n is not a non-negative integer,
   * worldSize is not a positive integer, rank is not an integer in 0..worldSize-1, seed is not a non-negative
   * integer, or shuffle is given and not a boolean.
   * @example new distributed.DistributedSampler(10, { rank: 1, worldSize: 3, seed: 7 }).indices(0).length // 3
   */
  constructor(n: number, opts: { rank: number; worldSize: number; seed: number; shuffle?: boolean }) {
    checkNumber('DistributedSampler', 'n', n, { integer: true, min: 0 });
    if (opts === null || opts === undefined) throw new Error(`DistributedSampler: options { rank, worldSize, seed } are required, got ${opts}`);
    checkOptions('DistributedSampler', opts, ['rank', 'worldSize', 'seed', 'shuffle']);
    checkNumber('DistributedSampler', 'worldSize', opts.worldSize, { integer: true, min: 1 });
    checkNumber('DistributedSampler', 'rank', opts.rank, { integer: true, min: 0, max: opts.worldSize - 1 });
    checkNumber('DistributedSampler', 'seed', opts.seed, { integer: true, min: 0 });
    if (opts.shuffle !== undefined) checkBoolean('DistributedSampler', 'shuffle', opts.shuffle);
    this.n = n;
    this.rank = opts.rank;
    this.worldSize = opts.worldSize;
    this.seed = opts.seed;
    this.shuffle = opts.shuffle ?? true;
  }

  /** Rows per rank for the largest share: ceil(n / worldSize). */
  get maxShare(): number {
    return Math.ceil(this.n / this.worldSize);
  }

  /**
   * Steps every rank takes per epoch at this batch size (the same on every rank): ceil(ceil(n / worldSize) / batchSize).
   * @param batchSize rows per step on each rank, a positive integer.
   * @returns the number of steps.
   * @throws Error when batchSize is not a positive integer.
   * @example new distributed.DistributedSampler(10, { rank: 0, worldSize: 3, seed: 7 }).stepsPerEpoch(2) // 2
   */
  stepsPerEpoch(batchSize: number): number {
    checkNumber('DistributedSampler.stepsPerEpoch', 'batchSize', batchSize, { integer: true, min: 1 });
    return Math.ceil(this.maxShare / batchSize);
  }

  /**
   * This rank's row indices for `epoch`, in the order it trains on them: positions rank, rank + worldSize, ...
   * of the epoch's order (data.permutation(n, deriveSeed(seed, epoch)), or 0..n-1 without shuffle).
   * @param epoch the epoch number, from 0 (each epoch has its own order).
   * @returns ceil((n - rank) / worldSize) row indices (none when rank >= n).
   * @example sampler.indices(0) // e.g. Int32Array [4, 0, 9, 2]
   */
  indices(epoch: number): Int32Array {
    const order = this.shuffle ? permutation(this.n, deriveSeed(this.seed, epoch)) : null;
    const { rank, worldSize } = this;
    const count = rank < this.n ? Math.ceil((this.n - rank) / worldSize) : 0;
    const out = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const pos = rank + i * worldSize;
      out[i] = order === null ? pos : order[pos];
    }
    return out;
  }
}

// Shards: which deterministic share of an input one worker of an array job takes (index/count from
// --shard I/N or the job runner's environment), and the splits: CSV byte ranges aligned to line starts,
// IDX record ranges, whole files of a list.
import * as fs from 'fs';

/** Worker `index` (0-based) of `count`. */
export interface Shard {
  index: number;
  count: number;
}

/** A half-open range [start, end) of bytes, records or files. */
export interface Range {
  start: number;
  end: number;
}

/**
 * Checks a shard { index, count }.
 * @param shard index (0-based) and count.
 * @param what where the shard came from, for the error (default 'shard').
 * @returns a new { index, count }.
 * @throws Error when count is not a positive integer, or index is not an integer in [0, count).
 * @example batch.checkShard({ index: 2, count: 4 })
 */
export function checkShard(shard: Shard, what = 'shard'): Shard {
  const { index, count } = shard ?? ({} as Shard);
  if (!Number.isSafeInteger(count) || count < 1) throw new Error(`${what}: the shard count must be a positive integer, got ${String(count)}`);
  if (!Number.isSafeInteger(index) || index < 0 || index >= count) {
    throw new Error(`${what}: the shard index must be an integer in [0, ${count - 1}] (0-based) for ${count} shard(s), got ${String(index)}`);
  }
  return { index, count };
}

/**
 * Parses 'I/N' (I zero-based, 0 <= I < N; spaces allowed around the numbers and the slash).
 * @param text the text, e.g. '0/4'.
 * @param what the option's name for the error (default '--shard').
 * @returns { index: I, count: N }.
 * @throws Error when text is not two non-negative integers separated by '/', N is 0, or I >= N.
 * @example batch.parseShard('3/4') // { index: 3, count: 4 }
 */
export function parseShard(text: string, what = '--shard'): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (m === null) throw new Error(`${what} must be I/N with 0 <= I < N (I is 0-based, e.g. 0/4 .. 3/4), got '${text}'`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1) throw new Error(`${what}: N must be at least 1, got '${text}'`);
  if (index >= count) throw new Error(`${what}: the index is 0-based, so I must be below N=${count} (0/${count} .. ${count - 1}/${count}), got '${text}'`);
  return { index, count };
}

function envInt(env: NodeJS.ProcessEnv, name: string): number {
  const v = env[name] ?? '';
  if (!/^\s*\d+\s*$/.test(v)) throw new Error(`${name} must be a non-negative integer, got '${v}'`);
  return Number(v);
}

/**
 * The shard an array job's environment gives this worker, or null outside one:
 * Kubernetes Indexed Job: JOB_COMPLETION_INDEX, with the count from `count` (--shard-count) or MYELIN_SHARD_COUNT;
 * AWS Batch array job: AWS_BATCH_JOB_ARRAY_INDEX and AWS_BATCH_JOB_ARRAY_SIZE (or `count`).
 * @param env the environment to read (default process.env).
 * @param count the shard count when the environment does not give it (--shard-count).
 * @returns this worker's { index, count }, or null when neither JOB_COMPLETION_INDEX nor AWS_BATCH_JOB_ARRAY_INDEX is set.
 * @throws Error when the index is set but no count is known, a variable is not a non-negative integer, the count is
 * not positive, or the index is not below the count.
 * @example batch.shardFromEnv({ JOB_COMPLETION_INDEX: '1', MYELIN_SHARD_COUNT: '4' }) // { index: 1, count: 4 }
 */
export function shardFromEnv(env: NodeJS.ProcessEnv = process.env, count?: number): Shard | null {
  if (env.JOB_COMPLETION_INDEX !== undefined && env.JOB_COMPLETION_INDEX !== '') {
    let n = count;
    if (n === undefined) {
      if (env.MYELIN_SHARD_COUNT === undefined || env.MYELIN_SHARD_COUNT === '') {
        throw new Error('JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but the shard count is not: pass --shard-count <completions> or set MYELIN_SHARD_COUNT');
      }
      n = envInt(env, 'MYELIN_SHARD_COUNT');
    }
    return checkShard({ index: envInt(env, 'JOB_COMPLETION_INDEX'), count: n }, 'JOB_COMPLETION_INDEX');
  }
  if (env.AWS_BATCH_JOB_ARRAY_INDEX !== undefined && env.AWS_BATCH_JOB_ARRAY_INDEX !== '') {
    if (env.AWS_BATCH_JOB_ARRAY_SIZE === undefined || env.AWS_BATCH_JOB_ARRAY_SIZE === '') {
      if (count === undefined) throw new Error('AWS_BATCH_JOB_ARRAY_INDEX is set but AWS_BATCH_JOB_ARRAY_SIZE is not: pass --shard-count <array size>');
    }
    const n = count ?? envInt(env, 'AWS_BATCH_JOB_ARRAY_SIZE');
    return checkShard({ index: envInt(env, 'AWS_BATCH_JOB_ARRAY_INDEX'), count: n }, 'AWS_BATCH_JOB_ARRAY_INDEX');
  }
  return null;
}

/**
 * The share [start, end) of `total` items for a shard: contiguous, in order, sizes differing by at most one.
 * @param total the number of items.
 * @param shard index and count (checked by the caller).
 * @returns { start: floor(index * total / count), end: floor((index + 1) * total / count) }.
 * @example batch.evenRange(10, { index: 1, count: 3 }) // { start: 3, end: 6 }
 */
export function evenRange(total: number, shard: Shard): Range {
  const cut = (i: number): number => Math.floor((i * total) / shard.count);
  return { start: cut(shard.index), end: cut(shard.index + 1) };
}

/** Offset of the first line start at or after `pos` (a line starts at 0 or after a '\n'), or `size`. */
function lineStartAtOrAfter(fd: number, pos: number, size: number): number {
  if (pos <= 0) return 0;
  if (pos >= size) return size;
  const buf = Buffer.alloc(1 << 16);
  // The byte before `pos` decides: a '\n' there makes `pos` a line start.
  let at = pos - 1;
  while (at < size) {
    const got = fs.readSync(fd, buf, 0, Math.min(buf.length, size - at), at);
    if (got <= 0) return size;
    const nl = buf.subarray(0, got).indexOf(10);
    if (nl >= 0) return at + nl + 1;
    at += got;
  }
  return size;
}

/** A CSV file's first line (with its line break) and, for a shard, its byte range of the lines after it. */
export interface CsvSplit {
  size: number;
  /** The first line's bytes, '\n' included (the header, or the first data row). */
  firstLine: Buffer;
  /** The shard's bytes: [0, ...) for shard 0 (which holds the first line), else after it. */
  range: Range;
}

/**
 * Splits a (not compressed) CSV file into `shard.count` byte ranges of whole lines and returns this
 * shard's. The lines after the first are cut near equal byte offsets, each cut moved to the next line
 * start; shard 0 starts at byte 0. Quoted cells with line breaks inside are not supported by a split.
 * @param file the CSV file's path.
 * @param shard index and count (checked by the caller).
 * @returns size (the file's bytes), firstLine (the first line's bytes, newline included) and range (this shard's
 * [start, end) byte offsets).
 * @throws Error when the file is gzip-compressed, or (from the file system) cannot be opened or read.
 * @example batch.csvSplit('data.csv', { index: 0, count: 4 }).range
 */
export function csvSplit(file: string, shard: Shard): CsvSplit {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(2);
    if (fs.readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b) {
      throw new Error(`${file} is gzip-compressed: a compressed CSV cannot be split by bytes (decompress it, or shard a list of files)`);
    }
    const dataStart = lineStartAtOrAfter(fd, 1, size);
    const firstLine = Buffer.alloc(dataStart);
    fs.readSync(fd, firstLine, 0, dataStart, 0);
    const cut = (i: number): number => {
      if (i === 0) return 0;
      if (i === shard.count) return size;
      return Math.max(dataStart, lineStartAtOrAfter(fd, dataStart + Math.floor((i * (size - dataStart)) / shard.count), size));
    };
    return { size, firstLine, range: { start: cut(shard.index), end: cut(shard.index + 1) } };
  } finally {
    fs.closeSync(fd);
  }
}

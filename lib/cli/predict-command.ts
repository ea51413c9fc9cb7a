// `myelin predict`: streams CSV/IDX rows through a saved model in batches and writes predictions as CSV.
import * as fs from 'fs';
import * as path from 'path';
import { Command } from 'commander';
import { predictFile } from '../batch/predict-file';
import { Shard, parseShard, shardFromEnv } from '../batch/shard';
import { UsageError, CsvCliOptions, addCsvOptions, labelColumnOf, positiveIntParser } from './args';

export { formatNumber } from '../batch/output';

export interface PredictCommandOptions extends CsvCliOptions {
  model: string;
  input: string | string[];
  shard?: string;
  shardCount?: number;
  output: string;
  batch: number;
  inputScale: boolean;
  precision: number;
  probabilities?: boolean;
}

/** The shard of this run: --shard I/N, else the array job's environment (see shardFromEnv), else none. */
export function resolveShard(opts: { shard?: string; shardCount?: number }, env: NodeJS.ProcessEnv = process.env): Shard | null {
  try {
    if (opts.shard !== undefined) return parseShard(opts.shard, '--shard');
    return shardFromEnv(env, opts.shardCount);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** A shard's output file: --output itself, or part-IIIII-of-NNNNN.csv inside it when it is a directory (or ends with '/'). */
export function shardOutputPath(output: string, shard: Shard): string {
  const isDir = /[\\/]$/.test(output) || (fs.existsSync(output) && fs.statSync(output).isDirectory());
  if (!isDir) return output;
  fs.mkdirSync(output, { recursive: true });
  const pad = (n: number): string => String(n).padStart(5, '0');
  return path.join(output, `part-${pad(shard.index)}-of-${pad(shard.count)}.csv`);
}

/** Runs the predict command. Returns the number of rows predicted. */
export async function runPredict(opts: PredictCommandOptions): Promise<number> {
  const shard = resolveShard(opts);
  if (shard !== null && opts.output === '-') throw new UsageError('--shard needs --output: a file, or a directory for part-IIIII-of-NNNNN.csv files (a shard writes a manifest next to its output)');
  const output = shard !== null ? shardOutputPath(opts.output, shard) : opts.output;
  const inputs = typeof opts.input === 'string' ? [opts.input] : opts.input;
  const result = await predictFile(opts.model, inputs, output, {
    ...(shard !== null ? { shard } : {}),
    batchSize: opts.batch, probabilities: opts.probabilities === true, precision: opts.precision, inputScale: opts.inputScale,
    ...(opts.labelColumn !== undefined ? { labelColumn: labelColumnOf(opts.labelColumn) } : {}),
    ...(opts.delimiter !== undefined ? { delimiter: opts.delimiter } : {}),
    ...(opts.header !== undefined ? { header: opts.header } : {}),
    ...(opts.maxLineLength !== undefined ? { maxLineLength: opts.maxLineLength } : {}),
    ...(opts.maxColumns !== undefined ? { maxColumns: opts.maxColumns } : {}),
    log: (m) => process.stderr.write(m + '\n'),
  });
  if (shard === null) process.stderr.write(`predicted ${result.rows} rows\n`);
  else if (!result.skipped) {
    const what = result.unit === 'bytes' ? 'bytes' : result.unit === 'records' ? 'records' : 'files';
    process.stderr.write(`shard ${shard.index}/${shard.count}: predicted ${result.rows} rows (${what} [${result.range!.start}, ${result.range!.end})) into ${output}\n`);
  }
  return result.rows;
}

export function registerPredict(program: Command): void {
  const cmd = program
    .command('predict')
    .description('predict with a saved model, streaming the input in batches')
    .requiredOption('--model <dir>', 'saved model directory')
    .requiredOption('--input <file...>', "rows to predict: a CSV file (.gz ok), an IDX file (.idx, .idx.gz, *-ubyte[.gz]), '-' for CSV on stdin, or several files / a directory (predicted in order)")
    .option('--output <file>', "where to write the predictions CSV ('-' = stdout); with a shard: a file, or a directory for part-IIIII-of-NNNNN.csv", '-')
    .option('--shard <I/N>', 'predict only shard I (0-based) of N: a byte range of whole lines of one CSV, a record range of one IDX file, or whole files of a list; writes <output>.manifest.json (default: from JOB_COMPLETION_INDEX or AWS_BATCH_JOB_ARRAY_INDEX, see docs/scale-out.md)')
    .option('--shard-count <n>', 'the shard count N when the index comes from JOB_COMPLETION_INDEX (Kubernetes Indexed Job: its completions; or set MYELIN_SHARD_COUNT)', positiveIntParser('--shard-count'))
    .option('--batch <n>', 'rows per batch', positiveIntParser('--batch'), 1024)
    .option('--label-column <name|index>', "CSV column to ignore (e.g. the label of a test file; the model's own label column is skipped by name)")
    .option('--delimiter <char>', 'CSV delimiter (default: detected)')
    .option('--no-input-scale', "do not apply the model's input scaling (its standardiser, or 1/255 for Fashion-MNIST pixels): for inputs already scaled")
    .option('--probabilities', 'classification: also write one probability column per class (p_<class name>, or p0, p1, ...)')
    .option('--precision <digits>', 'significant digits of the output numbers', positiveIntParser('--precision'), 6);
  addCsvOptions(cmd)
    .action(async (opts: PredictCommandOptions) => {
      if (opts.precision > 17) throw new UsageError(`--precision must be at most 17, got ${opts.precision}`);
      await runPredict(opts);
    });
}

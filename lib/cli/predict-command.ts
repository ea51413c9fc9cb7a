// `myelin predict`: streams CSV/IDX rows through a saved model in batches and writes predictions as CSV.
import * as fs from 'fs';
import * as path from 'path';
import { Command } from 'commander';
import { predictFile } from '../batch/predict-file';
import { Shard, parseShard, shardFromEnv } from '../batch/shard';
import * as os from 'os';
import { UsageError, CsvCliOptions, addCsvOptions, labelColumnOf, layersParser, positiveIntParser } from './args';
import { readModelInfo } from '../io/model-file';
import { Vocabulary } from '../data/text';
import { encodeTexts, idsCsv, readTextTable } from './text-data';

export { formatNumber } from '../batch/output';

export interface PredictCommandOptions extends CsvCliOptions {
  model: string;
  input: string | string[];
  shard?: string;
  shardCount?: number;
  output: string;
  batch: number;
  inputScale: boolean;
  inputShape?: number[];
  precision: number;
  probabilities?: boolean;
  /** The input is raw text, encoded with the model's vocabulary (automatic for models trained with --vocab). */
  text?: boolean;
  /** Text input in a CSV: the column holding the text (default: the one the model was trained on). */
  textColumn?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Text input (--text, or a model trained with --vocab): every input's texts (lines of a .txt file or stdin, or a
 * CSV's text column) encoded with the model's saved vocabulary into rows of its token-id length, written as one
 * token-id CSV in `dir`. Returns that file, or null when the input is not text.
 */
export function encodeTextInputs(opts: PredictCommandOptions, inputs: string[], dir: () => string): string | null {
  // A missing or damaged model is a runtime failure (exit 1), as predictFile reports it.
  const info = readModelInfo(opts.model);
  const meta = info.metadata as Record<string, unknown>;
  const inputShape = info.inputShape ?? null;
  const text = isObject(meta.text) ? meta.text : null;
  if (opts.text !== true && text === null) {
    if (opts.textColumn !== undefined) throw new UsageError(`--text-column: ${opts.model} was not trained on text (myelin train --vocab); pass --text to read text with its vocabulary`);
    return null;
  }
  if (meta.vocab === undefined) {
    throw new UsageError(`predict: ${opts.model} has no vocabulary (metadata.vocab): it was not trained on text (myelin train --vocab), so text input cannot be encoded; give it rows of numbers without --text`);
  }
  let vocab: Vocabulary;
  try {
    vocab = Vocabulary.fromJSON(meta.vocab);
  } catch (err) {
    throw new UsageError(`predict: ${opts.model}: metadata.vocab: ${(err as Error).message}`);
  }
  const length = typeof text?.length === 'number' ? text.length : inputShape !== null && inputShape.length === 1 ? inputShape[0] : null;
  if (length === null) throw new UsageError(`predict: ${opts.model} does not say how many token ids a text becomes (metadata.text.length, or a saved input shape [length])`);
  const column = opts.textColumn ?? (text?.column !== undefined ? String(text.column) : undefined);
  const texts: string[] = [];
  for (const file of inputs) {
    if (file === '-') {
      texts.push(...fs.readFileSync(0, 'utf8').split(/\r?\n/).filter((l) => l.trim() !== ''));
      continue;
    }
    const t = readTextTable(file, {
      labelColumn: null, flag: '--input', ...(column !== undefined ? { textColumn: column } : {}),
      ...(opts.delimiter !== undefined ? { delimiter: opts.delimiter } : {}), ...(opts.header !== undefined ? { header: opts.header } : {}),
    });
    texts.push(...t.texts);
  }
  const file = path.join(dir(), 'token-ids.csv');
  fs.writeFileSync(file, idsCsv(encodeTexts(vocab, texts, length, '--input'), length, null, 'label'));
  return file;
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
  let inputs = typeof opts.input === 'string' ? [opts.input] : opts.input;
  let tmp: string | null = null;
  try {
    const encoded = encodeTextInputs(opts, inputs, () => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-text-'))));
    if (encoded !== null) {
      if (shard !== null) throw new UsageError('--shard splits files by bytes or records: with text input, encode first (one file of token ids) or predict whole files');
      inputs = [encoded];
    }
    return await predictEncoded(opts, inputs, output, shard);
  } finally {
    if (tmp !== null) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function predictEncoded(opts: PredictCommandOptions, inputs: string[], output: string, shard: Shard | null): Promise<number> {
  const result = await predictFile(opts.model, inputs, output, {
    ...(shard !== null ? { shard } : {}),
    batchSize: opts.batch, probabilities: opts.probabilities === true, precision: opts.precision, inputScale: opts.inputScale,
    ...(opts.inputShape !== undefined ? { inputShape: opts.inputShape } : {}),
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
    .option('--input-shape <dims>', 'the shape of one row as the model takes it, comma-separated (e.g. 1,28,28: CSV rows of 784 pixels, or IDX images, fed to a CNN); default: the shape the model was saved with', layersParser('--input-shape'))
    .option('--no-input-scale', "do not apply the model's input scaling (its standardiser, or 1/255 for Fashion-MNIST pixels): for inputs already scaled")
    .option('--text', "the input is raw text (lines of a .txt file or stdin, or a CSV's text column), encoded with the model's saved vocabulary (automatic for models trained with --vocab)")
    .option('--text-column <name|index>', 'text input in a CSV: the column holding the text (default: the one the model was trained on)')
    .option('--probabilities', 'classification: also write one probability column per class (p_<class name>, or p0, p1, ...)')
    .option('--precision <digits>', 'significant digits of the output numbers', positiveIntParser('--precision'), 6);
  addCsvOptions(cmd)
    .action(async (opts: PredictCommandOptions) => {
      if (opts.precision > 17) throw new UsageError(`--precision must be at most 17, got ${opts.precision}`);
      await runPredict(opts);
    });
}

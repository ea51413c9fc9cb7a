// `myelin predict`: streams CSV/IDX rows through a saved model in batches and writes predictions as CSV.
import * as fs from 'fs';
import * as path from 'path';
import { Writable } from 'stream';
import { Command } from 'commander';
import { Tensor } from '../tensor';
import { Module } from '../nn';
import { readCsvBatches, CsvOptions } from '../data/csv';
import type { Preprocessor } from '../data/preprocess';
import { readIdx } from '../data/idx';
import { loadWithInfo, ModelInfo } from '../io/model-file';
import { tempPathFor, fsyncDirSync } from '../io/atomic';
import { buildPlan } from '../serve/plan';
import { predictAsync } from '../serve/predict';
import { UsageError, CsvCliOptions, addCsvOptions, csvOptionsOf, positiveIntParser } from './args';
import { checkOutputFile } from './paths';

export interface PredictCommandOptions extends CsvCliOptions {
  model: string;
  input: string;
  output: string;
  batch: number;
  inputScale: boolean;
  precision: number;
  probabilities?: boolean;
}

/** A batch of input rows: [rows, features]; `ready` when the input transform was already applied. */
interface RowBatch { x: Float32Array; rows: number; features: number; firstLine: number; ready: boolean }

function isIdxPath(p: string): boolean {
  return /\.idx(\d)?(\.gz)?$/i.test(p) || /-ubyte(\.gz)?$/i.test(p);
}

/** Rows of an IDX file (first dimension = rows), batch by batch; uint8 values are scaled like training data. */
async function* idxBatches(file: string, batch: number): AsyncGenerator<RowBatch> {
  const idx = readIdx(file);
  if (idx.shape.length < 1 || idx.shape[0] === 0) throw new Error(`predict: ${file}: IDX array of shape [${idx.shape.join(',')}] has no rows`);
  const rows = idx.shape[0];
  const features = idx.data.length / rows;
  for (let start = 0; start < rows; start += batch) {
    const end = Math.min(rows, start + batch);
    const x = Float32Array.from(idx.data.subarray(start * features, end * features));
    for (let i = 0; i < x.length; i++) {
      if (x[i] - x[i] !== 0) {
        // NaN, +-Infinity, or a float64 beyond float32's range.
        const value = idx.data[start * features + i];
        throw new Error(`predict: ${file}: row ${start + Math.floor(i / features) + 1}, value ${(i % features) + 1} is ${value}, not a finite float32 number`);
      }
    }
    yield { x, rows: end - start, features, firstLine: start + 1, ready: false };
  }
}

/**
 * CSV rows, batch by batch, read the way the model's training file was: a header must name the
 * model's columns (in order; the training label column, if present, is skipped), text columns become
 * the one-hot columns of training, and missing cells are left NaN for the preprocessor to fill when
 * it has fill values (else they are an error).
 */
async function* csvBatches(
  input: string, opts: PredictCommandOptions, features: number, prep: Preprocessor | null, legacyNames: string[] | null, legacyScale: number,
): AsyncGenerator<RowBatch> {
  const schema = prep?.csv ?? null;
  const names = schema?.columns ?? null;
  const options: CsvOptions = { ...csvOptionsOf(opts, null), batchSize: opts.batch };
  if (names !== null) options.expectColumns = names;
  else if (legacyNames !== null) options.headerNames = legacyNames;
  if (schema !== null && Object.keys(schema.categories).length > 0) options.categories = schema.categories;
  if (schema?.labelName != null && opts.labelColumn === undefined) options.ignoreColumns = [schema.labelName];
  if (prep?.fill != null) options.missing = 'keep';
  // The input transform runs on the parse threads: the model's preprocessor, or an image model's scale.
  if (prep !== null) options.preprocessor = prep;
  else if (legacyScale !== 1) options.preprocessor = { rowTransform: () => ({ features, fill: null, standardize: null, scale: legacyScale, names: null }) };
  for await (const b of readCsvBatches(input, options)) {
    yield { x: b.x, rows: b.rows, features: b.features, firstLine: b.firstLine, ready: options.preprocessor != null };
  }
}

/** A CSV cell: quoted when it holds a delimiter, quote or line break. */
function csvCell(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Text output with backpressure. Regular files are written to a temp name and renamed into place at
 * the end; devices, FIFOs and sockets (e.g. /dev/null) are written in place; '-' is stdout.
 */
class OutputSink {
  private readonly stream: Writable;
  private readonly tmp: string | null = null;
  private readonly fd: number | null = null;
  private readonly owned: boolean;

  constructor(private readonly target: string) {
    if (target === '-') {
      this.stream = process.stdout;
      this.owned = false;
      return;
    }
    this.owned = true;
    if (checkOutputFile(target, '--output') === 'special') {
      this.stream = fs.createWriteStream(target, { flags: 'w' });
    } else {
      this.tmp = tempPathFor(path.resolve(target));
      this.fd = fs.openSync(this.tmp, 'wx', 0o644);
      this.stream = fs.createWriteStream('', { fd: this.fd, autoClose: false });
    }
    // Write errors surface through write()/finish(); this listener keeps a late one from crashing the process.
    this.stream.on('error', () => { /* reported by the pending write or end */ });
  }

  async write(text: string): Promise<void> {
    if (!this.stream.write(text)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => { this.stream.off('error', onError); resolve(); };
        const onError = (err: Error): void => { this.stream.off('drain', onDrain); reject(err); };
        this.stream.once('drain', onDrain);
        this.stream.once('error', onError);
      });
    }
  }

  /** Destroys the stream, which closes its descriptor exactly once, and waits for that. */
  private close(): Promise<void> {
    const s = this.stream;
    if (s.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      s.once('close', () => resolve());
      s.destroy();
    });
  }

  /** Flushes; for files: fsync, close, rename over the target, fsync the directory. */
  async finish(): Promise<void> {
    if (!this.owned) return;
    await new Promise<void>((resolve, reject) => this.stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
    if (this.tmp === null || this.fd === null) {
      await this.close();
      return;
    }
    fs.fsyncSync(this.fd);
    await this.close();
    fs.renameSync(this.tmp, path.resolve(this.target));
    fsyncDirSync(path.dirname(path.resolve(this.target)));
  }

  /** After a failure: closes the stream (once) and removes the temp file. */
  async abort(): Promise<void> {
    if (!this.owned) return;
    await this.close();
    if (this.tmp !== null) {
      try { fs.unlinkSync(this.tmp); } catch { /* already gone */ }
    }
  }
}

/**
 * A number with `precision` significant digits, as String(Number(v.toPrecision(precision))) writes it
 * (shortest form, no trailing zeros). Up to 15 digits a plain toPrecision result is already that
 * shortest form once its trailing zeros are cut (every decimal of <= 15 digits is a distinct double),
 * which saves the parse and print of a million probabilities.
 */
export function formatNumber(v: number, precision: number): string {
  if (Number.isInteger(v)) return String(v);
  const t = v.toPrecision(precision);
  if (precision > 15 || t.indexOf('e') >= 0) return String(Number(t));
  if (t.indexOf('.') < 0) return t;
  let end = t.length;
  while (t.charCodeAt(end - 1) === 48) end--;
  if (t.charCodeAt(end - 1) === 46) end--;
  return t.slice(0, end);
}

function softmaxRows(out: Float32Array, rows: number, n: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let mx = -Infinity;
    for (let j = 0; j < n; j++) mx = Math.max(mx, out[o + j]);
    let s = 0;
    for (let j = 0; j < n; j++) { out[o + j] = Math.exp(out[o + j] - mx); s += out[o + j]; }
    for (let j = 0; j < n; j++) out[o + j] /= s;
  }
}

/** Runs one batch: predictAsync when the model is plannable, else the synchronous predict. */
type BatchRunner = (x: Float32Array, rows: number) => Promise<Float32Array>;

function makeRunner(model: Module, features: number): { run: BatchRunner; endsWithSoftmax: boolean } {
  try {
    const plan = buildPlan(model);
    return {
      run: async (x) => (await predictAsync(model, x, { batchSize: 1 << 30, features })).data,
      endsWithSoftmax: plan.softmax,
    };
  } catch {
    const cfg = model.toConfig() as { layers?: { type: string }[] };
    const last = cfg.layers?.[cfg.layers.length - 1]?.type;
    return {
      run: async (x, rows) => model.predict(new Tensor(x, [rows, features])).data,
      endsWithSoftmax: last === 'Softmax',
    };
  }
}

/** Runs the predict command. Returns the number of rows predicted. */
export async function runPredict(opts: PredictCommandOptions): Promise<number> {
  const { model, info } = loadWithInfo(opts.model);
  const features = expectedFeatures(info, model);
  let prep = info.preprocessing;
  const meta = info.metadata;
  const task = prep?.task ?? (meta.task === 'regression' ? 'regression' : meta.task === 'classification' ? 'classification' : 'raw');
  // Image models (and CSV models saved before preprocessing existed) carry their scale, names and
  // class names in metadata.
  const legacyScale = prep === null && opts.inputScale && typeof meta.inputScale === 'number' ? meta.inputScale : 1;
  if (prep !== null && !opts.inputScale) prep = prep.withoutInputScaling();
  // The command applies the preprocessor's two sides itself: inputs on the CSV parse threads (or
  // below, for IDX), outputs after the network.
  model.preprocessor = null;
  const strings = (v: unknown): string[] | null => (Array.isArray(v) && v.every((n) => typeof n === 'string') ? (v as string[]) : null);
  const classNames = prep !== null ? prep.classNames : strings(meta.classNames);
  if (opts.input !== '-' && !fs.existsSync(opts.input)) throw new Error(`predict: input file '${opts.input}' not found`);
  const batches = opts.input !== '-' && isIdxPath(opts.input)
    ? idxBatches(opts.input, opts.batch)
    : csvBatches(opts.input, opts, features, prep, strings(meta.featureNames), legacyScale);
  const { run, endsWithSoftmax } = makeRunner(model, features);

  const sink = new OutputSink(opts.output);
  let total = 0;
  let headerWritten = false;
  const names = classNames?.map(csvCell) ?? null;
  /** Writes one batch's predictions (and the header before the first). */
  const emit = async (rows: number, out: Float32Array): Promise<void> => {
    const n = out.length / rows;
    if (task === 'classification' && !endsWithSoftmax && opts.probabilities) softmaxRows(out, rows, n);
    if (classNames !== null && task === 'classification' && n > 1 && classNames.length !== n) {
      throw new Error(`predict: the model has ${n} outputs but ${classNames.length} class names`);
    }
    if (!headerWritten) {
      const cols = task === 'classification'
        ? ['class', ...(opts.probabilities ? Array.from({ length: n }, (_, j) => (classNames !== null && n > 1 ? csvCell(`p_${classNames[j]}`) : `p${j}`)) : [])]
        : Array.from({ length: n }, (_, j) => (n === 1 ? 'prediction' : `y${j}`));
      await sink.write(cols.join(',') + '\n');
      headerWritten = true;
    }
    const lines: string[] = new Array(rows);
    for (let r = 0; r < rows; r++) {
      const o = r * n;
      if (task === 'classification') {
        let best = 0;
        if (n === 1) best = out[o] > 0 ? 1 : 0;
        else for (let j = 1; j < n; j++) if (out[o + j] > out[o + best]) best = j;
        const cls = names !== null ? names[best] : String(best);
        if (!opts.probabilities) { lines[r] = cls; continue; }
        const cells = [cls];
        for (let j = 0; j < n; j++) cells.push(formatNumber(out[o + j], opts.precision));
        lines[r] = cells.join(',');
      } else {
        const cells: string[] = [];
        for (let j = 0; j < n; j++) cells.push(formatNumber(out[o + j], opts.precision));
        lines[r] = cells.join(',');
      }
    }
    await sink.write(lines.join('\n') + '\n');
    total += rows;
  };
  // A pipeline: batch k+1 runs (off the main thread) while batch k's output is written, and the
  // CSV parse workers read ahead meanwhile.
  let pending: { rows: number; out: Promise<Float32Array> } | null = null;
  try {
    for await (const b of batches) {
      if (b.features !== features) {
        const hint = b.features === features + 1 ? ' (does the input have a label column? pass --label-column)' : '';
        throw new Error(`predict: ${opts.input}: rows have ${b.features} values, the model expects ${features}${hint}`);
      }
      let x = b.x;
      if (!b.ready && prep !== null) x = prep.transformX(x, 'predict').data;
      else if (!b.ready && legacyScale !== 1) for (let i = 0; i < x.length; i++) x[i] *= legacyScale;
      const raw = run(x, b.rows);
      const next = { rows: b.rows, out: prep === null ? raw : raw.then((o) => prep!.outputs(new Tensor(o, [b.rows, o.length / b.rows])).data) };
      next.out.catch(() => { /* awaited in order below */ });
      if (pending !== null) await emit(pending.rows, await pending.out);
      pending = next;
    }
    if (pending !== null) await emit(pending.rows, await pending.out);
    await sink.finish();
  } catch (err) {
    if (pending !== null) await pending.out.catch(() => undefined); // let a running batch finish before leaving
    await sink.abort();
    throw err;
  }
  process.stderr.write(`predicted ${total} rows\n`);
  return total;
}

function expectedFeatures(info: ModelInfo, model: Module): number {
  if (info.inputShape !== null) return info.inputShape.reduce((a, b) => a * b, 1);
  const f = model.inputFeatures();
  if (f === null) throw new Error(`predict: ${info.architecture.type} model records no input shape`);
  return f;
}

export function registerPredict(program: Command): void {
  const cmd = program
    .command('predict')
    .description('predict with a saved model, streaming the input in batches')
    .requiredOption('--model <dir>', 'saved model directory')
    .requiredOption('--input <file>', "rows to predict: a CSV file (.gz ok), an IDX file (.idx, .idx.gz, *-ubyte[.gz]), or '-' for CSV on stdin")
    .option('--output <file>', "where to write the predictions CSV ('-' = stdout)", '-')
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

// `myelin predict`: streams CSV/IDX rows through a saved model in batches and writes predictions as CSV.
import * as fs from 'fs';
import * as path from 'path';
import { Writable } from 'stream';
import { Command } from 'commander';
import { Tensor } from '../tensor';
import { Module } from '../nn';
import { readCsvBatches } from '../data/csv';
import { readIdx } from '../data/idx';
import { loadWithInfo, ModelInfo } from '../io/model-file';
import { tempPathFor, fsyncDirSync } from '../io/atomic';
import { buildPlan } from '../serve/plan';
import { predictAsync } from '../serve/predict';
import { UsageError, positiveIntParser } from './args';

export interface PredictCommandOptions {
  model: string;
  input: string;
  output: string;
  batch: number;
  labelColumn?: string;
  delimiter?: string;
  inputScale: boolean;
  precision: number;
}

/** A batch of input rows: [rows, features]. */
interface RowBatch { x: Float32Array; rows: number; features: number; firstLine: number }

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
    yield { x, rows: end - start, features, firstLine: start + 1 };
  }
}

async function* csvBatches(input: string, opts: PredictCommandOptions): AsyncGenerator<RowBatch> {
  const lc = opts.labelColumn;
  const labelColumn = lc === undefined ? null : lc === 'last' ? 'last' : /^-?[0-9]+$/.test(lc) ? Number(lc) : lc;
  for await (const b of readCsvBatches(input, {
    batchSize: opts.batch, labelColumn, ...(opts.delimiter !== undefined ? { delimiter: opts.delimiter } : {}),
  })) {
    yield { x: b.x, rows: b.rows, features: b.features, firstLine: b.firstLine };
  }
}

/** Text output with backpressure; files are written to a temp name and renamed into place at the end. */
class OutputSink {
  private stream: Writable;
  private readonly tmp: string | null;
  private fd: number | null = null;

  constructor(private readonly target: string) {
    if (target === '-') {
      this.stream = process.stdout;
      this.tmp = null;
    } else {
      const dir = path.dirname(path.resolve(target));
      if (!fs.existsSync(dir)) throw new Error(`predict: output directory '${dir}' does not exist`);
      this.tmp = tempPathFor(path.resolve(target));
      this.fd = fs.openSync(this.tmp, 'wx', 0o644);
      this.stream = fs.createWriteStream('', { fd: this.fd, autoClose: false });
    }
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

  /** Flushes; for files: fsync, close, rename over the target, fsync the directory. */
  async finish(): Promise<void> {
    if (this.tmp === null || this.fd === null) return;
    await new Promise<void>((resolve, reject) => this.stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    this.fd = null;
    fs.renameSync(this.tmp, path.resolve(this.target));
    fsyncDirSync(path.dirname(path.resolve(this.target)));
  }

  /** Removes the temp file after a failure. */
  abort(): void {
    if (this.tmp === null) return;
    if (this.fd !== null) { try { fs.closeSync(this.fd); } catch { /* ignore */ } }
    this.stream.destroy();
    try { fs.unlinkSync(this.tmp); } catch { /* ignore */ }
  }
}

function formatNumber(v: number, precision: number): string {
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(precision)));
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
      run: async (x) => (await predictAsync(model, x, { batchSize: 1 << 30 })).data,
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
  const task = info.metadata.task === 'regression' ? 'regression' : info.metadata.task === 'classification' ? 'classification' : 'raw';
  const scale = opts.inputScale && typeof info.metadata.inputScale === 'number' ? info.metadata.inputScale : 1;
  if (opts.input !== '-' && !fs.existsSync(opts.input)) throw new Error(`predict: input file '${opts.input}' not found`);
  const batches = opts.input !== '-' && isIdxPath(opts.input) ? idxBatches(opts.input, opts.batch) : csvBatches(opts.input, opts);
  const { run, endsWithSoftmax } = makeRunner(model, features);

  const sink = new OutputSink(opts.output);
  let total = 0;
  let headerWritten = false;
  try {
    for await (const b of batches) {
      if (b.features !== features) {
        const hint = b.features === features + 1 ? ' (does the input have a label column? pass --label-column)' : '';
        throw new Error(`predict: ${opts.input}: rows have ${b.features} values, the model expects ${features}${hint}`);
      }
      if (scale !== 1) for (let i = 0; i < b.x.length; i++) b.x[i] *= scale;
      const out = await run(b.x, b.rows);
      const n = out.length / b.rows;
      if (task === 'classification' && !endsWithSoftmax) softmaxRows(out, b.rows, n);
      if (!headerWritten) {
        const cols = task === 'classification'
          ? ['class', ...Array.from({ length: n }, (_, j) => `p${j}`)]
          : Array.from({ length: n }, (_, j) => (n === 1 ? 'prediction' : `y${j}`));
        await sink.write(cols.join(',') + '\n');
        headerWritten = true;
      }
      const lines: string[] = new Array(b.rows);
      for (let r = 0; r < b.rows; r++) {
        const o = r * n;
        const cells: string[] = [];
        if (task === 'classification') {
          let best = 0;
          for (let j = 1; j < n; j++) if (out[o + j] > out[o + best]) best = j;
          cells.push(String(best));
        }
        for (let j = 0; j < n; j++) cells.push(formatNumber(out[o + j], opts.precision));
        lines[r] = cells.join(',');
      }
      await sink.write(lines.join('\n') + '\n');
      total += b.rows;
    }
    await sink.finish();
  } catch (err) {
    sink.abort();
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
  program
    .command('predict')
    .description('predict with a saved model, streaming the input in batches')
    .requiredOption('--model <dir>', 'saved model directory')
    .requiredOption('--input <file>', "rows to predict: a CSV file (.gz ok), an IDX file (.idx, .idx.gz, *-ubyte[.gz]), or '-' for CSV on stdin")
    .option('--output <file>', "where to write the predictions CSV ('-' = stdout)", '-')
    .option('--batch <n>', 'rows per batch', positiveIntParser('--batch'), 1024)
    .option('--label-column <name|index>', 'CSV column to ignore (e.g. the label of a test file)')
    .option('--delimiter <char>', 'CSV delimiter (default: detected)')
    .option('--no-input-scale', "do not apply the model's input scaling (e.g. 1/255 for Fashion-MNIST pixels)")
    .option('--precision <digits>', 'significant digits of the output numbers', positiveIntParser('--precision'), 6)
    .action(async (opts: PredictCommandOptions) => {
      if (opts.precision > 17) throw new UsageError(`--precision must be at most 17, got ${opts.precision}`);
      await runPredict(opts);
    });
}

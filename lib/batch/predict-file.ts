// predictFile: streams a large input (CSV, IDX, or a list of files) through a model with bounded
// memory and writes prediction CSV atomically; with a shard, only that share, plus a manifest that
// makes a finished shard a no-op when re-run and lets `merge` check the set.
import * as fs from 'fs';
import * as path from 'path';
import { createHash } from 'crypto';
import { Tensor } from '../tensor';
import { Module, type LayerConfig } from '../nn';
import { CsvOptions, LabelColumn } from '../data/csv';
import type { Preprocessor } from '../data/preprocess';
import { loadWithInfo, ModelInfo } from '../io/model-file';
import { MANIFEST_NAME, canonicalJson } from '../io/model-dir';
import { checkOptions } from '../validate';
import { OutputSink, PredictionWriter, makeRunner, OutputTask } from './output';
import { RowBatch, csvBatches, idxBatches, isIdxPath, idxRecords } from './sources';
import { Shard, Range, checkShard, csvSplit, evenRange } from './shard';
import { ShardManifest, InputFile, manifestPathFor, readShardManifest, writeShardManifest, fileSha256, sameWork } from './manifest';

/** Options of predictFile: shard (this worker's share), batch size, probabilities, precision, the CSV reading options, manifest and log. */
export interface PredictFileOptions {
  /** This worker's share: { index (0-based), count }. Without it the whole input is predicted. */
  shard?: Shard;
  /** Rows per batch (default 1024). */
  batchSize?: number;
  /** Classification: also write one probability column per class. */
  probabilities?: boolean;
  /** Significant digits of output numbers (default 6, at most 17). */
  precision?: number;
  /** Apply the model's input scaling (default true); false for inputs already scaled. */
  inputScale?: boolean;
  /**
   * The shape of one row as the model takes it, e.g. [1, 28, 28] for a CNN: each row of values (CSV pixels, an IDX
   * image) is reshaped to it. Default: the input shape the saved model records; required when it records none.
   */
  inputShape?: readonly number[];
  /** CSV reading: a column to ignore (e.g. a label), the delimiter, header, limits. */
  labelColumn?: LabelColumn;
  delimiter?: string;
  header?: boolean;
  maxLineLength?: number;
  maxColumns?: number;
  /** Write `<output>.manifest.json` and skip a shard whose manifest matches (default: true with a shard, false without). */
  manifest?: boolean;
  /** Progress and no-op messages (default: none). */
  log?: (message: string) => void;
}

/** What predictFile resolves with: rows predicted, whether the shard was skipped as already done, the output and manifest files, and the range. */
export interface PredictFileResult {
  /** Rows predicted (for a skipped shard: the rows its manifest records). */
  rows: number;
  /** True when a finished shard with a matching manifest was found and nothing was run. */
  skipped: boolean;
  output: string;
  manifest: string | null;
  /** What this run covered: 'all', a CSV byte range, an IDX record range, or a range of the file list. */
  unit: ShardManifest['unit'];
  range: Range | null;
}

const OPTION_KEYS = ['shard', 'batchSize', 'probabilities', 'precision', 'inputScale', 'inputShape', 'labelColumn', 'delimiter', 'header', 'maxLineLength', 'maxColumns', 'manifest', 'log'];

/** A loaded model with what prediction needs from its saved info. */
interface Prepared {
  model: Module;
  /** Values per input row, or null for a model that reads token ids (an Embedding first, no recorded shape): any row width. */
  features: number | null;
  /** One row's shape as the model takes it ([features] for flat rows; null with features null). */
  sample: number[] | null;
  prep: Preprocessor | null;
  task: OutputTask;
  classNames: string[] | null;
  legacyScale: number;
  legacyNames: string[] | null;
  digest: string;
  modelPath: string | null;
  /** Gives an in-memory model its preprocessor back (taken off while predictFile applies it itself). */
  restore: () => void;
}

const strings = (v: unknown): string[] | null => (Array.isArray(v) && v.every((n) => typeof n === 'string') ? (v as string[]) : null);

/**
 * A saved model's digest: model.json's own sha256 (which covers every file's sha256), else the sha256 of
 * model.json's bytes. Shard manifests record it so that mergeShards can tell shards of different models apart.
 * @param dir the saved model's directory.
 * @returns 64 lowercase hex digits.
 * @throws Error (from the file system) when dir/model.json cannot be read.
 * @example batch.modelDigest('digits-model')
 */
export function modelDigest(dir: string): string {
  const bytes = fs.readFileSync(path.join(dir, MANIFEST_NAME));
  try {
    const m = JSON.parse(bytes.toString('utf8')) as { sha256?: unknown };
    if (typeof m.sha256 === 'string' && /^[0-9a-f]{64}$/.test(m.sha256)) return m.sha256;
  } catch { /* not JSON: the loader has already said so */ }
  return createHash('sha256').update(bytes).digest('hex');
}

/** An in-memory model's digest: sha256 of its config and parameter bytes. */
function moduleDigest(model: Module): string {
  const h = createHash('sha256').update(canonicalJson(model.toConfig()), 'utf8');
  for (const [name, t] of model.namedParameters()) {
    h.update(name);
    const d = t.data;
    h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
  return h.digest('hex');
}

/** True when the model's first layer is an Embedding: its input rows are token ids, as many as a sequence has. */
function readsIds(config: LayerConfig): boolean {
  const layers = (config as { layers?: LayerConfig[] }).layers;
  if (config.type === 'Sequential' && Array.isArray(layers)) return layers.length > 0 && readsIds(layers[0]);
  return config.type === 'Embedding';
}

/**
 * One row's shape: the option, checked against what the model records, else the recorded shape, else null for
 * a token-id model (its rows are as wide as the sequences given), else [features].
 */
function sampleShape(info: ModelInfo | null, model: Module, given: readonly number[] | undefined): number[] | null {
  const recorded = info?.inputShape ?? null;
  if (given === undefined) {
    if (recorded !== null) return recorded.slice();
    if (readsIds(model.toConfig())) return null;
    if (model.inputFeatures() === null) {
      throw new Error(`predict: the ${info?.architecture.type ?? model.constructor.name} model records no input shape: give the shape of one row (inputShape, --input-shape, e.g. 1,28,28)`);
    }
    return [model.inputFeatures() as number];
  }
  if (!Array.isArray(given) || given.length === 0 || given.some((d) => !Number.isSafeInteger(d) || d < 1)) {
    throw new Error(`predictFile: inputShape must be a non-empty list of positive integers, got ${JSON.stringify(given)}`);
  }
  if (recorded !== null && recorded.join() !== given.join()) {
    throw new Error(`predict: the input shape [${given.join(',')}] differs from the one the model was saved with, [${recorded.join(',')}]`);
  }
  return given.slice();
}

function prepare(source: string | Module, inputScale: boolean, inputShape?: readonly number[]): Prepared {
  let model: Module;
  let info: ModelInfo | null = null;
  if (typeof source === 'string') ({ model, info } = loadWithInfo(source));
  else if (source instanceof Module) model = source;
  else throw new Error(`predictFile: model must be a saved model directory or a Module, got ${typeof source}`);
  const sample = sampleShape(info, model, inputShape);
  const features = sample === null ? null : sample.reduce((a, b) => a * b, 1);
  let prep = info !== null ? info.preprocessing : model.preprocessor;
  const meta = info?.metadata ?? {};
  const task: OutputTask = prep?.task ?? (meta.task === 'regression' ? 'regression' : meta.task === 'classification' ? 'classification' : 'raw');
  // Image models (and CSV models saved before preprocessing existed) carry their scale, names and
  // class names in metadata.
  const legacyScale = prep == null && inputScale && typeof meta.inputScale === 'number' ? meta.inputScale : 1;
  if (prep != null && !inputScale) prep = prep.withoutInputScaling();
  const digest = typeof source === 'string' ? modelDigest(source) : moduleDigest(model);
  // The input transform runs here (on the CSV parse threads, or below for IDX), the output side after the network.
  const own = model.preprocessor;
  model.preprocessor = null;
  return {
    restore: () => { if (typeof source !== 'string') model.preprocessor = own; },
    model, features, sample, prep: prep ?? null, task, classNames: prep != null ? prep.classNames : strings(meta.classNames), legacyScale,
    legacyNames: strings(meta.featureNames), digest, modelPath: typeof source === 'string' ? path.resolve(source) : null,
  };
}

/** CSV reader options the way the model's training file was read (header names, categories, the label skipped, fill). */
function csvOptionsFor(p: Prepared, o: PredictFileOptions, batch: number): CsvOptions {
  const schema = p.prep?.csv ?? null;
  const options: CsvOptions = {
    labelColumn: o.labelColumn ?? null, batchSize: batch,
    ...(o.delimiter !== undefined ? { delimiter: o.delimiter } : {}),
    ...(o.header !== undefined ? { header: o.header } : {}),
    ...(o.maxLineLength !== undefined ? { maxLineLength: o.maxLineLength } : {}),
    ...(o.maxColumns !== undefined ? { maxColumns: o.maxColumns } : {}),
  };
  if (schema?.columns != null) options.expectColumns = schema.columns;
  else if (p.legacyNames !== null) options.headerNames = p.legacyNames;
  if (schema !== null && Object.keys(schema.categories).length > 0) options.categories = schema.categories;
  if (schema?.labelName != null && o.labelColumn === undefined) options.ignoreColumns = [schema.labelName];
  if (p.prep?.fill != null) options.missing = 'keep';
  // The input transform runs on the parse threads: the model's preprocessor, or an image model's scale.
  if (p.prep !== null) options.preprocessor = p.prep;
  else if (p.legacyScale !== 1) {
    const scale = p.legacyScale;
    const features = p.features ?? 0;
    options.preprocessor = { rowTransform: () => ({ features, fill: null, standardize: null, scale, names: null }) };
  }
  return options;
}

/**
 * Input paths: a list as given, a directory's regular files (sorted by name, hidden files skipped); '-' (stdin) alone.
 * @param input one path or a list of paths (files or directories), or '-' for stdin.
 * @returns the input files in order.
 * @throws Error when the list is empty, an entry is not a non-empty string, '-' comes with other inputs, a path
 * does not exist, or a directory has no files.
 * @example batch.expandInputs(['a.csv', 'more/']) // ['a.csv', 'more/b.csv', 'more/c.csv']
 */
export function expandInputs(input: string | readonly string[]): string[] {
  const list = typeof input === 'string' ? [input] : [...input];
  if (list.length === 0) throw new Error('predict: no input files given');
  const out: string[] = [];
  for (const f of list) {
    if (typeof f !== 'string' || f === '') throw new Error(`predict: input must be a file path, got ${JSON.stringify(f)}`);
    if (f === '-') {
      if (list.length > 1) throw new Error("predict: '-' (stdin) cannot be one of several inputs");
      out.push(f);
      continue;
    }
    let st: fs.Stats;
    try { st = fs.statSync(f); } catch { throw new Error(`predict: input file '${f}' not found`); }
    if (st.isDirectory()) {
      const names = fs.readdirSync(f).filter((n) => !n.startsWith('.')).sort();
      const files = names.map((n) => path.join(f, n)).filter((p) => fs.statSync(p).isFile());
      if (files.length === 0) throw new Error(`predict: input directory '${f}' has no files`);
      out.push(...files);
    } else out.push(f);
  }
  return out;
}

/** The files a run covers and how: the whole input, one file's byte or record range, or a range of the list. */
function planWork(files: string[], shard: Shard | undefined): { unit: ShardManifest['unit']; range: Range | null; total: number | null } {
  if (shard === undefined) return { unit: 'all', range: null, total: null };
  if (files[0] === '-') throw new Error("predict: stdin ('-') cannot be sharded: give a file");
  if (files.length > 1) return { unit: 'files', range: evenRange(files.length, shard), total: files.length };
  if (isIdxPath(files[0])) {
    const records = idxRecords(files[0]);
    return { unit: 'records', range: evenRange(records, shard), total: records };
  }
  const { range, size } = csvSplit(files[0], shard);
  return { unit: 'bytes', range, total: size };
}

/** Removes temp files a killed run of this output left behind (temp names: .<base>.tmp-<pid>-<hex>). */
function removeStaleTemps(output: string): void {
  const dir = path.dirname(path.resolve(output));
  const prefix = `.${path.basename(output)}.tmp-`;
  let names: string[];
  try { names = fs.readdirSync(dir); } catch { return; }
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const pid = Number(n.slice(prefix.length).split('-')[0]);
    if (pid === process.pid) continue;
    try { fs.unlinkSync(path.join(dir, n)); } catch { /* gone */ }
  }
}

/**
 * Predicts every row of `input` (a CSV file, an IDX file, '-' for CSV on stdin, a list of files, or a
 * directory of them) with `model` (a saved model directory, or a Module) and writes the predictions
 * CSV to `output` (atomically: temp file + rename; '-' = stdout). With `shard`, only its share: a byte
 * range of whole lines of one CSV, a record range of one IDX file, or whole files of a list, and a
 * manifest `<output>.manifest.json` (input sizes and mtimes, range, rows, model digest, output sha256);
 * a shard whose manifest and output match is not run again. Memory stays bounded by the batch size.
 * @param model - a saved model directory (see save) or an nn.Module.
 * @param input - a CSV file, an IDX file, '-' for CSV on stdin, a directory of them, or a list of files.
 * @param output - the predictions CSV path ('-' = stdout; a shard needs a file, for its manifest).
 * @param options - shard, batchSize (default 1024), probabilities, precision (significant digits, default 6), inputScale, inputShape, labelColumn, delimiter, header, maxLineLength, maxColumns, manifest (default: true with a shard), log.
 * @returns rows predicted, whether a finished shard was skipped, the output and manifest paths, and the range covered.
 * @throws Error for an unknown option, a bad shard, batchSize not a positive integer, precision not an integer in [1, 17], output not a non-empty path, a shard written to '-', a missing or unreadable input, or a row that does not fit the model.
 * @example
 * ```ts
 * await predictFile('digits-model', 'test.csv', 'predictions.csv', { probabilities: true });
 * ```
 */
export async function predictFile(model: string | Module, input: string | readonly string[], output: string, options: PredictFileOptions = {}): Promise<PredictFileResult> {
  checkOptions('predictFile', options, OPTION_KEYS);
  const o = options;
  const shard = o.shard === undefined ? undefined : checkShard(o.shard, 'predictFile');
  const batch = o.batchSize ?? 1024;
  if (!Number.isSafeInteger(batch) || batch < 1) throw new Error(`predictFile: batchSize must be a positive integer, got ${String(batch)}`);
  const precision = o.precision ?? 6;
  if (!Number.isSafeInteger(precision) || precision < 1 || precision > 17) throw new Error(`predictFile: precision must be an integer in [1, 17], got ${String(precision)}`);
  if (typeof output !== 'string' || output === '') throw new Error(`predictFile: output must be a file path (or '-'), got ${JSON.stringify(output)}`);
  const withManifest = o.manifest ?? shard !== undefined;
  if (withManifest && output === '-') throw new Error("predictFile: a shard's output must be a file (it gets a manifest), not '-'");
  const log = o.log ?? ((): void => undefined);

  const files = expandInputs(input);
  const work = planWork(files, shard);
  const inputs: InputFile[] = files[0] === '-' ? [] : files.map((f) => {
    const st = fs.statSync(f);
    return { path: path.resolve(f), size: st.size, mtimeMs: st.mtimeMs };
  });
  const format = {
    probabilities: o.probabilities === true, precision, inputScale: o.inputScale !== false,
    labelColumn: o.labelColumn ?? null, delimiter: o.delimiter ?? null, header: o.header ?? null,
  };
  const p = prepare(model, format.inputScale, o.inputShape);
  try {
    return await runPrepared(p, files, output, o, { shard, batch, precision, withManifest, log, work, inputs, format });
  } finally {
    p.restore();
  }
}

async function runPrepared(
  p: Prepared, files: string[], output: string, o: PredictFileOptions,
  c: { shard: Shard | undefined; batch: number; precision: number; withManifest: boolean; log: (m: string) => void; work: ReturnType<typeof planWork>; inputs: InputFile[]; format: ShardManifest['predict'] },
): Promise<PredictFileResult> {
  const { shard, batch, precision, withManifest, log, work, inputs, format } = c;
  const manifestPath = withManifest ? manifestPathFor(output) : null;
  const planned: Omit<ShardManifest, 'rows' | 'output'> = {
    format: 'myelin-shard', version: 1, shard: shard ?? { index: 0, count: 1 }, unit: work.unit, range: work.range, total: work.total,
    inputs, model: { digest: p.digest, path: p.modelPath }, predict: format,
  };

  if (manifestPath !== null) {
    const old = readShardManifest(manifestPath, false);
    if (old !== null && sameWork(old, planned) && fs.existsSync(output) && fileSha256(output) === old.output.sha256) {
      log(`shard ${planned.shard.index}/${planned.shard.count}: already done (${old.rows} rows in ${output}, manifest ${manifestPath} matches): nothing to do`);
      return { rows: old.rows, skipped: true, output, manifest: manifestPath, unit: work.unit, range: work.range };
    }
    // Start over: no manifest may describe the output while it is rewritten.
    try { fs.unlinkSync(manifestPath); } catch { /* none */ }
    removeStaleTemps(output);
    removeStaleTemps(manifestPath);
    fs.mkdirSync(path.dirname(path.resolve(output)), { recursive: true });
  }

  const csvOptions = csvOptionsFor(p, o, batch);
  async function* batches(): AsyncGenerator<RowBatch & { file: string }> {
    const list = work.unit === 'files' ? files.slice(work.range!.start, work.range!.end) : files;
    for (const f of list) {
      let src: AsyncGenerator<RowBatch>;
      if (f !== '-' && isIdxPath(f)) src = idxBatches(f, batch, work.unit === 'records' ? work.range! : undefined);
      else if (work.unit === 'bytes') src = csvBatches(f, csvOptions, { firstLine: csvSplit(f, shard!).firstLine, range: work.range! });
      else src = csvBatches(f, csvOptions);
      for await (const b of src) yield { ...b, file: f };
    }
  }

  // A token-id model takes the width of the rows it gets (the sequence length): one runner per width.
  const runners = new Map<number, ReturnType<typeof makeRunner>>();
  const runnerFor = (features: number): ReturnType<typeof makeRunner> => {
    let r = runners.get(features);
    if (r === undefined) runners.set(features, (r = makeRunner(p.model, features, p.sample ?? [features])));
    return r;
  };
  const { endsWithSoftmax } = runnerFor(p.features ?? 1);
  const writer = new PredictionWriter({ task: p.task, classNames: p.classNames, probabilities: format.probabilities, precision, endsWithSoftmax });
  const sink = new OutputSink(output);
  const prep = p.prep;
  let total = 0;
  let headerWritten = false;
  const emit = async (rows: number, out: Float32Array): Promise<void> => {
    const text = writer.lines(rows, out);
    if (!headerWritten) {
      await sink.write(writer.header(out.length / rows));
      headerWritten = true;
    }
    await sink.write(text);
    total += rows;
  };
  // A pipeline: batch k+1 runs (off the main thread) while batch k's output is written, and the
  // CSV parse workers read ahead meanwhile.
  let pending: { rows: number; out: Promise<Float32Array> } | null = null;
  try {
    for await (const b of batches()) {
      if (p.features !== null && b.features !== p.features) {
        const hint = b.features === p.features + 1 ? ' (does the input have a label column? pass --label-column)' : '';
        throw new Error(`predict: ${b.file}: rows have ${b.features} values, the model expects ${p.features}${hint}`);
      }
      let x = b.x;
      if (!b.ready && prep !== null) x = prep.transformX(x, 'predict').data;
      else if (!b.ready && p.legacyScale !== 1) for (let i = 0; i < x.length; i++) x[i] *= p.legacyScale;
      const raw = runnerFor(b.features).run(x, b.rows).catch((err: Error) => {
        throw p.features === null || err.message.startsWith('embedding') ? new Error(`predict: ${b.file}: ${err.message}`) : err;
      });
      const next = { rows: b.rows, out: prep === null ? raw : raw.then((r) => prep.outputs(new Tensor(r, [b.rows, r.length / b.rows])).data) };
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
  if (manifestPath !== null) {
    writeShardManifest(manifestPath, { ...planned, rows: total, output: { file: path.basename(output), bytes: sink.bytes, sha256: sink.sha256() } });
  }
  return { rows: total, skipped: false, output, manifest: manifestPath, unit: work.unit, range: work.range };
}

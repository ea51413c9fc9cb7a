// `myelin train`: trains an MLP (or any architecture given as toConfig JSON: --arch) on digits, Fashion-MNIST or a CSV file, reports accuracy and speed, saves the model.
import * as fs from 'fs';
import { Command } from 'commander';
import { Module, Sequential, Linear, ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Embedding, Flatten, fromConfig } from '../nn';
import { checkConfig } from '../nn/from-config';
import type { LayerConfig } from '../nn';
import { noGrad } from '../autograd';
import { readRegularFileSync } from '../io/read-file';
import { fit, evaluate, validationSplitRows } from '../train';
import type { FitData } from '../train';
import type { OptimizerName } from '../train';
import { PRECISIONS } from '../autocast';
import type { Precision } from '../autocast';
import { loadDigits, loadFashionMnist } from '../data';
import { readCsv, CsvTable, AUTO_MAX_CLASSES } from '../data/csv';
import { Tensor } from '../tensor';
import { deriveSeed, randomSeed } from '../random';
import { save, loadCheckpoint, inferInputShape, JsonValue } from '../io/model-file';
import {
  UsageError, CsvCliOptions, addCsvOptions, csvOptionsOf, choiceParser, fractionParser, layersParser, nonNegativeIntParser,
  positiveIntParser, positiveNumberParser,
} from './args';
import { checkOutputDir } from './paths';
import { checkOutputFile } from '../train/report-options';
import { writeFileAtomicSync } from '../io/atomic';
import { Readable } from 'stream';
import type { Vocabulary } from '../data/text';
import { encodeTexts, idsCsv, readTextTable, textLength, vocabularyOf } from './text-data';

/** Default --max-params: 50 million weights (200 MB as float32; training with Adam needs about 4x that). */
export const DEFAULT_MAX_PARAMS = 50_000_000;
/** Default --max-classes: more distinct integer labels than this usually means a regression target or the wrong column. */
export const DEFAULT_MAX_CLASSES = 1000;
/** Exit code of a run whose training diverged (the model is saved, the report says DIVERGED). */
export const EXIT_DIVERGED = 3;

const ACTIVATIONS = ['relu', 'leakyRelu', 'sigmoid', 'tanh', 'gelu'] as const;
type ActivationName = (typeof ACTIVATIONS)[number];
const OPTIMIZERS = ['adam', 'adamw', 'sgd', 'rmsprop'] as const;
const TASKS = ['auto', 'classification', 'regression'] as const;
const MISSING = ['error', 'drop', 'mean'] as const;
type Task = (typeof TASKS)[number];

export interface TrainCommandOptions extends CsvCliOptions {
  data: string;
  layers: number[];
  /** A JSON file with an architecture as model.toConfig() writes it (or a saved model.json): trained instead of an MLP. */
  arch?: string;
  /** The shape of one input row, e.g. [1, 28, 28] (default: the images' shape for a --arch starting with a convolution). */
  inputShape?: number[];
  epochs: number;
  lr?: number;
  batch: number;
  out: string;
  seed?: number;
  activation: ActivationName;
  optimizer: OptimizerName;
  /** Precision of the matrix products (fit's precision option). */
  precision: Precision;
  valSplit?: number;
  dataDir?: string;
  maxParams: number;
  maxClasses: number;
  task: Task;
  standardize: boolean;
  missing: 'error' | 'drop' | 'mean';
  oneHot?: true | string;
  quiet?: boolean;
  checkpointDir?: string;
  resume?: string;
  /** CSV features are token ids: the model starts with Embedding(vocab, dim) and Flatten (vocab null: the --vocab's size). */
  embedding?: { vocab: number | null; dim: number };
  /** Raw text: 'char' or 'word' (a Vocabulary fitted on the texts) or a vocabulary JSON file; saved with the model. */
  vocab?: string;
  /** With --vocab: the CSV column holding the text (name or index). */
  textColumn?: string;
  /** With --vocab: token ids per text (padded / cut; default the longest text). */
  seqLen?: number;
  /** HTML training report to write (fit's report option). */
  report?: string;
  /** CSV of the History to write (history.toCsv()). */
  history?: string;
}

interface Part { x: Float32Array; y: Int32Array | Float32Array; n: number; features: number }

interface LoadedData {
  name: string;
  /** The shape of one image ([1, 28, 28]) for the image data sets, null for CSV rows. */
  imageShape: number[] | null;
  train: Part;
  test: Part | null;
  features: number;
  /** Number of classes, or 0 for regression. */
  classes: number;
  /** Images: raw pixels times this is what the model was trained on (metadata.inputScale); null for CSV data. */
  inputScale: number | null;
  featureNames: string[] | null;
  classNames: readonly string[] | null;
  /** The CSV table (names, class names, fill values, schema) fit's standardize hands to the Preprocessor. */
  table: CsvTable | null;
  /** Report lines about the data: the task decision, dropped or filled rows. */
  notes: string[];
  /** --vocab: the vocabulary, the token ids per text and the text column. */
  text?: { vocab: Vocabulary; length: number; column: string | number };
}

function activationModule(name: ActivationName): Module {
  switch (name) {
    case 'relu': return new ReLU();
    case 'leakyRelu': return new LeakyReLU();
    case 'sigmoid': return new Sigmoid();
    case 'tanh': return new Tanh();
    case 'gelu': return new GELU();
  }
}

/** Sequential(Linear, act, ..., Linear) with seeded initialisation. */
export function buildMlp(inputs: number, hidden: number[], outputs: number, activation: ActivationName, seed: number): Module {
  const layers: Module[] = [];
  let width = inputs;
  hidden.forEach((h, i) => {
    layers.push(new Linear(width, h, { seed: deriveSeed(seed, i) }));
    layers.push(activationModule(activation));
    width = h;
  });
  layers.push(new Linear(width, outputs, { seed: deriveSeed(seed, hidden.length) }));
  return new Sequential(...layers);
}

async function loadData(opts: TrainCommandOptions, seed: number): Promise<LoadedData> {
  if (opts.data === 'digits') {
    const d = loadDigits({ seed });
    return {
      name: 'digits', imageShape: [1, 8, 8], train: d.train, test: d.test, features: d.features, classes: d.classes, inputScale: 1 / 16,
      featureNames: null, classNames: null, table: null, notes: [],
    };
  }
  if (opts.data === 'fashion-mnist') {
    const d = loadFashionMnist(opts.dataDir !== undefined ? { dir: opts.dataDir } : {});
    return {
      name: 'fashion-mnist', imageShape: [1, 28, 28], train: d.train, test: d.test, features: d.features, classes: d.classes, inputScale: 1 / 255,
      featureNames: null, classNames: d.classNames, table: null, notes: [],
    };
  }
  if (!fs.existsSync(opts.data)) {
    throw new UsageError(`--data must be 'digits', 'fashion-mnist' or the path of a CSV file, got '${opts.data}' (no such file)`);
  }
  let text: LoadedData['text'];
  let source: string | Readable = opts.data;
  let csvOpts = csvOptionsOf(opts, 'last');
  if (opts.vocab !== undefined) {
    // Raw text: the text column encoded with the vocabulary into rows of token ids, read as a token-id CSV (label last).
    const table = readTextTable(opts.data, {
      labelColumn: opts.labelColumn ?? 'last', flag: '--data',
      ...(opts.textColumn !== undefined ? { textColumn: opts.textColumn } : {}), ...(opts.delimiter !== undefined ? { delimiter: opts.delimiter } : {}),
      ...(opts.header !== undefined ? { header: opts.header } : {}),
    });
    const vocab = vocabularyOf(opts.vocab, table.texts);
    const length = textLength(vocab, table.texts, opts.seqLen);
    source = Readable.from([idsCsv(encodeTexts(vocab, table.texts, length, '--data'), length, table.labels, table.labelName)]);
    csvOpts = { labelColumn: 'last', header: true, delimiter: ',' };
    text = { vocab, length, column: table.textColumn };
  }
  const t = await readCsv(source, {
    ...csvOpts, task: opts.task, missing: opts.missing,
    ...(opts.oneHot !== undefined ? { oneHot: opts.oneHot === true ? true : opts.oneHot.split(',').map((c) => c.trim()) } : {}),
  });
  const y = t.y as Int32Array | Float32Array;
  const notes = [`task ${t.task}: ${t.taskReason}`];
  if (t.dropped > 0) notes.push(`${t.dropped} row(s) with missing values dropped (--missing drop)`);
  if (t.filled > 0) notes.push(`${t.filled} missing value(s) filled with their column's mean (--missing mean)`);
  let classes = 0;
  if (t.task === 'classification') {
    const labels = y as Int32Array;
    let maxAt = 0;
    for (let i = 1; i < labels.length; i++) if (labels[i] > labels[maxAt]) maxAt = i;
    classes = t.classNames !== null ? t.classNames.length : Math.max(labels[maxAt], 1) + 1;
    if (classes > opts.maxClasses) {
      throw new UsageError(
        `train: the largest label is ${labels[maxAt]} (data row ${maxAt + 1}), which makes a ${classes}-class classifier, ` +
          `more than --max-classes ${opts.maxClasses}: for a regression target pass --task regression, for another ` +
          'column --label-column; raise --max-classes to train it anyway',
      );
    }
  }
  if (text !== undefined) notes.push(`text: column ${JSON.stringify(text.column)} as ${text.length} token ids per row, a ${text.vocab.level} vocabulary of ${text.vocab.size} tokens (saved with the model)`);
  return {
    name: opts.data, imageShape: null, train: { x: t.x, y, n: t.n, features: t.features }, test: null, features: t.features, classes,
    inputScale: null, featureNames: t.featureNames, classNames: t.classNames, table: t, notes, ...(text !== undefined ? { text } : {}),
  };
}

/** Parses --embedding <vocab>:<dim>, or <dim> alone (with --vocab, whose size is the vocab size). */
function embeddingParser(value: string): { vocab: number | null; dim: number } {
  const m = /^\s*(?:(\d+)\s*:\s*)?(\d+)\s*$/.exec(value);
  const vocab = m && m[1] !== undefined ? Number(m[1]) : null;
  const dim = m ? Number(m[2]) : 0;
  if (!m || (vocab !== null && vocab < 1) || dim < 1 || !Number.isSafeInteger((vocab ?? 1) * dim)) {
    throw new UsageError(`--embedding must be <vocab size>:<dimension>, two positive integers (e.g. 5000:32), or <dimension> with --vocab, got '${value}'`);
  }
  return { vocab, dim };
}

/** Every feature of a token-id CSV must be an integer id in [0, vocab): the first one that is not is named with its row and column. */
export function checkTokenIds(x: Float32Array, features: number, vocab: number, names: readonly string[] | null): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (Number.isInteger(v) && v >= 0 && v < vocab) continue;
    const row = Math.floor(i / features) + 1;
    const col = names?.[i % features] ?? `column ${i % features}`;
    const what = Number.isInteger(v) ? `is out of range for --embedding vocabulary size ${vocab} (ids are 0 to ${vocab - 1})` : 'is not an integer token id';
    throw new UsageError(`train: data row ${row}, ${col}: token id ${v} ${what}`);
  }
}

/** R2, RMSE and MAE of predictions against targets (one value per row). */
export function regressionMetrics(pred: Float32Array, truth: Float32Array): { r2: number; rmse: number; mae: number } {
  let mean = 0;
  for (let i = 0; i < truth.length; i++) mean += truth[i] / truth.length;
  let ssRes = 0;
  let ssTot = 0;
  let abs = 0;
  for (let i = 0; i < truth.length; i++) {
    const e = pred[i] - truth[i];
    ssRes += e * e;
    ssTot += (truth[i] - mean) ** 2;
    abs += Math.abs(e);
  }
  return { r2: ssTot > 0 ? 1 - ssRes / ssTot : NaN, rmse: Math.sqrt(ssRes / truth.length), mae: abs / truth.length };
}

function fmt(v: number): string {
  return Number(v.toPrecision(5)).toString();
}

function pct(v: number | undefined): string {
  return v === undefined ? 'n/a' : `${(v * 100).toFixed(2)}%`;
}

/** Weights and biases of an MLP with these layer widths (inputs, hidden..., outputs). */
export function mlpParameterCount(widths: readonly number[]): number {
  let n = 0;
  for (let i = 1; i < widths.length; i++) n += (widths[i - 1] + 1) * widths[i];
  return n;
}

function checkModelSize(widths: readonly number[], maxParams: number): void {
  const count = mlpParameterCount(widths);
  if (count > maxParams) {
    const mb = (count * 4) / 1e6;
    throw new UsageError(
      `the ${widths.join('-')} MLP would have ${count.toLocaleString('en-US')} parameters ` +
        `(${mb >= 1000 ? `${(mb / 1000).toFixed(1)} GB` : `${mb.toFixed(0)} MB`} of float32 weights, about 4x that to train), ` +
        `more than --max-params ${maxParams.toLocaleString('en-US')}: choose smaller --layers, or raise --max-params`,
    );
  }
}

/** An architecture read from --arch: a toConfig() JSON object, or a saved model.json (its "architecture"). */
export function readArchitecture(file: string): LayerConfig {
  let text: string;
  try {
    text = readRegularFileSync(file, { maxBytes: 64 * 1024 * 1024 }, '--arch').toString('utf8');
  } catch (err) {
    throw new UsageError(`--arch: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--arch: ${file} is not valid JSON: ${(err as Error).message}`);
  }
  const obj = json as Record<string, unknown> | null;
  const arch = obj !== null && typeof obj === 'object' && !Array.isArray(obj) && obj.type === undefined && obj.architecture !== undefined ? obj.architecture : json;
  try {
    checkConfig(arch);
  } catch (err) {
    throw new UsageError(`--arch: ${file}: ${(err as Error).message} (expected the JSON model.toConfig() returns, e.g. examples/fashion-cnn.json)`);
  }
  return arch as LayerConfig;
}

/** The first layer type of an architecture (through containers), e.g. 'Conv2d'. */
function firstLayerType(c: LayerConfig): string {
  const layers = (c as { layers?: LayerConfig[] }).layers;
  return c.type === 'Sequential' && Array.isArray(layers) && layers.length > 0 ? firstLayerType(layers[0]) : c.type;
}

/** Seeds every layer's initialisation from `seed` (a Sequential's layers each from a derived seed, as Sequential({ seed })). */
function seedModel(m: Module, seed: number): void {
  if (m instanceof Sequential) m.layers.forEach((l, i) => seedModel(l, deriveSeed(seed, i)));
  else m.seedIfUnseeded(seed);
}

/**
 * The --arch model, seeded, with the shape of one input row: --input-shape, else what the architecture implies
 * (its first Linear), else the images' shape for image data, else the flat row. Checked by a forward pass on one
 * row: the output must have one value per class (or 1 for regression).
 */
/** True when the architecture's first layer is an Embedding (its input rows are token ids). */
function startsWithEmbedding(config: LayerConfig): boolean {
  const layers = (config as { layers?: LayerConfig[] }).layers;
  if (config.type === 'Sequential' && Array.isArray(layers)) return layers.length > 0 && startsWithEmbedding(layers[0]);
  return config.type === 'Embedding';
}

function buildArchitecture(opts: TrainCommandOptions, arch: LayerConfig, data: LoadedData, outputs: number, seed: number): { model: Module; inputShape: number[] } {
  let model: Module;
  try {
    model = fromConfig(arch);
  } catch (err) {
    throw new UsageError(`--arch: ${opts.arch}: ${(err as Error).message}`);
  }
  seedModel(model, seed);
  const count = model.parameters().reduce((n, p) => n + p.size, 0);
  if (count > opts.maxParams) {
    throw new UsageError(`--arch: the architecture in ${opts.arch} has ${count.toLocaleString('en-US')} parameters, more than --max-params ${opts.maxParams.toLocaleString('en-US')}`);
  }
  const implied = inferInputShape(arch);
  const conv = /^(Conv|MaxPool|AvgPool|BatchNorm2d|AdaptiveAvgPool)/.test(firstLayerType(arch));
  const inputShape = opts.inputShape ?? implied ?? (conv && data.imageShape !== null ? data.imageShape : [data.features]);
  const size = inputShape.reduce((a, b) => a * b, 1);
  if (size !== data.features) {
    throw new UsageError(`--input-shape [${inputShape.join(',')}] has ${size} values, the rows of ${data.name} have ${data.features}`);
  }
  let out: Tensor;
  try {
    model.eval();
    out = noGrad(() => model.forward(new Tensor(new Float32Array(size), [1, ...inputShape])) as Tensor);
    model.train();
  } catch (err) {
    throw new UsageError(`--arch: the architecture in ${opts.arch} does not take rows of shape [${inputShape.join(',')}]: ${(err as Error).message}${opts.inputShape === undefined ? ' (set --input-shape)' : ''}`);
  }
  if (out.size !== outputs) {
    throw new UsageError(
      `--arch: the architecture in ${opts.arch} gives ${out.size} output value(s) per row (shape [${out.shape.join(',')}]), ` +
        `but ${data.name} needs ${outputs} (${data.classes > 0 ? `${data.classes} classes` : 'one regression target'})`,
    );
  }
  return { model, inputShape };
}

/** Runs the train command; writes progress to stderr and the report to stdout. Resolves with the exit code. */
export async function runTrain(opts: TrainCommandOptions): Promise<number> {
  // Refuse unusable output paths before any work (Node 20's mkdirSync never returns under /proc).
  checkOutputDir(opts.out, '--out');
  if (opts.checkpointDir !== undefined) checkOutputDir(opts.checkpointDir, '--checkpoint-dir');
  for (const [flag, file] of [['--report', opts.report], ['--history', opts.history]] as const) {
    if (file === undefined) continue;
    try {
      checkOutputFile('train', flag, file);
    } catch (err) {
      throw new UsageError((err as Error).message.replace(/^train: /, ''));
    }
  }
  // A resumed run must reuse the interrupted run's seed (same data split and shuffles).
  const resumedSeed = opts.resume !== undefined ? loadCheckpoint(opts.resume).trainingState.seed : undefined;
  const seed = opts.seed ?? (typeof resumedSeed === 'number' ? resumedSeed : randomSeed());
  const arch = opts.arch !== undefined ? readArchitecture(opts.arch) : null;
  if (opts.embedding !== undefined && opts.embedding.vocab === null && opts.vocab === undefined) {
    throw new UsageError(`--embedding must be <vocab size>:<dimension> for a CSV of token ids, got '${opts.embedding.dim}' (a dimension alone goes with --vocab)`);
  }
  const data = await loadData(opts, seed);
  const outputs = data.classes > 0 ? data.classes : 1;
  const given = opts.embedding ?? null;
  if (data.text !== undefined && given === null && arch === null) {
    throw new UsageError(`--vocab gives token ids: add --embedding <dimension> (an Embedding of the ${data.text.vocab.size}-token vocabulary), or an --arch that starts with an Embedding`);
  }
  if (given !== null && given.vocab !== null && data.text !== undefined && given.vocab !== data.text.vocab.size) {
    throw new UsageError(`--embedding ${given.vocab}:${given.dim}: the --vocab vocabulary has ${data.text.vocab.size} tokens (give --embedding ${given.dim})`);
  }
  const emb = given === null ? null : { vocab: given.vocab ?? (data.text as { vocab: Vocabulary }).vocab.size, dim: given.dim };
  if (emb !== null) {
    if (arch !== null) throw new UsageError('--embedding builds an Embedding + MLP of its own: with --arch, put an Embedding layer first in the architecture instead');
    if (data.table === null) throw new UsageError(`--embedding needs a CSV of token ids as --data, got '${opts.data}'`);
    checkTokenIds(data.train.x, data.features, emb.vocab, data.featureNames);
  }
  if (arch !== null && data.text !== undefined && !startsWithEmbedding(arch)) throw new UsageError(`--vocab gives token ids: the architecture in ${opts.arch} must start with an Embedding`);
  // Token ids (an Embedding first) are never standardised: an Embedding reads them as row numbers.
  const tokenIds = emb !== null || (arch !== null && startsWithEmbedding(arch));
  let model: Module;
  let inputShape = [data.features];
  let mlpInputs = data.features;
  if (arch !== null) ({ model, inputShape } = buildArchitecture(opts, arch, data, outputs, seed));
  else {
    mlpInputs = emb === null ? data.features : data.features * emb.dim;
    checkModelSize([mlpInputs, ...opts.layers, outputs], opts.maxParams - (emb === null ? 0 : emb.vocab * emb.dim));
    const mlp = buildMlp(mlpInputs, opts.layers, outputs, opts.activation, seed);
    model = emb === null ? mlp : new Sequential(new Embedding(emb.vocab, emb.dim, { seed: deriveSeed(seed, 1000) }), new Flatten(), ...(mlp as Sequential).layers);
  }
  const shaped = inputShape.length > 1;
  if (shaped && data.table !== null && opts.standardize) data.notes.push(`rows as [${inputShape.join(',')}]: features not standardised (a preprocessor works on flat rows)`);
  const y = data.classes > 0 ? data.train.y : new Float32Array(data.train.y);
  // CSV data without a test set holds out 10% by default, when that leaves a row on each side.
  const defaultSplit = data.test === null && Math.floor(data.train.n * 0.1) >= 1 ? 0.1 : undefined;
  const validationSplit = opts.valSplit !== undefined && opts.valSplit > 0 ? opts.valSplit : opts.valSplit === 0 ? undefined : defaultSplit;
  let valRows = 0;
  try {
    if (validationSplit !== undefined) valRows = validationSplitRows(data.train.n, validationSplit);
  } catch (err) {
    throw new UsageError(`--val-split: ${(err as Error).message.replace(/^fit: /, '')}`);
  }
  const trainRows = data.train.n - valRows;
  // CSV: a Preprocessor fitted on the training rows (standardised features and regression targets
  // unless --no-standardize; names, class names, fill values, columns) travels in the model.
  const asRows = (part: Part, yy: Int32Array | Float32Array): FitData => (shaped
    ? { x: new Tensor(part.x, [part.n, ...inputShape]), y: yy }
    : { x: part.x, y: yy, n: part.n, features: data.features });
  const trainData: FitData = data.table !== null && !shaped ? { ...data.table, y } : asRows(data.train, y);
  const regression = data.classes === 0;
  let epochsRun = 0;
  const started = performance.now();
  const history = await fit(model, trainData, {
    epochs: opts.epochs,
    batchSize: opts.batch,
    optimizer: opts.optimizer,
    precision: opts.precision,
    ...(opts.lr !== undefined ? { lr: opts.lr } : {}),
    seed,
    ...(validationSplit !== undefined ? { validationSplit } : {}),
    ...(data.table !== null && !shaped ? { standardize: { standardize: opts.standardize && !tokenIds, targetScale: opts.standardize && regression } } : {}),
    verbose: opts.quiet === true ? 0 : 1,
    output: process.stderr,
    ...(opts.checkpointDir !== undefined ? { checkpointDir: opts.checkpointDir } : {}),
    ...(opts.resume !== undefined ? { resumeFrom: opts.resume } : {}),
    onEpochEnd: () => { epochsRun++; },
    ...(opts.report !== undefined ? {
      report: {
        path: opts.report,
        title: `myelin train: ${[data.features, ...opts.layers, outputs].join('-')} MLP on ${data.name}`,
        dataName: data.name,
        notes: data.notes,
        ...(data.test !== null ? { evaluationData: data.test, evaluationName: `the test set (${data.test.n} rows)` } : {}),
      },
    } : {}),
  });
  if (opts.history !== undefined) writeFileAtomicSync(opts.history, history.toCsv());
  const seconds = (performance.now() - started) / 1000;
  const trainedRows = trainRows * epochsRun;
  const test = data.test === null ? null : evaluate(model, asRows(data.test, data.test.y));
  // Regression: validation figures in the target's units (the model's outputs are mapped back).
  const regressionReport: string[] = [];
  if (regression && valRows > 0) {
    const x = data.train.x.subarray(trainRows * data.features, data.train.n * data.features);
    const pred = model.predict(new Tensor(x, [valRows, ...inputShape])).data;
    const truth = (data.train.y as Float32Array).subarray(trainRows);
    const m = regressionMetrics(pred, truth);
    regressionReport.push(`  validation R2:       ${m.r2.toFixed(4)}`, `  validation RMSE:     ${fmt(m.rmse)}`, `  validation MAE:      ${fmt(m.mae)}`);
  }

  const metadata: Record<string, JsonValue> = {
    task: data.classes > 0 ? 'classification' : 'regression',
    classes: data.classes,
    dataset: data.name,
    seed,
    ...(arch === null ? { activation: opts.activation } : { arch: opts.arch as string }),
  };
  // Images: the loaders scale pixels to [0, 1], as the library's own data.loadDigits / loadFashionMnist
  // give them to code; `myelin predict` multiplies raw pixels by metadata.inputScale.
  if (data.inputScale !== null) metadata.inputScale = data.inputScale;
  if (data.table === null && data.classNames !== null) metadata.classNames = [...data.classNames];
  if (data.table?.labelName != null) metadata.labelName = data.table.labelName;
  // --vocab: `myelin predict` encodes text input with this vocabulary into rows of this length.
  if (data.text !== undefined) {
    metadata.vocab = data.text.vocab.toJSON() as unknown as JsonValue;
    metadata.text = { length: data.text.length, column: data.text.column };
  }
  save(model, opts.out, { inputShape, metadata });

  const last = (a: number[]): number | undefined => (a.length > 0 ? a[a.length - 1] : undefined);
  const what = arch === null
    ? `${emb === null ? '' : `Embedding(${emb.vocab}, ${emb.dim}) + `}${[mlpInputs, ...opts.layers, outputs].join('-')} MLP`
    : `${arch.type} from ${opts.arch} (${model.parameters().reduce((n, p) => n + p.size, 0).toLocaleString('en-US')} parameters, input [${inputShape.join(',')}])`;
  const lines = [
    `trained ${what} on ${data.name} ` +
      `(${valRows > 0 ? `${trainRows} training rows + ${valRows} validation rows` : `${trainRows} rows`}, ${history.epoch.length} epochs, seed ${seed})`,
    ...data.notes.map((n) => `  ${n}`),
  ];
  if (data.table !== null && !shaped) {
    lines.push(`  scaling:             ${tokenIds ? `none for token ids${regression && opts.standardize ? ', target standardised' : ''}` : opts.standardize ? `features standardised${regression ? ', target standardised' : ''} (saved in the model)` : 'none (--no-standardize)'}`);
  }
  lines.push(`  train loss:          ${last(history.loss)?.toFixed(4) ?? 'n/a'}${regression && opts.standardize && data.table !== null ? ' (standardised target)' : ''}`);
  if (data.classes > 0) {
    lines.push(`  train accuracy:      ${pct(last(history.accuracy))}`);
    if (history.valAccuracy.length > 0) lines.push(`  validation accuracy: ${pct(last(history.valAccuracy))}`);
    if (test !== null) lines.push(`  test accuracy:       ${pct(test.accuracy)} (${data.test?.n} rows)`);
  } else {
    lines.push(...regressionReport);
    if (test !== null) lines.push(`  test mse:            ${test.loss.toFixed(6)}`);
  }
  lines.push(`  time:                ${seconds.toFixed(2)} s (${Math.round(trainedRows / Math.max(seconds, 1e-9)).toLocaleString('en-US')} samples/s)`);
  lines.push(`  saved to:            ${opts.out}`);
  if (opts.report !== undefined) lines.push(`  report:              ${opts.report}`);
  if (opts.history !== undefined) lines.push(`  history:             ${opts.history}`);
  for (const w of history.warnings) lines.push(`  DIVERGED:            ${w.message}`);
  process.stdout.write(lines.join('\n') + '\n');
  return history.warnings.length > 0 ? EXIT_DIVERGED : 0;
}

export function registerTrain(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('train')
    .description('train a multilayer perceptron (or the architecture of --arch) and save it')
    .requiredOption('--data <source>', "'digits' (built in), 'fashion-mnist', or a CSV file (label in the last column by default)")
    .requiredOption('--out <dir>', 'directory to save the trained model in')
    .option('--layers <sizes>', 'hidden layer sizes, comma-separated (e.g. 256,128)', layersParser('--layers'), [128])
    .option('--arch <file>', 'train this architecture instead of an MLP: the JSON model.toConfig() returns (or a saved model.json), e.g. examples/fashion-cnn.json')
    .option('--input-shape <dims>', 'with --arch: the shape of one input row, comma-separated (default: 1,28,28 / 1,8,8 for images when the architecture starts with a convolution)', layersParser('--input-shape'))
    .option('--epochs <n>', 'training epochs', positiveIntParser('--epochs'), 5)
    .option('--lr <rate>', 'learning rate (default 1e-3, rmsprop 1e-2: the optimizer defaults)', positiveNumberParser('--lr'))
    .option('--batch <n>', 'batch size', positiveIntParser('--batch'), 128)
    .option('--seed <n>', 'random seed (initialisation, shuffling, split)', nonNegativeIntParser('--seed'))
    .option('--activation <name>', `hidden activation: ${ACTIVATIONS.join(', ')}`, choiceParser('--activation', ACTIVATIONS), 'relu')
    .option('--optimizer <name>', `optimizer: ${OPTIMIZERS.join(', ')}`, choiceParser('--optimizer', OPTIMIZERS), 'adam')
    .option('--precision <p>', `precision of the matrix products: ${PRECISIONS.join(', ')} (bf16: mixed precision, float32 weights; fast on CPUs with AVX512-BF16)`, choiceParser('--precision', PRECISIONS), 'fp32')
    .option('--val-split <fraction>', 'fraction of training rows held out for validation (CSV default 0.1)', fractionParser('--val-split'))
    .option('--label-column <name|index>', 'CSV label column: a header name or 0-based index (default: last)')
    .option('--delimiter <char>', 'CSV delimiter (default: detected)')
    .option('--task <task>', `CSV task: ${TASKS.join(', ')} (auto: text labels and integers in [0, ${AUTO_MAX_CLASSES}) -> classification, other numbers -> regression)`, choiceParser('--task', TASKS), 'auto')
    .option('--no-standardize', 'CSV: do not standardise the features (and regression target); by default both are, with the training rows\' statistics saved in the model')
    .option('--missing <how>', `CSV missing values (empty, NA, N/A, NaN, null): ${MISSING.join(', ')}`, choiceParser('--missing', MISSING), 'error')
    .option('--embedding <vocab:dim>', 'CSV features are token ids in [0, vocab): the model starts with Embedding(vocab, dim) and Flatten (e.g. 5000:32)', embeddingParser)
    .option('--vocab <char|word|file.json>', "CSV with a text column: encode it with a vocabulary ('char' or 'word': fitted on the texts; or a saved vocabulary .json) into token ids, saved with the model; goes with --embedding <dim>")
    .option('--text-column <name|index>', "with --vocab: the CSV column holding the text (default 'text', else the first column that is not the label)")
    .option('--seq-len <n>', 'with --vocab: token ids per text, padded or cut (default: the longest text)', positiveIntParser('--seq-len'))
    .option('--one-hot [columns]', 'CSV: encode text feature columns as one-hot columns (all text columns, or the comma-separated names)')
    .option('--data-dir <dir>', 'directory of the Fashion-MNIST files (default: $MYELIN_DATA or /usr/share/datasets/fashion-mnist)')
    .option('--checkpoint-dir <dir>', 'save a resumable checkpoint (model + optimizer + epoch) here after every epoch')
    .option('--resume <dir>', 'continue an interrupted run from its --checkpoint-dir (same --data and --layers)')
    .option('--max-params <n>', 'refuse models with more parameters', positiveIntParser('--max-params'), DEFAULT_MAX_PARAMS)
    .option('--max-classes <n>', 'refuse classification targets with more classes', positiveIntParser('--max-classes'), DEFAULT_MAX_CLASSES)
    .option('--report <file.html>', 'write a training report: one self-contained HTML file (curves, confusion matrix or predicted-vs-true scatter, model, settings, machine, time)')
    .option('--history <file.csv>', 'write the per-epoch history (loss, metrics, lr, seconds) as CSV')
    .option('-q, --quiet', 'no progress output');
  addCsvOptions(cmd).action(async (opts: TrainCommandOptions) => {
    if (opts.arch !== undefined) {
      for (const o of ['layers', 'activation'] as const) {
        if (cmd.getOptionValueSource(o) === 'cli') throw new UsageError(`--${o} describes the MLP; it cannot be combined with --arch (the architecture file describes the model)`);
      }
    } else if (opts.inputShape !== undefined) throw new UsageError('--input-shape goes with --arch (an MLP takes flat rows)');
    for (const o of ['textColumn', 'seqLen'] as const) {
      if (opts[o] !== undefined && opts.vocab === undefined) throw new UsageError(`--${o === 'textColumn' ? 'text-column' : 'seq-len'} goes with --vocab (raw text input)`);
    }
    setExit(await runTrain(opts));
  });
}

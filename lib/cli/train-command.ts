// `myelin train`: trains an MLP on digits, Fashion-MNIST or a CSV file, reports accuracy and speed, saves the model.
import * as fs from 'fs';
import { Command } from 'commander';
import { Module, Sequential, Linear, ReLU, LeakyReLU, Sigmoid, Tanh, GELU } from '../nn';
import { fit, evaluate, validationSplitRows } from '../train';
import type { FitData } from '../train';
import type { OptimizerName } from '../train';
import { loadDigits, loadFashionMnist } from '../data';
import { readCsv, CsvTable, AUTO_MAX_CLASSES } from '../data/csv';
import { Tensor } from '../tensor';
import { deriveSeed, randomSeed } from '../random';
import { save, loadCheckpoint, JsonValue } from '../io/model-file';
import {
  UsageError, CsvCliOptions, addCsvOptions, csvOptionsOf, choiceParser, fractionParser, layersParser, nonNegativeIntParser,
  positiveIntParser, positiveNumberParser,
} from './args';
import { checkOutputDir } from './paths';
import { checkOutputFile } from '../train/report-options';
import { writeFileAtomicSync } from '../io/atomic';

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
  epochs: number;
  lr?: number;
  batch: number;
  out: string;
  seed?: number;
  activation: ActivationName;
  optimizer: OptimizerName;
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
  /** HTML training report to write (fit's report option). */
  report?: string;
  /** CSV of the History to write (history.toCsv()). */
  history?: string;
}

interface Part { x: Float32Array; y: Int32Array | Float32Array; n: number; features: number }

interface LoadedData {
  name: string;
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
      name: 'digits', train: d.train, test: d.test, features: d.features, classes: d.classes, inputScale: 1 / 16,
      featureNames: null, classNames: null, table: null, notes: [],
    };
  }
  if (opts.data === 'fashion-mnist') {
    const d = loadFashionMnist(opts.dataDir !== undefined ? { dir: opts.dataDir } : {});
    return {
      name: 'fashion-mnist', train: d.train, test: d.test, features: d.features, classes: d.classes, inputScale: 1 / 255,
      featureNames: null, classNames: d.classNames, table: null, notes: [],
    };
  }
  if (!fs.existsSync(opts.data)) {
    throw new UsageError(`--data must be 'digits', 'fashion-mnist' or the path of a CSV file, got '${opts.data}' (no such file)`);
  }
  const t = await readCsv(opts.data, {
    ...csvOptionsOf(opts, 'last'), task: opts.task, missing: opts.missing,
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
  return {
    name: opts.data, train: { x: t.x, y, n: t.n, features: t.features }, test: null, features: t.features, classes,
    inputScale: null, featureNames: t.featureNames, classNames: t.classNames, table: t, notes,
  };
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
  const data = await loadData(opts, seed);
  const outputs = data.classes > 0 ? data.classes : 1;
  checkModelSize([data.features, ...opts.layers, outputs], opts.maxParams);
  const model = buildMlp(data.features, opts.layers, outputs, opts.activation, seed);
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
  const trainData: FitData = data.table !== null ? { ...data.table, y } : { x: data.train.x, y, n: data.train.n, features: data.features };
  const regression = data.classes === 0;
  let epochsRun = 0;
  const started = performance.now();
  const history = await fit(model, trainData, {
    epochs: opts.epochs,
    batchSize: opts.batch,
    optimizer: opts.optimizer,
    ...(opts.lr !== undefined ? { lr: opts.lr } : {}),
    seed,
    ...(validationSplit !== undefined ? { validationSplit } : {}),
    ...(data.table !== null ? { standardize: { standardize: opts.standardize, targetScale: opts.standardize && regression } } : {}),
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
  const test = data.test === null ? null : evaluate(model, data.test);
  // Regression: validation figures in the target's units (the model's outputs are mapped back).
  const regressionReport: string[] = [];
  if (regression && valRows > 0) {
    const x = data.train.x.subarray(trainRows * data.features, data.train.n * data.features);
    const pred = model.predict(new Tensor(x, [valRows, data.features])).data;
    const truth = (data.train.y as Float32Array).subarray(trainRows);
    const m = regressionMetrics(pred, truth);
    regressionReport.push(`  validation R2:       ${m.r2.toFixed(4)}`, `  validation RMSE:     ${fmt(m.rmse)}`, `  validation MAE:      ${fmt(m.mae)}`);
  }

  const metadata: Record<string, JsonValue> = {
    task: data.classes > 0 ? 'classification' : 'regression',
    classes: data.classes,
    dataset: data.name,
    seed,
    activation: opts.activation,
  };
  // Images: the loaders scale pixels to [0, 1], as the library's own data.loadDigits / loadFashionMnist
  // give them to code; `myelin predict` multiplies raw pixels by metadata.inputScale.
  if (data.inputScale !== null) metadata.inputScale = data.inputScale;
  if (data.table === null && data.classNames !== null) metadata.classNames = [...data.classNames];
  if (data.table?.labelName != null) metadata.labelName = data.table.labelName;
  save(model, opts.out, { inputShape: [data.features], metadata });

  const last = (a: number[]): number | undefined => (a.length > 0 ? a[a.length - 1] : undefined);
  const lines = [
    `trained ${[data.features, ...opts.layers, outputs].join('-')} MLP on ${data.name} ` +
      `(${valRows > 0 ? `${trainRows} training rows + ${valRows} validation rows` : `${trainRows} rows`}, ${history.epoch.length} epochs, seed ${seed})`,
    ...data.notes.map((n) => `  ${n}`),
  ];
  if (data.table !== null) {
    lines.push(`  scaling:             ${opts.standardize ? `features standardised${regression ? ', target standardised' : ''} (saved in the model)` : 'none (--no-standardize)'}`);
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
    .description('train a multilayer perceptron and save it')
    .requiredOption('--data <source>', "'digits' (built in), 'fashion-mnist', or a CSV file (label in the last column by default)")
    .requiredOption('--out <dir>', 'directory to save the trained model in')
    .option('--layers <sizes>', 'hidden layer sizes, comma-separated (e.g. 256,128)', layersParser('--layers'), [128])
    .option('--epochs <n>', 'training epochs', positiveIntParser('--epochs'), 5)
    .option('--lr <rate>', 'learning rate (default 1e-3, rmsprop 1e-2: the optimizer defaults)', positiveNumberParser('--lr'))
    .option('--batch <n>', 'batch size', positiveIntParser('--batch'), 128)
    .option('--seed <n>', 'random seed (initialisation, shuffling, split)', nonNegativeIntParser('--seed'))
    .option('--activation <name>', `hidden activation: ${ACTIVATIONS.join(', ')}`, choiceParser('--activation', ACTIVATIONS), 'relu')
    .option('--optimizer <name>', `optimizer: ${OPTIMIZERS.join(', ')}`, choiceParser('--optimizer', OPTIMIZERS), 'adam')
    .option('--val-split <fraction>', 'fraction of training rows held out for validation (CSV default 0.1)', fractionParser('--val-split'))
    .option('--label-column <name|index>', 'CSV label column: a header name or 0-based index (default: last)')
    .option('--delimiter <char>', 'CSV delimiter (default: detected)')
    .option('--task <task>', `CSV task: ${TASKS.join(', ')} (auto: text labels and integers in [0, ${AUTO_MAX_CLASSES}) -> classification, other numbers -> regression)`, choiceParser('--task', TASKS), 'auto')
    .option('--no-standardize', 'CSV: do not standardise the features (and regression target); by default both are, with the training rows\' statistics saved in the model')
    .option('--missing <how>', `CSV missing values (empty, NA, N/A, NaN, null): ${MISSING.join(', ')}`, choiceParser('--missing', MISSING), 'error')
    .option('--one-hot [columns]', 'CSV: encode text feature columns as one-hot columns (all text columns, or the comma-separated names)')
    .option('--data-dir <dir>', 'directory of the Fashion-MNIST files (default: $MYELIN_DATA or /usr/share/datasets/fashion-mnist)')
    .option('--checkpoint-dir <dir>', 'save a resumable checkpoint (model + optimizer + epoch) here after every epoch')
    .option('--resume <dir>', 'continue an interrupted run from its --checkpoint-dir (same --data and --layers)')
    .option('--max-params <n>', 'refuse models with more parameters', positiveIntParser('--max-params'), DEFAULT_MAX_PARAMS)
    .option('--max-classes <n>', 'refuse classification targets with more classes', positiveIntParser('--max-classes'), DEFAULT_MAX_CLASSES)
    .option('--report <file.html>', 'write a training report: one self-contained HTML file (curves, confusion matrix or predicted-vs-true scatter, model, settings, machine, time)')
    .option('--history <file.csv>', 'write the per-epoch history (loss, metrics, lr, seconds) as CSV')
    .option('-q, --quiet', 'no progress output');
  addCsvOptions(cmd).action(async (opts: TrainCommandOptions) => setExit(await runTrain(opts)));
}

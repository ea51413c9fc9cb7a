// `myelin train`: trains an MLP on digits, Fashion-MNIST or a CSV file, reports accuracy and speed, saves the model.
import * as fs from 'fs';
import { Command } from 'commander';
import { Module, Sequential, Linear, ReLU, LeakyReLU, Sigmoid, Tanh, GELU } from '../nn';
import { fit, evaluate } from '../train';
import type { OptimizerName } from '../train';
import { loadDigits, loadFashionMnist } from '../data';
import { readCsv } from '../data/csv';
import { deriveSeed, randomSeed } from '../random';
import { save, loadCheckpoint, JsonValue } from '../io/model-file';
import {
  UsageError, choiceParser, fractionParser, layersParser, nonNegativeIntParser, positiveIntParser, positiveNumberParser,
} from './args';

const ACTIVATIONS = ['relu', 'leakyRelu', 'sigmoid', 'tanh', 'gelu'] as const;
type ActivationName = (typeof ACTIVATIONS)[number];
const OPTIMIZERS = ['adam', 'adamw', 'sgd', 'rmsprop'] as const;
const TASKS = ['auto', 'classification', 'regression'] as const;
type Task = (typeof TASKS)[number];

export interface TrainCommandOptions {
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
  labelColumn?: string;
  dataDir?: string;
  task: Task;
  quiet?: boolean;
  checkpointDir?: string;
  resume?: string;
}

interface Part { x: Float32Array; y: Int32Array | Float32Array; n: number; features: number }

interface LoadedData {
  name: string;
  train: Part;
  test: Part | null;
  features: number;
  /** Number of classes, or 0 for regression. */
  classes: number;
  inputScale: number;
  featureNames: string[] | null;
  labelName: string | null;
  classNames: readonly string[] | null;
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
      featureNames: null, labelName: null, classNames: null,
    };
  }
  if (opts.data === 'fashion-mnist') {
    const d = loadFashionMnist(opts.dataDir !== undefined ? { dir: opts.dataDir } : {});
    return {
      name: 'fashion-mnist', train: d.train, test: d.test, features: d.features, classes: d.classes, inputScale: 1 / 255,
      featureNames: null, labelName: null, classNames: d.classNames,
    };
  }
  if (!fs.existsSync(opts.data)) {
    throw new UsageError(`--data must be 'digits', 'fashion-mnist' or the path of a CSV file, got '${opts.data}' (no such file)`);
  }
  const label = opts.labelColumn ?? 'last';
  const t = await readCsv(opts.data, { labelColumn: /^-?[0-9]+$/.test(label) ? Number(label) : label });
  const raw = t.y as Float32Array;
  const integral = raw.every((v) => Number.isInteger(v) && v >= 0);
  const classification = opts.task === 'classification' || (opts.task === 'auto' && integral);
  if (classification && !integral) {
    const bad = raw.findIndex((v) => !(Number.isInteger(v) && v >= 0));
    throw new Error(`train: --task classification needs non-negative integer labels; row ${bad + 1} has ${raw[bad]}`);
  }
  let y: Int32Array | Float32Array = raw;
  let classes = 0;
  if (classification) {
    y = Int32Array.from(raw);
    let maxLabel = 1;
    for (let i = 0; i < y.length; i++) if (y[i] > maxLabel) maxLabel = y[i];
    classes = maxLabel + 1;
    if (classes > 100000) throw new Error(`train: label values up to ${classes - 1} look like a regression target; pass --task regression`);
  }
  return {
    name: opts.data, train: { x: t.x, y, n: t.n, features: t.features }, test: null, features: t.features, classes,
    inputScale: 1, featureNames: t.featureNames, labelName: t.labelName, classNames: null,
  };
}

function pct(v: number | undefined): string {
  return v === undefined ? 'n/a' : `${(v * 100).toFixed(2)}%`;
}

/** Runs the train command; writes progress to stderr and the report to stdout. */
export async function runTrain(opts: TrainCommandOptions): Promise<void> {
  // A resumed run must reuse the interrupted run's seed (same data split and shuffles).
  const resumedSeed = opts.resume !== undefined ? loadCheckpoint(opts.resume).trainingState.seed : undefined;
  const seed = opts.seed ?? (typeof resumedSeed === 'number' ? resumedSeed : randomSeed());
  const data = await loadData(opts, seed);
  const outputs = data.classes > 0 ? data.classes : 1;
  const model = buildMlp(data.features, opts.layers, outputs, opts.activation, seed);
  const y = data.classes > 0 ? data.train.y : new Float32Array(data.train.y);
  const validationSplit = opts.valSplit ?? (data.test === null ? 0.1 : undefined);
  const started = performance.now();
  const history = await fit(model, { x: data.train.x, y, n: data.train.n, features: data.features }, {
    epochs: opts.epochs,
    batchSize: opts.batch,
    optimizer: opts.optimizer,
    ...(opts.lr !== undefined ? { lr: opts.lr } : {}),
    seed,
    ...(validationSplit !== undefined && validationSplit > 0 ? { validationSplit } : {}),
    verbose: opts.quiet === true ? 0 : 1,
    output: process.stderr,
    ...(opts.checkpointDir !== undefined ? { checkpointDir: opts.checkpointDir } : {}),
    ...(opts.resume !== undefined ? { resumeFrom: opts.resume } : {}),
  });
  const seconds = (performance.now() - started) / 1000;
  const trainedRows = data.train.n * history.epoch.length * (1 - (validationSplit ?? 0));
  const test = data.test === null ? null : evaluate(model, data.test);

  const metadata: Record<string, JsonValue> = {
    task: data.classes > 0 ? 'classification' : 'regression',
    classes: data.classes,
    dataset: data.name,
    inputScale: data.inputScale,
    seed,
    activation: opts.activation,
  };
  if (data.featureNames !== null) metadata.featureNames = data.featureNames;
  if (data.labelName !== null) metadata.labelName = data.labelName;
  if (data.classNames !== null) metadata.classNames = [...data.classNames];
  save(model, opts.out, { inputShape: [data.features], metadata });

  const last = (a: number[]): number | undefined => (a.length > 0 ? a[a.length - 1] : undefined);
  const lines = [
    `trained ${opts.layers.length > 0 ? `${data.features}-${opts.layers.join('-')}-${outputs}` : `${data.features}-${outputs}`} MLP on ${data.name} (${data.train.n} rows, ${history.epoch.length} epochs, seed ${seed})`,
    `  train loss:          ${last(history.loss)?.toFixed(4) ?? 'n/a'}`,
  ];
  if (data.classes > 0) {
    lines.push(`  train accuracy:      ${pct(last(history.accuracy))}`);
    if (history.valAccuracy.length > 0) lines.push(`  validation accuracy: ${pct(last(history.valAccuracy))}`);
    if (test !== null) lines.push(`  test accuracy:       ${pct(test.accuracy)} (${data.test?.n} rows)`);
  } else {
    if (history.valLoss.length > 0) lines.push(`  validation mse:      ${last(history.valLoss)?.toFixed(6)}`);
    if (test !== null) lines.push(`  test mse:            ${test.loss.toFixed(6)}`);
  }
  lines.push(`  time:                ${seconds.toFixed(2)} s (${Math.round(trainedRows / Math.max(seconds, 1e-9)).toLocaleString('en-US')} samples/s)`);
  lines.push(`  saved to:            ${opts.out}`);
  process.stdout.write(lines.join('\n') + '\n');
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train a multilayer perceptron and save it')
    .requiredOption('--data <source>', "'digits' (built in), 'fashion-mnist', or a CSV file (label in the last column by default)")
    .requiredOption('--out <dir>', 'directory to save the trained model in')
    .option('--layers <sizes>', 'hidden layer sizes, comma-separated (e.g. 256,128)', layersParser('--layers'), [128])
    .option('--epochs <n>', 'training epochs', positiveIntParser('--epochs'), 5)
    .option('--lr <rate>', 'learning rate (default 1e-3, sgd 1e-2)', positiveNumberParser('--lr'))
    .option('--batch <n>', 'batch size', positiveIntParser('--batch'), 128)
    .option('--seed <n>', 'random seed (initialisation, shuffling, split)', nonNegativeIntParser('--seed'))
    .option('--activation <name>', `hidden activation: ${ACTIVATIONS.join(', ')}`, choiceParser('--activation', ACTIVATIONS), 'relu')
    .option('--optimizer <name>', `optimizer: ${OPTIMIZERS.join(', ')}`, choiceParser('--optimizer', OPTIMIZERS), 'adam')
    .option('--val-split <fraction>', 'fraction of training rows held out for validation (CSV default 0.1)', fractionParser('--val-split'))
    .option('--label-column <name|index>', 'CSV label column: a header name or 0-based index (default: last)')
    .option('--task <task>', `CSV task: ${TASKS.join(', ')} (auto: integer labels -> classification)`, choiceParser('--task', TASKS), 'auto')
    .option('--data-dir <dir>', 'directory of the Fashion-MNIST files (default: $MYELIN_DATA or /usr/share/datasets/fashion-mnist)')
    .option('--checkpoint-dir <dir>', 'save a resumable checkpoint (model + optimizer + epoch) here after every epoch')
    .option('--resume <dir>', 'continue an interrupted run from its --checkpoint-dir (same --data and --layers)')
    .option('-q, --quiet', 'no progress output')
    .action(async (opts: TrainCommandOptions) => runTrain(opts));
}

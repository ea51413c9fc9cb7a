// The tabular path end to end on real data (issue 11): CSV with a header, string labels and missing values, trained, saved and predicted through the API and through the CLI, with the scalers in the model.
// Fixtures: test/fixtures/tabular (scikit-learn's wine and diabetes sets; see make_fixtures.py for their provenance).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync, SpawnSyncReturns } from 'child_process';
import { ensureDist, DIST_CLI } from './helpers/dist';
import { Tensor } from '../lib/tensor';
import { Sequential, Linear, ReLU } from '../lib/nn';
import { fit } from '../lib/train';
import { save, load, readModelInfo } from '../lib/io/model-file';
import { readCsv } from '../lib/data/csv';
import { gatherRows, permutation } from '../lib/data/split';

const FIX = path.join(__dirname, 'fixtures', 'tabular');
const WINE = path.join(FIX, 'wine.csv');
const WINE_MISSING = path.join(FIX, 'wine-missing.csv');
const DIABETES = path.join(FIX, 'diabetes.csv');
let dir = '';

beforeAll(() => {
  ensureDist();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-tabular-'));
});
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

function cli(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [DIST_CLI, ...args], { encoding: 'utf8', cwd: dir, maxBuffer: 1 << 26 });
}
const show = (r: SpawnSyncReturns<string>): string => `exit ${r.status}\nstdout: ${r.stdout.slice(0, 3000)}\nstderr: ${r.stderr.slice(0, 3000)}`;

/** Writes rows `idx` of a CSV file (header kept) to `name`; returns the path. */
function subset(file: string, idx: Int32Array, name: string): string {
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  const out = [lines[0], ...Array.from(idx, (i) => lines[i + 1])];
  const p = path.join(dir, name);
  fs.writeFileSync(p, out.join('\n') + '\n');
  return p;
}

function r2(pred: ArrayLike<number>, truth: ArrayLike<number>): number {
  let mean = 0;
  for (let i = 0; i < truth.length; i++) mean += truth[i] / truth.length;
  let res = 0;
  let tot = 0;
  for (let i = 0; i < truth.length; i++) {
    res += (pred[i] - truth[i]) ** 2;
    tot += (truth[i] - mean) ** 2;
  }
  return 1 - res / tot;
}

/** A shuffled 75/25 split of n rows (seeded): the training and test row indices. */
function split(n: number, seed: number): { train: Int32Array; test: Int32Array } {
  const order = permutation(n, seed);
  const cut = Math.floor(n * 0.75);
  return { train: order.slice(0, cut), test: order.slice(cut) };
}

describe('API: readCsv -> fit (standardize) -> save -> load -> predict', () => {
  it('wine with string labels and missing values: class names predicted from raw rows after load', async () => {
    const t = await readCsv(WINE_MISSING, { labelColumn: 'class', missing: 'mean' });
    expect(t.classNames).toEqual(['class_0', 'class_1', 'class_2']);
    expect(t.filled).toBe(40);
    const { train, test } = split(t.n, 11);
    const rows = (idx: Int32Array): Float32Array => {
      const out = new Float32Array(idx.length * t.features);
      gatherRows(t.x, t.features, idx, 0, idx.length, out);
      return out;
    };
    const labels = t.y as Int32Array;
    const model = new Sequential(new Linear(13, 32, { seed: 1 }), new ReLU(), new Linear(32, 3, { seed: 2 }));
    await fit(model, { ...t, x: rows(train), y: Int32Array.from(train, (i) => labels[i]), n: train.length }, {
      epochs: 80, batchSize: 16, lr: 0.01, seed: 3, standardize: true, verbose: 0,
    });
    const m = path.join(dir, 'wine-api');
    save(model, m);
    const back = load(m);
    // The raw wine rows (no missing values), as a user would pass them: unscaled, names out.
    const raw = await readCsv(WINE, { labelColumn: 'class' });
    const x = new Float32Array(test.length * 13);
    gatherRows(raw.x, 13, test, 0, test.length, x);
    const names = back.predictClasses(new Tensor(x, [test.length, 13]));
    const correct = names.filter((c, i) => c === raw.classNames![(raw.y as Int32Array)[test[i]]]).length;
    expect(correct / test.length).toBeGreaterThan(0.9);
    // A row with a missing value is filled from the training means, as in training.
    const withNaN = x.slice(0, 13);
    withNaN[4] = NaN;
    expect(back.predictClasses(new Tensor(withNaN, [1, 13]))).toHaveLength(1);
  });

  it('diabetes regression (integer target 25..346): standardised target, predictions in target units, R2 > 0.3', async () => {
    const t = await readCsv(DIABETES, { labelColumn: 'progression' });
    expect(t.task).toBe('regression'); // not a 347-class classifier
    const { train, test } = split(t.n, 5);
    const pick = (idx: Int32Array): { x: Float32Array; y: Float32Array } => {
      const x = new Float32Array(idx.length * t.features);
      gatherRows(t.x, t.features, idx, 0, idx.length, x);
      return { x, y: Float32Array.from(idx, (i) => (t.y as Float32Array)[i]) };
    };
    const tr = pick(train);
    const te = pick(test);
    const model = new Sequential(new Linear(10, 32, { seed: 1 }), new ReLU(), new Linear(32, 1, { seed: 2 }));
    await fit(model, { ...tr, features: 10 }, { epochs: 30, batchSize: 32, lr: 0.003, seed: 3, standardize: true, verbose: 0 });
    const m = path.join(dir, 'diabetes-api');
    save(model, m);
    const back = load(m);
    const pred = back.predict(new Tensor(te.x, [test.length, 10])).data;
    const score = r2(pred, te.y);
    console.log(`diabetes (API, raw features, 75/25 split): R2 ${score.toFixed(3)}`);
    expect(score).toBeGreaterThan(0.3);
    const async = await back.predictAsync(new Tensor(te.x, [test.length, 10]));
    for (let i = 0; i < 5; i++) expect(async.data[i]).toBeCloseTo(pred[i], 2);
  });
});

describe('CLI: myelin train -> myelin predict', () => {
  it('wine with string labels and missing values: scalers and class names saved, predictions are class names', () => {
    const { train, test } = split(178, 11);
    const trainFile = subset(WINE_MISSING, train, 'wine-train.csv');
    const testFile = subset(WINE, test, 'wine-test.csv');
    const r = cli(['train', '--data', trainFile, '--label-column', 'class', '--missing', 'mean', '--layers', '32', '--epochs', '80', '--batch', '16', '--lr', '0.01', '--seed', '2', '--out', 'wine-cli', '-q']);
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toMatch(/task classification: labels are text: 3 classes \(class_0, class_1, class_2\)/);
    expect(r.stdout).toMatch(/missing value\(s\) filled with their column's mean/);
    expect(r.stdout).toMatch(/scaling: +features standardised \(saved in the model\)/);
    const info = readModelInfo(path.join(dir, 'wine-cli'));
    expect(info.preprocessing?.input?.per).toBe('feature');
    expect(info.preprocessing?.fill).not.toBeNull();
    // The test file still has its 'class' column: skipped by name; output: class names and probabilities.
    const p = cli(['predict', '--model', 'wine-cli', '--input', testFile, '--output', 'wine-preds.csv', '--probabilities']);
    expect(p.status, show(p)).toBe(0);
    const lines = fs.readFileSync(path.join(dir, 'wine-preds.csv'), 'utf8').trim().split('\n');
    expect(lines[0]).toBe('class,p_class_0,p_class_1,p_class_2');
    const truth = fs.readFileSync(testFile, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').pop());
    const predicted = lines.slice(1).map((l) => l.split(',')[0]);
    expect(predicted).toHaveLength(truth.length);
    const acc = predicted.filter((c, i) => c === truth[i]).length / truth.length;
    expect(acc, lines.slice(0, 5).join('\n')).toBeGreaterThan(0.9);
    // Class names only, by default.
    const q = cli(['predict', '--model', 'wine-cli', '--input', testFile]);
    expect(q.status, show(q)).toBe(0);
    expect(q.stdout.split('\n')[0]).toBe('class');
    expect(q.stdout.split('\n')[1]).toMatch(/^class_[012]$/);
  });

  it("predict refuses a CSV whose columns differ from the model's", () => {
    const lines = fs.readFileSync(WINE, 'utf8').trim().split('\n');
    const renamed = [lines[0].replace('magnesium', 'magnesium_mg'), ...lines.slice(1, 10)];
    fs.writeFileSync(path.join(dir, 'renamed.csv'), renamed.join('\n') + '\n');
    const r = cli(['predict', '--model', 'wine-cli', '--input', 'renamed.csv', '--output', 'renamed-preds.csv']);
    expect(r.status, show(r)).toBe(1);
    expect(r.stderr).toMatch(/the header's columns do not match the model's: missing 'magnesium'; unexpected 'magnesium_mg'/);
    const cols = lines[0].split(',');
    [cols[0], cols[1]] = [cols[1], cols[0]];
    fs.writeFileSync(path.join(dir, 'swapped.csv'), [cols.join(','), ...lines.slice(1, 10)].join('\n') + '\n');
    const s = cli(['predict', '--model', 'wine-cli', '--input', 'swapped.csv']);
    expect(s.status, show(s)).toBe(1);
    expect(s.stderr).toMatch(/column 1 is 'malic_acid' where the model expects 'alcohol' \(same names, another order\)/);
    expect(fs.readdirSync(dir).filter((f) => f.includes('renamed-preds'))).toEqual([]);
  });

  it('diabetes: --task auto makes the integer target a regression (not a 347-class classifier), standardised, R2 > 0.3 from the predictions', () => {
    const { train, test } = split(442, 5);
    const trainFile = subset(DIABETES, train, 'dia-train.csv');
    const testFile = subset(DIABETES, test, 'dia-test.csv');
    const r = cli(['train', '--data', trainFile, '--layers', '32', '--epochs', '30', '--batch', '32', '--lr', '0.003', '--seed', '3', '--out', 'dia-cli', '-q']);
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toContain('trained 10-32-1 MLP');
    expect(r.stdout).toMatch(/task regression: labels are integers, \d+ distinct value\(s\) in \[\d+, \d+\]: regression \(only text or integers in \[0, 50\) are read as classes/);
    expect(r.stdout).toMatch(/scaling: +features standardised, target standardised \(saved in the model\)/);
    expect(r.stdout).toMatch(/validation R2: +\d/);
    const info = readModelInfo(path.join(dir, 'dia-cli'));
    expect(info.preprocessing?.target?.mean[0]).toBeGreaterThan(100);
    const p = cli(['predict', '--model', 'dia-cli', '--input', testFile]);
    expect(p.status, show(p)).toBe(0);
    const out = p.stdout.trim().split('\n');
    expect(out[0]).toBe('prediction');
    const pred = out.slice(1).map(Number);
    const truth = fs.readFileSync(testFile, 'utf8').trim().split('\n').slice(1).map((l) => Number(l.split(',').pop()));
    const score = r2(pred, truth);
    console.log(`diabetes (CLI, raw features, 75/25 split): R2 ${score.toFixed(3)}`);
    expect(score).toBeGreaterThan(0.3);
    // Export to ONNX folds the standardiser and the target scaling into the weights: same predictions.
    const e = cli(['export', '--model', 'dia-cli', '--onnx', 'dia.onnx']);
    expect(e.status, show(e)).toBe(0);
    const onnxPred = spawnSync(process.execPath, ['-e', `
      const { onnx, Tensor } = require(${JSON.stringify(path.join(__dirname, '..', 'dist'))});
      const x = new Float32Array(${JSON.stringify(Array.from(fs.readFileSync(testFile, 'utf8').trim().split('\n').slice(1, 6).flatMap((l) => l.split(',').slice(0, 10).map(Number))))});
      onnx.importModel(${JSON.stringify(path.join(dir, 'dia.onnx'))}).then((m) => console.log(JSON.stringify(Array.from(m.predict(new Tensor(x, [5, 10])).data))));`], { encoding: 'utf8' });
    expect(onnxPred.status, onnxPred.stderr).toBe(0);
    JSON.parse(onnxPred.stdout).forEach((v: number, i: number) => expect(Math.abs(v - pred[i])).toBeLessThan(1e-3 * Math.abs(pred[i]) + 1e-3));
    // --no-standardize trains on raw values (and says so).
    const raw = cli(['train', '--data', trainFile, '--layers', '8', '--epochs', '2', '--seed', '3', '--out', 'dia-raw', '-q', '--no-standardize']);
    expect(raw.status, show(raw)).toBe(0);
    expect(raw.stdout).toMatch(/scaling: +none \(--no-standardize\)/);
    expect(readModelInfo(path.join(dir, 'dia-raw')).preprocessing?.input).toBeNull();
  });

  it('text feature columns: an error naming the column and --one-hot; with --one-hot the categories are saved and used by predict', () => {
    const lines = ['size,color,price'];
    for (let i = 0; i < 120; i++) lines.push(`${i % 10},${['red', 'green', 'blue'][i % 3]},${((i % 10) * 2 + (i % 3) * 10 + 0.5).toFixed(1)}`);
    fs.writeFileSync(path.join(dir, 'colors.csv'), lines.join('\n') + '\n');
    const e = cli(['train', '--data', 'colors.csv', '--out', 'colors', '-q']);
    expect(e.status, show(e)).toBe(1);
    expect(e.stderr).toMatch(/line 2, column 2 \('color'\): 'red' is not a number \(a text column can be read as one-hot columns: .*CLI: --one-hot\)/);
    const r = cli(['train', '--data', 'colors.csv', '--one-hot', '--layers', '16', '--epochs', '40', '--lr', '0.01', '--seed', '1', '--out', 'colors', '-q']);
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toContain('trained 4-16-1 MLP');
    expect(readModelInfo(path.join(dir, 'colors')).preprocessing?.csv?.categories).toEqual({ color: ['blue', 'green', 'red'] });
    fs.writeFileSync(path.join(dir, 'colors-new.csv'), 'size,color\n3,blue\n3,red\n');
    const p = cli(['predict', '--model', 'colors', '--input', 'colors-new.csv']);
    expect(p.status, show(p)).toBe(0);
    const [blue, red] = p.stdout.trim().split('\n').slice(1).map(Number);
    expect(blue - red).toBeGreaterThan(5); // blue adds 20 over red in the data
    fs.writeFileSync(path.join(dir, 'colors-odd.csv'), 'size,color\n3,purple\n');
    const u = cli(['predict', '--model', 'colors', '--input', 'colors-odd.csv']);
    expect(u.status, show(u)).toBe(1);
    expect(u.stderr).toMatch(/line 2, column 2 \('color'\): 'purple' is not one of the categories this column had in training \(blue, green, red\)/);
  });
});

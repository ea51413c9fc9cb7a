// The embedded digits dataset (UCI optical digits, 1,797 8x8 images, 10 classes), shipped in data/.
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { trainTestSplit, LabeledDataset } from './split';

/** Where the gzip CSV lives: <package root>/data, the same relative path from lib/ and dist/. */
export const DIGITS_PATH = path.join(__dirname, '..', '..', 'data', 'digits.csv.gz');

const FEATURES = 64;
const CLASSES = 10;
const MAX_PIXEL = 16;

/** Options of data.loadDigits: split (test fraction, default 0.2), seed of the stratified split, and path of another copy of the file. */
export interface DigitsOptions {
  /** Fraction of rows held out as the test part, in [0, 1). Default 0.2. */
  split?: number;
  /** Seed of the (stratified) split. Default 0. */
  seed?: number;
  /** Read the CSV from another path instead of the embedded file. */
  path?: string;
}

/** What data.loadDigits returns: x [n, 64] in [0, 1], y labels 0..9, and the train / test parts. */
export interface DigitsData extends LabeledDataset {
  /** All rows: pixels scaled from 0..16 to [0, 1], row-major [n, 64]. */
  x: Float32Array;
  /** All labels, 0..9. */
  y: Int32Array;
  n: number;
  features: 64;
  classes: 10;
  /** Seeded, stratified train part (1 - split of the rows). */
  train: LabeledDataset;
  /** Seeded, stratified test part (split of the rows). */
  test: LabeledDataset;
}

/**
 * Parses the digits CSV text: 64 integer pixels 0..16 then the label 0..9 per line (blank lines skipped).
 * Pixels are scaled to [0, 1] (divided by 16).
 * @param text the file's contents.
 * @param source the file's name in error messages.
 * @returns x (n * 64 values, row-major), y (n labels) and n.
 * @throws Error naming the source and line when a line does not have 65 values, a pixel is not an integer 0..16,
 * or a label is not an integer 0..9.
 * @example data.parseDigitsCsv('0,'.repeat(64) + '7\n', 'inline').y // Int32Array [7]
 */
export function parseDigitsCsv(text: string, source: string): { x: Float32Array; y: Int32Array; n: number } {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const n = lines.length;
  const x = new Float32Array(n * FEATURES);
  const y = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    const cells = lines[r].split(',');
    if (cells.length !== FEATURES + 1) {
      throw new Error(`loadDigits: ${source}: line ${r + 1} has ${cells.length} values, expected ${FEATURES + 1}`);
    }
    for (let c = 0; c < FEATURES; c++) {
      const v = Number(cells[c]);
      if (!Number.isInteger(v) || v < 0 || v > MAX_PIXEL) {
        throw new Error(`loadDigits: ${source}: line ${r + 1} column ${c + 1}: pixel '${cells[c]}' is not an integer 0..16`);
      }
      x[r * FEATURES + c] = v / MAX_PIXEL;
    }
    const label = Number(cells[FEATURES]);
    if (!Number.isInteger(label) || label < 0 || label >= CLASSES) {
      throw new Error(`loadDigits: ${source}: line ${r + 1}: label '${cells[FEATURES]}' is not an integer 0..9`);
    }
    y[r] = label;
  }
  return { x, y, n };
}

/**
 * Loads the embedded digits dataset: inputs as float32 in [0, 1] ([n, 64] row-major), Int32Array
 * labels, plus a seeded stratified train/test split (test fraction `split`, default 0.2).
 * @param options split (test fraction, default 0.2), seed (of the stratified split, default 0), path (another CSV instead of the embedded file).
 * @returns x [n, 64] in [0, 1], y (Int32Array labels 0..9), n, features (64), classes (10), and the train and test parts.
 * @throws Error when the file cannot be read, a line does not hold 64 values and a label, or a label is not an integer 0..9.
 * @example
 * ```ts
 * const digits = data.loadDigits({ seed: 1 });
 * await fit(model, digits.train, { epochs: 5 });
 * ```
 */
export function loadDigits(options: DigitsOptions = {}): DigitsData {
  const file = options.path ?? DIGITS_PATH;
  let raw: Buffer;
  try {
    raw = fs.readFileSync(file);
  } catch (err) {
    throw new Error(`loadDigits: cannot read ${file}: ${(err as Error).message}`);
  }
  const text = (raw[0] === 0x1f && raw[1] === 0x8b ? zlib.gunzipSync(raw) : raw).toString('utf8');
  const { x, y, n } = parseDigitsCsv(text, file);
  const { train, test } = trainTestSplit(x, y, {
    testFraction: options.split ?? 0.2,
    seed: options.seed ?? 0,
    stratify: true,
  });
  return { x, y, n, features: FEATURES, classes: CLASSES, train, test };
}

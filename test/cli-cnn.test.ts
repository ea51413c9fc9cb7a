// The CLI with convolutional networks: `myelin train --arch model.json` (any toConfig JSON; examples/fashion-cnn.json)
// and `myelin predict` on image rows (IDX images, CSV pixels with --input-shape), in child processes (dist/).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync, SpawnSyncReturns } from 'child_process';
import { ensureDist, DIST_CLI, ROOT } from './helpers/dist';
import { readModelInfo } from '../lib/io/model-file';

let dir = '';
function cli(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [DIST_CLI, ...args], { encoding: 'utf8', cwd: dir, maxBuffer: 1 << 26 });
}
const show = (r: SpawnSyncReturns<string>): string => `exit ${r.status}\nstdout: ${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr.slice(0, 2000)}`;

const conv = (cin: number, cout: number, bias: boolean) => ({ type: 'Conv2d', inChannels: cin, outChannels: cout, kernelSize: 3, stride: 1, padding: 1, dilation: 1, groups: 1, bias });
/** A small CNN for the 8x8 digits: conv 8 + BatchNorm + ReLU + pool, linear 10. */
const DIGITS_CNN = {
  type: 'Sequential',
  layers: [
    conv(1, 8, false), { type: 'BatchNorm2d', numFeatures: 8, eps: 1e-5, momentum: 0.1, affine: true, trackRunningStats: true }, { type: 'ReLU' },
    { type: 'MaxPool2d', kernelSize: 2, stride: 2, padding: 0, ceilMode: false, dilation: 1 },
    { type: 'Flatten', startDim: 1 }, { type: 'Linear', inFeatures: 128, outFeatures: 10, bias: true },
  ],
};

/** 28x28 images as CSV rows of 784 pixels (0..255) then a label: a horizontal (0) or vertical (1) bar. */
function barsCsv(file: string, n: number): number[] {
  const labels: number[] = [];
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % 2;
    const at = 4 + ((i * 7) % 20);
    const px = new Array<number>(784).fill(0);
    for (let j = 3; j < 25; j++) px[k === 0 ? at * 28 + j : j * 28 + at] = 255;
    lines.push([...px, k].join(','));
    labels.push(k);
  }
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return labels;
}

/** An IDX file of n uint8 images [n, h, w]. */
function idxImages(file: string, pixels: Uint8Array, n: number, h: number, w: number): void {
  const head = Buffer.alloc(16);
  head.writeUInt32BE(0x00000803, 0);
  head.writeUInt32BE(n, 4);
  head.writeUInt32BE(h, 8);
  head.writeUInt32BE(w, 12);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(pixels)]));
}

beforeAll(() => {
  ensureDist();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-cli-cnn-'));
  fs.writeFileSync(path.join(dir, 'digits-cnn.json'), JSON.stringify(DIGITS_CNN));
});
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

describe('myelin train --arch', () => {
  it('trains a CNN with BatchNorm given as toConfig JSON on the digits (rows as [1,8,8]) and saves its input shape', () => {
    const r = cli(['train', '--data', 'digits', '--arch', 'digits-cnn.json', '--epochs', '8', '--lr', '0.01', '--seed', '3', '--out', 'digits-cnn', '-q']);
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toMatch(/trained Sequential from digits-cnn\.json \(1,378 parameters, input \[1,8,8\]\) on digits/);
    const acc = Number(/test accuracy: +([\d.]+)%/.exec(r.stdout)?.[1]);
    expect(acc, r.stdout).toBeGreaterThanOrEqual(90);
    const info = readModelInfo(path.join(dir, 'digits-cnn'));
    expect(info.inputShape).toEqual([1, 8, 8]);
    expect(info.metadata).toMatchObject({ arch: 'digits-cnn.json', classes: 10, inputScale: 1 / 16 });
    expect(info.architecture).toEqual(JSON.parse(JSON.stringify({ ...DIGITS_CNN, layers: DIGITS_CNN.layers.map((l) => (l.type === 'Conv2d' ? { ...l, kernelSize: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1] } : l.type === 'MaxPool2d' ? { ...l, kernelSize: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1] } : l)) })));
    // The same seed trains the same model (the architecture's layers are seeded from --seed).
    const again = cli(['train', '--data', 'digits', '--arch', 'digits-cnn.json', '--epochs', '8', '--lr', '0.01', '--seed', '3', '--out', 'digits-cnn-2', '-q']);
    expect(fs.readFileSync(path.join(dir, 'digits-cnn-2', 'model.safetensors')).equals(fs.readFileSync(path.join(dir, 'digits-cnn', 'model.safetensors')))).toBe(true);
  });

  it('a saved model.json works as --arch too (its architecture, freshly initialised)', () => {
    const r = cli(['train', '--data', 'digits', '--arch', path.join('digits-cnn', 'model.json'), '--epochs', '1', '--seed', '1', '--out', 'from-model-json', '-q']);
    expect(r.status, show(r)).toBe(0);
    expect(readModelInfo(path.join(dir, 'from-model-json')).inputShape).toEqual([1, 8, 8]);
  });

  it('examples/fashion-cnn.json is the fashion-cnn example\'s network and trains on CSV pixel rows with --input-shape 1,28,28', () => {
    const shipped = JSON.parse(fs.readFileSync(path.join(ROOT, 'examples', 'fashion-cnn.json'), 'utf8'));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { fashionCnn } = require(path.join(ROOT, 'examples', 'fashion-cnn.js'));
    expect(shipped).toEqual(fashionCnn(0).toConfig());
    barsCsv(path.join(dir, 'bars.csv'), 40);
    // Two classes: the shipped network has 10 outputs, which the CLI refuses for 2 classes, naming both.
    const refused = cli(['train', '--data', 'bars.csv', '--arch', path.join(ROOT, 'examples', 'fashion-cnn.json'), '--input-shape', '1,28,28', '--out', 'x', '-q']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/gives 10 output value\(s\) per row \(shape \[1,10\]\), but bars\.csv needs 2 \(2 classes\)/);
    const two = { ...shipped, layers: shipped.layers.map((l: { type: string; outFeatures?: number }) => (l.type === 'Linear' && l.outFeatures === 10 ? { ...l, outFeatures: 2 } : l)) };
    fs.writeFileSync(path.join(dir, 'bars-cnn.json'), JSON.stringify(two));
    const r = cli(['train', '--data', 'bars.csv', '--arch', 'bars-cnn.json', '--input-shape', '1,28,28', '--epochs', '3', '--batch', '8', '--seed', '2', '--val-split', '0', '--out', 'bars-model', '-q']);
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toContain('input [1,28,28]');
    expect(r.stdout).toMatch(/features not standardised/);
    expect(readModelInfo(path.join(dir, 'bars-model')).inputShape).toEqual([1, 28, 28]);
    // predict: the CSV pixel rows (label column skipped) with the saved shape, or --input-shape given again.
    const p = cli(['predict', '--model', 'bars-model', '--input', 'bars.csv', '--label-column', '784', '--input-shape', '1,28,28']);
    expect(p.status, show(p)).toBe(0);
    const classes = p.stdout.trim().split('\n').slice(1).map(Number);
    expect(classes).toHaveLength(40);
    expect(classes.filter((c, i) => c === i % 2).length).toBeGreaterThanOrEqual(36);
  });

  it('refuses what does not fit, naming it', () => {
    const cases: [string[], RegExp][] = [
      [['--arch', 'digits-cnn.json', '--layers', '64'], /--layers describes the MLP; it cannot be combined with --arch/],
      [['--input-shape', '1,8,8'], /--input-shape goes with --arch/],
      [['--arch', 'nope.json'], /--arch: .*nope\.json/],
      [['--arch', 'bad.json'], /--arch: bad\.json is not valid JSON/],
      [['--arch', 'unknown.json'], /--arch: unknown\.json: .*Conv9d.*examples\/fashion-cnn\.json/],
      [['--arch', path.join(ROOT, 'examples', 'fashion-cnn.json')], /does not take rows of shape \[1,8,8\].*3136/],
      [['--arch', 'digits-cnn.json', '--input-shape', '1,9,9'], /--input-shape \[1,9,9\] has 81 values, the rows of digits have 64/],
    ];
    fs.writeFileSync(path.join(dir, 'bad.json'), '{"type": ');
    fs.writeFileSync(path.join(dir, 'unknown.json'), JSON.stringify({ type: 'Sequential', layers: [{ type: 'Conv9d' }] }));
    for (const [extra, re] of cases) {
      const r = cli(['train', '--data', 'digits', '--out', 'never', '-q', ...extra]);
      expect(r.status, `${extra.join(' ')}: ${show(r)}`).toBe(2);
      expect(r.stderr, extra.join(' ')).toMatch(re);
    }
    expect(fs.existsSync(path.join(dir, 'never'))).toBe(false);
  });
});

describe('myelin predict with image input', () => {
  it('IDX images [n, 8, 8] and CSV pixel rows give the same classes; a shape that differs from the saved one is refused', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const myelin = require(ROOT);
    const d = myelin.data.loadDigits({ seed: 1 });
    const n = 50;
    const pixels = Uint8Array.from(d.test.x.subarray(0, n * 64), (v: number) => Math.round(v * 16));
    idxImages(path.join(dir, 'digits-idx3-ubyte'), pixels, n, 8, 8);
    const csv = Array.from({ length: n }, (_, i) => Array.from(pixels.subarray(i * 64, (i + 1) * 64)).join(',')).join('\n') + '\n';
    fs.writeFileSync(path.join(dir, 'digits.csv'), csv);
    if (!fs.existsSync(path.join(dir, 'digits-cnn'))) {
      const t = cli(['train', '--data', 'digits', '--arch', 'digits-cnn.json', '--epochs', '8', '--lr', '0.01', '--seed', '3', '--out', 'digits-cnn', '-q']);
      expect(t.status, show(t)).toBe(0);
    }
    const fromIdx = cli(['predict', '--model', 'digits-cnn', '--input', 'digits-idx3-ubyte', '--probabilities']);
    expect(fromIdx.status, show(fromIdx)).toBe(0);
    const fromCsv = cli(['predict', '--model', 'digits-cnn', '--input', 'digits.csv', '--input-shape', '1,8,8', '--probabilities']);
    expect(fromCsv.status, show(fromCsv)).toBe(0);
    expect(fromCsv.stdout).toBe(fromIdx.stdout);
    const classes = fromIdx.stdout.trim().split('\n').slice(1).map((l) => Number(l.split(',')[0]));
    const right = classes.filter((c, i) => c === d.test.y[i]).length;
    expect(right, fromIdx.stdout).toBeGreaterThanOrEqual(0.85 * n);
    const bad = cli(['predict', '--model', 'digits-cnn', '--input', 'digits.csv', '--input-shape', '64']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/the input shape \[64\] differs from the one the model was saved with, \[1,8,8\]/);
    const badArg = cli(['predict', '--model', 'digits-cnn', '--input', 'digits.csv', '--input-shape', '1,x']);
    expect(badArg.status).toBe(2);
    expect(badArg.stderr).toMatch(/--input-shape must be a comma-separated list of positive integers, got '1,x'/);
  });
});

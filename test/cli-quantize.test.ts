// `myelin quantize` (int8 calibrated on a CSV, int8 dynamic, bf16) and `myelin predict` on the result, in child processes (dist/).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync, SpawnSyncReturns } from 'child_process';
import { ensureDist, DIST_CLI } from './helpers/dist';
import { load, readModelInfo, save } from '../lib/io/model-file';
import { Linear } from '../lib/nn/linear';
import { ReLU, Softmax } from '../lib/nn/activations';
import { Sequential } from '../lib/nn/sequential';
import { quantize, QuantizedLinear } from '../lib/quant';
import { Tensor } from '../lib/tensor';

let dir = '';
function cli(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [DIST_CLI, ...args], { encoding: 'utf8', cwd: dir, maxBuffer: 1 << 26 });
}
const show = (r: SpawnSyncReturns<string>): string => `exit ${r.status}\nstdout: ${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr.slice(0, 2000)}`;

const ROWS = 40;
const rows: number[][] = [];

beforeAll(() => {
  ensureDist();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-cli-quant-'));
  const model = new Sequential([new Linear(5, 16), new ReLU(), new Linear(16, 3), new Softmax()], { seed: 7 });
  save(model, path.join(dir, 'm'), { inputShape: [5] });
  for (let i = 0; i < ROWS; i++) rows.push(Array.from({ length: 5 }, (_, j) => Math.sin(i * 1.7 + j * 0.9) * (1 + j)));
  fs.writeFileSync(path.join(dir, 'x.csv'), rows.map((r) => r.join(',')).join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'wide.csv'), rows.map((r) => [...r, 1].join(',')).join('\n') + '\n');
});
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

describe('myelin quantize', () => {
  it('writes an int8 model calibrated on the first rows of a CSV, which predict runs', () => {
    const r = cli(['quantize', '--model', 'm', '--dtype', 'int8', '--calibration', 'x.csv', '--calibration-rows', '32', '--output', 'q8']);
    expect(r.status, show(r)).toBe(0);
    expect(r.stderr).toMatch(/quantized m to int8 \(input scales calibrated on 32 rows of x\.csv\) into q8/);
    const info = readModelInfo(path.join(dir, 'q8'));
    expect(info.inputShape).toEqual([5]);
    expect(info.metadata).toMatchObject({ quantized: 'int8', calibrationRows: 32 });
    // The same scales as quantize() on those 32 rows in this process.
    const x = new Tensor(Float32Array.from(rows.flat()), [ROWS, 5]);
    const want = quantize(load(path.join(dir, 'm')) as Sequential, { dtype: 'int8', calibration: x.slice(0, 32) });
    const q = load(path.join(dir, 'q8')) as Sequential;
    expect(q.layers.map((l) => l.toConfig())).toEqual(want.layers.map((l) => l.toConfig()));
    expect((q.layers[0] as QuantizedLinear).inputScale).toBeGreaterThan(0);
    // predict on the quantised directory: the classes the in-process quantised model predicts.
    const p = cli(['predict', '--model', 'q8', '--input', 'x.csv', '--probabilities']);
    expect(p.status, show(p)).toBe(0);
    const lines = p.stdout.trim().split('\n');
    expect(lines).toHaveLength(ROWS + 1);
    const y = want.predict(x);
    for (let i = 0; i < ROWS; i++) {
      const probs = lines[i + 1].split(',').map(Number); // y0,y1,y2 (a model without class names)
      for (let c = 0; c < 3; c++) expect(probs[c]).toBeCloseTo(y.data[i * 3 + c], 5);
    }
  });

  it('writes int8 (dynamic scales) and bf16 models without calibration', () => {
    for (const dtype of ['int8', 'bf16']) {
      const r = cli(['quantize', '--model', 'm', '--dtype', dtype, '--output', `q-${dtype}`]);
      expect(r.status, show(r)).toBe(0);
      const q = load(path.join(dir, `q-${dtype}`)) as Sequential;
      expect(q.layers[0].describe()).toBe(dtype === 'int8' ? 'QuantizedLinear(5 -> 16, int8, dynamic input scale + relu)' : 'QuantizedLinear(5 -> 16, bf16 + relu)');
      const p = cli(['predict', '--model', `q-${dtype}`, '--input', 'x.csv']);
      expect(p.status, show(p)).toBe(0);
      expect(p.stdout.trim().split('\n')).toHaveLength(ROWS + 1);
    }
  });

  it('rejects bad arguments (exit 2) and calibration files that do not fit (exit 1)', () => {
    const bad = cli(['quantize', '--model', 'm', '--dtype', 'int4', '--output', 'z']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--dtype must be one of int8, bf16, got 'int4'/);
    const bf = cli(['quantize', '--model', 'm', '--dtype', 'bf16', '--calibration', 'x.csv', '--output', 'z']);
    expect(bf.status).toBe(2);
    expect(bf.stderr).toMatch(/--calibration applies to --dtype int8 only, got --dtype bf16/);
    const wide = cli(['quantize', '--model', 'm', '--dtype', 'int8', '--calibration', 'wide.csv', '--output', 'z']);
    expect(wide.status, show(wide)).toBe(1);
    expect(wide.stderr).toMatch(/quantize: wide\.csv: rows have 6 values, the model expects 5 \(does it have a label column\? pass --label-column\)/);
    const ok = cli(['quantize', '--model', 'm', '--dtype', 'int8', '--calibration', 'wide.csv', '--label-column', 'last', '--output', 'z']);
    expect(ok.status, show(ok)).toBe(0);
    expect(fs.existsSync(path.join(dir, 'z', 'model.json'))).toBe(true);
    const missing = cli(['quantize', '--model', 'nope', '--dtype', 'int8', '--output', 'z2']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/nope/);
  });
});

// Preprocessing that travels with the model (issue 11): the fitted standardiser, target scaler, fill values and class names, applied by predict/predictAsync/predictClasses/fit/evaluate and carried by model.json.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor } from '../lib/tensor';
import { Sequential, Linear, ReLU } from '../lib/nn';
import { fit, evaluate } from '../lib/train';
import { save, load, loadCheckpoint, readModelInfo } from '../lib/io/model-file';
import { canonicalJson, DIGEST_KEY, manifestDigest } from '../lib/io/model-dir';
import { preprocessor, Preprocessor } from '../lib/data/preprocess';
import { readCsv, readCsvBatches } from '../lib/data/csv';

let dir = '';
let count = 0;
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-prep-')); });
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });
const fresh = (): string => path.join(dir, `m${count++}`);

/** y = 3 * x0 - 2 * x1 + 100 on features of very different scales (x1 around 1000). */
function regressionData(n: number, seed: number): { x: Float32Array; y: Float32Array; n: number; features: number } {
  let s = seed;
  const rand = (): number => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296; };
  const x = new Float32Array(n * 2);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x[2 * i] = rand() * 10;
    x[2 * i + 1] = 1000 + rand() * 500;
    y[i] = 3 * x[2 * i] - 0.2 * x[2 * i + 1] + 100;
  }
  return { x, y, n, features: 2 };
}

describe('Preprocessor', () => {
  it('fits per-feature statistics and target scaling; transform and outputs invert each other', () => {
    const d = regressionData(200, 1);
    const p = preprocessor({ standardize: true }).fit(d);
    expect(p.task).toBe('regression');
    expect(p.input!.mean.length).toBe(2);
    expect(p.input!.mean[1]).toBeGreaterThan(1000);
    const tx = p.transformX(d.x);
    let m1 = 0;
    for (let i = 0; i < d.n; i++) m1 += tx.data[2 * i + 1] / d.n;
    expect(m1).toBeCloseTo(0, 4);
    const ty = p.transformY(d.y);
    const back = p.outputs(new Tensor(ty, [d.n, 1]));
    for (let i = 0; i < 10; i++) expect(back.data[i]).toBeCloseTo(d.y[i], 2);
    // Class labels are not scaled; targetScale: false keeps float targets as they are.
    expect(preprocessor().fit({ x: d.x, features: 2, y: new Int32Array(d.n) }).target).toBeNull();
    expect(preprocessor({ targetScale: false }).fit(d).target).toBeNull();
  });

  it('transform of something that is not { x, y? } is an Error naming it, not a TypeError', () => {
    const p = preprocessor().fit({ x: new Float32Array([1, 2, 3, 4]), features: 2 });
    for (const bad of [null, undefined, 5, {}]) {
      expect(() => p.transform(bad as never)).toThrow(/preprocessor\.transform: data must be an object \{ x, y\? \}/);
    }
    expect(p.transform({ x: new Float32Array([1, 2]) }).n).toBe(1);
  });

  it('a NaN input is filled (with the fill values of readCsv missing: mean) or an error naming row and column', () => {
    const p = preprocessor().fit({ x: new Float32Array([1, 2, 3, 4]), features: 2, featureNames: ['a', 'b'], fill: new Float32Array([2, 3]) });
    expect(Array.from(p.transformX(new Float32Array([NaN, 3])).data)).toEqual(Array.from(p.transformX(new Float32Array([2, 3])).data));
    const q = preprocessor().fit({ x: new Float32Array([1, 2, 3, 4]), features: 2, featureNames: ['a', 'b'] });
    expect(() => q.transformX(new Float32Array([1, 2, 3, NaN]), 'predict')).toThrow(/predict: row 1, column 1 \('b'\) \(0-based\) is NaN: missing values were not filled in training/);
    expect(() => q.transformX(new Float32Array([Infinity, 2]), 'predict')).toThrow(/row 0, column 0 \('a'\) \(0-based\) is Infinity: inputs must be finite/);
    expect(() => q.transformX(new Float32Array(3), 'predict')).toThrow(/input has 3 values, not a whole number of rows of 2 features/);
    expect(() => preprocessor().fit({ x: new Float32Array([1, NaN]), features: 2 })).toThrow(/preprocessor\.fit: row 0, column 1 \(0-based\) is NaN/);
  });

  it('options are checked (unknown keys, types, scale with standardize)', () => {
    expect(() => preprocessor({ standardise: true } as never)).toThrow(/unknown option 'standardise'/);
    expect(() => preprocessor({ standardize: 'yes' as never })).toThrow(/standardize must be true, false, 'feature' or 'global', got 'yes' \(a string\)/);
    expect(() => preprocessor({ scale: 0 })).toThrow(/scale must be a finite non-zero number/);
    expect(() => preprocessor({ scale: 2, standardize: true })).toThrow(/either scale or standardize/);
    expect(() => preprocessor().transformX(new Float32Array(2))).toThrow(/not fitted/);
  });

  it('toJSON / fromJSON round-trip exactly; fromJSON is strict about keys, types and lengths', () => {
    const p = preprocessor().fit({ ...regressionData(50, 2), featureNames: ['a', 'b'] });
    const j = JSON.parse(JSON.stringify(p.toJSON()));
    const q = Preprocessor.fromJSON(j, 'test');
    expect(Array.from(q.input!.std)).toEqual(Array.from(p.input!.std));
    expect(Array.from(q.target!.mean)).toEqual(Array.from(p.target!.mean));
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ ...j, extra: 1 }, /unknown key 'extra'/],
      [{ ...j, fill: undefined }, /missing key 'fill'/],
      [{ ...j, input: { ...j.input, std: [1, 0] } }, /input\.std must be a list of finite positive float32 numbers/],
      [{ ...j, input: { ...j.input, mean: [1] } }, /input\.mean has 1 values, expected 2/],
      [{ ...j, input: { ...j.input, scale: 2 } }, /unknown key 'input\.scale'/],
      [{ ...j, features: 3 }, /featureNames has 2 names for 3 features/],
      [{ ...j, task: 'classification' }, /target scaling is set but the task is not regression/],
      [{ ...j, version: 2 }, /version 2 is not supported/],
      [{ ...j, input: { ...j.input, mean: [1, 1e39] } }, /input\.mean must be a list of finite/],
    ];
    for (const [json, re] of bad) expect(() => Preprocessor.fromJSON(JSON.parse(JSON.stringify(json)), 'load: m/model.json')).toThrow(re);
  });
});

describe('a model with a preprocessor (issue 11: preprocessing travels with the model)', () => {
  it('fit standardize: trains on scaled data, predict returns target units, save/load carries it (predict, predictAsync)', async () => {
    const d = regressionData(400, 3);
    const model = new Sequential(new Linear(2, 16, { seed: 1 }), new ReLU(), new Linear(16, 1, { seed: 2 }));
    const h = await fit(model, d, { epochs: 60, batchSize: 32, lr: 0.01, seed: 4, standardize: true, verbose: 0 });
    expect(model.preprocessor).toBeInstanceOf(Preprocessor);
    expect(h.loss[h.loss.length - 1]).toBeLessThan(0.05); // mse of the standardised target
    const probe = new Tensor(d.x.slice(0, 20), [10, 2]);
    const pred = model.predict(probe);
    for (let i = 0; i < 10; i++) expect(Math.abs(pred.data[i] - d.y[i])).toBeLessThan(0.25 * Math.abs(d.y[i]) + 5);
    const m = fresh();
    save(model, m);
    const back = load(m);
    expect(back.preprocessor).toBeInstanceOf(Preprocessor);
    expect(Array.from(back.predict(probe).data)).toEqual(Array.from(pred.data));
    const viaAsync = await back.predictAsync(probe);
    for (let i = 0; i < 10; i++) expect(viaAsync.data[i]).toBeCloseTo(pred.data[i], 3);
    // evaluate applies it too: the loss is the training loss's scale, not 1e4 (raw units).
    expect(evaluate(back, d).loss).toBeLessThan(0.1);
    // Flat input carries no row width: give it (features or rows), as without a preprocessor.
    expect(back.predict(d.x.slice(0, 20), { features: 2 }).shape).toEqual([10, 1]);
    expect((await back.predictAsync(d.x.slice(0, 20), { rows: 10 })).shape).toEqual([10, 1]);
    expect(() => back.predict(d.x.slice(0, 20))).toThrow(/predict: a flat Float32Array/);
    expect(() => back.predict(d.x.slice(0, 21), { features: 3 })).toThrow(/predict/);
  });

  it('without the preprocessor the same weights give wrong answers: the scaler really is applied', async () => {
    const d = regressionData(300, 5);
    const model = new Sequential(new Linear(2, 8, { seed: 1 }), new ReLU(), new Linear(8, 1, { seed: 2 }));
    await fit(model, d, { epochs: 30, batchSize: 32, lr: 0.01, seed: 1, standardize: true, verbose: 0 });
    const probe = new Tensor(d.x.slice(0, 2), [1, 2]);
    const withPrep = model.predict(probe).data[0];
    const prep = model.preprocessor;
    model.preprocessor = null;
    const raw = model.predict(probe).data[0];
    model.preprocessor = prep;
    expect(Math.abs(withPrep - d.y[0])).toBeLessThan(Math.abs(raw - d.y[0]));
  });

  it('string classes: predictClasses returns the names, after save/load too', async () => {
    const lines = ['a,b,kind'];
    for (let i = 0; i < 300; i++) {
      const k = i % 3;
      lines.push(`${k * 100 + (i % 7)},${(k - 1) * 0.01 + (i % 5) * 1e-4},${['cat', 'dog', 'emu'][k]}`);
    }
    const file = path.join(dir, 'animals.csv');
    fs.writeFileSync(file, lines.join('\n'));
    const t = await readCsv(file, { labelColumn: 'kind' });
    const model = new Sequential(new Linear(2, 16, { seed: 1 }), new ReLU(), new Linear(16, 3, { seed: 2 }));
    await fit(model, t, { epochs: 40, batchSize: 32, lr: 0.01, seed: 1, standardize: true, verbose: 0 });
    const probe = new Tensor(new Float32Array([0, -0.01, 100, 0, 200, 0.01]), [3, 2]);
    expect(model.predictClasses(probe)).toEqual(['cat', 'dog', 'emu']);
    const m = fresh();
    save(model, m);
    const info = readModelInfo(m);
    expect(info.preprocessing?.classNames).toEqual(['cat', 'dog', 'emu']);
    expect(info.preprocessing?.csv).toEqual({ columns: ['a', 'b'], columnCount: 2, labelName: 'kind', categories: {} });
    expect(load(m).predictClasses(probe)).toEqual(['cat', 'dog', 'emu']);
    // A model without a preprocessor gives indices.
    model.preprocessor = null;
    expect(model.predictClasses(new Tensor(new Float32Array(6), [3, 2]))).toHaveLength(3);
  });

  it('model.json: the block is under the manifest digest, and checked key by key without it', () => {
    const model = new Sequential(new Linear(2, 3, { seed: 1 }));
    model.preprocessor = preprocessor().fit({ x: new Float32Array([1, 2, 3, 4]), features: 2 });
    const m = fresh();
    save(model, m);
    const file = path.join(m, 'model.json');
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(json.preprocessing.input.mean).toEqual([2, 3]);
    // A changed mean: the digest catches it.
    const edited = { ...json, preprocessing: { ...json.preprocessing, input: { ...json.preprocessing.input, mean: [2, 4] } } };
    fs.writeFileSync(file, JSON.stringify(edited));
    expect(() => load(m)).toThrow(/the sha256 of its contents does not match/);
    // Re-signed (or verify: false): the strict checks still refuse a damaged block.
    const { [DIGEST_KEY]: _d, ...body } = { ...json, preprocessing: { ...json.preprocessing, input: { ...json.preprocessing.input, std: [0, 1] } } };
    fs.writeFileSync(file, JSON.stringify({ ...body, [DIGEST_KEY]: manifestDigest(body) }));
    expect(() => load(m)).toThrow(/preprocessing: input\.std must be a list of finite positive float32 numbers/);
    expect(canonicalJson({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
    // An unfitted preprocessor is refused at save; one for another width too.
    model.preprocessor = preprocessor();
    expect(() => save(model, fresh())).toThrow(/save: model\.preprocessor is not fitted/);
    model.preprocessor = preprocessor().fit({ x: new Float32Array(3), features: 3 });
    expect(() => save(model, fresh())).toThrow(/save: model\.preprocessor was fitted on 3 features but the model's input shape is \[2\]/);
  });

  it("checkpoints carry it: fit's resumeFrom restores the preprocessor with the weights", async () => {
    const d = regressionData(100, 7);
    const ck = fresh();
    const a = new Sequential(new Linear(2, 4, { seed: 1 }), new ReLU(), new Linear(4, 1, { seed: 2 }));
    await fit(a, d, { epochs: 2, seed: 1, standardize: true, checkpointDir: ck, verbose: 0 });
    expect(loadCheckpoint(ck).model.preprocessor).toBeInstanceOf(Preprocessor);
    const b = new Sequential(new Linear(2, 4, { seed: 1 }), new ReLU(), new Linear(4, 1, { seed: 2 }));
    await fit(b, d, { epochs: 3, seed: 1, resumeFrom: ck, verbose: 0 });
    expect(Array.from(b.preprocessor!.input!.mean)).toEqual(Array.from(a.preprocessor!.input!.mean));
  });
});

describe("readCsvBatches' preprocessor option", () => {
  it('gives the rows the model sees: filled and standardised like transformX, and refuses a wrong width', async () => {
    const file = path.join(dir, 'rows.csv');
    fs.writeFileSync(file, 'a,b\n1,10\n2,NA\n3,30\n4,40\n');
    const t = await readCsv(file, { missing: 'mean' });
    const p = preprocessor().fit(t);
    const rows: number[] = [];
    for await (const b of readCsvBatches(file, { preprocessor: p, missing: 'keep', batchSize: 3 })) rows.push(...b.x);
    const raw: number[] = [];
    for await (const b of readCsvBatches(file, { missing: 'keep' })) raw.push(...b.x);
    expect(rows).toEqual(Array.from(p.transformX(Float32Array.from(raw)).data));
    await expect((async () => { for await (const _ of readCsvBatches(file, { preprocessor: preprocessor().fit({ x: new Float32Array(3), features: 3 }) })) { /* drain */ } })())
      .rejects.toThrow(/rows have 2 values, the model \(its preprocessor\) expects 3/);
    await expect(readCsv(file, { preprocessor: p } as never)).rejects.toThrow(/the preprocessor option is for readCsvBatches/);
  });
});

describe('class labels sent as floats (issue 11)', () => {
  it("fit says they look like classes instead of an mse shape error at the first batch", async () => {
    const x = new Float32Array(60).map((_, i) => (i % 7) / 7);
    const y = new Float32Array(30).map((_, i) => i % 3);
    const model = new Sequential(new Linear(2, 4, { seed: 1 }), new ReLU(), new Linear(4, 3, { seed: 2 }));
    const before = Array.from(model.namedParameters()[0][1].data);
    await expect(fit(model, { x, y, features: 2 }, { epochs: 1, verbose: 0 })).rejects.toThrow(
      /fit: data\.y is a Float32Array \(regression targets for loss 'mse'\) with 1 value\(s\) per row, but the model has 3 outputs; its values are whole numbers in \[0, 2\]: labels look like classes: pass an Int32Array/,
    );
    expect(Array.from(model.namedParameters()[0][1].data)).toEqual(before); // refused before any step
    await expect(fit(model, { x, y: y.map((v) => v + 0.5), features: 2 }, { epochs: 1, verbose: 0 }))
      .rejects.toThrow(/with 1 value\(s\) per row, but the model has 3 outputs: give the model 1 output\(s\), or y 3 value\(s\) per row/);
    await expect(fit(model, { x, y: Int32Array.from(y), features: 2 }, { epochs: 1, verbose: 0 })).resolves.toBeDefined();
  });
});

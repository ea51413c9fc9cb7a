// PyTorch state dicts through safetensors (test/fixtures/safetensors-torch/generate.py): a file PyTorch's layout writes
// (int64 num_batches_tracked) loads into the same myelin architecture and reproduces torch's outputs; myelin's file
// (which generate.py loaded into PyTorch with strict=True) is still what myelin writes; mismatches are named.
import * as fs from 'fs';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDist, ROOT } from './helpers/dist';
import { maxViolation, tempDir } from './helpers/onnx';

const FIXTURES = path.join(__dirname, 'fixtures', 'safetensors-torch');
const tmp = tempDir();
afterAll(tmp.cleanup);

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-require-imports */
let myelin: any;
let model: (seed: number) => any;
beforeAll(() => {
  ensureDist();
  myelin = require(ROOT);
  model = require(path.join(FIXTURES, 'make-myelin.js')).model;
});

interface Fixture { inputShape: number[]; input: number[]; outputShape: number[]; output: number[]; numBatchesTracked?: number }
const fixture = (name: string): Fixture => JSON.parse(fs.readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8')) as Fixture;

/** A safetensors file with the given header entries (data as raw bytes). */
function rawFile(header: Record<string, unknown>, data: Uint8Array): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

/** The header entries (without __metadata__) and the data bytes of a safetensors file. */
function layout(file: string): { header: Record<string, unknown>; data: Buffer } {
  const raw = fs.readFileSync(file);
  const n = Number(raw.readBigUInt64LE(0));
  const header = JSON.parse(raw.subarray(8, 8 + n).toString()) as Record<string, unknown>;
  delete header.__metadata__;
  return { header, data: raw.subarray(8 + n) };
}

describe('PyTorch state dicts in safetensors', () => {
  it("PyTorch's file (I64 num_batches_tracked) loads into the same architecture and reproduces torch's outputs", () => {
    const fx = fixture('torch_resnet');
    const m = model(1);
    const loaded = myelin.io.loadStateDictFile(m, path.join(FIXTURES, 'torch_resnet.safetensors'));
    expect(loaded).toHaveLength(Object.keys(m.stateDict()).length);
    expect(layout(path.join(FIXTURES, 'torch_resnet.safetensors')).header['1.num_batches_tracked']).toMatchObject({ dtype: 'I64', shape: [] });
    expect(m.stateDict()['1.num_batches_tracked'].data[0]).toBe(3);
    m.eval();
    const y = m.predict(new myelin.Tensor(Float32Array.from(fx.input), fx.inputShape));
    expect(y.shape).toEqual(fx.outputShape);
    const v = maxViolation(y.data, fx.output, 1e-5, 1e-6);
    expect(v.excess, `element ${v.at}: myelin ${v.a}, torch ${v.b}`).toBeLessThanOrEqual(0);
  });

  it("myelin's file, which PyTorch loaded with strict=True, is what saveStateDict writes today (and it reads back)", () => {
    const fx = fixture('myelin_resnet');
    const committed = path.join(FIXTURES, 'myelin_resnet.safetensors');
    const m = model(99);
    myelin.io.loadStateDictFile(m, committed);
    m.eval();
    // The outputs recorded when the file was written (and that torch reproduced), to float32 rounding: the
    // summation order of the kernels may change between versions, the weights in the file may not.
    const out = m.predict(new myelin.Tensor(Float32Array.from(fx.input), fx.inputShape)).data;
    const v = maxViolation(out, fx.output, 1e-5, 1e-6);
    expect(v.excess, `element ${v.at}: now ${v.a}, recorded ${v.b}`).toBeLessThanOrEqual(0);
    const again = path.join(tmp.dir, 'again.safetensors');
    myelin.io.saveStateDict(m, again, { metadata: { producer: 'myelin' } });
    expect(fs.readFileSync(again).equals(fs.readFileSync(committed))).toBe(true);
    const { header } = layout(again);
    expect(header['1.num_batches_tracked']).toMatchObject({ dtype: 'I64', shape: [] });
    expect(header['3.body.1.running_var']).toMatchObject({ dtype: 'F32', shape: [8] });
    expect(header['3.shortcut.0.weight']).toMatchObject({ dtype: 'F32', shape: [8, 4, 1, 1] });
    expect(fx.numBatchesTracked).toBe(4);
  });

  it('save()/load() model directories store num_batches_tracked as I64 too, and read it back', () => {
    const m = model(3);
    m.train();
    myelin.noGrad(() => m.forward(new myelin.Tensor(new Float32Array(2 * 144).fill(0.5), [2, 1, 12, 12])));
    const dir = path.join(tmp.dir, 'dir-model');
    myelin.save(m, dir);
    expect(layout(path.join(dir, 'model.safetensors')).header['4.body.4.num_batches_tracked']).toMatchObject({ dtype: 'I64' });
    const back = myelin.load(dir);
    expect(back.stateDict()['4.body.4.num_batches_tracked'].data[0]).toBe(1);
  });

  describe('mismatches are named', () => {
    const torchFile = path.join(FIXTURES, 'torch_resnet.safetensors');
    it('a different architecture: the missing and unexpected names, and the model is unchanged', () => {
      const other = new myelin.nn.Sequential(new myelin.nn.Conv2d(1, 4, 3, { padding: 1, bias: false }), new myelin.nn.BatchNorm2d(4), new myelin.nn.Linear(8, 10));
      const before = Array.from(other.stateDict()['2.weight'].data);
      expect(() => myelin.io.loadStateDictFile(other, torchFile)).toThrow(/torch_resnet\.safetensors': the names do not match the model's state dict: missing '2\.weight', '2\.bias' .*unexpected .*'7\.weight'.*strict: false/);
      expect(Array.from(other.stateDict()['2.weight'].data)).toEqual(before);
      // strict: false loads the names both have (here the stem) and says which.
      expect(myelin.io.loadStateDictFile(other, torchFile, { strict: false })).toEqual(['0.weight', '1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked']);
      expect(Array.from(other.stateDict()['2.weight'].data)).toEqual(before);
    });

    it("a shape mismatch names the tensor and both shapes", () => {
      const m = new myelin.nn.Sequential(new myelin.nn.Conv2d(1, 5, 3, { padding: 1, bias: false }));
      expect(() => myelin.io.loadStateDictFile(m, torchFile, { strict: false })).toThrow(/'0\.weight' has shape \[4,1,3,3\] in the file, the model's is \[5,1,3,3\]/);
    });

    it("a DataParallel 'module.' prefix is pointed out", () => {
      const file = path.join(tmp.dir, 'prefixed.safetensors');
      fs.writeFileSync(file, rawFile({ 'module.0.weight': { dtype: 'F32', shape: [2, 1], data_offsets: [0, 8] }, 'module.0.bias': { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, new Uint8Array(16)));
      const m = new myelin.nn.Sequential(new myelin.nn.Linear(1, 2));
      expect(() => myelin.io.loadStateDictFile(m, file)).toThrow(/carry a prefix 'module\.': strip it/);
    });

    it('dtypes: an integer tensor for a float parameter, a half-precision file, an integer too large for float32', () => {
      const m = new myelin.nn.Sequential(new myelin.nn.Linear(1, 2));
      const ints = path.join(tmp.dir, 'int-weight.safetensors');
      fs.writeFileSync(ints, rawFile({ '0.weight': { dtype: 'I64', shape: [2, 1], data_offsets: [0, 16] }, '0.bias': { dtype: 'F32', shape: [2], data_offsets: [16, 24] } }, new Uint8Array(24)));
      expect(() => myelin.io.loadStateDictFile(m, ints)).toThrow(/'0\.weight' is I64 in the file but is a float32 tensor of the model/);
      const half = path.join(tmp.dir, 'half.safetensors');
      fs.writeFileSync(half, rawFile({ '0.weight': { dtype: 'F16', shape: [2, 1], data_offsets: [0, 4] }, '0.bias': { dtype: 'F16', shape: [2], data_offsets: [4, 8] } }, new Uint8Array(8)));
      expect(() => myelin.io.loadStateDictFile(m, half)).toThrow(/half\.safetensors: tensor '0\.weight' has dtype F16; only F32 is supported .*model\.float\(\)/);
      const big = new Uint8Array(8);
      new DataView(big.buffer).setBigInt64(0, 2n ** 40n, true);
      const huge = path.join(tmp.dir, 'huge.safetensors');
      fs.writeFileSync(huge, rawFile({ n: { dtype: 'I64', shape: [], data_offsets: [0, 8] } }, big));
      expect(() => myelin.io.readSafetensorsSync(huge)).toThrow(/tensor 'n' \(I64\) holds 1099511627776 at position 0, beyond the integers float32 represents exactly/);
    });

    it('bad arguments', () => {
      const m = new myelin.nn.Sequential(new myelin.nn.Linear(1, 2));
      expect(() => myelin.io.loadStateDictFile({}, torchFile)).toThrow(/model must be a myelin Module/);
      expect(() => myelin.io.loadStateDictFile(m, torchFile, { strict: 1 })).toThrow(/strict/);
      expect(() => myelin.io.loadStateDictFile(m, path.join(tmp.dir, 'nope.safetensors'))).toThrow(/io\.loadStateDictFile: .*nope\.safetensors/);
      expect(() => myelin.io.saveStateDict(m, '')).toThrow(/file must be a non-empty path/);
      expect(() => myelin.io.writeSafetensorsSync(path.join(tmp.dir, 'frac.safetensors'), [{ name: 'n', shape: [], data: Float32Array.of(1.5), dtype: 'I64' }])).toThrow(/'n' is written as I64 but value 0 is 1\.5/);
    });
  });
});

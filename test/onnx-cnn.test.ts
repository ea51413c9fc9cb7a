// ONNX for CNNs: a LeNet and a small ResNet written by torch.onnx.export import and reproduce torch's outputs
// (test/fixtures/onnx-cnn/generate.py); myelin's export folds BatchNorm into the Conv before it in eval mode.
import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it, afterAll } from 'vitest';
import { Tensor } from '../lib/tensor';
import { exportModel, fromOnnxBytes, importModel } from '../lib/io/onnx';
import { decodeModelProto } from '../lib/io/onnx/decode';
import { onnx } from '../lib/io/onnx/schema';
import { AvgPool2d, BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, ResidualBlock, Sequential } from '../lib/nn';
import { fit, evaluate } from '../lib/train';
import { SeededRandom } from '../lib/data/split';
import { maxViolation, runOrt, tempDir } from './helpers/onnx';

const FIXTURES = path.join(__dirname, 'fixtures', 'onnx-cnn');
const tmp = tempDir();
afterAll(tmp.cleanup);

interface Fixture { torch: string; inputShape: number[]; input: number[]; outputShape: number[]; output: number[] }

describe('CNNs exported by torch.onnx.export', () => {
  for (const name of ['torch_lenet', 'torch_resnet']) {
    it(`${name}: importModel reproduces torch's outputs`, async () => {
      const fx = JSON.parse(fs.readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8')) as Fixture;
      const model = await importModel(path.join(FIXTURES, `${name}.onnx`));
      const y = model.predict(new Tensor(Float32Array.from(fx.input), fx.inputShape));
      expect(y.shape).toEqual(fx.outputShape);
      const v = maxViolation(y.data, fx.output, 1e-5, 1e-5);
      expect(v.excess, `${name}: element ${v.at} is ${v.a}, torch ${v.b}`).toBeLessThanOrEqual(0);
    });
  }
});

/** 12x12 images of a horizontal (0), vertical (1) or diagonal (2) stroke at a varying place, with noise. */
function strokes(n: number, seed: number): { x: Tensor; y: Int32Array } {
  const rng = new SeededRandom(seed);
  const x = new Float32Array(n * 144);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 3;
    const at = 2 + Math.floor(rng.next() * 8);
    for (let j = 1; j < 11; j++) {
      const [r, c] = y[i] === 0 ? [at, j] : y[i] === 1 ? [j, at] : [j, j];
      x[i * 144 + r * 12 + c] = 1;
    }
    for (let k = 0; k < 144; k++) x[i * 144 + k] += 0.2 * (rng.next() - 0.5);
  }
  return { x: new Tensor(x, [n, 1, 12, 12]), y };
}

const opTypes = (file: string): string[] => (decodeModelProto(fs.readFileSync(file)).graph?.node ?? []).map((n) => n.opType as string);

describe('exporting a trained CNN with BatchNorm', () => {
  const block = (c: number): ResidualBlock => new ResidualBlock([
    new Conv2d(c, c, 3, { padding: 1, bias: false }), new BatchNorm2d(c), new ReLU(), new Conv2d(c, c, 3, { padding: 1 }), new BatchNorm2d(c),
  ]);
  const makeModel = (): Sequential => new Sequential(
    new Conv2d(1, 6, 3, { padding: 1 }), new BatchNorm2d(6), new ReLU(), new MaxPool2d(2), block(6),
    new Conv2d(6, 8, 3, { stride: 2, padding: 1, bias: false }), new BatchNorm2d(8), new ReLU(),
    new AvgPool2d(3), new Flatten(), new Linear(8, 3), { seed: 3 },
  );
  let model: Sequential;
  const test = strokes(30, 2);

  it('trains to separate the strokes (the weights and running statistics the exports carry are not the defaults)', async () => {
    model = makeModel();
    await fit(model, strokes(96, 1), { epochs: 6, batchSize: 16, lr: 0.01, optimizer: 'adam', verbose: 0, seed: 1 });
    expect(evaluate(model, test).accuracy).toBeGreaterThanOrEqual(0.9);
    const bn = model.stateDict()['1.running_var'].data;
    expect(Array.from(bn).some((v) => Math.abs(v - 1) > 1e-3)).toBe(true);
  });

  it('in eval mode each BatchNorm after a Conv is folded into it; onnxruntime agrees with myelin to 1e-5', async () => {
    model.eval();
    const expected = model.predict(test.x);
    const file = path.join(tmp.dir, 'folded.onnx');
    await exportModel(model, file, { inputShape: [1, 1, 12, 12] });
    const ops = opTypes(file);
    expect(ops.filter((o) => o === 'BatchNormalization')).toEqual([]);
    expect(ops.filter((o) => o === 'Conv')).toHaveLength(4);
    expect(ops).toContain('Add');
    expect(ops).toContain('AveragePool');
    const v = maxViolation((await runOrt(file, test.x.data, test.x.shape)).data, expected.data, 1e-5, 1e-5);
    expect(v.excess, `onnxruntime at ${v.at}: ${v.a} vs myelin ${v.b}`).toBeLessThanOrEqual(0);
    // And myelin reads its own folded file back (a Graph: the residual Add) with the same outputs.
    const back = await importModel(file);
    const w = maxViolation(back.predict(test.x).data, expected.data, 1e-5, 1e-5);
    expect(w.excess, `re-imported at ${w.at}: ${w.a} vs ${w.b}`).toBeLessThanOrEqual(0);
    expect(model.training).toBe(false);
  });

  it('in training mode the BatchNormalization nodes are kept (and foldBatchNorm overrides the mode either way)', async () => {
    model.train();
    const file = path.join(tmp.dir, 'kept.onnx');
    await exportModel(model, file, { inputShape: [1, 1, 12, 12] });
    expect(opTypes(file).filter((o) => o === 'BatchNormalization')).toHaveLength(4);
    expect(model.training).toBe(true);
    model.eval();
    const expected = model.predict(test.x);
    const v = maxViolation((await runOrt(file, test.x.data, test.x.shape)).data, expected.data, 1e-5, 1e-5);
    expect(v.excess, `onnxruntime at ${v.at}: ${v.a} vs myelin ${v.b}`).toBeLessThanOrEqual(0);
    const kept = path.join(tmp.dir, 'kept-eval.onnx');
    await exportModel(model, kept, { inputShape: [1, 1, 12, 12], foldBatchNorm: false });
    expect(opTypes(kept).filter((o) => o === 'BatchNormalization')).toHaveLength(4);
    model.train();
    const folded = path.join(tmp.dir, 'folded-train.onnx');
    await exportModel(model, folded, { inputShape: [1, 1, 12, 12], foldBatchNorm: true });
    expect(opTypes(folded).filter((o) => o === 'BatchNormalization')).toHaveLength(0);
    await expect(exportModel(model, folded, { inputShape: [1, 1, 12, 12], foldBatchNorm: 'yes' as unknown as boolean })).rejects.toThrow(/foldBatchNorm.*yes/);
  });

  it('a BatchNorm whose Conv output is also read elsewhere is kept', async () => {
    const conv = new Conv2d(2, 2, 1, { seed: 1 });
    const m = new Sequential(conv, new ResidualBlock([new BatchNorm2d(2)], { activation: 'none' }));
    m.eval();
    const file = path.join(tmp.dir, 'shared.onnx');
    await exportModel(m, file, { inputShape: [1, 2, 3, 3] });
    expect(opTypes(file)).toEqual(['Conv', 'BatchNormalization', 'Add']);
  });
});

describe('Pad nodes in imported graphs', () => {
  const lenet = path.join(FIXTURES, 'torch_lenet.onnx');
  const withPad = (edit: (pad: onnx.INodeProto, model: onnx.ModelProto) => void): Uint8Array => {
    const model = decodeModelProto(fs.readFileSync(lenet)) as onnx.ModelProto;
    const pad = (model.graph?.node ?? []).find((n) => n.opType === 'Pad') as onnx.INodeProto;
    edit(pad, model);
    return onnx.ModelProto.encode(model).finish();
  };

  it('a Pad of zeros on the spatial axes before an AveragePool or a Conv becomes its padding (onnxruntime agrees)', async () => {
    const ints = (name: string, values: number[]): onnx.IAttributeProto => ({ name, type: 7, ints: values });
    const floats = (name: string, dims: number[], values: number[]): onnx.ITensorProto => ({ name, dims, dataType: 1, floatData: values });
    const w = Array.from({ length: 2 * 9 }, (_, i) => Math.sin(i + 1));
    const model: onnx.IModelProto = {
      irVersion: 7, opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'pads',
        node: [
          { opType: 'Pad', name: 'pad1', input: ['x', 'p1'], output: ['a'] },
          { opType: 'AveragePool', name: 'pool', input: ['a'], output: ['b'], attribute: [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])] },
          { opType: 'Pad', name: 'pad2', input: ['b', 'p2', 'zero'], output: ['c'] },
          { opType: 'Conv', name: 'conv', input: ['c', 'w'], output: ['y'], attribute: [ints('kernel_shape', [3, 3]), ints('pads', [0, 1, 0, 1])] },
        ],
        initializer: [
          { name: 'p1', dims: [8], dataType: 7, int64Data: [0, 0, 1, 1, 0, 0, 1, 1] },
          { name: 'p2', dims: [8], dataType: 7, int64Data: [0, 0, 1, 0, 0, 0, 1, 0] },
          floats('zero', [], [0]), floats('w', [2, 1, 3, 3], w),
        ],
        input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'n' }, { dimValue: 1 }, { dimValue: 6 }, { dimValue: 6 }] } } } }],
        output: [{ name: 'y', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'n' }, { dimValue: 2 }, { dimValue: 4 }, { dimValue: 4 }] } } } }],
      },
    };
    const bytes = onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
    const imported = fromOnnxBytes(bytes, 'pads') as Sequential;
    expect(imported.layers.map((l) => l.toConfig())).toMatchObject([
      { type: 'AvgPool2d', padding: [1, 1], countIncludePad: true }, { type: 'Conv2d', padding: [1, 1] },
    ]);
    const file = path.join(tmp.dir, 'pads.onnx');
    fs.writeFileSync(file, bytes);
    const x = new Tensor(Float32Array.from({ length: 2 * 36 }, (_, i) => Math.cos(i * 0.37) + 0.5), [2, 1, 6, 6]);
    const ours = imported.predict(x);
    const ref = await runOrt(file, x.data, x.shape);
    expect(ours.shape).toEqual([...ref.dims]);
    const v = maxViolation(ours.data, ref.data, 1e-5, 1e-6);
    expect(v.excess, `at ${v.at}: ${v.a} vs onnxruntime ${v.b}`).toBeLessThanOrEqual(0);
  });

  it('refuses a reflect Pad, naming the node and the mode', () => {
    const bytes = withPad((pad) => {
      pad.attribute = [{ name: 'mode', type: 3, s: new TextEncoder().encode('reflect') }];
    });
    expect(() => fromOnnxBytes(bytes, 'reflect.onnx')).toThrow(/reflect\.onnx.*Pad node .*only mode 'constant' is supported, got 'reflect'/);
  });
});

// nn.Embedding through ONNX: export (Cast + Gather) runs in onnxruntime with myelin's outputs and imports back;
// a torch.onnx.export'ed nn.Embedding (scripts/gen-seq-fixtures.py) imports and reproduces torch's outputs.
import * as fs from 'fs';
import * as path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor } from '../lib/tensor';
import { intTensor } from '../lib/int-tensor';
import * as nn from '../lib/nn';
import { exportModel, importModel } from '../lib/io/onnx';
import { maxViolation, runOrt, tempDir } from './helpers/onnx';

const FIXTURES = path.join(__dirname, 'fixtures', 'seq');
const { dir, cleanup } = tempDir();
afterAll(cleanup);

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  const v = maxViolation(actual, expected, 1e-5, 1e-6);
  expect(v.excess, `${what}: element ${v.at} is ${v.a}, expected ${v.b}`).toBeLessThanOrEqual(0);
}

describe('Embedding and ONNX', () => {
  it('exports as Cast + Gather: onnxruntime agrees, and importModel restores the layers and outputs', async () => {
    const model = new nn.Sequential([new nn.Embedding(30, 6, { paddingIdx: 0 }), new nn.Flatten(), new nn.Linear(4 * 6, 5), new nn.ReLU()], { seed: 9 });
    const ids = intTensor([[1, 2, 3, 0], [29, 7, 7, 0], [5, 4, 3, 2]]);
    const want = model.forward(ids);
    const file = path.join(dir, 'emb.onnx');
    // The example input must hold ids (a shape alone gives ordinary float values, which an Embedding refuses).
    await expect(exportModel(model, file, { inputShape: [1, 4] })).rejects.toThrow(/the forward pass on the example input failed: embedding: index: element 0 of the Tensor is 0\.29/);
    await exportModel(model, file, { input: ids.slice(0, 1).toFloat() });
    const got = await runOrt(file, Float32Array.from(ids.data), [3, 4]);
    expect(Array.from(got.dims)).toEqual([3, 5]);
    expectClose(got.data, want.data, 'onnxruntime vs myelin');
    const back = await importModel(file);
    expect(back.layers.map((l) => l.toConfig().type)).toEqual(['Embedding', 'Flatten', 'Linear', 'ReLU']);
    expectClose(back.forward(ids).data, want.data, 'imported vs original');
  });

  it('imports torch.onnx.export of nn.Embedding -> Flatten -> Linear and reproduces torch', async () => {
    const fx = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'torch_embedding.json'), 'utf8')) as { input: number[]; inputShape: number[]; output: number[]; outputShape: number[] };
    const model = await importModel(path.join(FIXTURES, 'torch_embedding.onnx'));
    expect(model.layers.map((l) => l.toConfig().type)).toEqual(['Embedding', 'Flatten', 'Linear']);
    const y = model.predict(new Tensor(Float32Array.from(fx.input), fx.inputShape));
    expect(y.shape).toEqual(fx.outputShape);
    expectClose(y.data, fx.output, 'myelin vs torch');
  });
});

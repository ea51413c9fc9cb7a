// nn.LSTM / nn.GRU through ONNX: exported as ONNX LSTM/GRU nodes, onnxruntime reproduces myelin's outputs (every
// form: layers, directions, batchFirst, returnSequences, no bias).
import * as path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor } from '../lib/tensor';
import * as nn from '../lib/nn';
import { exportModel } from '../lib/io/onnx';
import { maxViolation, runOrt, tempDir } from './helpers/onnx';

const { dir, cleanup } = tempDir();
afterAll(cleanup);

const FORMS = [
  { numLayers: 1, bidirectional: false, batchFirst: true, returnSequences: true, bias: true },
  { numLayers: 2, bidirectional: true, batchFirst: true, returnSequences: true, bias: true },
  { numLayers: 2, bidirectional: true, batchFirst: true, returnSequences: false, bias: false },
  { numLayers: 3, bidirectional: false, batchFirst: false, returnSequences: true, bias: true },
  { numLayers: 1, bidirectional: false, batchFirst: true, returnSequences: false, bias: true },
];

describe('LSTM / GRU ONNX export', () => {
  for (const kind of ['LSTM', 'GRU'] as const) {
    for (const form of FORMS) {
      it(`${kind} ${JSON.stringify(form)}: onnxruntime agrees with myelin`, async () => {
        const Cls = kind === 'LSTM' ? nn.LSTM : nn.GRU;
        const layers: nn.Module[] = [new Cls(3, 5, form)];
        if (!form.returnSequences) layers.push(new nn.Linear(form.bidirectional ? 10 : 5, 2));
        const model = new nn.Sequential(layers, { seed: 4 });
        model.eval();
        const shape = form.batchFirst ? [2, 7, 3] : [7, 2, 3];
        const x = new Tensor(Float32Array.from({ length: 42 }, (_, i) => Math.sin(i * 0.7) * 2), shape);
        const want = model.predict(x);
        const file = path.join(dir, `${kind}-${FORMS.indexOf(form)}.onnx`);
        await exportModel(model, file, { inputShape: [1, ...shape.slice(1)] });
        const got = await runOrt(file, x.data, shape);
        expect(Array.from(got.dims)).toEqual(want.shape);
        const v = maxViolation(got.data, want.data, 1e-5, 1e-5);
        expect(v.excess, `element ${v.at}: ort ${v.a} vs myelin ${v.b}`).toBeLessThanOrEqual(0);
      });
    }
  }
});

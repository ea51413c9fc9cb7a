// ops.topk through ONNX export by tracing: an ONNX TopK node (largest and smallest, inner and last axes, ties), run by
// onnxruntime-node with myelin's values.
import * as fs from 'fs';
import * as path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor } from '../lib/tensor';
import * as ops from '../lib/ops';
import * as nn from '../lib/nn';
import { toOnnxBytes } from '../lib/io/onnx';
import { maxViolation, ort, tempDir } from './helpers/onnx';

const { dir, cleanup } = tempDir();
afterAll(cleanup);

class TopK extends nn.Module {
  constructor(private readonly k: number, private readonly axis: number, private readonly largest: boolean) {
    super();
  }

  override forward(x: Tensor): Tensor {
    return ops.mul(ops.topk(x, this.k, { axis: this.axis, largest: this.largest }).values, 2);
  }
}

describe('topk ONNX export', () => {
  for (const [k, axis, largest] of [[3, -1, true], [2, 1, false], [1, 2, true], [5, -1, false]] as const) {
    it(`k=${k} axis=${axis} largest=${largest}: onnxruntime gives myelin's values`, async () => {
      const m = new TopK(k, axis, largest);
      // [2, 3, 5] with repeated values (ties)
      const x = new Tensor(Float32Array.from({ length: 30 }, (_, i) => Math.round(Math.sin(i * 1.3) * 4) / 2), [2, 3, 5]);
      const want = m.forward(x);
      const file = path.join(dir, `topk-${k}-${axis}-${largest}.onnx`);
      fs.writeFileSync(file, toOnnxBytes(m, { input: x }));
      const session = await ort.InferenceSession.create(file, { logSeverityLevel: 3 });
      const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x.data, x.shape.slice()) });
      const got = out[session.outputNames[0]] as { data: Float32Array; dims: readonly number[] };
      expect(Array.from(got.dims)).toEqual(want.shape);
      const v = maxViolation(got.data, want.data, 0, 0);
      expect(v.excess, `element ${v.at}: ort ${v.a} vs myelin ${v.b}`).toBeLessThanOrEqual(0);
    });
  }
});

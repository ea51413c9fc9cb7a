// ONNX export by tracing of the sequence ops and layers: onnxruntime-node reproduces myelin's outputs for a module
// built from permute / bmm / cumsum / maskedFill / triu / tril / gather / softmax on an axis, and for a small
// decoder-only language model (Embedding, LearnedPositionalEncoding, DecoderBlock) at another batch size.
import * as fs from 'fs';
import * as path from 'path';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor } from '../lib/tensor';
import { intTensor } from '../lib/int-tensor';
import * as ops from '../lib/ops';
import * as nn from '../lib/nn';
import type { LayerConfig } from '../lib/nn';
import { toOnnxBytes } from '../lib/io/onnx';
import { maxViolation, ort, tempDir } from './helpers/onnx';
import { freshRng, randomTensor } from './helpers/gradcheck';

const { dir, cleanup } = tempDir();
afterAll(cleanup);
const { seed, rng } = freshRng();

async function runOrt(bytes: Uint8Array, label: string, x: Tensor): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const file = path.join(dir, `${label}.onnx`);
  fs.writeFileSync(file, bytes);
  const session = await ort.InferenceSession.create(file, { logSeverityLevel: 3 });
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x.data, x.shape.slice()) });
  return out[session.outputNames[0]] as { data: Float32Array; dims: readonly number[] };
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rtol = 1e-5, atol = 1e-5): void {
  const v = maxViolation(actual, expected, rtol, atol);
  expect(v.excess, `${what}: element ${v.at} is ${v.a}, expected ${v.b} (seed ${seed})`).toBeLessThanOrEqual(0);
}

class SeqOps extends nn.Module {
  override forward(x: Tensor): Tensor {
    // x [B, 3, 4]
    const p = ops.permute(x, [0, 2, 1]); // [B, 4, 3]
    const s = ops.bmm(x, p); // [B, 3, 3]
    const masked = ops.maskedFill(s, ops.causalMask(3), -Infinity);
    const a = ops.softmax(masked, -1);
    const c = ops.cumsum(ops.triu(s, 0), 1);
    const d = ops.tril(s, -1);
    return ops.add(ops.add(ops.softmax(ops.add(a, c), 1), d), ops.bmm(a, x).narrow(2, 0, 3));
  }
  override toConfig(): LayerConfig { return { type: 'SeqOps' }; }
  override describe(): string { return 'SeqOps'; }
}

describe('sequence ops exported by tracing run in onnxruntime', () => {
  it('permute, bmm, maskedFill(-Infinity), softmax on axes -1 and 1, cumsum, triu, tril: same outputs, dynamic batch', async () => {
    const m = new SeqOps();
    const bytes = toOnnxBytes(m, { input: randomTensor(rng, [2, 3, 4]), opset: 17 });
    for (const B of [2, 5]) {
      const x = randomTensor(rng, [B, 3, 4]);
      const got = await runOrt(bytes, `seqops-${B}`, x);
      expect(Array.from(got.dims)).toEqual([B, 3, 3]);
      expectClose(got.data, m.forward(x).data, `batch ${B}`);
    }
    expect(() => toOnnxBytes(m, { input: randomTensor(rng, [2, 3, 4]), opset: 13 })).toThrow(/triu needs opset 14 or later \(ONNX Trilu\)/);
  });

  it('gather with constant indices; topk computes its positions in the graph (TopK, never baked-in positions)', async () => {
    const g = new (class extends nn.Module {
      override forward(x: Tensor): Tensor { return ops.gather(x, 1, intTensor([[2, 0, 0], [1, 1, 2]])); }
      override toConfig(): LayerConfig { return { type: 'G' }; }
      override describe(): string { return 'G'; }
    })();
    const x = randomTensor(rng, [2, 3]);
    const got = await runOrt(toOnnxBytes(g, { input: x }), 'gather', x);
    expectClose(got.data, g.forward(x).data, 'gather');
    const t = new (class extends nn.Module {
      override forward(y: Tensor): Tensor { return ops.topk(y, 2).values; }
      override toConfig(): LayerConfig { return { type: 'T' }; }
      override describe(): string { return 'T'; }
    })();
    // Exported at one input, run at another: the positions come from the graph's TopK, not from the traced input.
    const tBytes = toOnnxBytes(t, { input: x });
    const x2 = randomTensor(rng, [2, 3]);
    expectClose((await runOrt(tBytes, 'topk', x2)).data, t.forward(x2).data, 'topk');
  });

  it('a decoder-only language model (Embedding, positions, 2 DecoderBlocks) gives the same logits in onnxruntime', async () => {
    const V = 13;
    const model = new nn.Sequential([
      new nn.Embedding(V, 16), new nn.LearnedPositionalEncoding(8, 16), new nn.DecoderBlock(16, 4), new nn.DecoderBlock(16, 4),
      new nn.LayerNorm(16), new nn.Linear(16, V),
    ], { seed: 3 });
    const ids = (B: number): Tensor => intTensor(Int32Array.from({ length: B * 8 }, () => rng.int(V)), [B, 8]).toFloat();
    const bytes = toOnnxBytes(model, { input: ids(2), opset: 17 });
    for (const B of [1, 3]) {
      const x = ids(B);
      const got = await runOrt(bytes, `lm-${B}`, x);
      expect(Array.from(got.dims)).toEqual([B, 8, V]);
      expectClose(got.data, model.predict(x).data, `logits, batch ${B}`);
    }
  });
});

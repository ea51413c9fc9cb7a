// nn.TransformerEncoderLayer and nn.TransformerEncoder against torch 1.13 (committed fixtures from
// test/fixtures/transformer/make.py: outputs and every gradient), RoPE, config round trips, ONNX export (onnxruntime)
// and errors.
import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../lib/tensor';
import * as nn from '../lib/nn';
import { noGrad } from '../lib/autograd';
import { rope } from '../lib/ops/attention';
import { freshRng, gradcheck, randomTensor } from './helpers/gradcheck';
import { exportModel, importModel } from '../lib/io/onnx';
import { maxViolation, runOrt } from './helpers/onnx';
import * as os from 'os';
import { type Arr, loadFixture, torchClose } from './helpers/torch-fixtures';

const DIR = path.join(__dirname, 'fixtures', 'transformer');
interface Fixture {
  batchFirst: boolean; causal: boolean; params: Record<string, Arr>; input: Arr; keyPaddingMask: number[] | null;
  output: Arr; outputWeights: number[]; grads: Record<string, number[]>;
}
const load = (name: string): Fixture => loadFixture<Fixture>(DIR, name);
const expectClose = torchClose({ atol: 3e-5, rtol: 1e-4 });

function check(model: nn.Module, fx: Fixture, prefix: string, encode: (x: Tensor, o: nn.EncodeOptions) => Tensor): void {
  const params = Object.fromEntries(Object.entries(fx.params).map(([k, v]) => [k.slice(prefix.length), v]));
  expect(model.namedParameters().map(([n]) => n).sort()).toEqual(Object.keys(params).sort());
  model.loadStateDict(Object.fromEntries(Object.entries(params).map(([k, v]) => [k, new Tensor(Float32Array.from(v.data), v.shape)])));
  model.eval();
  const x = new Tensor(Float32Array.from(fx.input.data), fx.input.shape, true);
  const [B, L] = fx.batchFirst ? fx.input.shape : [fx.input.shape[1], fx.input.shape[0]];
  const keyPaddingMask = fx.keyPaddingMask === null ? null : new Tensor(Float32Array.from(fx.keyPaddingMask), [B, L]);
  const y = encode(x, { keyPaddingMask, isCausal: fx.causal });
  expect(y.shape).toEqual(fx.output.shape);
  expectClose(y.data, fx.output.data, 'output');
  y.backward(new Tensor(Float32Array.from(fx.outputWeights), y.shape));
  expectClose(x.grad!.data, fx.grads.input, 'd input');
  for (const [n, p] of model.namedParameters()) expectClose(p.grad!.data, fx.grads[prefix + n], `d ${n}`);
}

describe('agreement with torch.nn.TransformerEncoderLayer / TransformerEncoder (outputs and gradients)', () => {
  it('post-norm ReLU layer, sequence-first, key padding', () => {
    const layer = new nn.TransformerEncoderLayer(16, 4, { dimFeedforward: 32 });
    check(layer, load('layer_post_relu_seq_first'), 'layer.', (x, o) => layer.encode(x, o));
  });
  it('pre-norm (normFirst) GELU layer, batch-first, causal', () => {
    const layer = new nn.TransformerEncoderLayer(16, 4, { dimFeedforward: 24, activation: 'gelu', normFirst: true, batchFirst: true });
    check(layer, load('layer_pre_gelu_batch_first_causal'), 'layer.', (x, o) => layer.encode(x, o));
  });
  it('a 2-layer TransformerEncoder with a final LayerNorm, batch-first, key padding', () => {
    const enc = new nn.TransformerEncoder(new nn.TransformerEncoderLayer(16, 4, { dimFeedforward: 32, batchFirst: true }), 2, { norm: true });
    check(enc, load('encoder_stack'), '', (x, o) => enc.encode(x, o));
  });
});

describe('TransformerEncoder behaviour', () => {
  it('the copies start with the same weights (torch deep-copies the layer); config round trip keeps the output', () => {
    const layer = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, batchFirst: true, dropout: 0, seed: 3 });
    const enc = new nn.TransformerEncoder(layer, 3, { norm: true, causal: true });
    const sd = enc.stateDict();
    expect(Array.from(sd['layers.2.linear1.weight'].data)).toEqual(Array.from(sd['layers.0.linear1.weight'].data));
    const again = nn.fromConfig(JSON.parse(JSON.stringify(enc.toConfig()))) as nn.TransformerEncoder;
    again.loadStateDict(sd);
    const x = randomTensor(freshRng().rng, [2, 5, 8]);
    const a = noGrad(() => enc.forward(x)), b = noGrad(() => again.forward(x));
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
    // causal: changing the last position leaves the first outputs unchanged
    const x2 = new Tensor(x.data.slice(), x.shape);
    for (let i = 4 * 8; i < 5 * 8; i++) x2.data[i] += 1;
    const c = noGrad(() => enc.forward(x2));
    for (let i = 0; i < 4 * 8; i++) expect(c.data[i]).toBeCloseTo(a.data[i], 6);
  });

  it('gradients by finite differences through a normFirst GELU layer with RoPE', () => {
    const { seed, rng } = freshRng();
    const layer = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 12, activation: 'gelu', normFirst: true, batchFirst: true, dropout: 0, rope: true, seed: 1 });
    const x = randomTensor(rng, [2, 3, 8]);
    gradcheck(([a]) => layer.encode(a, { isCausal: true }), [x], { label: `seed ${seed}` });
  });

  it('rope: rotates pairs by position (relative: q.k depends only on the offset), gradient by finite differences', () => {
    const { seed, rng } = freshRng();
    const q = randomTensor(rng, [1, 1, 1, 8]), k = randomTensor(rng, [1, 1, 1, 8]);
    const dotAt = (pq: number, pk: number): number => {
      const a = rope(q, pq), b = rope(k, pk);
      return a.data.reduce((s, v, i) => s + v * b.data[i], 0);
    };
    expect(dotAt(5, 2)).toBeCloseTo(dotAt(13, 10), 4);
    expect(Math.abs(dotAt(5, 2) - dotAt(5, 3))).toBeGreaterThan(1e-4);
    const norm = (t: Tensor): number => Math.hypot(...t.data);
    expect(norm(rope(q, 7))).toBeCloseTo(norm(q), 5);
    gradcheck(([a]) => rope(a, 3, 100), [randomTensor(rng, [2, 3, 4, 6])], { label: `seed ${seed}` });
    expect(() => rope(randomTensor(rng, [1, 2, 3]), 0)).toThrow(/even headDim/);
  });

  it('ONNX export (causal, RoPE, final norm) runs in onnxruntime like forward, at another batch size (1e-5)', async () => {
    const enc = new nn.TransformerEncoder(new nn.TransformerEncoderLayer(16, 4, { dimFeedforward: 32, batchFirst: true, dropout: 0, rope: true, seed: 2 }), 2, { norm: true, causal: true });
    enc.eval();
    const x = new Tensor(Float32Array.from({ length: 3 * 7 * 16 }, (_, i) => Math.sin(i * 0.37)), [3, 7, 16]);
    const y = noGrad(() => enc.forward(x));
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-enc-')), 'encoder.onnx');
    await exportModel(enc, file, { inputShape: [1, 7, 16] });
    const o = await runOrt(file, x.data, x.shape);
    expect(o.dims).toEqual([3, 7, 16]);
    expect(maxViolation(o.data, y.data, 1e-5, 1e-5).excess).toBeLessThanOrEqual(0);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });

  it('torch.onnx.export of a TransformerEncoder imports and reproduces torch_encoder_onnx.json (was: unsupported Shape, Slice)', async () => {
    // torch writes the head split as shape arithmetic (Shape -> Gather -> Div -> Slice), read as Graph ops since this stop.
    const fx = loadFixture<{ input: Arr; output: Arr }>(DIR, 'torch_encoder_onnx');
    const model = await importModel(path.join(DIR, 'torch_encoder.onnx'));
    const y = noGrad(() => model.forward(new Tensor(Float32Array.from(fx.input.data), fx.input.shape)) as Tensor);
    expect(y.shape).toEqual(fx.output.shape);
    expect(maxViolation(y.data, fx.output.data, 1e-5, 1e-5).excess).toBeLessThanOrEqual(0);
  });

  it('errors name the option and the value', () => {
    expect(() => new nn.TransformerEncoderLayer(16, 4, { activation: 'tanh' as never })).toThrow(/activation/);
    expect(() => new nn.TransformerEncoderLayer(16, 4, { dimFeedForward: 8 } as never)).toThrow(/dimFeedForward/);
    expect(() => new nn.TransformerEncoderLayer(9, 3, { rope: true })).toThrow(/even head dimension/);
    const layer = new nn.TransformerEncoderLayer(16, 4);
    expect(() => layer.forward(new Tensor(new Float32Array(12), [1, 1, 12]))).toThrow(/\[length, batch, 16\]/);
    expect(() => new nn.TransformerEncoder(new nn.Linear(2, 2) as never, 2)).toThrow(/TransformerEncoderLayer/);
  });
});

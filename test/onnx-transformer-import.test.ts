// Importing torch.onnx.export'ed nn.TransformerEncoder models (fixtures from test/fixtures/onnx-transformer/generate.py,
// torch 1.13): the head split's shape arithmetic (Shape/Gather/Div/Unsqueeze/Concat/Reshape, Slice of the fused
// projection, the padding mask's Expand/Where) runs as Graph ops, so batch and sequence length may vary when torch
// exported dynamic axes. The result is an nn.Graph whose projections are Linear modules and whose norms are LayerNorm
// modules: it reproduces torch, trains, saves and loads, and exports again.
import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../lib/tensor';
import * as nn from '../lib/nn';
import { noGrad } from '../lib/autograd';
import { exportModel, importModel } from '../lib/io/onnx';
import { Graph } from '../lib/nn/graph';
import { maxViolation, ort, runOrt, tempDir } from './helpers/onnx';

const DIR = path.join(__dirname, 'fixtures', 'onnx-transformer');
interface Arr { shape: number[]; data: number[] }
interface Fixture { batchFirst: boolean; normFirst: boolean; activation: string; dynamic: boolean; inputs: Arr[]; masks: Arr[]; outputs: Arr[]; params: Record<string, Arr> }
const load = (name: string): Fixture => JSON.parse(fs.readFileSync(path.join(DIR, `${name}.json`), 'utf8'));
const tensor = (a: Arr): Tensor => new Tensor(Float32Array.from(a.data), a.shape);

function run(model: nn.Module, fx: Fixture, k: number): Tensor {
  const args = [tensor(fx.inputs[k]), ...(fx.masks.length > 0 ? [tensor(fx.masks[k])] : [])];
  return noGrad(() => model.forward(...(args as [Tensor])) as Tensor);
}

function expectTorch(y: Tensor, want: Arr, what: string): void {
  expect(y.shape, what).toEqual(want.shape);
  const v = maxViolation(y.data, want.data, 1e-5, 1e-5);
  expect(v.excess, `${what}: element ${v.at} is ${v.a}, torch ${v.b}`).toBeLessThanOrEqual(0);
}

const CASES = [
  'post_relu_batch_first_dynamic', // opset 14, LayerNorm decomposed, batch_first, final norm
  'pre_gelu_seq_first_dynamic', // opset 17 LayerNormalization, norm_first, exact GELU (Erf), sequence-first
  'post_relu_seq_first_static', // opset 13, no dynamic axes: the shapes are constants
  'pre_relu_batch_first_mask_dynamic', // a key padding mask as a second input (Greater, Expand, Where -inf)
  'post_gelu_seq_first_mask_dynamic', // the same, post-norm, exact GELU, sequence-first, opset 14
];

describe('torch.onnx.export of nn.TransformerEncoder imports and reproduces torch (1e-5)', () => {
  for (const name of CASES) {
    it(name, async () => {
      const fx = load(name);
      const model = await importModel(path.join(DIR, `${name}.onnx`));
      expect(model).toBeInstanceOf(Graph);
      model.eval();
      // every batch and sequence length torch ran (two for the dynamic exports: [2, 5] and [3, 7])
      expect(fx.inputs.length).toBe(fx.dynamic ? 2 : 1);
      fx.inputs.forEach((_, k) => expectTorch(run(model, fx, k), fx.outputs[k], `${name} input ${k}`));
      // Each encoder layer becomes an nn.TransformerEncoderLayer of torch's configuration; with the key padding mask
      // (src_key_padding_mask) the layer's node takes the mask as its second input (encode(x, { keyPaddingMask })).
      const layers = model.children().filter(([, m]) => m instanceof nn.TransformerEncoderLayer).map(([n, m]) => [n, (m as nn.TransformerEncoderLayer).toConfig()] as const);
      const prefix = fx.masks.length > 0 ? 'enc.' : '';
      expect(layers.map(([n]) => n)).toEqual([`${prefix}layers.0`, `${prefix}layers.1`]);
      for (const [, c] of layers) {
        expect(c).toMatchObject({ dModel: 16, nhead: 4, dimFeedforward: 32, activation: fx.activation, normFirst: fx.normFirst, batchFirst: fx.batchFirst, dropout: 0 });
      }
      const layerNodes = (model as Graph).nodes.filter((n) => n.module !== undefined && /layers\.\d+$/.test(n.module));
      expect(layerNodes.map((n) => n.inputs.length)).toEqual(fx.masks.length > 0 ? [2, 2] : [1, 1]);
      // The weights are the modules' parameters under torch's names (with ops: the fused in_proj is the Linear 'self_attn').
      const sd = model.stateDict();
      // (the masked model wraps the encoder as `enc`)
      const torchName = (n: string): string => n.replace(/^enc\./, '').replace(/self_attn\.(weight|bias)$/, 'self_attn.in_proj_$1');
      const names = Object.keys(sd).map(torchName).sort();
      expect(names).toEqual(Object.keys(fx.params).sort());
      for (const [n, t] of Object.entries(sd)) {
        const want = fx.params[torchName(n)];
        // MatMul weights arrive transposed ([in, out]); the Linear holds them as torch does ([out, in]).
        expect(t.shape, n).toEqual(want.shape);
        expect(maxViolation(t.data, want.data, 0, 0).excess, n).toBeLessThanOrEqual(0);
      }
    });
  }

  it('the transformer fixture of test/transformer-encoder.test.ts (opset 14, static shapes, shared initializers)', async () => {
    const dir = path.join(__dirname, 'fixtures', 'transformer');
    const fx = JSON.parse(fs.readFileSync(path.join(dir, 'torch_encoder_onnx.json'), 'utf8')) as { input: Arr; output: Arr };
    const model = await importModel(path.join(dir, 'torch_encoder.onnx'));
    expectTorch(noGrad(() => model.forward(tensor(fx.input)) as Tensor), fx.output, 'torch_encoder.onnx');
  });
});

describe('the imported encoder is a model like any other', () => {
  it('trains: every parameter gets a gradient and an SGD step changes the output', async () => {
    const fx = load('post_relu_batch_first_dynamic');
    const model = await importModel(path.join(DIR, 'post_relu_batch_first_dynamic.onnx'));
    model.train();
    const x = tensor(fx.inputs[1]);
    const y = model.forward(x) as Tensor;
    y.backward(new Tensor(Float32Array.from({ length: y.size }, (_, i) => Math.sin(i)), y.shape));
    for (const [n, p] of model.namedParameters()) {
      expect(p.grad, n).not.toBeNull();
      expect(p.grad!.data.some((v) => v !== 0), `${n} has a nonzero gradient`).toBe(true);
    }
    const before = run(model.eval(), fx, 1);
    for (const [, p] of model.namedParameters()) for (let i = 0; i < p.size; i++) p.data[i] -= 0.01 * p.grad!.data[i];
    const after = run(model, fx, 1);
    expect(maxViolation(after.data, before.data, 0, 1e-4).excess).toBeGreaterThan(0);
  });

  it('config and weights round trip (the shape ops are saved by name) with identical outputs', async () => {
    const fx = load('pre_relu_batch_first_mask_dynamic');
    const model = await importModel(path.join(DIR, 'pre_relu_batch_first_mask_dynamic.onnx'));
    const again = nn.fromConfig(JSON.parse(JSON.stringify(model.toConfig())));
    again.loadStateDict(model.stateDict());
    for (const k of [0, 1]) expect(Array.from(run(again.eval(), fx, k).data)).toEqual(Array.from(run(model.eval(), fx, k).data));
  });

  it('exports again as TransformerEncoderLayers: onnxruntime agrees with torch at another batch size (1e-5)', async () => {
    const fx = load('post_relu_batch_first_dynamic');
    const model = await importModel(path.join(DIR, 'post_relu_batch_first_dynamic.onnx'));
    model.eval();
    const { dir, cleanup } = tempDir();
    try {
      const file = path.join(dir, 'again.onnx');
      await exportModel(model, file, { inputShape: [1, 7, 16] });
      const x = tensor(fx.inputs[1]); // [3, 7, 16]
      const o = await runOrt(file, x.data, x.shape);
      expect(Array.from(o.dims)).toEqual([3, 7, 16]);
      expect(maxViolation(o.data, fx.outputs[1].data, 1e-5, 1e-5).excess).toBeLessThanOrEqual(0);
    } finally {
      cleanup();
    }
  });

  it('with a key padding mask: trains (every parameter gets a gradient; padded positions get none through attention)', async () => {
    const fx = load('post_gelu_seq_first_mask_dynamic');
    const model = await importModel(path.join(DIR, 'post_gelu_seq_first_mask_dynamic.onnx'));
    model.train();
    const x = tensor(fx.inputs[1]); // [7, 3, 16], sequence 1 padded at its last 2 positions
    x.requiresGrad = true;
    const y = model.forward(x, tensor(fx.masks[1])) as Tensor;
    // a loss on the unpadded positions of sequence 1 only: the padded positions' inputs are never attended to
    const L = x.shape[0];
    const B = x.shape[1];
    const w = new Tensor(Float32Array.from({ length: y.size }, (_, i) => (Math.floor(i / 16) % B === 1 && Math.floor(i / (16 * B)) < L - 2 ? Math.sin(i) : 0)), y.shape);
    y.backward(w);
    for (const [n, p] of model.namedParameters()) expect(p.grad?.data.some((v) => v !== 0), `${n} has a nonzero gradient`).toBe(true);
    const g = x.grad as Tensor;
    const at = (t: number, b: number): number[] => Array.from(g.data.subarray((t * B + b) * 16, (t * B + b + 1) * 16));
    expect(at(L - 1, 1).every((v) => v === 0), 'a padded position gets no gradient').toBe(true);
    expect(at(0, 1).some((v) => v !== 0)).toBe(true);
  });

  it('with a key padding mask: exports again and onnxruntime agrees with torch on the padded input (1e-5)', async () => {
    const fx = load('pre_relu_batch_first_mask_dynamic');
    const model = await importModel(path.join(DIR, 'pre_relu_batch_first_mask_dynamic.onnx'));
    model.eval();
    const { dir, cleanup } = tempDir();
    try {
      const file = path.join(dir, 'again.onnx');
      // traced at batch 1 (length 7, the last position padded), run at torch's batch 3
      const example = { x: new Tensor(Float32Array.from({ length: 7 * 16 }, (_, i) => Math.cos(i)), [1, 7, 16]), pad: new Tensor(Float32Array.from({ length: 7 }, (_, i) => +(i === 6)), [1, 7]) };
      await exportModel(model, file, { input: example });
      const session = await ort.InferenceSession.create(file, { logSeverityLevel: 3 });
      for (const k of [1]) {
        const feeds = { x: tensor(fx.inputs[k]), pad: tensor(fx.masks[k]) };
        const out = await session.run(Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, new ort.Tensor('float32', t.data, t.shape.slice())])));
        const o = out[session.outputNames[0]];
        expect(Array.from(o.dims)).toEqual(fx.outputs[k].shape);
        const v = maxViolation(o.data, fx.outputs[k].data, 1e-5, 1e-5);
        expect(v.excess, `input ${k}: element ${v.at} is ${v.a}, torch ${v.b}`).toBeLessThanOrEqual(0);
      }
    } finally {
      cleanup();
    }
  });

  it('shape ops fail with the op and the values', () => {
    const g = (node: nn.GraphNode, constants: Record<string, Tensor> = {}): Graph => new Graph({ inputs: ['x'], outputs: ['y'], nodes: [node], constants });
    const x = new Tensor(new Float32Array(6), [2, 3]);
    expect(() => g({ op: 'squeeze', inputs: ['x'], output: 'y', attrs: { axes: [0] } }).forward(x)).toThrow(/Graph squeeze: axis 0 has size 2, not 1/);
    expect(() => g({ op: 'reshapeTo', inputs: ['x', 's'], output: 'y' }, { s: new Tensor(Float32Array.of(2.5, 2), [2]) }).forward(x)).toThrow(/Graph reshape: shape must hold integers, got 2.5/);
    expect(() => g({ op: 'gather', inputs: ['x', 'i'], output: 'y', attrs: { axis: 2 } }, { i: new Tensor(Float32Array.of(0), [1]) }).forward(x)).toThrow(/Graph gather: axis 2 is out of range for rank 2/);
    expect(() => g({ op: 'intDiv', inputs: ['x', 'z'], output: 'y' }, { z: new Tensor(Float32Array.of(0), [1]) }).forward(x)).toThrow(/integer division by zero/);
  });
});

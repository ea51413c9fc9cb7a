// ONNX LSTM/GRU nodes imported into nn.LSTM/nn.GRU: torch.onnx.export'ed models (fixtures from
// test/fixtures/onnx-rnn/generate.py, torch 1.13) reproduce torch to 1e-5 and come back as one module per stack with
// torch's parameters (gate blocks reordered from ONNX's), myelin -> ONNX -> myelin gives the same outputs and the
// same module, and what PyTorch's layers cannot compute is refused naming the attribute.
import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../lib/tensor';
import * as nn from '../lib/nn';
import * as ops from '../lib/ops';
import { noGrad } from '../lib/autograd';
import { fromOnnxBytes, toOnnxBytes } from '../lib/io/onnx';
import { onnx } from '../lib/io/onnx/schema';
import { Graph } from '../lib/nn/graph';
import { RecurrentBase } from '../lib/nn/recurrent';
import { maxViolation, ort, tempDir } from './helpers/onnx';

const DIR = path.join(__dirname, 'fixtures', 'onnx-rnn');
interface Arr { shape: number[]; data: number[] }
interface Fixture { kind: 'LSTM' | 'GRU'; numLayers: number; bidirectional: boolean; batchFirst: boolean; inputs: Record<string, Arr>; outputs: Record<string, Arr>; params: Record<string, Arr> }
const tensor = (a: Arr): Tensor => new Tensor(Float32Array.from(a.data), a.shape);

/** The one recurrent module an imported graph holds (the stack merged back), or a failure. */
function recurrentOf(model: nn.Module): RecurrentBase {
  expect(model).toBeInstanceOf(Graph);
  const found = model.children().map(([, m]) => m).filter((m): m is RecurrentBase => m instanceof RecurrentBase);
  expect(found.length).toBe(1);
  return found[0];
}

describe('torch.onnx.export of nn.LSTM / nn.GRU imports and reproduces torch (1e-5)', () => {
  const cases = [
    'lstm', 'lstm_2layer_bidir_batch_first', 'lstm_states', 'gru', 'gru_2layer_bidir_states',
    // final states as graph outputs (the ONNX node's Y_h, Y_c; per-layer ones joined by a Concat)
    'lstm_2layer_bidir_batch_first_hc', 'lstm_states_h_only', 'gru_2layer_states_yh', 'gru_bidir_h_only',
  ];
  for (const name of cases) {
    it(name, () => {
      const fx = JSON.parse(fs.readFileSync(path.join(DIR, `${name}.json`), 'utf8')) as Fixture;
      const model = fromOnnxBytes(fs.readFileSync(path.join(DIR, `${name}.onnx`)), name);
      const out = noGrad(() => model.forward(...(Object.values(fx.inputs).map(tensor) as [Tensor])));
      const names = Object.keys(fx.outputs);
      const got: Record<string, Tensor> = out instanceof Tensor ? { [names[0]]: out } : (out as Record<string, Tensor>);
      expect(Object.keys(got).sort()).toEqual(names.slice().sort());
      for (const k of names) {
        expect(got[k].shape, k).toEqual(fx.outputs[k].shape);
        const v = maxViolation(got[k].data, fx.outputs[k].data, 1e-5, 1e-6);
        expect(v.excess, `${k} element ${v.at}: ${v.a} vs torch ${v.b}`).toBeLessThanOrEqual(0);
      }
      // one nn.LSTM/GRU with torch's layout and exactly torch's parameters (ONNX's gate order undone)
      const rnn = recurrentOf(model);
      expect(rnn.kind).toBe(fx.kind);
      expect([rnn.numLayers, rnn.bidirectional, rnn.batchFirst]).toEqual([fx.numLayers, fx.bidirectional, fx.batchFirst]);
      const sd = rnn.stateDict();
      expect(Object.keys(sd).sort()).toEqual(Object.keys(fx.params).sort());
      for (const [n, t] of Object.entries(sd)) expect(Array.from(t.data), n).toEqual(Array.from(Float32Array.from(fx.params[n].data)));
    });
  }
});

const FORMS = [
  { numLayers: 1, bidirectional: false, batchFirst: false, returnSequences: true, bias: true },
  { numLayers: 2, bidirectional: true, batchFirst: true, returnSequences: true, bias: true },
  { numLayers: 3, bidirectional: false, batchFirst: true, returnSequences: true, bias: false },
  { numLayers: 2, bidirectional: true, batchFirst: false, returnSequences: false, bias: true },
];

describe('myelin -> ONNX -> myelin', () => {
  for (const kind of ['LSTM', 'GRU'] as const) {
    for (const form of FORMS) {
      it(`${kind} ${JSON.stringify(form)}: the same outputs bit for bit, the same layer and weights`, () => {
        const Cls = kind === 'LSTM' ? nn.LSTM : nn.GRU;
        const layers: nn.Module[] = [new Cls(3, 4, { ...form, seed: 7 })];
        if (!form.returnSequences) layers.push(new nn.Linear(form.bidirectional ? 8 : 4, 2, { seed: 1 }));
        const model = new nn.Sequential(layers);
        model.eval();
        const shape = form.batchFirst ? [1, 6, 3] : [6, 1, 3];
        const back = fromOnnxBytes(toOnnxBytes(model, { inputShape: shape }));
        // at another batch size
        const big = form.batchFirst ? [3, 6, 3] : [6, 3, 3];
        const x = new Tensor(Float32Array.from({ length: 54 }, (_, i) => Math.cos(i * 0.9) * 1.5), big);
        const want = noGrad(() => model.forward(x));
        const got = noGrad(() => back.forward(x) as Tensor);
        expect(got.shape).toEqual(want.shape);
        expect(Array.from(got.data)).toEqual(Array.from(want.data));
        const rnn = recurrentOf(back);
        // returnSequences false comes back as the sequence plus the exported picking of the last step
        expect(rnn.toConfig()).toEqual({ ...layers[0].toConfig(), returnSequences: true, dropout: 0 });
        const sd = layers[0].stateDict();
        for (const [n, t] of Object.entries(rnn.stateDict())) expect(Array.from(t.data), n).toEqual(Array.from(sd[n].data));
      });
    }
  }
});

/** myelin's export of an nn.LSTM/GRU with its recurrent node changed by `edit` (the integrity digest removed). */
function edited(kind: 'LSTM' | 'GRU', edit: (n: onnx.INodeProto, g: onnx.IGraphProto) => void): Uint8Array {
  const model = new nn.Sequential([kind === 'LSTM' ? new nn.LSTM(3, 4, { seed: 1 }) : new nn.GRU(3, 4, { seed: 1 })]);
  const m = onnx.ModelProto.decode(toOnnxBytes(model, { inputShape: [5, 1, 3] }));
  m.metadataProps = [];
  const node = (m.graph?.node ?? []).find((n) => n.opType === kind) as onnx.INodeProto;
  edit(node, m.graph as onnx.IGraphProto);
  return onnx.ModelProto.encode(m).finish();
}
const attr = (name: string, v: Partial<onnx.IAttributeProto>): onnx.AttributeProto => onnx.AttributeProto.create({ name, ...v });
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const T = onnx.AttributeProto.AttributeType;

describe('what PyTorch\'s layers cannot compute is refused, naming the attribute', () => {
  const cases: [string, 'LSTM' | 'GRU', (n: onnx.INodeProto, g: onnx.IGraphProto) => void, RegExp][] = [
    ['other activations', 'LSTM', (n) => n.attribute?.push(attr('activations', { type: T.STRINGS, strings: ['Relu', 'Tanh', 'Tanh'].map(text) })), /activations \[Relu, Tanh, Tanh\] are not supported \(only the defaults \[Sigmoid, Tanh, Tanh\]/],
    ['clip', 'LSTM', (n) => n.attribute?.push(attr('clip', { type: T.FLOAT, f: 3 })), /attribute clip is not supported/],
    ['activation_alpha', 'GRU', (n) => n.attribute?.push(attr('activation_alpha', { type: T.FLOATS, floats: [0.5] })), /attribute activation_alpha is not supported/],
    ['input_forget', 'LSTM', (n) => n.attribute?.push(attr('input_forget', { type: T.INT, i: 1 })), /input_forget=1 is not supported/],
    ['layout 2', 'GRU', (n) => n.attribute?.push(attr('layout', { type: T.INT, i: 2 })), /layout=2 is not supported \(0: \[time, batch, features\] or 1: \[batch, time, features\]\)/],
    ['direction backward', 'LSTM', (n) => { n.attribute = [...(n.attribute ?? []).filter((a) => a.name !== 'direction'), attr('direction', { type: T.STRING, s: text('backward') })]; }, /direction='backward' is not supported \(forward, reverse or bidirectional\)/],
    ['linear_before_reset 0', 'GRU', (n) => { n.attribute = (n.attribute ?? []).filter((a) => a.name !== 'linear_before_reset'); }, /linear_before_reset=0 is not supported \(only 1, PyTorch's GRU\)/],
    ['sequence_lens', 'LSTM', (n, g) => { n.input = [...(n.input ?? []).slice(0, 4), 'x_lens']; g.input?.push(onnx.ValueInfoProto.create({ name: 'x_lens', type: { tensorType: { elemType: 6, shape: { dim: [{ dimValue: 1 }] } } } })); }, /sequence_lens is not supported/],
    ['peephole weights', 'LSTM', (n, g) => { n.input = [...(n.input ?? []).slice(0, 4), '', '', '', 'P']; g.initializer?.push(onnx.TensorProto.create({ name: 'P', dims: [1, 12], dataType: 1, floatData: new Array(12).fill(0.1) })); }, /peephole weights P are not supported/],
  ];
  for (const [what, kind, edit, message] of cases) {
    it(`${kind}: ${what}`, () => {
      expect(() => fromOnnxBytes(edited(kind, edit), 'm.onnx')).toThrow(message);
    });
  }
  it('an unedited file imports (the edits above are what is refused)', () => {
    expect(() => fromOnnxBytes(edited('GRU', () => undefined), 'm.onnx')).not.toThrow();
  });
});

/** Options of a one-node ONNX LSTM/GRU model built for the tests below. */
interface NodeCase {
  kind: 'LSTM' | 'GRU';
  direction: 'forward' | 'reverse' | 'bidirectional';
  layout: 0 | 1;
  /** Initial states as graph inputs (random), else none. */
  states: boolean;
  /** Graph outputs: Y, or Y flattened to [.., .., D*H] by a Reshape [0,0,-1] (as exporters write it), Y_h, Y_c. */
  outputs: ('Y' | 'Yflat' | 'Y_h' | 'Y_c')[];
}
const [I, H, Bt, Tt] = [3, 4, 2, 5];

/** An ONNX file (opset 14) holding one LSTM/GRU node with seeded weights, and example feeds for it. */
function nodeModel(c: NodeCase): { bytes: Uint8Array; feeds: Record<string, Tensor> } {
  const D = c.direction === 'bidirectional' ? 2 : 1;
  const G = (c.kind === 'LSTM' ? 4 : 3) * H;
  let seed = 99 + D + (c.kind === 'LSTM' ? 1 : 0);
  const rand = (n: number): number[] => Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 1.6 - 0.8);
  const floats = (name: string, dims: number[]): onnx.ITensorProto => ({ name, dims, dataType: 1, floatData: rand(dims.reduce((a, b) => a * b, 1)) });
  const valueInfo = (name: string, dims: (number | string)[]): onnx.IValueInfoProto => ({
    name, type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
  const seqDims = (last: (number | string)[]): (number | string)[] => (c.layout === 1 ? ['batch', 'time', ...last] : ['time', 'batch', ...last]);
  const stateDims = c.layout === 1 ? ['batch', D, H] : [D, 'batch', H];
  const stateNames = c.states ? (c.kind === 'LSTM' ? ['h0', 'c0'] : ['h0']) : [];
  const nodeOuts = ['Y', 'Y_h', 'Y_c'].slice(0, c.kind === 'LSTM' ? 3 : 2).map((o) => (c.outputs.includes(o as 'Y') || (o === 'Y' && c.outputs.includes('Yflat')) ? o : ''));
  const nodes: onnx.INodeProto[] = [{
    opType: c.kind, name: 'rnn', input: ['x', 'W', 'R', 'B', '', ...stateNames], output: nodeOuts,
    attribute: [
      { name: 'hidden_size', type: T.INT, i: H }, { name: 'direction', type: T.STRING, s: text(c.direction) }, { name: 'layout', type: T.INT, i: c.layout },
      ...(c.kind === 'GRU' ? [{ name: 'linear_before_reset', type: T.INT, i: 1 }] : []),
    ],
  }];
  const initializer = [floats('W', [D, G, I]), floats('R', [D, G, H]), floats('B', [D, 2 * G])];
  if (c.outputs.includes('Yflat')) {
    nodes.push({ opType: 'Reshape', name: 'flat', input: ['Y', 'flat_shape'], output: ['Yflat'] });
    initializer.push({ name: 'flat_shape', dims: [3], dataType: 7, int64Data: [0, 0, -1] });
  }
  const outDims: Record<string, (number | string)[]> = { Y: c.layout === 1 ? ['batch', 'time', D, H] : ['time', D, 'batch', H], Yflat: seqDims([D * H]), Y_h: stateDims, Y_c: stateDims };
  const model: onnx.IModelProto = {
    irVersion: 7, opsetImport: [{ domain: '', version: 14 }],
    graph: {
      name: 'rnn', node: nodes, initializer,
      input: [valueInfo('x', seqDims([I])), ...stateNames.map((s) => valueInfo(s, stateDims))],
      output: c.outputs.map((o) => valueInfo(o, outDims[o])),
    },
  };
  const sx = c.layout === 1 ? [Bt, Tt, I] : [Tt, Bt, I];
  const ss = c.layout === 1 ? [Bt, D, H] : [D, Bt, H];
  const feeds: Record<string, Tensor> = { x: new Tensor(Float32Array.from(rand(Bt * Tt * I)), sx) };
  for (const s of stateNames) feeds[s] = new Tensor(Float32Array.from(rand(Bt * D * H)), ss);
  return { bytes: onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish(), feeds };
}

/** `data` of shape `dims` with its axes permuted (out axis k is in axis perm[k]). */
function permute(data: ArrayLike<number>, dims: number[], perm: number[]): { data: Float32Array; dims: number[] } {
  const out = perm.map((p) => dims[p]);
  const strides = dims.map((_, k) => dims.slice(k + 1).reduce((a, b) => a * b, 1));
  const res = new Float32Array(data.length);
  const idx = out.map(() => 0);
  for (let i = 0; i < res.length; i++) {
    res[i] = data[idx.reduce((a, v, k) => a + v * strides[perm[k]], 0)];
    for (let k = out.length - 1; k >= 0 && ++idx[k] === out[k]; k--) idx[k] = 0;
  }
  return { data: res, dims: out };
}

/**
 * onnxruntime's outputs for the model. onnxruntime refuses layout 1 ("Batchwise recurrent operations (layout == 1)
 * are not supported"), so a layout-1 case is run as the layout-0 model on the feeds with batch and time swapped and its
 * outputs rearranged as ONNX defines layout 1 (Y [T,D,B,H] -> [B,T,D,H], states [D,B,H] -> [B,D,H]).
 */
async function ortOutputs(c: NodeCase): Promise<Record<string, { data: Float32Array; dims: number[] }>> {
  const tmp = tempDir();
  try {
    const base: NodeCase = { ...c, layout: 0, outputs: [...new Set(c.outputs.map((o) => (o === 'Yflat' && c.layout === 1 ? 'Y' : o)))] };
    const { bytes, feeds } = nodeModel(base);
    const file = path.join(tmp.dir, 'm.onnx');
    fs.writeFileSync(file, bytes);
    const session = await ort.InferenceSession.create(file, { logSeverityLevel: 3 });
    const mine = nodeModel(c).feeds;
    const feed = (k: string): Tensor => (c.layout === 1 ? new Tensor(permute(mine[k].data, mine[k].shape, [1, 0, 2]).data, feeds[k].shape) : mine[k]);
    const out = await session.run(Object.fromEntries(Object.keys(feeds).map((k) => [k, new ort.Tensor('float32', feed(k).data, feed(k).shape.slice())])));
    const res: Record<string, { data: Float32Array; dims: number[] }> = {};
    for (const o of c.outputs) {
      if (c.layout === 0) {
        res[o] = { data: out[o].data, dims: [...out[o].dims] };
      } else if (o === 'Y' || o === 'Yflat') {
        const y = permute(out.Y.data, [...out.Y.dims], [2, 0, 1, 3]);
        res[o] = o === 'Y' ? y : { data: y.data, dims: [y.dims[0], y.dims[1], y.dims[2] * y.dims[3]] };
      } else {
        res[o] = permute(out[o].data, [...out[o].dims], [1, 0, 2]);
      }
    }
    return res;
  } finally {
    tmp.cleanup();
  }
}

describe('ONNX LSTM/GRU nodes with direction reverse, layout 1 and final states read: onnxruntime agrees (1e-5)', () => {
  const cases: NodeCase[] = [];
  for (const kind of ['LSTM', 'GRU'] as const) {
    cases.push(
      { kind, direction: 'reverse', layout: 0, states: false, outputs: ['Y'] },
      { kind, direction: 'reverse', layout: 0, states: true, outputs: kind === 'LSTM' ? ['Y', 'Y_h', 'Y_c'] : ['Y', 'Y_h'] },
      { kind, direction: 'forward', layout: 1, states: false, outputs: ['Yflat'] },
      { kind, direction: 'bidirectional', layout: 1, states: true, outputs: kind === 'LSTM' ? ['Y', 'Y_h', 'Y_c'] : ['Yflat', 'Y_h'] },
      { kind, direction: 'reverse', layout: 1, states: true, outputs: ['Y_h'] },
      { kind, direction: 'bidirectional', layout: 0, states: false, outputs: ['Y_h'] },
    );
  }
  for (const c of cases) {
    it(`${c.kind} direction ${c.direction}, layout ${c.layout}${c.states ? ', initial states' : ''}, reading ${c.outputs.join(', ')}`, async () => {
      const { bytes, feeds } = nodeModel(c);
      const model = fromOnnxBytes(bytes, 'm.onnx');
      const want = await ortOutputs(c);
      const out = noGrad(() => model.forward(feeds));
      const got: Record<string, Tensor> = out instanceof Tensor ? { [c.outputs[0]]: out } : (out as Record<string, Tensor>);
      for (const o of c.outputs) {
        expect(got[o].shape, o).toEqual(want[o].dims);
        const v = maxViolation(got[o].data, want[o].data, 1e-5, 1e-6);
        expect(v.excess, `${o} element ${v.at}: ${v.a} vs onnxruntime ${v.b}`).toBeLessThanOrEqual(0);
      }
      // one nn.LSTM/GRU module: batchFirst for layout 1; a reverse-only node is the forward layer on the reversed sequence
      const rnn = recurrentOf(model);
      expect([rnn.kind, rnn.batchFirst, rnn.bidirectional]).toEqual([c.kind, c.layout === 1, c.direction === 'bidirectional']);
    });
  }
});

describe('an imported graph reading final states saves, loads and trains', () => {
  it('lstm_2layer_bidir_batch_first_hc: config round trip gives the same y, h, c; gradients reach the weights through h and c', () => {
    const fx = JSON.parse(fs.readFileSync(path.join(DIR, 'lstm_2layer_bidir_batch_first_hc.json'), 'utf8')) as Fixture;
    const model = fromOnnxBytes(fs.readFileSync(path.join(DIR, 'lstm_2layer_bidir_batch_first_hc.onnx')), 'hc');
    const config = JSON.parse(JSON.stringify(model.toConfig())) as nn.LayerConfig;
    const back = nn.fromConfig(config);
    back.loadStateDict(model.stateDict());
    const x = tensor(fx.inputs.x);
    const a = noGrad(() => model.forward(x)) as unknown as Record<string, Tensor>;
    const b = noGrad(() => back.forward(x)) as unknown as Record<string, Tensor>;
    for (const k of ['y', 'h', 'c']) expect(Array.from(b[k].data), k).toEqual(Array.from(a[k].data));
    // a loss on the final states only: every layer's and direction's weights get a gradient
    const out = back.forward(x) as unknown as Record<string, Tensor>;
    ops.add(ops.sum(ops.mul(out.h, out.h)), ops.sum(out.c)).backward();
    for (const [n, p] of back.namedParameters()) expect(p.grad?.data.some((v) => v !== 0), n).toBe(true);
  });

  it('stateOutputs on a module without final states is refused, naming it', () => {
    const g = new Graph({ inputs: ['x'], outputs: ['y'], nodes: [{ module: 'fc', inputs: ['x'], output: 'y', stateOutputs: ['h'] }], modules: { fc: new nn.Linear(3, 3) } });
    expect(() => g.forward(new Tensor(new Float32Array(3), [1, 3]))).toThrow(/stateOutputs need a module with final states \(nn.LSTM, nn.GRU\), got Linear/);
  });
});

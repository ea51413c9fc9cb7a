// ONNX LSTM/GRU nodes imported into nn.LSTM/nn.GRU: torch.onnx.export'ed models (fixtures from
// test/fixtures/onnx-rnn/generate.py, torch 1.13) reproduce torch to 1e-5 and come back as one module per stack with
// torch's parameters (gate blocks reordered from ONNX's), myelin -> ONNX -> myelin gives the same outputs and the
// same module, and what PyTorch's layers cannot compute is refused naming the attribute.
import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../lib/tensor';
import * as nn from '../lib/nn';
import { noGrad } from '../lib/autograd';
import { fromOnnxBytes, toOnnxBytes } from '../lib/io/onnx';
import { onnx } from '../lib/io/onnx/schema';
import { Graph } from '../lib/nn/graph';
import { RecurrentBase } from '../lib/nn/recurrent';
import { maxViolation } from './helpers/onnx';

const DIR = path.join(__dirname, 'fixtures', 'onnx-rnn');
interface Arr { shape: number[]; data: number[] }
interface Fixture { kind: 'LSTM' | 'GRU'; numLayers: number; bidirectional: boolean; batchFirst: boolean; inputs: Record<string, Arr>; output: Arr; params: Record<string, Arr> }
const tensor = (a: Arr): Tensor => new Tensor(Float32Array.from(a.data), a.shape);

/** The one recurrent module an imported graph holds (the stack merged back), or a failure. */
function recurrentOf(model: nn.Module): RecurrentBase {
  expect(model).toBeInstanceOf(Graph);
  const found = model.children().map(([, m]) => m).filter((m): m is RecurrentBase => m instanceof RecurrentBase);
  expect(found.length).toBe(1);
  return found[0];
}

describe('torch.onnx.export of nn.LSTM / nn.GRU imports and reproduces torch (1e-5)', () => {
  for (const name of ['lstm', 'lstm_2layer_bidir_batch_first', 'lstm_states', 'gru', 'gru_2layer_bidir_states']) {
    it(name, () => {
      const fx = JSON.parse(fs.readFileSync(path.join(DIR, `${name}.json`), 'utf8')) as Fixture;
      const model = fromOnnxBytes(fs.readFileSync(path.join(DIR, `${name}.onnx`)), name);
      const y = noGrad(() => model.forward(...(Object.values(fx.inputs).map(tensor) as [Tensor])) as Tensor);
      expect(y.shape).toEqual(fx.output.shape);
      const v = maxViolation(y.data, fx.output.data, 1e-5, 1e-6);
      expect(v.excess, `element ${v.at}: ${v.a} vs torch ${v.b}`).toBeLessThanOrEqual(0);
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
    ['layout 1', 'GRU', (n) => n.attribute?.push(attr('layout', { type: T.INT, i: 1 })), /layout=1 \(batch-major\) is not supported/],
    ['reverse', 'LSTM', (n) => { n.attribute = [...(n.attribute ?? []).filter((a) => a.name !== 'direction'), attr('direction', { type: T.STRING, s: text('reverse') })]; }, /direction='reverse' is not supported/],
    ['linear_before_reset 0', 'GRU', (n) => { n.attribute = (n.attribute ?? []).filter((a) => a.name !== 'linear_before_reset'); }, /linear_before_reset=0 is not supported \(only 1, PyTorch's GRU\)/],
    ['sequence_lens', 'LSTM', (n, g) => { n.input = [...(n.input ?? []).slice(0, 4), 'x_lens']; g.input?.push(onnx.ValueInfoProto.create({ name: 'x_lens', type: { tensorType: { elemType: 6, shape: { dim: [{ dimValue: 1 }] } } } })); }, /sequence_lens is not supported/],
    ['reading Y_h', 'LSTM', (n, g) => { n.output = [(n.output ?? [])[0], 'h_n']; g.output?.push(onnx.ValueInfoProto.create({ name: 'h_n', type: { tensorType: { elemType: 1 } } })); }, /reading output Y_h \(the final hidden state\) is not supported/],
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

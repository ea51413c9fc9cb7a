// ONNX export by tracing: any model made of myelin ops exports (residual, branches, unregistered Module subclasses,
// several inputs and outputs, every op of lib/ops), onnxruntime-node reproduces myelin's outputs, and imports back.
import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it, afterAll } from 'vitest';
import { Tensor } from '../lib/tensor';
import * as ops from '../lib/ops';
import { Module, Sequential, Linear, ReLU, LayerNorm, GELU, Flatten, Dropout, Graph, type LayerConfig } from '../lib/nn';
import { exportModel, importModel, toOnnxBytes, fromOnnxBytes } from '../lib/io/onnx';
import { OP_EXPORTS } from '../lib/io/onnx/op-table';
import { isTracing } from '../lib/autograd';
import { onnx } from '../lib/io/onnx/schema';
import { save, load } from '../lib/io/model-file';
import { SeededRandom } from '../lib/data/split';
import { maxViolation, freshSeed, uniform, tempDir, ort } from './helpers/onnx';

const seed = freshSeed();
const msg = `seed ${seed}`;
const { dir, cleanup } = tempDir();
afterAll(cleanup);
const rng = new SeededRandom(seed);

interface OrtOut { data: Float32Array; dims: readonly number[] }

/** Runs `bytes` in onnxruntime with named inputs; returns every output by name. */
async function runOrtNamed(bytes: Uint8Array, label: string, feeds: Record<string, Tensor>): Promise<Record<string, OrtOut>> {
  const file = path.join(dir, `${label}.onnx`);
  fs.writeFileSync(file, bytes);
  const session = await ort.InferenceSession.create(file, { logSeverityLevel: 3 });
  const input: Record<string, unknown> = {};
  for (const [k, t] of Object.entries(feeds)) input[k] = new ort.Tensor('float32', t.data, t.shape.slice());
  return (await session.run(input)) as Record<string, OrtOut>;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rtol = 1e-5, atol = 1e-5): void {
  const v = maxViolation(actual, expected, rtol, atol);
  expect(v.excess, `${what}: element ${v.at} is ${v.a}, expected ${v.b} (${msg})`).toBeLessThanOrEqual(0);
}

function randomTensor(shape: number[], lo = -1.5, hi = 1.5): Tensor {
  return new Tensor(uniform(shape.reduce((a, b) => a * b, 1), rng, lo, hi), shape);
}

function randomise(model: Module): Module {
  for (const p of model.parameters()) p.data.set(uniform(p.size, rng, -0.8, 0.8));
  return model;
}

const opTypes = (bytes: Uint8Array): string[] => (onnx.ModelProto.decode(bytes).graph as onnx.GraphProto).node.map((n) => n.opType);

/** A user's residual block, registered nowhere: y = x + relu(fc(norm(x))). */
class Residual extends Module {
  readonly norm: LayerNorm;
  readonly fc: Linear;
  constructor(width: number) {
    super();
    this.norm = this.registerModule('norm', new LayerNorm(width));
    this.fc = this.registerModule('fc', new Linear(width, width));
  }
  override forward(x: Tensor): Tensor {
    return ops.add(x, ops.relu(this.fc.forward(this.norm.forward(x))));
  }
  override toConfig(): LayerConfig {
    throw new Error('Residual is not registered');
  }
  override describe(): string {
    return 'Residual';
  }
}

/** Two branches over one input joined by concat, then a head. */
class TwoBranch extends Module {
  readonly a = this.registerModule('a', new Linear(5, 4));
  readonly b = this.registerModule('b', new Sequential([new Linear(5, 3), new GELU({ approximate: 'tanh' })]));
  readonly head = this.registerModule('head', new Linear(7, 2));
  override forward(x: Tensor): Tensor {
    const a = ops.tanh(this.a.forward(x));
    return this.head.forward(ops.concat([a, this.b.forward(x)], 1));
  }
  override toConfig(): LayerConfig {
    return { type: 'TwoBranch' };
  }
  override describe(): string {
    return 'TwoBranch';
  }
}

describe('exportModel traces any model made of myelin ops', () => {
  for (const opset of [13, 17]) {
    it(`a residual block of an unregistered Module subclass (opset ${opset}): onnxruntime agrees, batch dynamic, names from namedParameters`, async () => {
      const model = randomise(new Sequential([new Linear(6, 8), new Residual(8), new Residual(8), new Linear(8, 3)]));
      const x = randomTensor([2, 6]);
      const bytes = toOnnxBytes(model, { input: x, opset });
      const types = opTypes(bytes);
      // Linear stays Gemm; LayerNorm is LayerNormalization from opset 17, its decomposition below.
      expect(types.filter((t) => t === 'Gemm')).toHaveLength(4);
      expect(types.includes('LayerNormalization')).toBe(opset >= 17);
      expect(types.filter((t) => t === 'Add').length).toBeGreaterThanOrEqual(2);
      const g = onnx.ModelProto.decode(bytes).graph as onnx.GraphProto;
      expect(g.initializer.map((t) => t.name).filter((n) => !n.includes('eps'))).toEqual(model.namedParameters().map(([n]) => n));
      for (const batch of [1, 7]) {
        const xb = randomTensor([batch, 6]);
        const got = await runOrtNamed(bytes, `residual${opset}`, { input: xb });
        expect(Array.from(got.output.dims)).toEqual([batch, 3]);
        expectClose(got.output.data, model.predict(xb).data, `residual opset ${opset} batch ${batch}`);
      }
      // And back: a Graph whose outputs match.
      const back = fromOnnxBytes(bytes);
      expect(back).toBeInstanceOf(Graph);
      const xb = randomTensor([4, 6]);
      expectClose(back.predict(xb).data, model.predict(xb).data, 'residual imported');
    });
  }

  it('two branches joined by concat, a nested Sequential with a fused Linear+GELU; the model mode and forwards are restored', async () => {
    const model = randomise(new TwoBranch());
    const forward = Linear.prototype.forward;
    model.train();
    const bytes = toOnnxBytes(model, { input: randomTensor([3, 5]), opset: 20 });
    expect(model.training).toBe(true);
    expect(Linear.prototype.forward).toBe(forward);
    expect(isTracing()).toBe(false);
    expect(opTypes(bytes)).toEqual(expect.arrayContaining(['Gemm', 'Tanh', 'Gelu', 'Concat']));
    const x = randomTensor([6, 5]);
    expectClose((await runOrtNamed(bytes, 'branch', { input: x })).output.data, model.predict(x).data, 'two-branch');
  });

  it('several inputs and outputs: an array gives input_0.. / output_0.., a record its keys; they import back as a Graph', async () => {
    class Towers extends Module {
      readonly u = this.registerModule('user', new Linear(4, 3));
      readonly i = this.registerModule('item', new Linear(6, 3));
      override forward(...args: unknown[]): Tensor;
      override forward(...args: unknown[]): unknown {
        const [user, item] = args[0] instanceof Tensor ? (args as Tensor[]) : [(args[0] as Record<string, Tensor>).user, (args[0] as Record<string, Tensor>).item];
        const u = ops.relu(this.u.forward(user));
        const v = ops.relu(this.i.forward(item));
        return args[0] instanceof Tensor ? [ops.add(u, v), ops.mul(u, v)] : { score: ops.sum(ops.mul(u, v), 1, true), sum: ops.add(u, v) };
      }
      override toConfig(): LayerConfig { return { type: 'Towers' }; }
      override describe(): string { return 'Towers'; }
    }
    const model = randomise(new Towers());
    const user = randomTensor([2, 4]);
    const item = randomTensor([2, 6]);
    const fw = model.forward as (...a: unknown[]) => unknown;

    const positional = toOnnxBytes(model, { input: [user, item] });
    const g1 = onnx.ModelProto.decode(positional).graph as onnx.GraphProto;
    expect(g1.input.map((v) => v.name)).toEqual(['input_0', 'input_1']);
    expect(g1.output.map((v) => v.name)).toEqual(['output_0', 'output_1']);
    const u5 = randomTensor([5, 4]);
    const i5 = randomTensor([5, 6]);
    const want = fw.call(model, u5, i5) as Tensor[];
    const got1 = await runOrtNamed(positional, 'towers-array', { input_0: u5, input_1: i5 });
    expectClose(got1.output_0.data, want[0].data, 'output_0');
    expectClose(got1.output_1.data, want[1].data, 'output_1');

    const named = toOnnxBytes(model, { input: { user, item } });
    const g2 = onnx.ModelProto.decode(named).graph as onnx.GraphProto;
    expect(g2.input.map((v) => v.name)).toEqual(['user', 'item']);
    expect(g2.output.map((v) => v.name)).toEqual(['score', 'sum']);
    const wantNamed = fw.call(model, { user: u5, item: i5 }) as Record<string, Tensor>;
    const got2 = await runOrtNamed(named, 'towers-record', { user: u5, item: i5 });
    expectClose(got2.score.data, wantNamed.score.data, 'score');
    expect(Array.from(got2.score.dims)).toEqual([5, 1]);
    expectClose(got2.sum.data, wantNamed.sum.data, 'sum');

    // Import: a Graph taking the inputs positionally or by name, returning a record by output name.
    const back = fromOnnxBytes(named) as Graph;
    expect(back.inputNames).toEqual(['user', 'item']);
    expect(back.outputNames).toEqual(['score', 'sum']);
    const out = back.forward({ user: u5, item: i5 }) as unknown as Record<string, Tensor>;
    expectClose(out.score.data, wantNamed.score.data, 'imported score');
    expectClose((back.forward(u5, i5) as unknown as Record<string, Tensor>).sum.data, wantNamed.sum.data, 'imported sum');
    expect(() => back.forward(u5)).toThrow(/Graph: forward takes 2 input\(s\) \(user, item\), got 1/);
  });

  it('every op of lib/ops exports, and onnxruntime agrees at another batch size', async () => {
    const w = randomTensor([4, 4]);
    class AllOps extends Module {
      readonly lin = this.registerModule('lin', new Linear(4, 4));
      readonly flat = this.registerModule('flat', new Flatten(2));
      override forward(x: Tensor): Tensor {
        const outs: Tensor[] = [];
        const a = ops.add(ops.mul(x, 0.5), ops.div(x, 3));
        outs.push(ops.sub(a, ops.neg(x)), ops.exp(ops.clamp(x, -1, 1)), ops.log(ops.add(ops.abs(x), 1)), ops.sqrt(ops.abs(x)));
        outs.push(ops.pow(x, 3), ops.pow(ops.abs(x), 0.7), ops.clamp(x, null, 0.2), ops.clamp(x, -0.3));
        outs.push(ops.relu(x), ops.leakyRelu(x, 0.3), ops.sigmoid(x), ops.tanh(x), ops.gelu(x), ops.gelu(x, 'tanh'), ops.softmax(x), ops.logSoftmax(x, -1));
        outs.push(ops.activate(x, 'none'), ops.linear(x, w, null, 'leakyRelu', 0.2), ops.linear(x, w, null, 'gelu'));
        outs.push(ops.matmul(x, w), ops.transpose(ops.transpose(x)), ops.where(ops.gt(x, 0), x, ops.mul(x, -2)));
        for (const cmp of [ops.eq, ops.ne, ops.lt, ops.le, ops.ge]) outs.push(cmp(x, ops.mul(ops.relu(x), 1)));
        outs.push(ops.mul(ops.sum(x, 1, true), ops.mean(x, -1, true)), ops.sub(ops.max(x, 1, true), ops.min(x, 1, true)));
        outs.push(ops.add(x, ops.argmax(x, 1, true)), ops.add(x, ops.argmin(x, 1, true)));
        outs.push(ops.reshape(ops.reshape(x, [-1, 2, 2]), [x.shape[0], 4]), ops.squeeze(ops.unsqueeze(x, 1), 1));
        outs.push(ops.narrow(x, 1, 1, 2).reshape([-1, 2]).matmul(ops.transpose(ops.narrow(w, 1, 0, 2))).matmul(w).add(0));
        outs.push(ops.indexSelect(x, 1, [3, 0, 0, 1]), ops.mean(ops.stack([x, ops.neg(x), x], 1), 1));
        // A Linear on a 3-D input (its Gemm export does not apply: MatMul + Add), Flatten(startDim=2).
        const seq = this.lin.forward(ops.reshape(x, [x.shape[0], 1, 4]));
        outs.push(ops.reshape(this.flat.forward(ops.unsqueeze(seq, 3)), [x.shape[0], 4]));
        outs.push(ops.add(x, ops.sum(x)), ops.dropout(x, 0.5, false));
        // Normalisation and resizing on x as [n, 2, 2] (eval-mode batchNorm reads its running statistics).
        const x3 = ops.reshape(x, [x.shape[0], 2, 2]);
        const running = { mean: Float32Array.of(0.1, -0.2), var: Float32Array.of(1.5, 0.5), momentum: 0.1, batches: 0 };
        outs.push(ops.reshape(ops.batchNorm(x3, { training: false, running, weight: ops.narrow(w, 0, 0, 2).sum(1), bias: null }), [x.shape[0], 4]));
        outs.push(ops.reshape(ops.groupNorm(x3, 2, null, null, 1e-3), [x.shape[0], 4]), ops.reshape(ops.groupNorm(x3, 1, null, null, 1e-3), [x.shape[0], 4]));
        outs.push(ops.reshape(ops.narrow(ops.upsampleNearest(x3, [4], [2]), 2, 1, 2), [x.shape[0], 4]));
        outs.push(ops.reshape(ops.narrow(ops.upsampleNearest(x3, [3]), 2, 1, 2), [x.shape[0], 4]));
        return ops.concat(outs, 1);
      }
      override toConfig(): LayerConfig { return { type: 'AllOps' }; }
      override describe(): string { return 'AllOps'; }
    }
    const model = randomise(new AllOps());
    for (const opset of [13, 18, 20]) {
      const bytes = toOnnxBytes(model, { input: randomTensor([3, 4]), opset });
      const x = randomTensor([5, 4]);
      const got = await runOrtNamed(bytes, `allops${opset}`, { input: x });
      expectClose(got.output.data, model.predict(x).data, `every op, opset ${opset}`);
    }
    // Every op that reports itself to the tracer has a row (the table is the one place to add one).
    const rowsNeeded = ['add', 'sub', 'mul', 'div', 'neg', 'exp', 'log', 'sqrt', 'abs', 'pow', 'clamp', 'matmul', 'linear', 'relu', 'leakyRelu',
      'sigmoid', 'tanh', 'gelu', 'geluTanh', 'softmax', 'logSoftmax', 'sum', 'mean', 'max', 'min', 'argmax', 'argmin', 'reshape', 'transpose',
      'concat', 'slice', 'indexRows', 'narrow', 'indexSelect', 'dropout', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'where', 'none',
      'batchNorm', 'groupNorm', 'upsampleNearest',
      // sequence ops (test/seq-onnx.test.ts runs them in onnxruntime)
      'permute', 'bmm', 'gather', 'embedding', 'maskedFill', 'triu', 'tril', 'cumsum',
      // topk's values (test/topk-onnx.test.ts)
      'topk',

      // fused attention and RoPE (test/transformer-encoder.test.ts and names-gpt-example.test.ts run them in onnxruntime)
      'attention', 'rope'];
    expect(Object.keys(OP_EXPORTS).sort()).toEqual(rowsNeeded.sort());
  });

  it('rows are batch-independent: slice and indexRows on the batch, reshape merging the batch', async () => {
    class Rows extends Module {
      override forward(x: Tensor): Tensor {
        const merged = ops.reshape(ops.reshape(x, [-1, 2]), [x.shape[0], -1]); // [B, 4] -> [2B, 2] -> [B, 4]
        return ops.concat([merged, ops.slice(x, 0), x.slice(0).mul(2)], 1);
      }
      override toConfig(): LayerConfig { return { type: 'Rows' }; }
      override describe(): string { return 'Rows'; }
    }
    const bytes = toOnnxBytes(new Rows(), { input: randomTensor([3, 4]) });
    const x = randomTensor([6, 4]);
    expectClose((await runOrtNamed(bytes, 'rows', { input: x })).output.data, new Rows().forward(x).data, 'rows');
    const gathered = new (class extends Module {
      override forward(t: Tensor): Tensor { return ops.indexRows(t, [1, 0]); }
      override toConfig(): LayerConfig { return { type: 'G' }; }
      override describe(): string { return 'G'; }
    })();
    const gb = toOnnxBytes(gathered, { input: randomTensor([2, 3]) });
    const g = onnx.ModelProto.decode(gb).graph as onnx.GraphProto;
    expect(g.output[0].type?.tensorType?.shape?.dim?.map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue)))).toEqual([2, 3]); // not the batch
  });

  it('a shared layer is one set of initializers; a forward that throws leaves nothing traced or patched', async () => {
    class Twice extends Module {
      readonly fc = this.registerModule('fc', new Linear(3, 3));
      override forward(x: Tensor): Tensor { return this.fc.forward(ops.relu(this.fc.forward(x))); }
      override toConfig(): LayerConfig { return { type: 'Twice' }; }
      override describe(): string { return 'Twice'; }
    }
    const model = randomise(new Twice());
    const bytes = toOnnxBytes(model, { input: randomTensor([2, 3]) });
    expect((onnx.ModelProto.decode(bytes).graph as onnx.GraphProto).initializer.map((t) => t.name)).toEqual(['fc.weight', 'fc.bias']);
    const x = randomTensor([5, 3]);
    expectClose((await runOrtNamed(bytes, 'twice', { input: x })).output.data, model.predict(x).data, 'shared layer');
    class Broken extends Module {
      readonly fc = this.registerModule('fc', new Linear(3, 3));
      override forward(x: Tensor): Tensor { this.fc.forward(x); throw new Error('boom'); }
      override toConfig(): LayerConfig { return { type: 'Broken' }; }
      override describe(): string { return 'Broken'; }
    }
    const forward = Linear.prototype.forward;
    const broken = new Broken();
    expect(() => toOnnxBytes(broken, { input: randomTensor([1, 3]) })).toThrow(/^onnx\.exportModel: the forward pass on the example input failed: boom$/);
    expect(Linear.prototype.forward).toBe(forward);
    expect(Object.prototype.hasOwnProperty.call(Broken.prototype, 'forward')).toBe(true);
    expect(isTracing()).toBe(false);
    expect(broken.training).toBe(true);
  });

  it('Dropout and Flatten layers keep their registered exports; a Sequential exports exactly as before', () => {
    const model = new Sequential([new Flatten(), new Linear(6, 4), new ReLU(), new Dropout(0.25), new Linear(4, 2)]);
    const types = opTypes(toOnnxBytes(model, { inputShape: [1, 2, 3] }));
    expect(types).toEqual(['Flatten', 'Gemm', 'Relu', 'Identity', 'Gemm']);
  });
});

describe('torch DAG fixtures (test/fixtures/onnx-dag/gen.py) import as nn.Graph', () => {
  const FIX = path.join(__dirname, 'fixtures', 'onnx-dag');
  interface Fixture { torch: string; inputs: Record<string, { shape: number[]; data: number[] }>; outputs: Record<string, { shape: number[]; data: number[] }> }
  for (const name of ['torch_residual', 'torch_two_branch', 'torch_two_tower', 'torch_gelu_residual_opset14']) {
    it(`${name}: importModel reproduces torch's outputs; the Graph saves, loads, predicts and exports again`, async () => {
      const fx = JSON.parse(fs.readFileSync(path.join(FIX, `${name}.json`), 'utf8')) as Fixture;
      const model = await importModel(path.join(FIX, `${name}.onnx`));
      expect(model).toBeInstanceOf(Graph);
      const g = model as Graph;
      const feeds = Object.fromEntries(Object.entries(fx.inputs).map(([k, v]) => [k, new Tensor(Float32Array.from(v.data), v.shape)]));
      const outNames = Object.keys(fx.outputs);
      expect(g.inputNames).toEqual(Object.keys(fx.inputs));
      expect(g.outputNames).toEqual(outNames);
      const run = (m: Graph): Record<string, Tensor> => {
        const y = m.forward(feeds);
        return outNames.length === 1 ? { [outNames[0]]: y } : (y as unknown as Record<string, Tensor>);
      };
      const check = (ys: Record<string, Tensor>, what: string): void => {
        for (const [k, v] of Object.entries(fx.outputs)) {
          expect(ys[k].shape, `${what} ${k}`).toEqual(v.shape);
          expectClose(ys[k].data, v.data, `${name} ${what} ${k} vs torch ${fx.torch}`);
        }
      };
      check(run(g), 'imported');
      // Parameters keep torch's names ("fc1.weight") and train.
      expect(g.parameters().every((p) => p.requiresGrad)).toBe(true);
      if (name === 'torch_residual') {
        expect(Object.keys(g.stateDict())).toEqual(expect.arrayContaining(['fc1.weight', 'fc1.bias', 'norm.weight', 'norm.bias', 'head.weight']));
        expect(g.nodes.filter((n) => n.op === 'add')).toHaveLength(1);
      }
      if (name === 'torch_two_branch') expect(g.nodes.some((n) => n.op === 'concat')).toBe(true);
      if (name === 'torch_gelu_residual_opset14') {
        // The decompositions torch writes below opset 17/20 come back as one node each.
        expect(g.nodes.filter((n) => n.op === 'gelu').map((n) => n.attrs?.approximate)).toEqual(['none', 'tanh']);
        expect(g.toConfig().modules.norm).toMatchObject({ type: 'LayerNorm', normalizedShape: [6] });
      }
      const saved = path.join(dir, `${name}-saved`);
      save(g, saved);
      const loaded = load(saved) as Graph;
      expect(loaded).toBeInstanceOf(Graph);
      expect(loaded.toConfig()).toEqual(g.toConfig());
      check(run(loaded), 'saved and loaded');
      if (outNames.length === 1 && Object.keys(fx.inputs).length === 1) {
        const x = feeds[Object.keys(feeds)[0]];
        expectClose(loaded.predict(x).data, fx.outputs[outNames[0]].data, `${name} predict after load`);
        expectClose((await loaded.predictAsync(x)).data, fx.outputs[outNames[0]].data, `${name} predictAsync after load`);
      }
      // Exported again by tracing, onnxruntime gives torch's outputs.
      const again = toOnnxBytes(loaded, { input: Object.keys(feeds).length === 1 ? feeds[Object.keys(feeds)[0]] : feeds, inputName: Object.keys(feeds)[0], outputName: outNames[0] });
      const ortOut = await runOrtNamed(again, `${name}-again`, feeds);
      for (const k of outNames) expectClose(ortOut[k].data, fx.outputs[k].data, `${name} re-exported ${k}`);
    });
  }
});

describe('nn.Graph', () => {
  it('runs op and module nodes, checks its description, saves through fromConfig', () => {
    const fc = new Linear(3, 3);
    const g = new Graph({
      inputs: ['x'], outputs: ['y'],
      nodes: [{ module: 'fc', inputs: ['x'], output: 'h' }, { op: 'relu', inputs: ['h'], output: 'r' }, { op: 'add', inputs: ['x', 'r'], output: 's' }, { op: 'mul', inputs: ['s', 'two'], output: 'y' }],
      modules: { fc }, constants: { two: new Tensor(Float32Array.of(2), []) },
    });
    const x = randomTensor([2, 3]);
    expect(Array.from(g.forward(x).data)).toEqual(Array.from(ops.mul(ops.add(x, ops.relu(fc.forward(x))), 2).data));
    expect(Object.keys(g.stateDict())).toEqual(['fc.weight', 'fc.bias']);
    const bad = (nodes: unknown[], re: RegExp): void => {
      expect(() => new Graph({ inputs: ['x'], outputs: ['y'], nodes: nodes as never, modules: { fc } })).toThrow(re);
    };
    bad([{ op: 'relu', inputs: ['z'], output: 'y' }], /Graph: node 0 \(relu -> 'y'\) reads 'z', which no input, constant or earlier node provides/);
    bad([{ op: 'frobnicate', inputs: ['x'], output: 'y' }], /unknown op 'frobnicate' \(known: identity, add/);
    bad([{ op: 'add', inputs: ['x'], output: 'y' }], /add takes 2 input\(s\), got 1/);
    bad([{ module: 'nope', inputs: ['x'], output: 'y' }], /no module named 'nope'/);
    bad([{ op: 'relu', inputs: ['x'], output: 'x' }], /output must be a new value name/);
    bad([{ op: 'relu', inputs: ['x'], output: 'h' }], /output 'y' is not computed by any node/);
  });
});

// The layer registry: user layers registered with nn.register rebuild from config and save/load; errors name the problem.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describe, expect, it, afterAll } from 'vitest';
import { Tensor, randn } from '../lib/tensor';
import { add, relu } from '../lib/ops';
import { Linear, LayerNorm, Module, ReLU, Sequential, fromConfig, register, layerTypes, type LayerConfig } from '../lib/nn';
import { save, load } from '../lib/io/model-file';
import { toOnnxBytes, fromOnnxBytes } from '../lib/io/onnx';
import { stepBuffersReusable } from '../lib/train/step-reuse';
import { Adam } from '../lib/optim';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-registry-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

class Residual extends Module {
  readonly norm: LayerNorm;
  readonly fc: Linear;
  constructor(readonly width: number) {
    super();
    this.norm = this.registerModule('norm', new LayerNorm(width));
    this.fc = this.registerModule('fc', new Linear(width, width));
  }
  override forward(x: Tensor): Tensor {
    return add(x, relu(this.fc.forward(this.norm.forward(x))));
  }
  override toConfig(): LayerConfig {
    return { type: 'Residual', width: this.width };
  }
  override describe(): string {
    return `Residual(${this.width})`;
  }
  static fromConfig(c: LayerConfig): Residual {
    return new Residual(c.width as number);
  }
}

describe('nn.register', () => {
  it('a registered user layer rebuilds from its config and saves and loads inside a Sequential', async () => {
    register(Residual);
    expect(layerTypes()).toContain('Residual');
    const model = new Sequential(new Linear(3, 6), new Residual(6), new ReLU(), new Linear(6, 2), { seed: 5 });
    const x = randn([4, 3], { seed: 2 });
    const rebuilt = fromConfig(model.toConfig());
    expect(rebuilt.namedParameters().map(([n, t]) => [n, t.shape])).toEqual(model.namedParameters().map(([n, t]) => [n, t.shape]));
    await save(model, path.join(dir, 'm'));
    const loaded = await load(path.join(dir, 'm'));
    expect(Array.from(loaded.predict(x).data)).toEqual(Array.from(model.predict(x).data));
    // A user layer is not known to keep no tensors: fit does not recycle its step buffers.
    expect(stepBuffersReusable(model, new Adam(model.parameters()), 'crossEntropy', [])).toBe(false);
    // A layer without an ONNX mapping exports by tracing its ops; the file reads back with the same outputs.
    const back = fromOnnxBytes(toOnnxBytes(model)).predict(x).data;
    const want = model.predict(x).data;
    expect(Array.from(back).every((v, i) => Math.abs(v - want[i]) <= 1e-5)).toBe(true);
  });

  it('errors: no fromConfig, a type taken by another class, an unknown type', () => {
    class NoBuilder extends Module {
      override forward(x: Tensor): Tensor { return x; }
      override toConfig(): LayerConfig { return { type: 'NoBuilder' }; }
      override describe(): string { return 'NoBuilder'; }
    }
    expect(() => register(NoBuilder)).toThrow(/nn.register: NoBuilder needs a static fromConfig\(config\) method/);
    class Other extends Residual {}
    expect(() => register(Other, { type: 'Linear' })).toThrow(/nn.register: layer type 'Linear' is already registered by another class/);
    expect(() => fromConfig({ type: 'Nope' })).toThrow(/fromConfig: model: unknown layer type 'Nope' \(known: .*Linear.*; register your own with nn.register\)/);
  });
});

describe('the planner (nn/plan.ts)', () => {
  it('fuses Linear + activation wherever it occurs; a layer without a role only stops the dense plan', async () => {
    const { planChain } = await import('../lib/nn/plan');
    const { inferenceRole } = await import('../lib/nn/registry');
    const layers = [new Linear(3, 4), new ReLU(), new LayerNorm(4), new Linear(4, 2), new ReLU()];
    const plan = planChain(layers.map(inferenceRole));
    expect(plan.fused.map((f) => f?.act ?? null)).toEqual(['relu', null, null, 'relu', null]);
    expect(plan.problem).toEqual({ at: 2, reason: 'unsupported' });
    const relu = new ReLU();
    relu.forward = (x: Tensor) => x; // a patched forward is not the registered layer: it runs through its forward
    expect(planChain([new Linear(3, 4), relu].map(inferenceRole)).fused).toEqual([null, null]);
    const model = new Sequential(new Linear(3, 4), relu);
    const x = randn([2, 3], { seed: 1 });
    const lin = model.layers[0] as Linear;
    const expected = add(lin.forward(x), 0); // no ReLU applied: the patched forward is the identity
    expect(Array.from(model.forward(x).data)).toEqual(Array.from(expected.data));
  });
});

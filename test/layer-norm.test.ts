// nn.LayerNorm: gradients (finite differences), agreement with torch.nn.LayerNorm, save/load, ONNX, predict.
import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it, afterAll } from 'vitest';
import { Tensor } from '../lib/tensor';
import { GELU, LayerNorm, Linear, ReLU, Sequential, fromConfig } from '../lib/nn';
import { mul, sum } from '../lib/ops';
import { save, load } from '../lib/io/model-file';
import { predictAsync } from '../lib/serve';
import { exportModel, importModel } from '../lib/io/onnx';
import { backendsUnderTest, freshRng, gradcheck, randomTensor, setBackend } from './helpers/gradcheck';
import { runOrt, maxViolation, tempDir } from './helpers/onnx';

interface TorchCase {
  shape: number[]; normalizedShape: number[]; eps: number; affine: boolean;
  x: number[]; upstream: number[]; y: number[]; dx: number[];
  weight?: number[]; bias?: number[]; dweight?: number[]; dbias?: number[];
}
const FIXTURE = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'layer-norm', 'torch.json'), 'utf8')) as { cases: TorchCase[] };

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  const v = maxViolation(a, b, rtol, atol);
  expect(v.excess, `${what}: at ${v.at}: ${v.a} vs ${v.b}`).toBeLessThanOrEqual(0);
}

describe.each(backendsUnderTest())('LayerNorm (%s backend)', (backend) => {
  it('matches torch.nn.LayerNorm: output and gradients of x, weight and bias', () => {
    setBackend(backend);
    for (const c of FIXTURE.cases) {
      const ln = new LayerNorm(c.normalizedShape, { eps: c.eps, elementwiseAffine: c.affine });
      if (c.affine) ln.loadStateDict({ weight: Float32Array.from(c.weight!), bias: Float32Array.from(c.bias!) });
      const x = new Tensor(Float32Array.from(c.x), c.shape, { requiresGrad: true });
      const y = ln.forward(x);
      expectClose(y.data, c.y, 1e-4, 1e-5, `y ${JSON.stringify(c.shape)}`);
      sum(mul(y, new Tensor(Float32Array.from(c.upstream), c.shape))).backward();
      expectClose(x.grad!.data, c.dx, 1e-3, 1e-4, 'dx');
      if (c.affine) {
        expectClose(ln.weight!.grad!.data, c.dweight!, 1e-3, 1e-4, 'dweight');
        expectClose(ln.bias!.grad!.data, c.dbias!, 1e-3, 1e-4, 'dbias');
      }
    }
  });

  it('finite-difference gradients of x, weight and bias', () => {
    setBackend(backend);
    const { seed, rng } = freshRng();
    // 17 and 33 features reach the SIMD loops and their tails (the C++ kernels: 8 and 16 floats a vector)
    for (const [shape, norm] of [[[3, 5], [5]], [[2, 2, 3], [2, 3]], [[1, 1], [1]], [[2, 17], [17]], [[3, 33], [33]]] as [number[], number[]][]) {
      const ln = new LayerNorm(norm, { eps: 1e-3 });
      ln.weight!.data.set(randomTensor(rng, norm).data);
      ln.bias!.data.set(randomTensor(rng, norm).data);
      const x = randomTensor(rng, shape, { scale: 2 });
      x.requiresGrad = true;
      // The layer's own parameters are perturbed in place, like x.
      gradcheck(() => ln.forward(x), [x, ln.weight!, ln.bias!], { label: `seed ${seed} LayerNorm ${JSON.stringify(shape)}` });
      const plain = new LayerNorm(norm, { eps: 1e-3, elementwiseAffine: false });
      gradcheck(() => plain.forward(x), [x], { label: `seed ${seed} LayerNorm no affine ${JSON.stringify(shape)}` });
    }
  });

  it('runs the fused kernels: one layerNorm node on the tape, not a chain of ops', () => {
    setBackend(backend);
    const ln = new LayerNorm(4);
    const y = ln.forward(new Tensor(Float32Array.from([1, 2, 3, 4, 0, 0, 1, 1]), [2, 4], { requiresGrad: true }));
    expect(y._node?.op).toBe('layerNorm');
    expect(y._node?.inputs.length).toBe(3);
  });
});

describe('LayerNorm as a layer', () => {
  it('checks its arguments and its input', () => {
    expect(() => new LayerNorm(0)).toThrow(/LayerNorm: normalizedShape\[0\] must be a positive integer, got 0/);
    expect(() => new LayerNorm([])).toThrow(/LayerNorm: normalizedShape must be/);
    expect(() => new LayerNorm(3, { eps: -1 })).toThrow(/LayerNorm: eps/);
    expect(() => new LayerNorm(3, { affine: true } as never)).toThrow(/LayerNorm/);
    expect(() => new LayerNorm(3).forward(new Tensor(new Float32Array(8), [2, 4]))).toThrow(/input of shape \[2,4\] does not end in \[3\]/);
  });

  it('config round trip, save/load, and predict through its ops', async () => {
    const model = new Sequential(new Linear(4, 6, { seed: 1 }), new LayerNorm(6), new GELU(), new Linear(6, 3, { seed: 2 }));
    (model.layers[1] as LayerNorm).weight!.data.set([1, 2, 3, 0.5, -1, 0.25]);
    const x = new Tensor(Float32Array.from({ length: 20 }, (_, i) => Math.sin(i)), [5, 4]);
    const expected = model.predict(x);
    const rebuilt = fromConfig(model.toConfig());
    expect(rebuilt.toConfig()).toEqual(model.toConfig());
    const dir = path.join(tmp.dir, 'ln-model');
    await save(model, dir);
    const loaded = await load(dir);
    expect(Array.from(loaded.predict(x).data)).toEqual(Array.from(expected.data));
    expect(Array.from(loaded.predict(x, { batchSize: 2 }).data)).toEqual(Array.from(expected.data));
    // predictAsync runs the Linears as native segments (forwardAsync) and LayerNorm, GELU through their ops between them.
    let progress: number[] = [];
    const viaAsync = await predictAsync(loaded, x, { onProgress: (done, total) => { progress = [done, total]; } });
    const close = (a: Float32Array, b: Float32Array): void => a.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThan(2e-5));
    expect(viaAsync.shape).toEqual([5, 3]);
    close(viaAsync.data, expected.data);
    expect(progress).toEqual([5, 5]);
    close((await loaded.predictAsync(x.data, { batchSize: 2, features: 4 })).data, expected.data);
    expect(() => fromConfig({ type: 'LayerNorm', normalizedShape: [0], eps: 1e-5, elementwiseAffine: true })).toThrow(
      /fromConfig: model: LayerNorm key 'normalizedShape' must be a non-empty array of positive integers, got \[0\]/,
    );
  });

  for (const opset of [13, 17]) {
    it(`ONNX export at opset ${opset} runs in onnxruntime like predict, and imports back`, async () => {
      const model = new Sequential(new Linear(4, 6, { seed: 3 }), new LayerNorm(6, { eps: 1e-4 }), new ReLU(), new Linear(6, 2, { seed: 4 }));
      (model.layers[1] as LayerNorm).bias!.data.set([0.1, -0.2, 0.3, 0, 0.5, -0.6]);
      const x = Float32Array.from({ length: 12 }, (_, i) => Math.cos(i) * 2);
      const ours = model.predict(new Tensor(x, [3, 4]));
      const file = path.join(tmp.dir, `ln-${opset}.onnx`);
      await exportModel(model, file, { opset });
      const ort = await runOrt(file, x, [3, 4]);
      expectClose(ort.data, ours.data, 1e-4, 1e-5, 'onnxruntime');
      const back = await importModel(file);
      expect(back.toConfig()).toEqual(model.toConfig());
      expectClose(back.predict(new Tensor(x, [3, 4])).data, ours.data, 1e-5, 1e-6, 'imported');
    });
  }
});

// predictAsync: plans from Sequential models, equality with predict, input copying, concurrency, errors, event-loop turns during a job, workers.
import { describe, it, expect, beforeAll } from 'vitest';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { Tensor, randn } from '../lib/tensor';
import { Module, Sequential, Linear, ReLU, LeakyReLU, GELU, Sigmoid, Tanh, Dropout, Flatten, Softmax } from '../lib/nn';
import type { LayerConfig } from '../lib/nn';
import { predictAsync, buildPlan } from '../lib/serve';
import type { Backend, FrozenPlan, PlanLayer } from '../lib/backend/contract';
import { backendsUnderTest, requireBackend } from './helpers/backends';
import { ensureDist, ROOT } from './helpers/dist';

const seed = (Date.now() ^ (process.pid << 12)) >>> 0;
const note = (m: string): string => `${m} (seed ${seed})`;

function model(s: number, inF = 12): Sequential {
  return new Sequential(
    new Flatten(), new Linear(inF, 20, { seed: s }), new ReLU(), new Dropout(0.5),
    new Linear(20, 16, { seed: s + 1 }), new LeakyReLU(0.1), new Linear(16, 16, { seed: s + 2, bias: false }), new GELU(),
    new Linear(16, 12, { seed: s + 3 }), new GELU({ approximate: 'tanh' }), new Linear(12, 8, { seed: s + 4 }), new Tanh(),
    new Linear(8, 6, { seed: s + 5 }), new Sigmoid(), new Linear(6, 4, { seed: s + 6 }), new Softmax(),
  );
}

function expectClose(got: Float32Array, want: Float32Array, tol: number, msg: string): void {
  expect(got.length, msg).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
  expect(worst, msg).toBeLessThan(tol);
}

describe('buildPlan', () => {
  it('fuses activations into the preceding Linear, drops Dropout/Flatten, flags a final Softmax', () => {
    const plan = buildPlan(model(1));
    expect(plan.layers.map((l) => [l.K, l.N, l.act])).toEqual([
      [12, 20, 'relu'], [20, 16, 'leakyRelu'], [16, 16, 'gelu'], [16, 12, 'geluTanh'], [12, 8, 'tanh'], [8, 6, 'sigmoid'], [6, 4, 'none'],
    ]);
    expect(plan.layers[1].alpha).toBeCloseTo(0.1);
    expect(plan.layers[2].bias).toBeNull();
    expect(plan.softmax).toBe(true);
    expect(plan.inFeatures).toBe(12);
    expect(plan.outFeatures).toBe(4);
  });

  it('handles nested Sequentials', () => {
    const m = new Sequential(new Sequential(new Linear(3, 4), new ReLU()), new Linear(4, 2));
    expect(buildPlan(m).layers.map((l) => [l.K, l.N, l.act])).toEqual([[3, 4, 'relu'], [4, 2, 'none']]);
  });

  it('rejects what it cannot plan, naming the layer', () => {
    class Custom extends Module {
      forward(x: Tensor): Tensor { return x; }
      toConfig(): LayerConfig { return { type: 'Custom' } as unknown as LayerConfig; }
      describe(): string { return 'Custom'; }
    }
    expect(() => buildPlan(new Sequential(new Linear(3, 3), new Custom()))).toThrow(/unsupported layer Custom at model\[1\]/);
    expect(() => buildPlan(new Sequential(new Linear(3, 3), new ReLU(), new ReLU()))).toThrow(/ReLU at model\[2\] does not directly follow a Linear/);
    expect(() => buildPlan(new Sequential(new ReLU(), new Linear(3, 3)))).toThrow(/ReLU at model\[0\]/);
    expect(() => buildPlan(new Sequential(new Linear(3, 3), new Softmax(), new Linear(3, 2)))).toThrow(/Linear at model\[2\] follows a Softmax/);
    expect(() => buildPlan(new Sequential(new Dropout(0.1)))).toThrow(/no Linear layer/);
    expect(() => buildPlan(new Sequential(new Flatten(0), new Linear(3, 3)))).toThrow(/Flatten at model\[0\] with startDim 0/);
  });
});

for (const b of backendsUnderTest()) {
  describe(`predictAsync on the ${b.name} backend`, () => {
    it('equals model.predict for random inputs and batch sizes', async () => {
      const backend = requireBackend(b);
      const m = model(seed % 10000);
      const rows = 1 + (seed % 300);
      const x = randn([rows, 3, 4], { seed });
      const want = m.predict(x).data;
      for (const batchSize of [1, 7, 64, 4096]) {
        const got = await predictAsync(m, x, { batchSize, backend });
        expect(got.shape).toEqual([rows, 4]);
        expectClose(got.data, want, 2e-5, note(`rows ${rows} batch ${batchSize}`));
      }
      // A flat Float32Array input (with its row width) and the Module method.
      const viaModule = await m.predictAsync(x.data.slice(), { batchSize: 50, backend, features: 12 });
      expectClose(viaModule.data, want, 2e-5, note('Module.predictAsync'));
    });

    it('copies the input: the caller may overwrite it right away', async () => {
      const backend = requireBackend(b);
      const m = model(7);
      const x = randn([200, 12], { seed: seed + 1 });
      const want = m.predict(x).data;
      const pending = predictAsync(m, x, { batchSize: 16, backend });
      x.data.fill(1e6);
      expectClose((await pending).data, want, 2e-5, note('after mutation'));
    });

    it('copyInput: false reads x in place (same results, one chunk or several), rejects a call whose x changed meanwhile, and is checked', async () => {
      const backend = requireBackend(b);
      const m = model(9);
      const x = randn([300, 12], { seed: seed + 3 });
      const want = m.predict(x).data;
      for (const batchSize of [1024, 64]) {
        const got = await predictAsync(m, x, { batchSize, backend, copyInput: false });
        expectClose(got.data, want, 2e-5, note(`copyInput false, batch ${batchSize}`));
        // Small calls (batched or inline) copy anyway: the option changes nothing for them.
        const small = await predictAsync(m, x.slice(0, 3), { batchSize, backend, copyInput: false });
        expectClose(small.data, want.subarray(0, 12), 2e-5, note('3 rows'));
      }
      // Overwriting x while the call runs breaks the promise made with copyInput: false: a clear Error, not silent garbage.
      const y = x.clone();
      const pending = predictAsync(m, y, { batchSize: 64, backend, copyInput: false });
      y.data.fill(1e6);
      await expect(pending).rejects.toThrow(/^predictAsync: x was changed while the call was running with copyInput: false/);
      await expect(predictAsync(m, x, { backend, copyInput: 'no' as never })).rejects.toThrow(/^predictAsync: copyInput must be true or false, got/);
    });

    it('concurrent calls on one model equal sequential results', async () => {
      const backend = requireBackend(b);
      const m = model(11, 12);
      const inputs = Array.from({ length: 6 }, (_, i) => randn([50 + 37 * i, 12], { seed: seed + 10 + i }));
      const sequential: Float32Array[] = [];
      for (const x of inputs) sequential.push((await predictAsync(m, x, { batchSize: 32, backend })).data);
      const concurrent = await Promise.all(inputs.map((x) => predictAsync(m, x, { batchSize: 32, backend })));
      concurrent.forEach((r, i) => expect(Array.from(r.data), note(`call ${i}`)).toEqual(Array.from(sequential[i])));
    });

    it('rejects bad inputs with the expected shapes in the message', async () => {
      const backend = requireBackend(b);
      const m = model(3);
      await expect(predictAsync(m, randn([4, 5]), { backend })).rejects.toThrow(/input of shape \[4,5\] does not match the model: it starts with Flatten, so it takes \[rows, \.\.\.\] with 12 values per row/);
      await expect(predictAsync(m, new Float32Array(13), { backend })).rejects.toThrow(/flat Float32Array \(13 values\) has no row width/);
      await expect(predictAsync(m, new Float32Array(13), { backend, features: 12 })).rejects.toThrow(/13 values, not a multiple of options.features = 12/);
      await expect(predictAsync(m, randn([2, 12]), { batchSize: 0, backend })).rejects.toThrow(/batchSize must be a positive integer, got 0/);
    });
  });
}

/**
 * Runs one multi-batch predictAsync job while a setImmediate chain counts event-loop turns; returns
 * the count at each onProgress call and whether an immediate queued right after the call ran
 * before the promise resolved.
 */
async function turnsDuringJob(backend: Backend, m: Module, x: Tensor, batchSize: number): Promise<{ atProgress: number[]; immediateFirst: boolean }> {
  let turns = 0;
  let stop = false;
  const spin = (): void => {
    turns++;
    if (!stop) setImmediate(spin);
  };
  const atProgress: number[] = [];
  let resolved = false;
  let immediateFirst = false;
  const job = predictAsync(m, x, { batchSize, backend, batch: false, onProgress: () => atProgress.push(turns) });
  void job.then(() => { resolved = true; });
  setImmediate(() => { immediateFirst = !resolved; });
  setImmediate(spin);
  await job;
  stop = true;
  return { atProgress, immediateFirst };
}

describe('predictAsync keeps the event loop turning (counts, not milliseconds)', () => {
  const big = new Sequential(new Linear(256, 512, { seed: 1 }), new ReLU(), new Linear(512, 512, { seed: 2 }), new ReLU(), new Linear(512, 10, { seed: 3 }));
  const x = randn([24 * 32, 256], { seed: 5 });

  for (const b of backendsUnderTest()) {
    it(`${b.label}: the loop turns between every two batches of a long job and before it resolves`, async () => {
      const backend = requireBackend(b);
      const { atProgress, immediateFirst } = await turnsDuringJob(backend, big, x, 32);
      expect(atProgress).toHaveLength(24);
      for (let i = 1; i < atProgress.length; i++) expect(atProgress[i], `turns before batch ${i + 1}`).toBeGreaterThan(atProgress[i - 1]);
      expect(immediateFirst).toBe(true);
    });
  }

  it('the same check fails for a backend that computes on the main thread (the assertion can fail)', async () => {
    const js = requireBackend(backendsUnderTest().find((b) => b.name === 'js')!);
    const blocking = Object.create(js) as Backend;
    blocking.forwardAsync = (M, layers, X, out, softmax) => {
      js.forwardDense(M, layers as PlanLayer[], X, out, softmax);
      return Promise.resolve();
    };
    blocking.freezePlan = (layers) => layers.map((l) => ({ ...l })) as unknown as FrozenPlan;
    const { atProgress, immediateFirst } = await turnsDuringJob(blocking, big, x, 32);
    expect(new Set(atProgress).size).toBe(1);
    expect(immediateFirst).toBe(false);
  });
});

describe('predictAsync inside worker_threads', () => {
  beforeAll(() => ensureDist());

  it('a worker loads the library, runs predictAsync and returns the same outputs as the main thread', async () => {
    const m = model(21);
    const x = randn([64, 12], { seed: seed + 99 });
    const want = m.predict(x).data;
    const code = `
      const { parentPort, workerData } = require('worker_threads');
      const nn = require(${JSON.stringify(path.join(ROOT, 'dist', 'nn', 'index.js'))});
      const { Tensor } = require(${JSON.stringify(path.join(ROOT, 'dist', 'tensor.js'))});
      const { info } = require(${JSON.stringify(path.join(ROOT, 'dist', 'backend', 'select.js'))});
      const model = nn.fromConfig(workerData.config);
      model.loadStateDict(workerData.weights);
      model.predictAsync(new Tensor(workerData.x, [64, 12]), { batchSize: 10 })
        .then((y) => parentPort.postMessage({ y: y.data, backend: info().backend }))
        .catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));
    `;
    const weights: Record<string, Float32Array> = {};
    for (const [k, t] of m.namedParameters()) weights[k] = t.data.slice();
    const worker = new Worker(code, { eval: true, workerData: { config: m.toConfig(), weights, x: x.data.slice() } });
    const msg = await new Promise<{ y?: Float32Array; error?: string; backend?: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(msg.error).toBeUndefined();
    console.log(`worker ran predictAsync on the ${msg.backend} backend`);
    expectClose(msg.y!, want, 2e-5, note('worker result'));
  });
});

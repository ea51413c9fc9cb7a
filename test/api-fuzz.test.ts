// Seeded fuzz of the public API with junk arguments: every call either works or throws a plain Error whose message names the function (never a TypeError/RangeError from inside).
import { describe, expect, it } from 'vitest';
import * as myelin from '../lib/index';
import { Rng } from '../lib/random';
import { backendsUnderTest, setBackend } from './helpers/gradcheck';

const { tensor, zeros, ones, full, randn, rand, arange, manualSeed, nn, optim, ops, data } = myelin;

/** Fresh junk values (new objects each call, since a call may mutate or detach what it gets). */
function junkValues(): unknown[] {
  const t23 = tensor([[1, 2, 3], [4, 5, 6]]);
  return [
    undefined, null, NaN, Infinity, -Infinity, -1, 0, 1, 2, 3, 1.5, 1e300, -0, 2 ** 32, 5n, 'abc', '30', '', true, false,
    {}, { epoch: 3 }, { seed: 'abc' }, [], [2], [2, 3], [2, -1], [1.5], ['a'], [[1, 2, 3, 4]], [1, 2], [null],
    new Float32Array(8), new Int32Array([0, 1]), new Float64Array(2), Symbol('s'), () => 1, new Map(), new Date(0),
    tensor(2), tensor([1, 2, 3]), t23, tensor([[1, 2], [3, 4]], undefined, { requiresGrad: true }), zeros([0, 3]),
    new nn.ReLU(), t23.data.buffer,
  ];
}

/** One public entry point: how to call it with n arguments, valid arguments, and the names its errors may start with. */
interface Target {
  name: string;
  call: (args: unknown[]) => unknown;
  valid: () => unknown[];
  /** Error messages must contain one of these (the function, or the layer/op it reports from). */
  names: string[];
}

const model = (): myelin.nn.Sequential => new nn.Sequential([new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 2)], { seed: 1 });
const param = (): myelin.Tensor => tensor([1, 2, 3], undefined, { requiresGrad: true });
const sgd = (): myelin.optim.SGD => new optim.SGD([param()], { lr: 0.1 });
const any = (f: unknown): ((...a: unknown[]) => unknown) => f as (...a: unknown[]) => unknown;
const method = (obj: () => object, m: string) => (args: unknown[]): unknown => {
  const o = obj() as Record<string, (...a: unknown[]) => unknown>;
  return o[m](...args);
};
const construct = (C: unknown) => (args: unknown[]): unknown => new (C as new (...a: unknown[]) => unknown)(...args);
const t23 = (): myelin.Tensor => tensor([[1, 2, 3], [4, 5, 6]], undefined, { requiresGrad: true });

const TARGETS: Target[] = [
  { name: 'tensor', call: (a) => any(tensor)(...a), valid: () => [[1, 2, 3, 4], [2, 2], { requiresGrad: true }], names: ['tensor'] },
  { name: 'zeros', call: (a) => any(zeros)(...a), valid: () => [[2, 3], {}], names: ['zeros'] },
  { name: 'ones', call: (a) => any(ones)(...a), valid: () => [[2, 3], {}], names: ['ones'] },
  { name: 'full', call: (a) => any(full)(...a), valid: () => [[2], 7, {}], names: ['full'] },
  { name: 'randn', call: (a) => any(randn)(...a), valid: () => [[2, 2], { seed: 3 }], names: ['randn'] },
  { name: 'rand', call: (a) => any(rand)(...a), valid: () => [[2, 2], { seed: 3, low: -1, high: 1 }], names: ['rand'] },
  { name: 'arange', call: (a) => any(arange)(...a), valid: () => [0, 5, 1], names: ['arange'] },
  { name: 'manualSeed', call: (a) => any(manualSeed)(...a), valid: () => [42], names: ['manualSeed'] },
  { name: 'Rng', call: construct(myelin.Rng), valid: () => [7], names: ['Rng'] },
  { name: 'Tensor', call: construct(myelin.Tensor), valid: () => [new Float32Array(4), [2, 2], false], names: ['Tensor'] },
  ...(['add', 'sub', 'mul', 'div'] as const).map((m) => ({ name: `Tensor.${m}`, call: method(t23, m), valid: () => [tensor([1, 2, 3])], names: [m] })),
  { name: 'Tensor.pow', call: method(t23, 'pow'), valid: () => [2], names: ['pow'] },
  { name: 'Tensor.matmul', call: method(t23, 'matmul'), valid: () => [tensor([[1], [2], [3]])], names: ['matmul'] },
  { name: 'Tensor.reshape', call: method(t23, 'reshape'), valid: () => [3, 2], names: ['reshape'] },
  { name: 'Tensor.slice', call: method(t23, 'slice'), valid: () => [0, 1], names: ['slice'] },
  { name: 'Tensor.indexRows', call: method(t23, 'indexRows'), valid: () => [[1, 0]], names: ['indexRows'] },
  { name: 'Tensor.flatten', call: method(t23, 'flatten'), valid: () => [0], names: ['flatten'] },
  ...(['sum', 'mean', 'max'] as const).map((m) => ({ name: `Tensor.${m}`, call: method(t23, m), valid: () => [1, true], names: [m] })),
  { name: 'Tensor.leakyRelu', call: method(t23, 'leakyRelu'), valid: () => [0.1], names: ['leakyRelu'] },
  { name: 'Tensor.gelu', call: method(t23, 'gelu'), valid: () => ['tanh'], names: ['gelu'] },
  { name: 'Tensor.softmax', call: method(t23, 'softmax'), valid: () => [-1], names: ['softmax'] },
  { name: 'Tensor.logSoftmax', call: method(t23, 'logSoftmax'), valid: () => [1], names: ['logSoftmax'] },
  { name: 'Tensor.backward', call: method(() => t23().sum(), 'backward'), valid: () => [tensor(1)], names: ['backward'] },
  { name: 'Tensor.backward (non-scalar)', call: method(() => t23().relu(), 'backward'), valid: () => [ones([2, 3])], names: ['backward'] },
  { name: 'Tensor.requiresGrad_', call: method(t23, 'requiresGrad_'), valid: () => [true], names: ['requiresGrad_'] },
  { name: 'Tensor.zeroGrad', call: method(t23, 'zeroGrad'), valid: () => [{ setToNull: true }], names: ['zeroGrad'] },
  { name: 'ops.add', call: (a) => any(ops.add)(...a), valid: () => [t23(), 1], names: ['add'] },
  { name: 'ops.matmul', call: (a) => any(ops.matmul)(...a), valid: () => [t23(), tensor([[1], [2], [3]])], names: ['matmul'] },
  {
    name: 'ops.linear', call: (a) => any(ops.linear)(...a),
    valid: () => [t23(), tensor([[1, 2, 3]]), tensor([0]), 'relu', 0.01], names: ['linear'],
  },
  { name: 'ops.concat', call: (a) => any(ops.concat)(...a), valid: () => [[t23(), t23()], 1], names: ['concat'] },
  { name: 'ops.dropout', call: (a) => any(ops.dropout)(...a), valid: () => [t23(), 0.5, true, new myelin.Rng(1)], names: ['dropout'] },
  { name: 'ops.activate', call: (a) => any(ops.activate)(...a), valid: () => [t23(), 'leakyRelu', 0.2], names: ['activate'] },
  { name: 'ops.relu', call: (a) => any(ops.relu)(...a), valid: () => [t23()], names: ['activate', 'relu'] },
  { name: 'ops.transpose', call: (a) => any(ops.transpose)(...a), valid: () => [t23()], names: ['transpose'] },
  { name: 'ops.neg', call: (a) => any(ops.neg)(...a), valid: () => [t23()], names: ['neg'] },
  { name: 'ops.softmax', call: (a) => any(ops.softmax)(...a), valid: () => [t23(), 1], names: ['softmax'] },
  { name: 'ops.logSoftmax', call: (a) => any(ops.logSoftmax)(...a), valid: () => [t23(), -1], names: ['logSoftmax'] },
  { name: 'ops.slice', call: (a) => any(ops.slice)(...a), valid: () => [t23(), 0, 1], names: ['slice'] },
  { name: 'ops.indexRows', call: (a) => any(ops.indexRows)(...a), valid: () => [t23(), new Int32Array([1])], names: ['indexRows'] },
  { name: 'ops.reshape', call: (a) => any(ops.reshape)(...a), valid: () => [t23(), [6]], names: ['reshape'] },
  { name: 'ops.flatten', call: (a) => any(ops.flatten)(...a), valid: () => [t23(), 0], names: ['flatten'] },
  { name: 'ops.sum', call: (a) => any(ops.sum)(...a), valid: () => [t23(), 0, false], names: ['sum'] },
  { name: 'ops.max', call: (a) => any(ops.max)(...a), valid: () => [t23(), -1, true], names: ['max'] },
  { name: 'ops.pow', call: (a) => any(ops.pow)(...a), valid: () => [t23(), 3], names: ['pow'] },
  { name: 'ops.exp', call: (a) => any(ops.exp)(...a), valid: () => [t23()], names: ['exp'] },
  { name: 'ops.gelu', call: (a) => any(ops.gelu)(...a), valid: () => [t23(), 'none'], names: ['gelu', 'activate'] },
  { name: 'ops.leakyRelu', call: (a) => any(ops.leakyRelu)(...a), valid: () => [t23(), 0.3], names: ['leakyRelu'] },
  // The tensor ops of issue 11.
  ...(['argmax', 'argmin', 'min'] as const).map((m) => ({ name: `Tensor.${m}`, call: method(t23, m), valid: () => [-1, true], names: [m] })),
  { name: 'Tensor.clamp', call: method(t23, 'clamp'), valid: () => [-1, 2], names: ['clamp'] },
  { name: 'Tensor.squeeze', call: method(t23, 'squeeze'), valid: () => [0], names: ['squeeze'] },
  { name: 'Tensor.unsqueeze', call: method(t23, 'unsqueeze'), valid: () => [-1], names: ['unsqueeze'] },
  { name: 'Tensor.narrow', call: method(t23, 'narrow'), valid: () => [1, 1, 2], names: ['narrow'] },
  { name: 'Tensor.indexSelect', call: method(t23, 'indexSelect'), valid: () => [1, [2, 0]], names: ['indexSelect'] },
  ...(['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const).map((m) => ({ name: `Tensor.${m}`, call: method(t23, m), valid: () => [tensor([1, 5, 3])], names: [m] })),
  { name: 'Tensor.where', call: method(t23, 'where'), valid: () => [t23().gt(2), 0], names: ['where'] },
  { name: 'ops.abs', call: (a) => any(ops.abs)(...a), valid: () => [t23()], names: ['abs'] },
  { name: 'ops.where', call: (a) => any(ops.where)(...a), valid: () => [t23().gt(2), t23(), 0], names: ['where'] },
  { name: 'ops.stack', call: (a) => any(ops.stack)(...a), valid: () => [[t23(), t23()], -1], names: ['stack'] },
  { name: 'eye', call: (a) => any(myelin.eye)(...a), valid: () => [2, 3, { requiresGrad: true }], names: ['eye'] },
  { name: 'Tensor.item', call: method(() => tensor(3), 'item'), valid: () => [], names: ['item'] },
  { name: 'Tensor.transpose', call: method(t23, 'transpose'), valid: () => [], names: ['transpose'] },
  { name: 'noGrad', call: (a) => any(myelin.noGrad)(...a), valid: () => [() => 1], names: ['noGrad'] },
  { name: 'Rng.setState', call: method(() => new myelin.Rng(1), 'setState'), valid: () => [{ state: 5, spareNormal: null }], names: ['Rng.setState'] },
  { name: 'ops.broadcastShapes', call: (a) => any(ops.broadcastShapes)(...a), valid: () => ['add', [2, 1], [3]], names: ['broadcastShapes', 'add'] },
  { name: 'shapeToString', call: (a) => any(myelin.shapeToString)(...a), valid: () => [[2, 3]], names: ['shapeToString'] },
  { name: 'Rng.int', call: method(() => new myelin.Rng(1), 'int'), valid: () => [10], names: ['Rng.int'] },
  { name: 'SeededRandom.nextInt', call: method(() => new data.SeededRandom(1), 'nextInt'), valid: () => [10], names: ['SeededRandom.nextInt'] },
  { name: 'nn.kaimingNormal', call: (a) => any(nn.kaimingNormal)(...a), valid: () => [new Float32Array(6), 3, new myelin.Rng(1), 0.1], names: ['kaimingNormal'] },
  { name: 'nn.glorotUniform', call: (a) => any(nn.glorotUniform)(...a), valid: () => [new Float32Array(6), 3, 2, new myelin.Rng(1)], names: ['glorotUniform'] },
  { name: 'nn.initForActivation', call: (a) => any(nn.initForActivation)(...a), valid: () => ['relu'], names: ['initForActivation'] },
  {
    name: 'Linear.resetParameters', call: method(() => new nn.Linear(3, 2), 'resetParameters'),
    valid: () => [5], names: ['Linear.resetParameters'],
  },
  { name: 'nn.LayerNorm', call: construct(nn.LayerNorm), valid: () => [[2, 3], { eps: 1e-3, elementwiseAffine: false }], names: ['LayerNorm'] },
  { name: 'nn.Linear', call: construct(nn.Linear), valid: () => [3, 2, { bias: false, init: 'kaiming', seed: 4 }], names: ['Linear'] },
  { name: 'nn.LeakyReLU', call: construct(nn.LeakyReLU), valid: () => [0.2], names: ['LeakyReLU'] },
  { name: 'nn.GELU', call: construct(nn.GELU), valid: () => [{ approximate: 'tanh' }], names: ['GELU'] },
  { name: 'nn.Dropout', call: construct(nn.Dropout), valid: () => [0.3, { seed: 2 }], names: ['Dropout'] },
  { name: 'nn.Flatten', call: construct(nn.Flatten), valid: () => [1], names: ['Flatten'] },
  { name: 'nn.Sequential', call: construct(nn.Sequential), valid: () => [[new nn.Linear(2, 2)], { seed: 3 }], names: ['Sequential'] },
  { name: 'Sequential.forward', call: method(model, 'forward'), valid: () => [t23()], names: ['Sequential.forward', 'Linear(3 -> 4, bias).forward'] },
  { name: 'Linear.forward', call: method(() => new nn.Linear(3, 2), 'forward'), valid: () => [t23()], names: ['Linear(3 -> 2, bias).forward'] },
  { name: 'ReLU.forward', call: method(() => new nn.ReLU(), 'forward'), valid: () => [t23()], names: ['ReLU.forward'] },
  { name: 'Softmax.forward', call: method(() => new nn.Softmax(), 'forward'), valid: () => [t23()], names: ['Softmax.forward', 'softmax'] },
  { name: 'Module.predict', call: method(model, 'predict'), valid: () => [t23(), { batchSize: 1 }], names: ['predict', 'Linear(3 -> 4, bias).forward'] },
  { name: 'Module.loadStateDict', call: method(model, 'loadStateDict'), valid: () => [model().stateDict()], names: ['loadStateDict'] },
  { name: 'Module.train', call: method(model, 'train'), valid: () => [false], names: ['train'] },
  { name: 'Module.zeroGrad', call: method(model, 'zeroGrad'), valid: () => [{ setToNull: true }], names: ['zeroGrad'] },
  {
    name: 'nn.crossEntropy', call: (a) => any(nn.crossEntropy)(...a),
    valid: () => [t23(), new Int32Array([0, 2]), { reduction: 'sum' }], names: ['crossEntropy'],
  },
  { name: 'nn.mseLoss', call: (a) => any(nn.mseLoss)(...a), valid: () => [t23(), t23(), { reduction: 'none' }], names: ['mseLoss'] },
  { name: 'nn.bceWithLogits', call: (a) => any(nn.bceWithLogits)(...a), valid: () => [t23(), t23().sigmoid(), {}], names: ['bceWithLogits'] },
  { name: 'nn.huberLoss', call: (a) => any(nn.huberLoss)(...a), valid: () => [t23(), t23(), { delta: 0.5 }], names: ['huberLoss'] },
  { name: 'optim.SGD', call: construct(optim.SGD), valid: () => [[param()], { lr: 0.1, momentum: 0.9, nesterov: true }], names: ['SGD'] },
  { name: 'optim.Adam', call: construct(optim.Adam), valid: () => [[param()], { lr: 0.1, betas: [0.8, 0.9], eps: 1e-6 }], names: ['Adam'] },
  { name: 'optim.AdamW', call: construct(optim.AdamW), valid: () => [[param()], { weightDecay: 0.1 }], names: ['AdamW'] },
  { name: 'optim.RMSprop', call: construct(optim.RMSprop), valid: () => [[param()], { alpha: 0.9, momentum: 0.5 }], names: ['RMSprop'] },
  { name: 'Optimizer.loadStateDict', call: method(sgd, 'loadStateDict'), valid: () => [sgd().stateDict()], names: ['SGD.loadStateDict'] },
  { name: 'Optimizer.zeroGrad', call: method(sgd, 'zeroGrad'), valid: () => [{ setToNull: false }], names: ['SGD.zeroGrad'] },
  { name: 'Optimizer.lr =', call: (a) => { sgd().lr = a[0] as number; }, valid: () => [0.5], names: ['SGD'] },
  { name: 'optim.StepLR', call: construct(optim.StepLR), valid: () => [sgd(), { stepSize: 2, gamma: 0.5 }], names: ['StepLR'] },
  { name: 'optim.ExponentialLR', call: construct(optim.ExponentialLR), valid: () => [sgd(), { gamma: 0.5 }], names: ['ExponentialLR'] },
  { name: 'optim.CosineAnnealingLR', call: construct(optim.CosineAnnealingLR), valid: () => [sgd(), { tMax: 5, etaMin: 0.01 }], names: ['CosineAnnealingLR'] },
  { name: 'optim.LinearWarmup', call: construct(optim.LinearWarmup), valid: () => [sgd(), { warmupSteps: 3, startFactor: 0.1 }], names: ['LinearWarmup'] },
  {
    name: 'LRSchedule.loadStateDict', call: method(() => new optim.StepLR(sgd(), { stepSize: 2 }), 'loadStateDict'),
    valid: () => [{ t: 3 }], names: ['StepLR.loadStateDict'],
  },
  { name: 'optim.clipGradNorm', call: (a) => any(optim.clipGradNorm)(...a), valid: () => [[param()], 1], names: ['clipGradNorm'] },
  {
    name: 'data.trainTestSplit', call: (a) => any(data.trainTestSplit)(...a),
    valid: () => [new Float32Array(20), new Int32Array(10), { testFraction: 0.3, seed: 1, stratify: false, features: 2 }], names: ['trainTestSplit'],
  },
  { name: 'data.permutation', call: (a) => any(data.permutation)(...a), valid: () => [5, 3], names: ['permutation'] },
  {
    name: 'data.shuffleInPlace', call: (a) => any(data.shuffleInPlace)(...a),
    valid: () => [[3, 1, 2], new data.SeededRandom(1)], names: ['shuffleInPlace'],
  },
  {
    name: 'data.gatherRows', call: (a) => any(data.gatherRows)(...a),
    valid: () => [new Float32Array(6), 2, [2, 0], 0, 2, new Float32Array(4)], names: ['gatherRows'],
  },
  {
    name: 'data.takeRows', call: (a) => any(data.takeRows)(...a),
    valid: () => [new Float32Array(6), new Int32Array(3), 2, 1, [2, 0]], names: ['takeRows'],
  },
  {
    name: 'nn.Sequential (layers as arguments)', call: construct(nn.Sequential),
    valid: () => [new nn.Linear(2, 3), new nn.Tanh(), new nn.Linear(3, 1), { seed: 2 }], names: ['Sequential'],
  },
  { name: 'Module.predict (Float32Array)', call: method(model, 'predict'), valid: () => [new Float32Array(6), { features: 3 }], names: ['predict', '.forward'] },
  { name: 'data.SeededRandom', call: construct(data.SeededRandom), valid: () => [9], names: ['SeededRandom'] },
  { name: 'data.batchRanges', call: (a) => any(data.batchRanges)(...a), valid: () => [10, 3], names: ['batchRanges'] },
  {
    name: 'data.standardize', call: (a) => any(data.standardize)(...a),
    valid: () => [{ x: new Float32Array([1, 2, 3, 4]), features: 2 }, [], { per: 'feature' }], names: ['standardize'],
  },
];

/** What went wrong with one call, or null when it returned or threw a well-formed Error. */
function judge(target: Target, args: unknown[]): string | null {
  try {
    target.call(args);
    return null;
  } catch (err) {
    if (!(err instanceof Error)) return `threw a non-Error: ${String(err)}`;
    if (err.constructor !== Error) return `threw ${err.constructor.name}: ${err.message}`;
    if (!target.names.some((n) => err.message.includes(n))) return `message does not name ${target.names.join(' / ')}: ${err.message}`;
    if (/undefined \(reading|is not a function|is not iterable|Cannot (read|convert)/.test(err.message)) {
      return `message is an internal failure: ${err.message}`;
    }
    return null;
  }
}

function argText(args: unknown[]): string {
  return args.map((a) => (typeof a === 'bigint' ? `${a}n` : typeof a === 'symbol' ? a.toString() : Array.isArray(a) ? `[${a.length} items]` : typeof a === 'object' && a !== null ? a.constructor.name : String(a))).join(', ');
}

describe.each(backendsUnderTest())('public API fuzz (%s backend)', (backend) => {
  it('every valid base call works', () => {
    setBackend(backend);
    for (const t of TARGETS) expect(() => t.call(t.valid()), t.name).not.toThrow();
  });

  it('each argument replaced by junk (and one argument more or fewer): works or throws a named Error', () => {
    setBackend(backend);
    const failures = new Map<string, string>();
    for (const t of TARGETS) {
      const n = t.valid().length;
      for (let pos = 0; pos <= n; pos++) {
        const count = junkValues().length;
        for (let j = 0; j < count; j++) {
          const args = t.valid();
          args[pos] = junkValues()[j];
          const problem = judge(t, args);
          if (problem) failures.set(`${t.name}(${argText(args)})`, problem);
        }
      }
      for (let k = 0; k < n; k++) {
        const problem = judge(t, t.valid().slice(0, k));
        if (problem) failures.set(`${t.name}(${argText(t.valid().slice(0, k))})`, problem);
      }
    }
    expect([...failures].map(([call, p]) => `${call}: ${p}`)).toEqual([]);
  });

  it('seeded random junk in every position: works or throws a named Error', () => {
    setBackend(backend);
    const seed = 20240611;
    const rng = new Rng(seed);
    const failures = new Map<string, string>();
    for (let i = 0; i < 20000; i++) {
      const t = TARGETS[rng.int(TARGETS.length)];
      const n = t.valid().length;
      const args = t.valid();
      for (let pos = 0; pos < n; pos++) {
        if (rng.next() < 0.5) {
          const pool = junkValues();
          args[pos] = pool[rng.int(pool.length)];
        }
      }
      const problem = judge(t, args);
      if (problem) failures.set(`${t.name}(${argText(args)})`, problem);
    }
    expect([...failures].map(([call, p]) => `(seed ${seed}) ${call}: ${p}`)).toEqual([]);
  });
});

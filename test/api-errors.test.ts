// Bad arguments get an Error naming the function, the argument and the value passed (issue 10 items 12-13, issue 11's unknown options); table-driven.
import { describe, expect, it } from 'vitest';
import * as myelin from '../lib/index';
import { checkOptions, closestMatch, describe as describeValue } from '../lib/validate';

const { tensor, zeros, ones, full, randn, rand, arange, manualSeed, Rng, nn, optim, data } = myelin;

const mlp = (): myelin.nn.Sequential => new nn.Sequential([new nn.Linear(4, 3), new nn.ReLU(), new nn.Linear(3, 2)], { seed: 1 });
const params = (): myelin.Tensor[] => [tensor([1, 2, 3], undefined, { requiresGrad: true })];
const x10 = new Float32Array(20);
const y10 = new Int32Array(10);

/** [what the user did, the call, what the Error must say]. */
type Row = [string, () => unknown, RegExp];

const WRONG_TYPES: Row[] = [
  ['ones([2]).add([1,2])', () => ones([2]).add([1, 2] as never), /^add: second operand must be a Tensor or a number, got \[1,2\] \(an array\) \(make one with tensor\(\[\.\.\.\]\)\)$/],
  ['model.forward([[1,2,3,4]])', () => mlp().forward([[1, 2, 3, 4]] as never), /^Sequential\.forward: input must be a Tensor, got \[\[1,2,3,4\]\] \(an array\)/],
  ['model.forward(new Float32Array(8))', () => mlp().forward(new Float32Array(8) as never), /^Sequential\.forward: input must be a Tensor, got a Float32Array of 8 elements \(make one with tensor\(data, \[rows, columns\]\)\)$/],
  ['layer.forward of the wrong width', () => new nn.Linear(4, 2).forward(ones([3, 5])), /^Linear\(4 -> 2, bias\)\.forward: input of shape \[3,5\] has 5 features in its last dimension, expected 4$/],
  ['zeros([2], null)', () => zeros([2], null as never), /^zeros: options must be an object like \{ requiresGrad: \.\.\. \}, got null$/],
  ['new nn.Linear(2, 3, null)', () => new nn.Linear(2, 3, null as never), /^Linear: options must be an object .*, got null$/],
  ['new optim.Adam(params, null)', () => new optim.Adam(params(), null as never), /^Adam: options must be an object .*, got null$/],
  ['trainTestSplit(x, y, null)', () => data.trainTestSplit(x10, y10, null as never), /^trainTestSplit: options must be an object .*, got null$/],
  ['model.predict(x, null)', () => mlp().predict(ones([1, 4]), null as never), /^predict: options must be an object .*, got null$/],
  ['ones(5)', () => ones(5 as never), /^ones: shape must be an array of non-negative integers such as \[2, 3\], got 5 \(for a 1-D tensor write \[5\]\)$/],
  ["zeros('abc')", () => zeros('abc' as never), /^zeros: shape must be an array of non-negative integers such as \[2, 3\], got 'abc' \(a string\)$/],
  ['zeros([2, 1.5])', () => zeros([2, 1.5]), /^zeros: invalid shape \[2,1\.5\]: dimension 1 is 1\.5, expected a non-negative integer$/],
  ['zeros([65536, 65536])', () => zeros([65536, 65536]), /^zeros: shape \[65536,65536\] has 4294967296 elements, more than the 2147483647 one tensor can hold/],
  ['model.loadStateDict(undefined)', () => mlp().loadStateDict(undefined as never), /^loadStateDict: the state dict must be an object mapping parameter names to Tensors or Float32Arrays \(as stateDict\(\) returns\), got undefined$/],
  ["loadStateDict with a string value", () => mlp().loadStateDict({ ...mlp().stateDict(), '0.bias': 'abc' as never }), /^loadStateDict: '0\.bias' is 'abc' \(a string\), not a Tensor or Float32Array, the model expects shape \[3\]/],
  ['loss.backward(null)', () => ones([2], { requiresGrad: true }).sum().backward(null as never), /^backward: the gradient must be a Tensor, a Float32Array or an array of numbers \(or nothing, for a scalar\), got null$/],
  ['arange(Infinity)', () => arange(Infinity), /^arange: stop must be a finite number, got Infinity$/],
  ['arange(5n)', () => arange(5n as never), /^arange: stop must be a finite number, got 5n \(a bigint\)$/],
  ['arange(0, 1e12)', () => arange(0, 1e12), /^arange: the range \[0, 1000000000000\) in steps of 1, shape \[1000000000000\] has .* more than the 2147483647/],
  ['arange(0, 5, 0)', () => arange(0, 5, 0), /^arange: step must be a non-zero finite number, got 0$/],
  ['new nn.Linear(1e300, 2)', () => new nn.Linear(1e300, 2), /^Linear: inFeatures must be a positive integer, got 1e\+300$/],
  ["new nn.Linear('30', 3)", () => new nn.Linear('30' as never, 3), /^Linear: inFeatures must be a positive integer, got '30' \(a string\)$/],
  ['new nn.Linear(100000, 100000)', () => new nn.Linear(100000, 100000), /^Linear: the weight shape \[100000,100000\] has 10000000000 elements/],
  ['new nn.Linear(2, 3, { bias: 0 })', () => new nn.Linear(2, 3, { bias: 0 as never }), /^Linear: bias must be true or false, got 0$/],
  ["new nn.GELU({ approximate: 'tan' })", () => new nn.GELU({ approximate: 'tan' as never }), /^GELU: approximate must be 'none' or 'tanh', got 'tan' \(a string\) \(did you mean 'tanh'\?\)$/],
  ['new nn.Sequential(new nn.Linear(1, 1), 5)', () => new nn.Sequential(new nn.Linear(1, 1), 5 as never), /^Sequential: layer 1 is not a Module, got 5$/],
  ["crossEntropy(logits, 'abc')", () => nn.crossEntropy(ones([2, 3]), 'abc' as never), /^crossEntropy: target must be class labels .*, got 'abc' \(a string\)$/],
  ['crossEntropy(logits, [0, 1.5])', () => nn.crossEntropy(ones([2, 3]), [0, 1.5]), /^crossEntropy: label 1\.5 at row 1 is out of range \[0, 3\) \(expected an integer class index\)$/],
  ['mseLoss(pred, [1, 2])', () => nn.mseLoss(ones([2]), [1, 2] as never), /^mseLoss: target must be a Tensor, got \[1,2\] \(an array\)/],
  ["x.sum(0, 'yes')", () => ones([2, 2]).sum(0, 'yes' as never), /^sum: keepDims must be true or false, got 'yes' \(a string\)$/],
  ["x.sum('0')", () => ones([2, 2]).sum('0' as never), /^sum: axis must be an integer, got '0' \(a string\)$/],
  ['x.reshape(2, null)', () => ones([2, 2]).reshape(2, null as never), /^reshape: dimension 1 of the target shape is null, expected a non-negative integer \(or -1 once, inferred\)$/],
  ['x.indexRows(3)', () => ones([2, 2]).indexRows(3 as never), /^indexRows: indices must be an Int32Array or an array of row indices, got 3$/],
  ['x.matmul([[1]])', () => ones([2, 2]).matmul([[1]] as never), /^matmul: second operand must be a Tensor, got \[\[1\]\] \(an array\)/],
  ['new optim.SGD(model)', () => new optim.SGD(mlp() as never), /^SGD: params must be an array \(or iterable\) of Tensors such as model\.parameters\(\), got a Sequential$/],
  ['new optim.SGD([1, 2])', () => new optim.SGD([1, 2] as never), /^SGD: params\[0\] must be a Tensor, got 1$/],
  ["clipGradNorm(params, '1')", () => optim.clipGradNorm(params(), '1' as never), /^clipGradNorm: maxNorm must be a positive number, got '1' \(a string\)$/],
  ['new optim.StepLR(opt)', () => new optim.StepLR(new optim.SGD(params()), undefined as never), /^StepLR: options must be an object with 'stepSize', 'gamma', got undefined$/],
  ['new optim.StepLR(null, ...)', () => new optim.StepLR(null as never, { stepSize: 1 }), /^StepLR: optimizer must be an optimizer \(an object with a numeric lr\), got null$/],
  ['noGrad(5)', () => myelin.noGrad(5 as never), /^noGrad: fn must be a function, got 5$/],
  ['data.batchRanges(2 ** 40, 1)', () => data.batchRanges(2 ** 40, 1), /^batchRanges: n must be an integer in \[0, 2147483647\], got 1099511627776$/],
  ['data.gatherRows with an out-of-range index', () => data.gatherRows(new Float32Array(4), 2, [0, 2], 0, 2, new Float32Array(4)), /^gatherRows: index 2 at position 1 is not a row of the data \(2 rows of 2\)$/],
  ["standardize({ x: [1, 2], features: 1 })", () => data.standardize({ x: [1, 2] as never, features: 1 }), /^standardize: train\.x must be a Float32Array, got \[1,2\] \(an array\)$/],
  ['standardize on data with NaN', () => data.standardize({ x: new Float32Array([1, 2, NaN, 4]), features: 2 }), /^standardize: row 1, column 0 \(0-based\) is NaN: statistics need finite values/],
];

const SILENTLY_ACCEPTED: Row[] = [
  ["full([2], 'abc')", () => full([2], 'abc' as never), /^full: value must be a number, got 'abc' \(a string\)$/],
  ['rand([2], { low: NaN })', () => rand([2], { low: NaN }), /^rand: low must be a finite number, got NaN$/],
  ['rand([2], { low: 1, high: 0 })', () => rand([2], { low: 1, high: 0 }), /^rand: high must be a finite number > 1, got 0$/],
  ["randn([2], { seed: 'abc' })", () => randn([2], { seed: 'abc' as never }), /^randn: seed must be an integer in \[0, 2\^32\), got 'abc' \(a string\)$/],
  ['randn([2], { seed: NaN })', () => randn([2], { seed: NaN }), /^randn: seed must be an integer in \[0, 2\^32\), got NaN$/],
  ['randn([2], { seed: 1.5 })', () => randn([2], { seed: 1.5 }), /^randn: seed must be an integer in \[0, 2\^32\), got 1\.5$/],
  ['rand([2], { seed: -1 })', () => rand([2], { seed: -1 }), /^rand: seed must be an integer in \[0, 2\^32\), got -1$/],
  ['manualSeed(2 ** 32)', () => manualSeed(2 ** 32), /^manualSeed: seed must be an integer in \[0, 2\^32\), got 4294967296$/],
  ["manualSeed('abc')", () => manualSeed('abc' as never), /^manualSeed: seed must be an integer in \[0, 2\^32\), got 'abc' \(a string\)$/],
  ['new Rng(1.5)', () => new Rng(1.5), /^Rng: seed must be an integer in \[0, 2\^32\), got 1\.5$/],
  ['new nn.Linear(2, 2, { seed: NaN })', () => new nn.Linear(2, 2, { seed: NaN }), /^Linear: seed must be an integer in \[0, 2\^32\), got NaN$/],
  ["new nn.Dropout(0.5, { seed: 'abc' })", () => new nn.Dropout(0.5, { seed: 'abc' as never }), /^Dropout: seed must be an integer in \[0, 2\^32\), got 'abc' \(a string\)$/],
  ['new nn.Sequential([...], { seed: 1.5 })', () => new nn.Sequential([new nn.Linear(1, 1)], { seed: 1.5 }), /^Sequential: seed must be an integer in \[0, 2\^32\), got 1\.5$/],
  ['permutation(5, NaN)', () => data.permutation(5, NaN), /^permutation: seed must be an integer in \[0, 2\^32\), got NaN$/],
  ['new SeededRandom(1.5)', () => new data.SeededRandom(1.5), /^SeededRandom: seed must be an integer in \[0, 2\^32\), got 1\.5$/],
  ["trainTestSplit(x, y, { seed: 'abc' })", () => data.trainTestSplit(x10, y10, { seed: 'abc' as never }), /^trainTestSplit: seed must be an integer in \[0, 2\^32\), got 'abc' \(a string\)$/],
  ['new optim.Adam(params, { eps: Infinity })', () => new optim.Adam(params(), { eps: Infinity }), /^Adam: eps must be a positive finite number, got Infinity$/],
  ["new optim.Adam(params, { eps: '0.1' })", () => new optim.Adam(params(), { eps: '0.1' as never }), /^Adam: eps must be a positive finite number, got '0\.1' \(a string\)$/],
  ["new optim.RMSprop(params, { eps: '0.1' })", () => new optim.RMSprop(params(), { eps: '0.1' as never }), /^RMSprop: eps must be a positive finite number, got '0\.1' \(a string\)$/],
  ["new optim.SGD(params, { lr: '0.1' })", () => new optim.SGD(params(), { lr: '0.1' as never }), /^SGD: lr must be a non-negative finite number, got '0\.1' \(a string\)$/],
  ["new optim.SGD(params, { nesterov: 'yes', momentum: 0.9 })", () => new optim.SGD(params(), { nesterov: 'yes' as never, momentum: 0.9 }), /^SGD: nesterov must be true or false, got 'yes' \(a string\)$/],
  ['new optim.Adam(params, { betas: [0.9] })', () => new optim.Adam(params(), { betas: [0.9] as never }), /^Adam: betas must be a pair \[beta1, beta2\], got \[0\.9\] \(an array\)$/],
  ['opt.lr = NaN', () => { new optim.Adam(params()).lr = NaN; }, /^Adam: lr must be a non-negative finite number, got NaN$/],
  ['permutation(1.5, 0)', () => data.permutation(1.5, 0), /^permutation: n must be an integer in \[0, 2147483647\], got 1\.5$/],
  ['trainTestSplit(x, y, { testFraction: 0 })', () => data.trainTestSplit(x10, y10, { testFraction: 0 }), /^trainTestSplit: testFraction must be in \(0, 1\), got 0$/],
  ['trainTestSplit of 10 rows with testFraction 0.01', () => data.trainTestSplit(x10, y10, { testFraction: 0.01 }), /^trainTestSplit: testFraction 0\.01 of 10 rows leaves the test part empty \(0 test rows, 10 training rows\)$/],
  ['trainTestSplit(x, y, { stratify: 1 })', () => data.trainTestSplit(x10, y10, { stratify: 1 as never }), /^trainTestSplit: stratify must be true or false, got 1$/],
  ['x.softmax(2) on a 2-D tensor', () => ones([2, 3]).softmax(2), /^softmax: axis 2 is out of range for shape \[2,3\] \(valid: -2 to 1\)$/],
  ['x.logSoftmax(-3) on a 2-D tensor', () => ones([2, 3]).logSoftmax(-3), /^logSoftmax: axis -3 is out of range/],
  ['x.slice(0, 1, 1)', () => (ones([2, 3]).slice as (...a: number[]) => unknown)(0, 1, 1), /^slice: takes \(start, end\) along the first dimension; got a third argument 1/],
  ['new nn.Flatten(1.5)', () => new nn.Flatten(1.5), /^Flatten: startDim must be an integer, got 1\.5$/],
  ['new nn.Dropout(1)', () => new nn.Dropout(1), /^Dropout: p must be in \[0, 1\), got 1$/],
  ['x.requiresGrad_(1)', () => ones([2]).requiresGrad_(1 as never), /^requiresGrad_: flag must be true or false, got 1$/],
  ['model.train(0)', () => mlp().train(0 as never), /^train: mode must be true or false, got 0$/],
];

/** Optimizer.loadStateDict: each bad hyperparameter is refused and the optimizer keeps its state. */
const BAD_LOADED_HYPER: [string, Record<string, unknown>, RegExp][] = [
  ['lr -1', { lr: -1 }, /^Adam\.loadStateDict: lr must be a non-negative finite number, got -1$/],
  ['beta1 5', { beta1: 5 }, /^Adam\.loadStateDict: beta1 must be in \[0, 1\), got 5$/],
  ['eps 0', { eps: 0 }, /^Adam\.loadStateDict: eps must be a positive finite number, got 0$/],
  ["eps '0.1'", { eps: '0.1' }, /^Adam\.loadStateDict: eps must be a positive finite number, got '0\.1' \(a string\)$/],
  ['weightDecay NaN', { weightDecay: NaN }, /^Adam\.loadStateDict: weightDecay must be a non-negative finite number, got NaN$/],
  ['an unknown key', { momentum: 0.9 }, /^Adam\.loadStateDict: unknown hyperparameter 'momentum' \(Adam has: lr, beta1, beta2, eps, weightDecay\)$/],
];

const UNKNOWN_OPTIONS: Row[] = [
  ['zeros([2], { requiresgrad: true })', () => zeros([2], { requiresgrad: true } as never), /^zeros: unknown option 'requiresgrad' \(did you mean 'requiresGrad'\? accepted: requiresGrad\)$/],
  ['tensor([1], [1], { requires_grad: true })', () => tensor([1], [1], { requires_grad: true } as never), /^tensor: unknown option 'requires_grad' \(did you mean 'requiresGrad'\? accepted: requiresGrad\)$/],
  ['tensor([1, 2], { requiresGrad: true })', () => tensor([1, 2], { requiresGrad: true } as never), /^tensor: shape must be an array .*, got \{ requiresGrad: true \} \(an object\) \(options go third: tensor\(values, undefined, \{ requiresGrad: true \}\)\)$/],
  ['rand([2], { min: 0 })', () => rand([2], { min: 0 } as never), /^rand: unknown option 'min' \(accepted: seed, requiresGrad, low, high\)$/],
  ['new nn.Linear(2, 3, { biass: false })', () => new nn.Linear(2, 3, { biass: false } as never), /^Linear: unknown option 'biass' \(did you mean 'bias'\? accepted: bias, init, seed\)$/],
  ['new nn.Dropout(0.5, { sed: 1 })', () => new nn.Dropout(0.5, { sed: 1 } as never), /^Dropout: unknown option 'sed' \(did you mean 'seed'\? accepted: seed\)$/],
  ['new nn.Sequential([...], { seeds: 1 })', () => new nn.Sequential([new nn.Linear(1, 1)], { seeds: 1 } as never), /^Sequential: unknown option 'seeds' \(did you mean 'seed'\? accepted: seed\)$/],
  ['model.predict(x, { batch: 2 })', () => mlp().predict(ones([1, 4]), { batch: 2 } as never), /^predict: unknown option 'batch' \(did you mean 'batchSize'\? accepted: batchSize, features, rows\)$/],
  ['crossEntropy(..., { weights })', () => nn.crossEntropy(ones([2, 3]), [0, 1], { weights: ones([3]) } as never), /^crossEntropy: unknown option 'weights' \(did you mean 'weight'\? accepted: reduction, weight, labelSmoothing\)$/],
  ['crossEntropy(..., { label_smoothing })', () => nn.crossEntropy(ones([2, 3]), [0, 1], { label_smoothing: 0.1 } as never), /^crossEntropy: unknown option 'label_smoothing' \(did you mean 'labelSmoothing'\? accepted: reduction, weight, labelSmoothing\)$/],
  ['bceWithLogits(..., { pos_weight })', () => nn.bceWithLogits(ones([2]), ones([2]), { pos_weight: ones([2]) } as never), /^bceWithLogits: unknown option 'pos_weight' \(did you mean 'posWeight'\? accepted: reduction, posWeight, weight\)$/],
  ['l1Loss(..., { reduce })', () => nn.l1Loss(ones([2]), ones([2]), { reduce: 'sum' } as never), /^l1Loss: unknown option 'reduce' \(did you mean 'reduction'\? accepted: reduction\)$/],
  ['evaluate(model, data, { metric })', () => myelin.evaluate(mlp(), { x: ones([2, 4]), y: [0, 1] }, { metric: ['f1'] } as never), /^evaluate: unknown option 'metric' \(did you mean 'metrics'\? accepted: batchSize, loss, lossWeights, metrics\)$/],
  ['new optim.OneCycleLR({ max_lr })', () => new optim.OneCycleLR({ max_lr: 0.1 } as never), /^OneCycleLR: unknown option 'max_lr' \(did you mean 'maxLr'\? accepted: maxLr, totalSteps, /],
  ['new optim.ReduceLROnPlateau({ patiance })', () => new optim.ReduceLROnPlateau({ patiance: 3 } as never), /^ReduceLROnPlateau: unknown option 'patiance' \(did you mean 'patience'\? accepted: monitor, mode, /],
  ['metrics.f1Score(..., { avg })', () => myelin.metrics.f1Score([0, 1], [0, 1], { avg: 'macro' } as never), /^f1Score: unknown option 'avg' \(accepted: classes, threshold, average\)$/],
  ['huberLoss(..., { delt: 1 })', () => nn.huberLoss(ones([2]), ones([2]), { delt: 1 } as never), /^huberLoss: unknown option 'delt' \(did you mean 'delta'\? accepted: reduction, delta\)$/],
  ["mseLoss(..., { reduce: 'sum' })", () => nn.mseLoss(ones([2]), ones([2]), { reduce: 'sum' } as never), /^mseLoss: unknown option 'reduce' \(did you mean 'reduction'\? accepted: reduction\)$/],
  ['new optim.SGD(params, { momentun: 0.9 })', () => new optim.SGD(params(), { momentun: 0.9 } as never), /^SGD: unknown option 'momentun' \(did you mean 'momentum'\? accepted: lr, momentum, nesterov, weightDecay\)$/],
  ['new optim.Adam(params, { weight_decay: 0.1 })', () => new optim.Adam(params(), { weight_decay: 0.1 } as never), /^Adam: unknown option 'weight_decay' \(did you mean 'weightDecay'\? accepted: lr, beta1, beta2, betas, eps, weightDecay\)$/],
  ['new optim.RMSprop(params, { centered: true })', () => new optim.RMSprop(params(), { centered: true } as never), /^RMSprop: unknown option 'centered' \(accepted: lr, alpha, eps, weightDecay, momentum\)$/],
  ['new optim.StepLR(opt, { step_size: 2 })', () => new optim.StepLR(new optim.SGD(params()), { step_size: 2 } as never), /^StepLR: unknown option 'step_size' \(did you mean 'stepSize'\? accepted: stepSize, gamma\)$/],
  ['new optim.CosineAnnealingLR(opt, { T_max: 5 })', () => new optim.CosineAnnealingLR(new optim.SGD(params()), { T_max: 5 } as never), /^CosineAnnealingLR: unknown option 'T_max' \(did you mean 'tMax'\? accepted: tMax, etaMin\)$/],
  ['trainTestSplit(x, y, { test_fraction: 0.2 })', () => data.trainTestSplit(x10, y10, { test_fraction: 0.2 } as never), /^trainTestSplit: unknown option 'test_fraction' \(did you mean 'testFraction'\? accepted: testFraction, seed, stratify, features\)$/],
  ["standardize(train, [], { perFeature: true })", () => data.standardize({ x: new Float32Array(4), features: 2 }, [], { perFeature: true } as never), /^standardize: unknown option 'perFeature' \(did you mean 'per'\? accepted: per\)$/],
  ['x.zeroGrad({ set_to_none: true })', () => ones([2]).zeroGrad({ set_to_none: true } as never), /^zeroGrad: unknown option 'set_to_none' \(accepted: setToNull\)$/],
];

describe('argument errors name the function, the argument and the value passed', () => {
  for (const [title, rows] of [
    ['wrong types and values (issue 10 item 12)', WRONG_TYPES],
    ['values once silently accepted (issue 10 item 13)', SILENTLY_ACCEPTED],
    ['unknown option keys (issue 11)', UNKNOWN_OPTIONS],
  ] as [string, Row[]][]) {
    describe(title, () => {
      it.each(rows)('%s', (_label, call, expected) => {
        let thrown: unknown = null;
        try {
          call();
        } catch (err) {
          thrown = err;
        }
        expect(thrown, 'the call must throw').toBeInstanceOf(Error);
        const err = thrown as Error;
        expect(err.constructor, `a plain Error, not ${err.constructor.name}: ${err.message}`).toBe(Error);
        expect(err.message).toMatch(expected);
      });
    });
  }

  describe('Optimizer.loadStateDict refuses bad hyperparameters and keeps its state', () => {
    it.each(BAD_LOADED_HYPER)('%s', (_label, hyper, expected) => {
      const opt = new optim.Adam(params(), { lr: 0.01 });
      const good = opt.stateDict();
      const bad = { ...good, hyper: { ...good.hyper, ...hyper } };
      expect(() => opt.loadStateDict(bad as never)).toThrow(expected);
      expect(opt.hyperparameters).toEqual(good.hyper);
    });

    it('refuses nesterov without momentum in a loaded SGD state', () => {
      const opt = new optim.SGD(params(), { lr: 0.1 });
      const sd = opt.stateDict();
      expect(() => opt.loadStateDict({ ...sd, hyper: { ...sd.hyper, nesterov: true } })).toThrow(/^SGD\.loadStateDict: nesterov needs a momentum > 0$/);
    });

    it('refuses a negative step counter', () => {
      const p = params();
      const opt = new optim.Adam(p);
      p[0].grad = ones([3]);
      opt.step();
      const sd = opt.stateDict();
      (sd.state[0] as Record<string, unknown>).step = -3;
      expect(() => opt.loadStateDict(sd)).toThrow(/^Adam\.loadStateDict: state\[0\]\.step \(a step counter\) must be a non-negative integer, got -3$/);
    });
  });

  it('the edges of the accepted ranges still work', () => {
    expect(randn([2], { seed: 0 }).size).toBe(2);
    expect(randn([2], { seed: 2 ** 32 - 1 }).size).toBe(2);
    expect(new Rng(4294967295).next()).toBeGreaterThanOrEqual(0);
    expect(full([2], NaN).data[0]).toBeNaN();
    expect(ones([2, 3]).softmax(-1).shape).toEqual([2, 3]);
    expect(ones([2, 3]).softmax(1).sum().item()).toBeCloseTo(2);
    expect(data.trainTestSplit(x10, y10, { testFraction: 0.5 }).test.n).toBe(5);
    expect(arange(3).toArray()).toEqual([0, 1, 2]);
    expect(optim.clipGradNorm(params(), Infinity)).toBe(0);
    expect(new optim.Adam(params(), { betas: [0.5, 0.6] }).hyperparameters).toMatchObject({ beta1: 0.5, beta2: 0.6 });
    expect(() => zeros([2], undefined)).not.toThrow();
    expect(tensor([1, 2], null as never, { requiresGrad: true }).requiresGrad).toBe(true);
    expect(() => new nn.Linear(2, 2, { seed: undefined })).not.toThrow();
  });
});

describe('the validation vocabulary', () => {
  it('describe() shows the value and, where the text alone would mislead, its kind', () => {
    const cases: [unknown, string][] = [
      ['30', "'30' (a string)"], [30, '30'], [NaN, 'NaN'], [-0, '-0'], [5n, '5n (a bigint)'], [null, 'null'], [undefined, 'undefined'],
      [true, 'true (a boolean)'], [[1, [2, 3]], '[1,[2,3]] (an array)'], [new Float32Array(8), 'a Float32Array of 8 elements'],
      [new Int32Array(2), 'an Int32Array of 2 elements'], [ones([2, 3]), 'a Tensor of shape [2,3]'], [{ epoch: 3 }, '{ epoch: 3 } (an object)'],
      [{}, '{} (an object)'], [new Map(), 'a Map'], [function named(): void {}, 'the function named'], [Symbol('s'), 'Symbol(s) (a symbol)'],
      [Array.from({ length: 10 }, (_, i) => i), '[0,1,2,3,4,5,... 10 items] (an array)'], ['x'.repeat(100), `'${'x'.repeat(40)}...' (a string)`],
    ];
    for (const [v, text] of cases) expect(describeValue(v)).toBe(text);
  });

  it('closestMatch suggests near misses only', () => {
    const accepted = ['epochs', 'batchSize', 'lr', 'validationSplit'];
    expect(closestMatch('epoch', accepted)).toBe('epochs');
    expect(closestMatch('batchsize', accepted)).toBe('batchSize');
    expect(closestMatch('batch_size', accepted)).toBe('batchSize');
    expect(closestMatch('validation', accepted)).toBe('validationSplit');
    expect(closestMatch('foo', accepted)).toBeNull();
    expect(closestMatch('learningRate', accepted)).toBeNull();
  });

  it('checkOptions is the helper other modules use (fit: unknown option)', () => {
    const accepted = ['epochs', 'batchSize', 'lr'];
    expect(() => checkOptions('fit', { epoch: 3 }, accepted)).toThrow("fit: unknown option 'epoch' (did you mean 'epochs'? accepted: epochs, batchSize, lr)");
    expect(checkOptions('fit', undefined, accepted)).toEqual({});
    const o = { epochs: 2 };
    expect(checkOptions('fit', o, accepted)).toBe(o);
    expect(() => checkOptions('fit', [1] as never, accepted)).toThrow(/^fit: options must be an object like \{ epochs: \.\.\., batchSize: \.\.\. \}, got \[1\] \(an array\)$/);
    expect(() => checkOptions('fit', new Map() as never, accepted)).toThrow(/got a Map$/);
  });
});

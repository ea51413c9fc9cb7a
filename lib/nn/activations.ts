// Activation layers: ReLU, LeakyReLU, Sigmoid, Tanh, GELU (the planner fuses them into a preceding Linear) and Softmax.
import type { Activation } from '../backend/contract';
import { Tensor } from '../tensor';
import { activate, softmax } from '../ops/activation';
import { Module } from './module';
import type { LayerConfig } from './config';
import { keyRules, register, type OnnxExportContext } from './registry';
import { checkNumber, checkOneOf, checkOptions, checkTensor } from '../validate';

/** ReLU, Sigmoid and Tanh: no parameters, no options; each its own class (the registry tells them apart). */
abstract class ParameterFreeActivation extends Module {
  protected abstract readonly type: string;
  protected abstract readonly act: 'relu' | 'sigmoid' | 'tanh';
  override forward(x: Tensor): Tensor {
    checkTensor(`${this.type}.forward`, 'input', x);
    return activate(x, this.act);
  }
  override toConfig(): LayerConfig {
    return { type: this.type };
  }
  override describe(): string {
    return this.type;
  }
}

/** The ReLU activation as a layer: max(0, x). */
export class ReLU extends ParameterFreeActivation {
  protected readonly type = 'ReLU';
  protected readonly act = 'relu';
}

/** Leaky ReLU as a layer: x for x > 0, negativeSlope * x otherwise (default slope 0.01). */
export class LeakyReLU extends Module {
  readonly negativeSlope: number;
  /**
   * Creates the layer.
   * @param negativeSlope the slope for negative inputs (default 0.01).
   * @throws Error when negativeSlope is not a finite number.
   * @example
   * ```ts
   * new nn.LeakyReLU(0.2)
   * ```
   */
  constructor(negativeSlope = 0.01) {
    super();
    this.negativeSlope = checkNumber('LeakyReLU', 'negativeSlope', negativeSlope);
  }
  /**
   * Applies the leaky ReLU elementwise: x where x > 0, negativeSlope * x elsewhere.
   * @param x a Tensor of any shape.
   * @returns a Tensor of x's shape.
   * @throws Error when x is not a Tensor.
   * @example new nn.LeakyReLU(0.1).forward(tensor([-2, 3])) // [-0.2, 3]
   */
  override forward(x: Tensor): Tensor {
    checkTensor('LeakyReLU.forward', 'input', x);
    return activate(x, 'leakyRelu', this.negativeSlope);
  }
  override toConfig(): LayerConfig {
    return { type: 'LeakyReLU', negativeSlope: this.negativeSlope };
  }
  override describe(): string {
    return `LeakyReLU(${this.negativeSlope})`;
  }
}

/** The logistic sigmoid as a layer: 1 / (1 + exp(-x)). */
export class Sigmoid extends ParameterFreeActivation {
  protected readonly type = 'Sigmoid';
  protected readonly act = 'sigmoid';
}

/** The hyperbolic tangent as a layer. */
export class Tanh extends ParameterFreeActivation {
  protected readonly type = 'Tanh';
  protected readonly act = 'tanh';
}

/** Options of nn.GELU: approximate 'none' (default, erf) or 'tanh'. */
export interface GELUOptions {
  /** 'none' (default): exact erf form; 'tanh': the tanh approximation. */
  approximate?: 'none' | 'tanh';
}

/** The GELU activation as a layer: exact (erf) by default, or the tanh approximation ({ approximate: 'tanh' }). */
export class GELU extends Module {
  readonly approximate: 'none' | 'tanh';
  /**
   * Creates the layer.
   * @param opts approximate: 'none' (exact, default) or 'tanh'.
   * @throws Error for an unknown option or approximate value.
   * @example
   * ```ts
   * new nn.GELU({ approximate: 'tanh' })
   * ```
   */
  constructor(opts: GELUOptions = {}) {
    super();
    const o = checkOptions('GELU', opts, ['approximate']);
    this.approximate = o.approximate === undefined ? 'none' : checkOneOf('GELU', 'approximate', o.approximate, ['none', 'tanh'] as const);
  }
  /**
   * Applies GELU elementwise: x * Phi(x) with the exact normal CDF, or its tanh approximation when the
   * layer was made with approximate 'tanh'.
   * @param x a Tensor of any shape.
   * @returns a Tensor of x's shape.
   * @throws Error when x is not a Tensor.
   * @example new nn.GELU().forward(randn([2, 5])).shape // [2, 5]
   */
  override forward(x: Tensor): Tensor {
    checkTensor('GELU.forward', 'input', x);
    return activate(x, this.approximate === 'tanh' ? 'geluTanh' : 'gelu');
  }
  override toConfig(): LayerConfig {
    return { type: 'GELU', approximate: this.approximate };
  }
  override describe(): string {
    return this.approximate === 'tanh' ? "GELU(approximate='tanh')" : 'GELU';
  }
}

/** Softmax over the last dimension. */
export class Softmax extends Module {
  /**
   * Softmax over the last dimension: each row along it is exponentiated and divided by its sum.
   * @param x a Tensor of at least 1 dimension, e.g. logits [batch, classes].
   * @returns a Tensor of x's shape whose values along the last dimension are positive and sum to 1.
   * @throws Error when x is not a Tensor of at least 1 dimension.
   * @example new nn.Softmax().forward(tensor([[0, 0]])) // [[0.5, 0.5]]
   */
  override forward(x: Tensor): Tensor {
    checkTensor('Softmax.forward', 'input', x);
    return softmax(x);
  }
  override toConfig(): LayerConfig {
    return { type: 'Softmax' };
  }
  override describe(): string {
    return 'Softmax';
  }
}

/** gelu(x) = 0.5 * x * (1 + erf(x / sqrt 2)), the form torch.onnx.export writes before opset 20. */
function onnxExactGelu(g: OnnxExportContext): void {
  const p = g.prefix;
  const x = g.current;
  const scaled = g.node('Div', [x, g.scalar(`${p}gelu.sqrt2`, Math.SQRT2)]);
  const erf = g.node('Erf', [scaled]);
  const onePlus = g.node('Add', [erf, g.scalar(`${p}gelu.one`, 1)]);
  const times = g.node('Mul', [x, onePlus]);
  g.current = g.node('Mul', [times, g.scalar(`${p}gelu.half`, 0.5)]);
}

/** gelu_tanh(x) = 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))), cubed with Muls. */
function onnxTanhGelu(g: OnnxExportContext): void {
  const p = g.prefix;
  const x = g.current;
  const sq = g.node('Mul', [x, x]);
  const cube = g.node('Mul', [sq, x]);
  const scaledCube = g.node('Mul', [cube, g.scalar(`${p}gelu.coeff`, 0.044715)]);
  const inner = g.node('Add', [x, scaledCube]);
  const scaled = g.node('Mul', [inner, g.scalar(`${p}gelu.sqrt_2_over_pi`, Math.sqrt(2 / Math.PI))]);
  const th = g.node('Tanh', [scaled]);
  const onePlus = g.node('Add', [th, g.scalar(`${p}gelu.one`, 1)]);
  const times = g.node('Mul', [x, onePlus]);
  g.current = g.node('Mul', [times, g.scalar(`${p}gelu.half`, 0.5)]);
}

/** Registers a parameterless activation the planner can fuse into a Linear, exported as one ONNX node. */
function registerActivation(cls: typeof ReLU | typeof Sigmoid | typeof Tanh, act: Activation, onnxOp: string): void {
  register(cls, {
    keys: {},
    fromConfig: () => new cls(),
    inference: () => ({ kind: 'activation', activation: { act, alpha: 0 } }),
    onnx: (ctx) => ctx.chain(onnxOp),
    keepsNoTensors: true,
  });
}
registerActivation(ReLU, 'relu', 'Relu');
registerActivation(Sigmoid, 'sigmoid', 'Sigmoid');
registerActivation(Tanh, 'tanh', 'Tanh');

interface LeakyReLUConfig extends LayerConfig {
  negativeSlope: number;
}
register<LeakyReLUConfig>(LeakyReLU, {
  keys: { negativeSlope: keyRules.finite },
  fromConfig: (c) => new LeakyReLU(c.negativeSlope),
  inference: (c) => ({ kind: 'activation', activation: { act: 'leakyRelu', alpha: c.negativeSlope } }),
  onnx: (ctx, c) => ctx.chain('LeakyRelu', [{ name: 'alpha', float: c.negativeSlope }]),
  keepsNoTensors: true,
});

interface GELUConfig extends LayerConfig {
  approximate: 'none' | 'tanh';
}
register<GELUConfig>(GELU, {
  keys: { approximate: keyRules.oneOf(['none', 'tanh']) },
  fromConfig: (c) => new GELU({ approximate: c.approximate }),
  inference: (c) => ({ kind: 'activation', activation: { act: c.approximate === 'tanh' ? 'geluTanh' : 'gelu', alpha: 0 } }),
  onnx(ctx, c) {
    if (ctx.opset >= 20) ctx.chain('Gelu', [{ name: 'approximate', string: c.approximate }]);
    else if (c.approximate === 'tanh') onnxTanhGelu(ctx);
    else onnxExactGelu(ctx);
  },
  keepsNoTensors: true,
});

register(Softmax, {
  keys: {},
  fromConfig: () => new Softmax(),
  inference: () => ({ kind: 'softmax' }),
  onnx: (ctx) => ctx.chain('Softmax', [{ name: 'axis', int: -1 }]),
  keepsNoTensors: true,
});

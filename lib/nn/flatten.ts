// Flatten layer: keeps the batch dimension and flattens the rest ([B, C, H, W] -> [B, C*H*W]).
import { Tensor } from '../tensor';
import { flatten } from '../ops/shape';
import { Module } from './module';
import type { LayerConfig } from './config';
import { keyRules, register } from './registry';
import { checkNumber, checkTensor } from '../validate';

/** Flattens the dimensions from startDim (default 1) on: [n, c, h, w] becomes [n, c * h * w]. */
export class Flatten extends Module {
  readonly startDim: number;
  /**
   * Creates the layer.
   * @param startDim the first dimension folded into one (default 1: keeps the batch dimension).
   * @throws Error when startDim is not an integer.
   * @example
   * ```ts
   * new nn.Flatten() // [n, 1, 28, 28] -> [n, 784]
   * ```
   */
  constructor(startDim = 1) {
    super();
    this.startDim = checkNumber('Flatten', 'startDim', startDim, { integer: true });
  }
  /**
   * Folds the dimensions from startDim on into one (a reshape; the data is shared).
   * @param x a Tensor with more than startDim dimensions, e.g. [n, c, h, w].
   * @returns [...x.shape.slice(0, startDim), product of the rest], e.g. [n, c * h * w] for startDim 1.
   * @throws Error when x is not a Tensor or startDim is out of range for it.
   * @example new nn.Flatten().forward(zeros([2, 3, 4, 4])).shape // [2, 48]
   */
  override forward(x: Tensor): Tensor {
    checkTensor('Flatten.forward', 'input', x);
    return flatten(x, this.startDim);
  }
  override toConfig(): LayerConfig {
    return { type: 'Flatten', startDim: this.startDim };
  }
  override describe(): string {
    return 'Flatten';
  }
}

interface FlattenConfig extends LayerConfig {
  startDim: number;
}
register<FlattenConfig>(Flatten, {
  keys: { startDim: keyRules.integer },
  fromConfig: (c) => new Flatten(c.startDim),
  // On the 2-D activations of a plan, Flatten(1) is the identity.
  inference: (c) => (c.startDim === 1 ? { kind: 'identity' } : null),
  onnx(ctx, c) {
    if (c.startDim !== 1) {
      throw new Error(`onnx.exportModel: ${ctx.where}: Flatten(startDim=${c.startDim}) is not supported (only startDim 1)`);
    }
    ctx.chain('Flatten', [{ name: 'axis', int: 1 }]);
    ctx.shape = [ctx.shape.reduce((a, b) => a * b, 1)];
  },
  keepsNoTensors: 'view',
});

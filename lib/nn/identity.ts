// Identity: returns its input (a placeholder, e.g. a residual block's shortcut); vanishes at inference and exports as ONNX Identity.
import { Tensor } from '../tensor';
import { Module } from './module';
import type { LayerConfig } from './config';
import { register } from './registry';
import { checkTensor } from '../validate';

/** A layer that returns its input (a placeholder, e.g. the default shortcut of a residual block). */
export class Identity extends Module {
  /**
   * Returns its input unchanged (the same Tensor object).
   * @param x a Tensor of any shape.
   * @returns x.
   * @throws Error when x is not a Tensor.
   * @example new nn.Identity().forward(x) === x // true
   */
  override forward(x: Tensor): Tensor {
    if (!(x instanceof Tensor)) checkTensor('Identity.forward', 'input', x);
    return x;
  }
  override toConfig(): LayerConfig {
    return { type: 'Identity' };
  }
  override describe(): string {
    return 'Identity';
  }
}

register(Identity, {
  keys: {},
  fromConfig: () => new Identity(),
  parameters: () => [],
  inference: () => ({ kind: 'identity' }),
  onnx: (ctx) => ctx.chain('Identity'),
  keepsNoTensors: 'view',
});

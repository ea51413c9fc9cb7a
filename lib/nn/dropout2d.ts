// Dropout2d: zeroes whole channels of [N, C, H, W] (or [N, C, L]) with probability p in training (seeded), scales the rest by 1/(1-p); identity in eval.
import { Tensor, shapeToString } from '../tensor';
import { mul } from '../ops/elementwise';
import { globalGenerator } from '../random';
import type { LayerConfig } from './config';
import { keyRules, register } from './registry';
import { checkTensor } from '../validate';
import { MaskDropout, type DropoutOptions } from './dropout';

/** Channel dropout for [n, c, h, w]: in training mode zeroes whole channels with probability p (default 0.5); the identity in eval mode. */
export class Dropout2d extends MaskDropout {
  /**
   * Creates the layer.
   * @param p the probability of zeroing a whole channel in training, in [0, 1) (default 0.5).
   * @param opts seed of the mask generator (default: the global generator, or Sequential's seed).
   * @throws Error when p is not in [0, 1), an option is unknown, or seed is not a valid seed; forward throws for an input that is not [N, C, H, W] or [N, C, L].
   * @example
   * ```ts
   * const drop = new nn.Dropout2d(0.1);
   * ```
   */
  constructor(p = 0.5, opts: DropoutOptions = {}) {
    super('Dropout2d', p, opts);
  }

  /**
   * In training mode zeroes each (sample, channel) map with probability p and scales the kept ones by
   * 1 / (1 - p); in eval mode (or with p = 0) returns x itself.
   * @param x a Tensor [N, C, H, W] or [N, C, L].
   * @returns a Tensor of x's shape.
   * @throws Error when x is not a Tensor, or is neither 3-D nor 4-D.
   * @example new nn.Dropout2d(0.5, { seed: 1 }).forward(ones([1, 4, 2, 2])) // each 2x2 map all 0 or all 2
   */
  override forward(x: Tensor): Tensor {
    if (!(x instanceof Tensor)) checkTensor('Dropout2d.forward', 'input', x);
    if (x.ndim !== 3 && x.ndim !== 4) throw new Error(`Dropout2d(p=${this.p}).forward: expected input [N, C, H, W] or [N, C, L], got ${shapeToString(x.shape)}`);
    if (!this.training || this.p === 0) return x;
    const [N, C] = x.shape;
    const rng = this.rng ?? globalGenerator();
    const keep = 1 / (1 - this.p);
    const mask = new Float32Array(N * C);
    for (let i = 0; i < mask.length; i++) mask[i] = rng.next() >= this.p ? keep : 0;
    // One factor per (sample, channel), broadcast over the spatial dims; its backward is the same product.
    return mul(x, new Tensor(mask, x.ndim === 4 ? [N, C, 1, 1] : [N, C, 1]));
  }

  override toConfig(): LayerConfig {
    return { type: 'Dropout2d', p: this.p };
  }

  override describe(): string {
    return `Dropout2d(p=${this.p})`;
  }
}

interface Dropout2dConfig extends LayerConfig {
  p: number;
}
register<Dropout2dConfig>(Dropout2d, {
  keys: { p: keyRules.probability },
  fromConfig: (c) => new Dropout2d(c.p),
  parameters: () => [],
  inference: () => ({ kind: 'identity' }),
  // Inference graph: the identity (the doc string records p; import reads it back as an Identity).
  onnx: (ctx, c) => ctx.chain('Identity', [], `myelin Dropout2d p=${c.p}`),
  keepsNoTensors: 'view',
});

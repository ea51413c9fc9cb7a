// Flatten layer: keeps the batch dimension and flattens the rest ([B, C, H, W] -> [B, C*H*W]).
import { Tensor } from '../tensor';
import { flatten } from '../ops/shape';
import { Module } from './module';
import type { LayerConfig } from './config';
import { checkNumber, checkTensor } from '../validate';

export class Flatten extends Module {
  readonly startDim: number;
  constructor(startDim = 1) {
    super();
    this.startDim = checkNumber('Flatten', 'startDim', startDim, { integer: true });
  }
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

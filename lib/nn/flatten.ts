// Flatten layer: keeps the batch dimension and flattens the rest ([B, C, H, W] -> [B, C*H*W]).
import { Tensor } from '../tensor';
import { flatten } from '../ops/shape';
import { Module } from './module';
import type { LayerConfig } from './config';

export class Flatten extends Module {
  readonly startDim: number;
  constructor(startDim = 1) {
    super();
    if (!Number.isInteger(startDim)) throw new Error(`Flatten: startDim must be an integer, got ${String(startDim)}`);
    this.startDim = startDim;
  }
  override forward(x: Tensor): Tensor {
    return flatten(x, this.startDim);
  }
  override toConfig(): LayerConfig {
    return { type: 'Flatten', startDim: this.startDim };
  }
  override describe(): string {
    return 'Flatten';
  }
}

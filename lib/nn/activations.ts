// Activation layers: ReLU, LeakyReLU, Sigmoid, Tanh, GELU (fusable into a preceding Linear) and Softmax.
import { Tensor } from '../tensor';
import { activate, softmax } from '../ops/activation';
import { Module, type FusableActivation } from './module';
import type { LayerConfig } from './config';

export class ReLU extends Module {
  override forward(x: Tensor): Tensor {
    return activate(x, 'relu');
  }
  override fusableActivation(): FusableActivation {
    return { act: 'relu', alpha: 0 };
  }
  override toConfig(): LayerConfig {
    return { type: 'ReLU' };
  }
  override describe(): string {
    return 'ReLU';
  }
}

export class LeakyReLU extends Module {
  readonly negativeSlope: number;
  constructor(negativeSlope = 0.01) {
    super();
    if (typeof negativeSlope !== 'number' || !Number.isFinite(negativeSlope)) {
      throw new Error(`LeakyReLU: negativeSlope must be a finite number, got ${String(negativeSlope)}`);
    }
    this.negativeSlope = negativeSlope;
  }
  override forward(x: Tensor): Tensor {
    return activate(x, 'leakyRelu', this.negativeSlope);
  }
  override fusableActivation(): FusableActivation {
    return { act: 'leakyRelu', alpha: this.negativeSlope };
  }
  override toConfig(): LayerConfig {
    return { type: 'LeakyReLU', negativeSlope: this.negativeSlope };
  }
  override describe(): string {
    return `LeakyReLU(${this.negativeSlope})`;
  }
}

export class Sigmoid extends Module {
  override forward(x: Tensor): Tensor {
    return activate(x, 'sigmoid');
  }
  override fusableActivation(): FusableActivation {
    return { act: 'sigmoid', alpha: 0 };
  }
  override toConfig(): LayerConfig {
    return { type: 'Sigmoid' };
  }
  override describe(): string {
    return 'Sigmoid';
  }
}

export class Tanh extends Module {
  override forward(x: Tensor): Tensor {
    return activate(x, 'tanh');
  }
  override fusableActivation(): FusableActivation {
    return { act: 'tanh', alpha: 0 };
  }
  override toConfig(): LayerConfig {
    return { type: 'Tanh' };
  }
  override describe(): string {
    return 'Tanh';
  }
}

export interface GELUOptions {
  /** 'none' (default): exact erf form; 'tanh': the tanh approximation. */
  approximate?: 'none' | 'tanh';
}

export class GELU extends Module {
  readonly approximate: 'none' | 'tanh';
  constructor(opts: GELUOptions = {}) {
    super();
    const a = opts.approximate ?? 'none';
    if (a !== 'none' && a !== 'tanh') throw new Error(`GELU: approximate must be 'none' or 'tanh', got '${String(a)}'`);
    this.approximate = a;
  }
  override forward(x: Tensor): Tensor {
    return activate(x, this.approximate === 'tanh' ? 'geluTanh' : 'gelu');
  }
  override fusableActivation(): FusableActivation {
    return { act: this.approximate === 'tanh' ? 'geluTanh' : 'gelu', alpha: 0 };
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
  override forward(x: Tensor): Tensor {
    return softmax(x);
  }
  override toConfig(): LayerConfig {
    return { type: 'Softmax' };
  }
  override describe(): string {
    return 'Softmax';
  }
}

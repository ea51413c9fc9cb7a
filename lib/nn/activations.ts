// Activation layers: ReLU, LeakyReLU, Sigmoid, Tanh, GELU (fusable into a preceding Linear) and Softmax.
import { Tensor } from '../tensor';
import { activate, softmax } from '../ops/activation';
import { Module, type FusableActivation } from './module';
import type { LayerConfig } from './config';
import { checkNumber, checkOneOf, checkOptions, checkTensor } from '../validate';

export class ReLU extends Module {
  override forward(x: Tensor): Tensor {
    checkTensor('ReLU.forward', 'input', x);
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
    this.negativeSlope = checkNumber('LeakyReLU', 'negativeSlope', negativeSlope);
  }
  override forward(x: Tensor): Tensor {
    checkTensor('LeakyReLU.forward', 'input', x);
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
    checkTensor('Sigmoid.forward', 'input', x);
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
    checkTensor('Tanh.forward', 'input', x);
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
    const o = checkOptions('GELU', opts, ['approximate']);
    this.approximate = o.approximate === undefined ? 'none' : checkOneOf('GELU', 'approximate', o.approximate, ['none', 'tanh'] as const);
  }
  override forward(x: Tensor): Tensor {
    checkTensor('GELU.forward', 'input', x);
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

// ResidualBlock: y = act(body(x) + shortcut(x)), the building block of ResNets (a basic block is conv-BN-ReLU-conv-BN with an identity or 1x1-conv shortcut).
import { Tensor, shapeToString } from '../tensor';
import { add } from '../ops/elementwise';
import { relu } from '../ops/activation';
import { deriveSeed } from '../random';
import { Module } from './module';
import { Sequential } from './sequential';
import type { LayerConfig } from './config';
import { keyRules, register } from './registry';
import { checkOneOf, checkOptions, describe as describeValue } from '../validate';

/** Options of nn.ResidualBlock: the shortcut module (default the identity) and the activation. */
export interface ResidualBlockOptions {
  /** The skip path (e.g. a 1x1 Conv + BatchNorm when the body changes the shape); default the identity. */
  shortcut?: Module | null;
  /** Applied after the sum: 'relu' (default, as ResNet) or 'none'. */
  activation?: 'relu' | 'none';
}

export interface ResidualBlockConfig extends LayerConfig {
  type: 'ResidualBlock';
  body: LayerConfig;
  shortcut: LayerConfig | null;
  activation: 'relu' | 'none';
}

/**
 * A residual block: y = act(body(x) + shortcut(x)); body is a Module (a Sequential, or a list of layers made
 * into one), the shortcut the identity unless given. Parameters are named "body.<i>.<name>" and
 * "shortcut.<i>.<name>" (PyTorch's naming for submodules called body and shortcut).
 */
export class ResidualBlock extends Module {
  readonly body: Module;
  readonly shortcut: Module | null;
  readonly activation: 'relu' | 'none';

  /**
   * Creates the block: activation(body(x) + shortcut(x)).
   * @param body a Module, or an array of Modules (made a Sequential).
   * @param opts shortcut (a Module mapping x to the body's output shape; default identity), activation ('relu' default, or 'none').
   * @throws Error when body is not a Module or an array of them, shortcut is not a Module or null, or an option is unknown; forward throws when the body and the shortcut give different shapes.
   * @example
   * ```ts
   * const block = new nn.ResidualBlock([new nn.Conv2d(8, 8, 3, { padding: 1 }), new nn.BatchNorm2d(8)]);
   * ```
   */
  constructor(body: Module | Module[], opts: ResidualBlockOptions = {}) {
    super();
    const o = checkOptions('ResidualBlock', opts, ['shortcut', 'activation']);
    const b = Array.isArray(body) ? new Sequential(body) : body;
    if (!(b instanceof Module)) throw new Error(`ResidualBlock: body must be a Module or an array of Modules, got ${describeValue(body)}`);
    if (o.shortcut !== undefined && o.shortcut !== null && !(o.shortcut instanceof Module)) {
      throw new Error(`ResidualBlock: shortcut must be a Module or null, got ${describeValue(o.shortcut)}`);
    }
    this.body = this.registerModule('body', b);
    this.shortcut = o.shortcut ? this.registerModule('shortcut', o.shortcut) : null;
    this.activation = o.activation === undefined ? 'relu' : checkOneOf('ResidualBlock', 'activation', o.activation, ['relu', 'none'] as const);
  }

  /**
   * Computes activation(body(x) + shortcut(x)) (the shortcut is the identity when the block has none).
   * @param x the input the body takes, e.g. [batch, channels, height, width] for a convolutional body.
   * @returns a Tensor of the body's output shape.
   * @throws Error when the body's output and the shortcut's output (or x, without a shortcut) differ in shape;
   * the body's layers throw for an input they cannot take.
   * @example new nn.ResidualBlock(new nn.Linear(8, 8)).forward(randn([4, 8])).shape // [4, 8]
   */
  override forward(x: Tensor): Tensor {
    const y = this.body.forward(x) as Tensor;
    const s = this.shortcut ? (this.shortcut.forward(x) as Tensor) : x;
    if (y.shape.length !== s.shape.length || y.shape.some((d, i) => d !== s.shape[i])) {
      throw new Error(
        `ResidualBlock.forward: the body gives ${shapeToString(y.shape)} but the shortcut gives ${shapeToString(s.shape)}; ` +
          'give a shortcut that maps the input to the body\'s output shape',
      );
    }
    const sum = add(y, s);
    return this.activation === 'relu' ? relu(sum) : sum;
  }

  /**
   * Seeds the body's and the shortcut's layers (as a Sequential seeds its own) unless they have their own seeds.
   * @param seed an integer in [0, 2^32); the body and the shortcut get seeds derived from it (streams 0 and 1).
   * @example new nn.Sequential(new nn.ResidualBlock(new nn.Linear(8, 8)), { seed: 1 })
   */
  override seedIfUnseeded(seed: number): void {
    const seedAll = (m: Module, s: number): void => {
      if (m instanceof Sequential) m.layers.forEach((l, i) => l.seedIfUnseeded(deriveSeed(s, i)));
      else m.seedIfUnseeded(s);
    };
    seedAll(this.body, deriveSeed(seed, 0));
    if (this.shortcut) seedAll(this.shortcut, deriveSeed(seed, 1));
  }

  override toConfig(): ResidualBlockConfig {
    return { type: 'ResidualBlock', body: this.body.toConfig(), shortcut: this.shortcut ? this.shortcut.toConfig() : null, activation: this.activation };
  }

  override describe(): string {
    return `ResidualBlock(${this.shortcut ? 'projection shortcut' : 'identity shortcut'}, ${this.activation})`;
  }
}

// No `children`: the block is not a chain (the ONNX chain exporter and the dense planner must not inline it).
register<ResidualBlockConfig>(ResidualBlock, {
  keys: { body: keyRules.layerConfig, shortcut: keyRules.layerConfigOrNull, activation: keyRules.oneOf(['relu', 'none']) },
  // Parameter shapes: the registry's default (build one and look); children are built through `build`, so this
  // file needs nothing from from-config.ts (which imports every layer: that would be an import cycle).
  fromConfig: (c, build) => new ResidualBlock(build(c.body), { shortcut: c.shortcut === null ? null : build(c.shortcut), activation: c.activation }),
});

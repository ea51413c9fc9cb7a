// Dropout layer: random zeroing with probability p in training mode (seeded), identity in eval mode.
import { Tensor } from '../tensor';
import { dropout } from '../ops/dropout';
import { Rng, globalGenerator } from '../random';
import { Module } from './module';
import type { LayerConfig } from './config';
import { keyRules, register } from './registry';
import { checkNumber, checkOptions, checkSeed, checkTensor } from '../validate';

/** Options of nn.Dropout and nn.Dropout2d: seed of the mask generator. */
export interface DropoutOptions {
  /** Seed for the mask generator (the same seed gives the same sequence of masks). */
  seed?: number;
}

/** A mask generator's state as Dropout.generatorState() gives it. */
export interface GeneratorState {
  state: number;
  spareNormal: number | null;
}

/** Checks that `s` is a GeneratorState (e.g. read back from JSON); throws naming `where` otherwise. */
export function checkGeneratorState(s: unknown, where: string): GeneratorState {
  const g = s as Partial<GeneratorState> | null;
  const ok = g !== null && typeof g === 'object' && Number.isInteger(g.state) && (g.state as number) >= 0 && (g.state as number) <= 0xffffffff &&
    (g.spareNormal === null || Number.isFinite(g.spareNormal)) && Object.keys(g).length === 2;
  if (!ok) throw new Error(`${where}: a generator state must be { state: a 32-bit unsigned integer, spareNormal: a finite number or null }, got ${JSON.stringify(s)}`);
  return g as GeneratorState;
}

/** What Dropout and Dropout2d share: the drop probability p and the seeded mask generator. */
export abstract class MaskDropout extends Module {
  readonly p: number;
  /** The mask generator, or null to draw from the global generator. */
  protected rng: Rng | null;
  private readonly hasOwnSeed: boolean;

  /** `where` names the layer in errors about p and the options. */
  protected constructor(where: string, p: number, opts: DropoutOptions) {
    super();
    this.p = checkNumber(where, 'p', p, { min: 0, below: 1 });
    const o = checkOptions(where, opts, ['seed']);
    this.hasOwnSeed = o.seed !== undefined;
    this.rng = o.seed === undefined ? null : new Rng(checkSeed(where, 'seed', o.seed));
  }

  /** Seeds the mask generator unless the layer was given its own seed (used by Sequential). */
  override seedIfUnseeded(seed: number): void {
    if (!this.hasOwnSeed) this.rng = new Rng(seed);
  }
}

/**
 * Dropout: in training mode zeroes each element with probability p (default 0.5) and scales the rest by 1 / (1 - p); the identity in eval mode.
 * Throws when p is not in [0, 1).
 */
export class Dropout extends MaskDropout {
  /**
   * Creates the layer.
   * @param p the probability of zeroing an element in training, in [0, 1) (default 0.5).
   * @param opts seed of the mask generator (default: the global generator, or Sequential's seed).
   * @throws Error when p is not in [0, 1), an option is unknown, or seed is not a valid seed.
   * @example
   * ```ts
   * const drop = new nn.Dropout(0.2, { seed: 1 });
   * ```
   */
  constructor(p = 0.5, opts: DropoutOptions = {}) {
    super('Dropout', p, opts);
  }

  /**
   * The mask generator's state (to resume training with identical masks), or null when the layer
   * draws from the global generator (no seed given, directly or through Sequential).
   * @example const s = drop.generatorState(); // later: drop.setGeneratorState(s)
   */
  generatorState(): GeneratorState | null {
    return this.rng ? this.rng.getState() : null;
  }
  /**
   * Restores the mask generator's state from generatorState(); null makes the layer draw from the global generator.
   * @param s `{ state, spareNormal }` as generatorState() returned it, or null.
   * @throws Error when s is neither null nor exactly `{ state: an integer in [0, 2^32), spareNormal: a finite number or null }`.
   * @example drop.setGeneratorState(saved);
   */
  setGeneratorState(s: GeneratorState | null): void {
    if (s === null) {
      this.rng = null;
      return;
    }
    checkGeneratorState(s, 'Dropout.setGeneratorState');
    if (!this.rng) this.rng = new Rng(0);
    this.rng.setState(s);
  }

  /**
   * In training mode zeroes each element with probability p and scales the others by 1 / (1 - p) (inverted
   * dropout, drawn from the layer's generator); in eval mode returns x itself.
   * @param x a Tensor of any shape.
   * @returns a Tensor of x's shape.
   * @throws Error when x is not a Tensor.
   * @example new nn.Dropout(0.5).eval().forward(ones([4])) // [1, 1, 1, 1] (training mode: each 0 or 2)
   */
  override forward(x: Tensor): Tensor {
    checkTensor('Dropout.forward', 'input', x);
    return dropout(x, this.p, this.training, this.rng ?? globalGenerator());
  }
  override toConfig(): LayerConfig {
    return { type: 'Dropout', p: this.p };
  }
  override describe(): string {
    return `Dropout(p=${this.p})`;
  }
}

/** Prefix of the doc string of the Identity node a Dropout exports to, so ONNX import can restore the layer. */
export const DROPOUT_DOC_PREFIX = 'myelin Dropout p=';

interface DropoutConfig extends LayerConfig {
  p: number;
}
register<DropoutConfig>(Dropout, {
  keys: { p: keyRules.probability },
  fromConfig: (c) => new Dropout(c.p),
  inference: () => ({ kind: 'identity' }),
  // Inference graph: dropout is the identity; the doc string keeps p for training after import.
  onnx: (ctx, c) => ctx.chain('Identity', [], `${DROPOUT_DOC_PREFIX}${c.p}`),
  keepsNoTensors: 'view',
});

// Sequential: runs layers in order, fusing each Linear with the activation that follows it.
import { Tensor } from '../tensor';
import { deriveSeed } from '../random';
import { Module } from './module';
import { Linear } from './linear';
import { Dropout } from './dropout';
import type { LayerConfig } from './config';
import { initForActivation } from './init';
import { DenseInference } from './dense-inference';

export interface SequentialOptions {
  /** Seeds every Linear's initialisation and every Dropout's masks (each layer gets its own stream). */
  seed?: number;
}

function isModule(x: unknown): x is Module {
  return x instanceof Module;
}

export class Sequential extends Module {
  readonly layers: Module[];
  readonly seed: number | undefined;

  constructor(...layers: Module[]);
  constructor(...layersThenOptions: [...Module[], SequentialOptions]);
  constructor(layers: Module[], opts?: SequentialOptions);
  constructor(...args: (Module | Module[] | SequentialOptions | undefined)[]) {
    super();
    let layers: unknown[];
    let opts: SequentialOptions = {};
    if (Array.isArray(args[0])) {
      layers = args[0];
      if (args.length > 1 && args[1] !== undefined) opts = args[1] as SequentialOptions;
    } else {
      layers = args;
      const last = args[args.length - 1];
      if (args.length > 0 && last !== null && typeof last === 'object' && !isModule(last)) {
        opts = last as SequentialOptions;
        layers = args.slice(0, -1);
      }
    }
    layers.forEach((l, i) => {
      if (!isModule(l)) throw new Error(`Sequential: layer ${i} is not a Module (got ${l === null ? 'null' : typeof l})`);
    });
    if (opts.seed !== undefined && !Number.isInteger(opts.seed)) {
      throw new Error(`Sequential: seed must be an integer, got ${String(opts.seed)}`);
    }
    this.layers = layers as Module[];
    this.seed = opts.seed;
    this.layers.forEach((l, i) => this.registerModule(String(i), l));
    this.initialiseLayers();
  }

  /**
   * Tells each Linear which activation follows it (Kaiming init before ReLU/LeakyReLU/GELU, Glorot
   * otherwise) and hands out per-layer seeds derived from the Sequential's seed.
   */
  private initialiseLayers(): void {
    this.layers.forEach((layer, i) => {
      const layerSeed = this.seed === undefined ? undefined : deriveSeed(this.seed, i);
      if (layer instanceof Linear) {
        const next = this.layers[i + 1]?.fusableActivation() ?? null;
        const wanted = layer.hasExplicitInit ? layer.initScheme : initForActivation(next ? next.act : null);
        const reseed = layerSeed !== undefined && !layer.hasSeed;
        if (wanted !== layer.initScheme || reseed || next?.act === 'leakyRelu') {
          layer.resetParameters(next ? next.act : null, layerSeed, next ? next.alpha : 0.01);
        }
      } else if (layer instanceof Dropout && layerSeed !== undefined) {
        layer.seedIfUnseeded(layerSeed);
      }
    });
  }

  override forward(x: Tensor): Tensor {
    let h = x;
    const n = this.layers.length;
    for (let i = 0; i < n; i++) {
      const layer = this.layers[i];
      const fused = layer instanceof Linear && i + 1 < n ? this.layers[i + 1].fusableActivation() : null;
      if (fused && layer instanceof Linear) {
        h = layer.forwardFused(h, fused.act, fused.alpha);
        i++; // the activation ran inside the fused kernel
      } else {
        h = layer.forward(h);
      }
    }
    return h;
  }

  /** The compiled inference plan and the layer list it was compiled from (null plan: not an MLP). */
  private compiled: { layers: Module[]; plan: DenseInference | null } | null = null;

  protected override denseInference(): DenseInference | null {
    // A subclass (or instance) with its own forward must be run through it.
    if (this.forward !== Sequential.prototype.forward) return null;
    const c = this.compiled;
    if (c !== null && sameLayers(c.layers, this.layers)) return c.plan;
    const plan = DenseInference.compile(this.layers);
    this.compiled = { layers: this.layers.slice(), plan };
    return plan;
  }

  override toConfig(): LayerConfig {
    return { type: 'Sequential', layers: this.layers.map((l) => l.toConfig()) };
  }

  override describe(): string {
    return `Sequential (${this.layers.length} layers)`;
  }
}

function sameLayers(a: readonly Module[], b: readonly Module[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

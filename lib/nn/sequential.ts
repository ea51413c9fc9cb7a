// Sequential: runs layers in order, fusing each Linear with the activation that follows it.
import { IntTensor } from '../int-tensor';
import { Tensor } from '../tensor';
import { deriveSeed } from '../random';
import { Module } from './module';
import { Linear } from './linear';
import type { LayerConfig } from './config';
import { definitionOf, inferenceRole, keyRules, register, type FusedActivation } from './registry';
import { fusedConvForward, inPlannedInference, planChain, planModel, runPlan } from './plan';
import { Conv1d, Conv2d } from './conv';
import { convReluPoolForward, fusablePool } from './conv-pool-train';
import { linear } from '../ops/linear';
import { enterInternalOutputs, leaveInternalOutputs } from '../buffer-pool';
import { isTracing } from '../autograd';
import { checkOptions, checkSeed, checkTensor, describe } from '../validate';

/** Options of nn.Sequential: seed for every layer's initialisation and dropout masks. */
export interface SequentialOptions {
  /** Seeds every Linear's initialisation and every Dropout's masks (each layer gets its own stream). */
  seed?: number;
}

function isModule(x: unknown): x is Module {
  return x instanceof Module;
}

/**
 * Layers applied one after the other; an options object as the last argument seeds every layer.
 * @example const model = new nn.Sequential(new nn.Linear(64, 128), new nn.ReLU(), new nn.Linear(128, 10), { seed: 1 });
 */
export class Sequential extends Module {
  readonly layers: Module[];
  readonly seed: number | undefined;

  /**
   * Creates the chain from layers given as arguments (an options object may come last) or as one array.
   * @param layers the layers, in order (each an nn.Module).
   * @throws Error when a layer is not a Module, more than an options object follows an array of layers, an option is unknown, or seed is not a valid seed.
   * @example
   * ```ts
   * const model = new nn.Sequential([new nn.Linear(4, 16), new nn.ReLU(), new nn.Linear(16, 3)], { seed: 1 });
   * ```
   */
  constructor(...layers: Module[]);
  constructor(...layersThenOptions: [...Module[], SequentialOptions]);
  constructor(layers: Module[], opts?: SequentialOptions);
  constructor(...args: (Module | Module[] | SequentialOptions | undefined)[]) {
    super();
    let layers: unknown[];
    let opts: SequentialOptions = {};
    if (Array.isArray(args[0])) {
      layers = args[0];
      if (args.length > 2) throw new Error(`Sequential: after the array of layers only an options object can follow, got ${args.length - 1} more arguments`);
      opts = checkOptions('Sequential', args[1] as SequentialOptions | undefined, ['seed']);
    } else {
      layers = args;
      const last = args[args.length - 1];
      if (args.length > 0 && last !== null && typeof last === 'object' && !isModule(last) && !Array.isArray(last)) {
        opts = checkOptions('Sequential', last as SequentialOptions, ['seed']);
        layers = args.slice(0, -1);
      }
    }
    layers.forEach((l, i) => {
      if (!isModule(l)) throw new Error(`Sequential: layer ${i} is not a Module, got ${describe(l)}`);
    });
    this.layers = layers as Module[];
    this.seed = opts.seed === undefined ? undefined : checkSeed('Sequential', 'seed', opts.seed);
    this.layers.forEach((l, i) => this.registerModule(String(i), l));
    // Each layer initialises itself; the Sequential's seed only hands out per-layer seeds.
    if (this.seed !== undefined) this.layers.forEach((layer, i) => layer.seedIfUnseeded(deriveSeed(this.seed as number, i)));
  }

  /**
   * Runs the layers in order, each on the previous one's output (a Linear followed by its activation runs
   * as one fused kernel).
   * @param x the first layer's input: a Tensor (e.g. [batch, features]), or an IntTensor of token ids when
   * the first layer is an Embedding.
   * @returns the last layer's output (x itself for an empty Sequential).
   * @throws Error when x is neither a Tensor nor an IntTensor, or a layer returns an array or record instead
   * of one Tensor; a layer throws for an input of the wrong shape (naming itself).
   * @example new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 2)).forward(randn([5, 4])).shape // [5, 2]
   */
  override forward(x: Tensor | IntTensor): Tensor {
    // Token ids (an IntTensor) are read by a first layer that takes them (nn.Embedding).
    if (!(x instanceof IntTensor)) {
      checkTensor('Sequential.forward', 'input', x);
      // Inside predict/predictAsync (a user Module calling this chain): the planned, native path.
      if (!this.training && inPlannedInference() && definitionOf(this) !== undefined) return runPlan(planModel(this), x);
    }
    let h = x as Tensor;
    const n = this.layers.length;
    // Outputs of built-in layers that only the next built-in layer reads are carved from shared
    // slabs (cheaper for small ones); the output the caller gets always owns its buffer.
    const { lastFresh, fused: fusedAt } = this.trainingPlan();
    for (let i = 0; i < n; i++) {
      const layer = this.layers[i];
      // ONNX export traces each layer's forward: a conv and its activation then run as they are.
      const fused = fusedAt[i] !== null && isTracing() && !(layer instanceof Linear) ? null : fusedAt[i];
      // Conv2d -> ReLU -> MaxPool2d also takes the pooling (lib/nn/conv-pool-train.ts).
      const pool = fused !== null && fused.act === 'relu' && layer instanceof Conv2d ? fusablePool(this.layers[i + 2]) : null;
      const internal = (fused ? (pool ? i + 2 : i + 1) : i) < lastFresh;
      const was = internal ? enterInternalOutputs() : false;
      try {
        if (pool !== null) {
          h = convReluPoolForward(layer as Conv2d, h, pool);
          i += 2; // the activation and the pooling ran inside the op
        } else if (fused !== null) {
          if (layer instanceof Conv2d || layer instanceof Conv1d) h = fusedConvForward(layer, h, fused);
          else {
            const lin = layer as Linear;
            lin.checkInput(h);
            h = linear(h, lin.weight, lin.bias, fused.act, fused.alpha);
          }
          i++; // the activation ran inside the fused kernel
        } else {
          const y = layer.forward(h);
          if (!(y instanceof Tensor)) throw new Error(`Sequential.forward: layer ${i} (${layer.describe()}) returned ${Array.isArray(y) ? 'an array' : 'a record'}; a layer of a Sequential must return one Tensor`);
          h = y;
        }
      } finally {
        if (internal) leaveInternalOutputs(was);
      }
    }
    return h;
  }

  /** The forward plan of the current layers, cached while the layer list stays the same. */
  private planCache: { layers: Module[]; lastFresh: number; fused: (FusedActivation | null)[] } | null = null;

  /** Which Linear runs fused with the activation after it (the planner's fusion pass), and lastFreshOutputLayer. */
  private trainingPlan(): { lastFresh: number; fused: (FusedActivation | null)[] } {
    const c = this.planCache;
    if (c !== null && sameLayers(c.layers, this.layers)) return c;
    const plan = { layers: this.layers.slice(), lastFresh: lastFreshOutputLayer(this.layers), fused: planChain(this.layers.map(inferenceRole)).fused };
    this.planCache = plan;
    return plan;
  }

  override toConfig(): SequentialConfig {
    return { type: 'Sequential', layers: this.layers.map((l) => l.toConfig()) };
  }

  override describe(): string {
    return `Sequential (${this.layers.length} layers)`;
  }
}

/**
 * When every layer is an exact built-in one (whose forward keeps no reference a user could reach),
 * the index of the last layer that returns a new array (not Flatten or Dropout, which may return a
 * view of their input); layers before it feed only built-in layers. Else -1.
 */
function lastFreshOutputLayer(layers: readonly Module[]): number {
  let last = -1;
  for (let i = 0; i < layers.length; i++) {
    const keeps = definitionOf(layers[i])?.keepsNoTensors;
    if (keeps === undefined || keeps === false || layers[i] instanceof Sequential) return -1;
    if (keeps === true) last = i;
  }
  return last;
}

function sameLayers(a: readonly Module[], b: readonly Module[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export interface SequentialConfig extends LayerConfig {
  type: 'Sequential';
  layers: LayerConfig[];
}
register<SequentialConfig>(Sequential, {
  keys: { layers: keyRules.layerList },
  fromConfig: (c, build) => new Sequential(c.layers.map(build)),
  children: (c) => c.layers,
  chain: (m) => (m as Sequential).layers,
  keepsNoTensors: true,
});

// Module: the base class of every layer (parameters, children, train/eval, state dict, summary). Inference (predict, predictAsync) lives in lib/serve.
import { Tensor, shapeToString, zeroGradOf } from '../tensor';
import type { LayerConfig } from './config';
import { checkBoolean, checkOptions, describe, invalid, isPlainObject } from '../validate';
import type { Preprocessor } from '../data/preprocess';

/** What forward returns: one tensor, several (an array), or several by name (a record of tensors). */
export type ModuleOutput = Tensor | Tensor[] | { [name: string]: Tensor };

/** Formats an integer with thousands separators: 12345 -> "12,345". */
export function formatCount(n: number): string {
  return n.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/**
 * The base class of every layer and model: parameters, child modules, train()/eval(), stateDict, predict, and a summary (toString).
 * Subclass it and implement forward to write your own layer (docs/custom-layers.md).
 */
export abstract class Module {
  /** True in training mode (dropout active); false after eval(). */
  training = true;
  /**
   * Preprocessing fitted on the training data (data.preprocessor(), or fit's `standardize` option):
   * predict, predictAsync, predictClasses, fit and evaluate apply it; save/load carry it in model.json.
   */
  preprocessor: Preprocessor | null = null;
  private readonly params = new Map<string, Tensor>();
  private readonly buffers = new Map<string, Tensor>();
  private readonly childModules = new Map<string, Module>();

  /**
   * Computes the layer's output from its input(s): one tensor, several tensors (forward(a, b)), or a
   * record of named tensors (forward({ image, meta })); it returns one tensor, an array or a record.
   * fit, evaluate, predict and predictAsync pass x as it was given (an array becomes the arguments).
   * @param inputs the input tensor(s), or one record of named tensors.
   * @returns one Tensor, or an array or record of them.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  abstract forward(...inputs: any[]): ModuleOutput;

  /**
   * The JSON-serialisable architecture (no weights); nn.fromConfig rebuilds the module from it.
   * @example new nn.Linear(64, 10).toConfig() // { type: 'Linear', inFeatures: 64, outFeatures: 10, bias: true }
   */
  abstract toConfig(): LayerConfig;

  /**
   * One line describing this layer, e.g. "Linear(64 -> 10, bias)".
   * @example new nn.Linear(64, 10).describe() // 'Linear(64 -> 10, bias)'
   */
  abstract describe(): string;

  /** Registers a trainable parameter under `name` (sets requiresGrad). */
  protected registerParameter(name: string, t: Tensor): Tensor {
    t.requiresGrad = true;
    this.params.set(name, t);
    return t;
  }

  /**
   * Registers a state tensor that is not trained (BatchNorm's running statistics): saved, loaded and
   * listed by stateDict() like parameters (PyTorch's buffers), never handed to an optimizer.
   */
  protected registerBuffer(name: string, t: Tensor): Tensor {
    this.buffers.set(name, t);
    return t;
  }

  /**
   * Every buffer with its dotted name ("1.running_mean", ...), depth first.
   * @example new nn.Sequential(new nn.Conv2d(1, 2, 3), new nn.BatchNorm2d(2)).namedBuffers().map(([n]) => n) // ['1.running_mean', '1.running_var', '1.num_batches_tracked']
   */
  namedBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const walk = (m: Module, prefix: string): void => {
      for (const [name, t] of m.buffers) out.push([prefix + name, t]);
      for (const [name, child] of m.childModules) walk(child, `${prefix}${name}.`);
    };
    walk(this, '');
    return out;
  }

  /** Registers a child module under `name` (its parameters are named "name.param"). */
  protected registerModule<M extends Module>(name: string, m: M): M {
    this.childModules.set(name, m);
    return m;
  }

  /**
   * Direct children in registration order.
   * @example model.children().map(([name, m]) => `${name}: ${m.describe()}`) // ['0: Linear(4 -> 8, bias)', '1: ReLU', ...]
   */
  children(): [string, Module][] {
    return [...this.childModules.entries()];
  }

  /**
   * Every parameter with its dotted name ("0.weight", "0.bias", "2.weight", ...), depth first.
   * @example model.namedParameters().map(([n]) => n) // ['0.weight', '0.bias', '2.weight', '2.bias']
   */
  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    const walk = (m: Module, prefix: string): void => {
      for (const [name, t] of m.params) {
        if (seen.has(t)) continue;
        seen.add(t);
        out.push([prefix + name, t]);
      }
      for (const [name, child] of m.childModules) walk(child, `${prefix}${name}.`);
    };
    walk(this, '');
    return out;
  }

  /**
   * Every trainable parameter (recursive, each once).
   * @example const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
   */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /**
   * Total number of parameter elements.
   * @example new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 2)).numParameters() // 58
   */
  numParameters(): number {
    return this.parameters().reduce((s, t) => s + t.size, 0);
  }

  /**
   * Sets training mode on this module and all children.
   * @param mode true for training (default), false for inference.
   * @returns this module.
   * @throws Error when mode is not a boolean.
   * @example model.train(); // training steps, then model.eval() for inference
   */
  train(mode = true): this {
    checkBoolean('train', 'mode', mode);
    this.training = mode;
    for (const child of this.childModules.values()) child.train(mode);
    return this;
  }

  /**
   * Inference mode (dropout off). Same as train(false).
   * @example model.eval(); const y = model.forward(x); // dropout off
   */
  eval(): this {
    return this.train(false);
  }

  /**
   * Zeroes every parameter's gradient in place (or drops the buffers with setToNull).
   * @param opts setToNull: drop the gradient buffers instead of zeroing them (default false).
   * @throws Error for an unknown option or a setToNull that is not a boolean.
   * @example model.zeroGrad(); loss.backward();
   */
  zeroGrad(opts: { setToNull?: boolean } = {}): void {
    const o = checkOptions('zeroGrad', opts, ['setToNull']);
    if (o.setToNull !== undefined) checkBoolean('zeroGrad', 'setToNull', o.setToNull);
    for (const p of this.parameters()) zeroGradOf(p, o.setToNull === true);
  }

  /**
   * Seeds the layer's random draws (initial weights, dropout masks) from `seed` unless it was given its
   * own seed. Sequential({ seed }) calls it with a per-layer seed. Layers without random draws ignore it.
   * @param seed the seed offered.
   * @example layer.seedIfUnseeded(7); // draws its weights from seed 7 unless it was built with a seed
   */
  seedIfUnseeded(seed: number): void {
    void seed;
  }

  /**
   * Width of the input rows this module expects, when known (used to shape Float32Array inputs).
   * @example new nn.Linear(64, 10).inputFeatures() // 64
   */
  inputFeatures(): number | null {
    for (const child of this.childModules.values()) {
      const f = child.inputFeatures();
      if (f !== null) return f;
    }
    return null;
  }

  /**
   * Parameters and buffers by name. The tensors are the live ones (not copies).
   * @example Object.keys(new nn.Linear(4, 2).stateDict()) // ['weight', 'bias']
   */
  stateDict(): Record<string, Tensor> {
    // PyTorch's order: each module's parameters, then its buffers, then its children.
    const params = new Map(this.namedParameters().map(([n, t]) => [t, n]));
    const out: Record<string, Tensor> = {};
    const walk = (m: Module, prefix: string): void => {
      for (const t of m.params.values()) if (params.has(t)) out[params.get(t) as string] = t;
      for (const [name, t] of m.buffers) out[prefix + name] = t;
      for (const [name, child] of m.childModules) walk(child, `${prefix}${name}.`);
    };
    walk(this, '');
    return out;
  }

  /**
   * Copies values into the parameters and buffers. Every one must be present with the right number of
   * elements (and shape, for Tensors); unknown keys are an error.
   * @param sd values by parameter or buffer name, as stateDict() returns (Tensors or Float32Arrays).
   * @throws Error when sd is not an object, has a key the module does not know, misses one, or a value has the wrong number of elements (or shape, for a Tensor).
   * @example
   * ```ts
   * const copy = new nn.Linear(4, 2); copy.loadStateDict(layer.stateDict());
   * ```
   */
  loadStateDict(sd: Record<string, Tensor | Float32Array>): void {
    if (!isPlainObject(sd)) {
      invalid('loadStateDict', 'the state dict', 'an object mapping parameter names to Tensors or Float32Arrays (as stateDict() returns)', sd);
    }
    const named = Object.entries(this.stateDict());
    const known = new Set(named.map(([n]) => n));
    const unexpected = Object.keys(sd).filter((k) => !known.has(k));
    if (unexpected.length > 0) {
      throw new Error(`loadStateDict: unexpected key(s) ${unexpected.map((k) => `'${k}'`).join(', ')}`);
    }
    const missing = named.map(([n]) => n).filter((n) => !(n in sd));
    if (missing.length > 0) {
      throw new Error(`loadStateDict: missing key(s) ${missing.map((k) => `'${k}'`).join(', ')}`);
    }
    // Validate everything before changing anything, so a bad dict leaves the model untouched.
    for (const [name, p] of named) {
      const v = sd[name];
      if (v instanceof Tensor) {
        if (shapeToString(v.shape) !== shapeToString(p.shape)) {
          throw new Error(
            `loadStateDict: '${name}' has shape ${shapeToString(v.shape)}, the model expects ${shapeToString(p.shape)}`,
          );
        }
      } else if (!(v instanceof Float32Array) || v.length !== p.size) {
        const got = v instanceof Float32Array ? `has ${v.length} elements` : `is ${describe(v)}, not a Tensor or Float32Array`;
        throw new Error(
          `loadStateDict: '${name}' ${got}, the model expects shape ${shapeToString(p.shape)} (${p.size} elements)`,
        );
      }
    }
    for (const [name, p] of named) {
      const v = sd[name];
      p.data.set(v instanceof Tensor ? v.data : v);
      p._version++;
    }
  }

  /**
   * A summary: each layer with its parameter count, and the total.
   * @example console.log(String(model)); // Sequential (3 layers), one line per layer with its parameters, the total
   */
  toString(): string {
    const lines: string[] = [];
    const rows: [string, number][] = [];
    const walk = (m: Module, label: string, depth: number): void => {
      const own = [...m.params.values()].reduce((s, t) => s + t.size, 0);
      rows.push([`${'  '.repeat(depth)}${label}${m.describe()}`, own]);
      for (const [name, child] of m.childModules) walk(child, `(${name}) `, depth + 1);
    };
    walk(this, '', 0);
    const width = Math.max(...rows.map(([s]) => s.length)) + 2;
    for (const [s, n] of rows) lines.push(n > 0 ? `${s.padEnd(width)}${formatCount(n)} params` : s);
    lines.push(`Total parameters: ${formatCount(this.numParameters())}`);
    return lines.join('\n');
  }
}

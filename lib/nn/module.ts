// Module: the base class of every layer (parameters, train/eval, state dict, summary, predict).
import { noGrad } from '../autograd';
import { Tensor, shapeToString, zeroGradOf } from '../tensor';
import { IntTensor } from '../int-tensor';
import { concat } from '../ops/shape';
import type { LayerConfig } from './config';
import { predictAsync, type PredictAsyncOptions } from '../serve/predict';
import { shapeInput, type InputShapeOptions } from '../serve/input';
import type { DenseInference } from './dense-inference';
import { checkBoolean, checkOptions, checkPositiveInt, describe, invalid, isPlainObject } from '../validate';
import { classesOf, type Preprocessor } from '../data/preprocess';
import { PREDICT_BATCH_SIZE } from '../constants';

export interface PredictOptions extends InputShapeOptions {
  /** Rows per forward pass (default 1024); bounds peak memory on large inputs. */
  batchSize?: number;
}

/** Formats an integer with thousands separators: 12345 -> "12,345". */
export function formatCount(n: number): string {
  return n.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

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

  /** Computes the layer's output. */
  abstract forward(x: Tensor): Tensor;

  /** The JSON-serialisable architecture (no weights); nn.fromConfig rebuilds the module from it. */
  abstract toConfig(): LayerConfig;

  /** One line describing this layer, e.g. "Linear(64 -> 10, bias)". */
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

  /** Every buffer with its dotted name ("1.running_mean", ...), depth first. */
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

  /** Direct children in registration order. */
  children(): [string, Module][] {
    return [...this.childModules.entries()];
  }

  /** Every parameter with its dotted name ("0.weight", "0.bias", "2.weight", ...), depth first. */
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

  /** Every trainable parameter (recursive, each once). */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Total number of parameter elements. */
  numParameters(): number {
    return this.parameters().reduce((s, t) => s + t.size, 0);
  }

  /** Sets training mode on this module and all children. */
  train(mode = true): this {
    checkBoolean('train', 'mode', mode);
    this.training = mode;
    for (const child of this.childModules.values()) child.train(mode);
    return this;
  }

  /** Inference mode (dropout off). Same as train(false). */
  eval(): this {
    return this.train(false);
  }

  /** Zeroes every parameter's gradient in place (or drops the buffers with setToNull). */
  zeroGrad(opts: { setToNull?: boolean } = {}): void {
    const o = checkOptions('zeroGrad', opts, ['setToNull']);
    if (o.setToNull !== undefined) checkBoolean('zeroGrad', 'setToNull', o.setToNull);
    for (const p of this.parameters()) zeroGradOf(p, o.setToNull === true);
  }

  /**
   * Seeds the layer's random draws (initial weights, dropout masks) from `seed` unless it was given its
   * own seed. Sequential({ seed }) calls it with a per-layer seed. Layers without random draws ignore it.
   */
  seedIfUnseeded(seed: number): void {
    void seed;
  }

  /**
   * A tape-free inference plan computing what forward() computes in eval mode (the same fused
   * Linear+activation steps; from 64 rows one forwardDense call), or null when this module has none
   * (predict then runs forward under noGrad). Sequential MLPs have one.
   */
  protected denseInference(): DenseInference | null {
    return null;
  }

  /** Width of the input rows this module expects, when known (used to shape Float32Array inputs). */
  inputFeatures(): number | null {
    for (const child of this.childModules.values()) {
      const f = child.inputFeatures();
      if (f !== null) return f;
    }
    return null;
  }

  /** Parameters and buffers by name. The tensors are the live ones (not copies). */
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

  /** A summary: each layer with its parameter count, and the total. */
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

  /**
   * Inference: runs forward in eval mode without recording gradients, in batches of rows. x is a
   * Tensor [rows, ...] (or an IntTensor of token ids, for a model that starts with an Embedding), or a
   * flat Float32Array with opts.features (values per row) or opts.rows: a
   * flat array carries no row width, so it is never guessed. Restores the training mode.
   */
  predict(x: Tensor | Float32Array | IntTensor, opts: PredictOptions = {}): Tensor {
    // Token ids: the same values as float32, which an Embedding reads as ids (exact up to 2^24).
    if (x instanceof IntTensor) {
      const big = x.data.findIndex((v) => v > 16777216 || v < -16777216);
      if (big >= 0) throw new Error(`predict: id ${x.data[big]} at position ${big} is beyond 2^24, which predict cannot pass exactly (call forward with the IntTensor)`);
      x = x.toFloat();
    }
    const prep = this.preprocessor;
    if (prep !== null) {
      // With a preprocessor: inputs shaped (a flat array needs features or rows), filled and scaled
      // first; regression outputs mapped back to the targets' units.
      const o = checkOptions('predict', opts, ['batchSize', 'features', 'rows']);
      const shaped = shapeInput('predict', x, o, { width: prep.features, flattens: false });
      return prep.outputs(this.predictModel(prep.inputs(shaped, 'predict'), o.batchSize === undefined ? {} : { batchSize: o.batchSize }));
    }
    return this.predictModel(x, opts);
  }

  /**
   * The class of each input row: argmax of the outputs (a single output is a logit for class 1), as
   * the class names the preprocessor holds (string labels from readCsv), else the index as text.
   */
  predictClasses(x: Tensor | Float32Array, opts: PredictOptions = {}): string[] {
    const prep = this.preprocessor;
    const scores = this.predict(x, opts);
    return prep !== null ? prep.classesOf(scores) : classesOf(scores, null);
  }

  private predictModel(x: Tensor | Float32Array, opts: PredictOptions): Tensor {
    const o = checkOptions('predict', opts, ['batchSize', 'features', 'rows']);
    const batchSize = o.batchSize === undefined ? PREDICT_BATCH_SIZE : checkPositiveInt('predict', 'batchSize', o.batchSize);
    if (o.features !== undefined) checkPositiveInt('predict', 'features', o.features);
    if (o.rows !== undefined) checkPositiveInt('predict', 'rows', o.rows);
    // The model's width checks a flat array's declared row width; a Tensor's shape is checked by forward.
    const width = x instanceof Float32Array ? this.inputFeatures() : null;
    const input = shapeInput('predict', x, o, { width, flattens: false });
    // Fast path: a compiled plan of fused dense layers (no tape, no mode switch, cached scratch).
    const plan = this.denseInference();
    if (plan !== null && input.ndim === 2 && input.shape[1] === plan.inFeatures) {
      return plan.run(input.data, input.shape[0], batchSize);
    }
    const wasTraining = this.training;
    this.eval();
    try {
      return noGrad(() => {
        const rows = input.ndim === 0 ? 1 : input.shape[0];
        if (rows <= batchSize) return this.forward(input);
        const parts: Tensor[] = [];
        for (let start = 0; start < rows; start += batchSize) parts.push(this.forward(input.slice(start, start + batchSize)));
        return concat(parts, 0);
      });
    } finally {
      this.train(wasTraining);
    }
  }

  /**
   * Non-blocking batched inference (lib/serve): the layers become a plan of fused dense layers that
   * backend.forwardAsync runs off the main thread (native backend). A model the planner cannot turn
   * into dense steps runs through forward instead, like predict.
   */
  predictAsync(x: Tensor | Float32Array, opts: PredictAsyncOptions = {}): Promise<Tensor> {
    return predictAsync(this, x, opts);
  }
}

// Optimizer base: parameter list, zeroGrad, lr, per-parameter state and its (JSON-able) state dict.
import { Tensor, shapeToString } from '../tensor';

/** One parameter's optimizer state: moment buffers and counters. */
export type ParamState = Record<string, Float32Array | number>;

/** A saved optimizer: JSON-able except the Float32Array buffers (safetensors/JSON writers handle those). */
export interface OptimizerStateDict {
  /** The optimizer class name ('SGD', 'Adam', 'AdamW', 'RMSprop'). */
  type: string;
  /** Hyperparameters, including the current lr. */
  hyper: Record<string, number | boolean>;
  /** Per-parameter state in parameter order (null where a parameter has no state yet). */
  state: (ParamState | null)[];
}

export function checkNonNegative(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new Error(`${op}: ${name} must be a non-negative finite number, got ${String(v)}`);
  }
  return v;
}

export function checkFraction(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) {
    throw new Error(`${op}: ${name} must be in [0, 1), got ${String(v)}`);
  }
  return v;
}

export abstract class Optimizer {
  /** The parameters this optimizer updates (in order; state is indexed by position). */
  readonly params: Tensor[];
  protected readonly hyper: Record<string, number | boolean>;
  protected state: (ParamState | null)[];

  constructor(params: Iterable<Tensor>, hyper: Record<string, number | boolean>) {
    this.params = [...params];
    const name = this.constructor.name;
    if (this.params.length === 0) throw new Error(`${name}: got an empty parameter list`);
    this.params.forEach((p, i) => {
      if (!(p instanceof Tensor)) throw new Error(`${name}: parameter ${i} is not a Tensor`);
    });
    if (new Set(this.params).size !== this.params.length) {
      throw new Error(`${name}: the parameter list contains the same tensor more than once`);
    }
    checkNonNegative(name, 'lr', hyper.lr);
    this.hyper = { ...hyper };
    this.state = this.params.map(() => null);
  }

  /** Learning rate (schedules set it). */
  get lr(): number {
    return this.hyper.lr as number;
  }
  set lr(value: number) {
    this.hyper.lr = checkNonNegative(this.constructor.name, 'lr', value);
  }

  /** A copy of the hyperparameters. */
  get hyperparameters(): Record<string, number | boolean> {
    return { ...this.hyper };
  }

  /**
   * Zeroes every parameter's gradient in place: the buffers are kept, so the next backward
   * accumulates into them without allocating. With setToNull the gradients are dropped instead
   * (then step() skips parameters that get no new gradient, like PyTorch's set_to_none).
   */
  zeroGrad(opts: { setToNull?: boolean } = {}): void {
    for (const p of this.params) p.zeroGrad(opts);
  }

  /** Updates every parameter that has a gradient. */
  step(): void {
    const name = this.constructor.name;
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i];
      if (p.grad === null) continue;
      if (p.grad.size !== p.size) {
        throw new Error(
          `${name}.step: gradient of parameter ${i} has shape ${shapeToString(p.grad.shape)}, parameter has ${shapeToString(p.shape)}`,
        );
      }
      this.updateParam(i, p, p.grad.data);
      p._version++; // the weights changed in place (predictAsync's copy is stale)
    }
  }

  /** Applies one update to parameter i (grad has p.size elements). */
  protected abstract updateParam(i: number, p: Tensor, grad: Float32Array): void;

  /** Names and lengths of the buffers each parameter's state holds (for validating loaded state). */
  protected abstract stateBuffers(p: Tensor): string[];

  /** The optimizer's full state (hyperparameters and copies of all moment buffers). */
  stateDict(): OptimizerStateDict {
    return {
      type: this.constructor.name,
      hyper: { ...this.hyper },
      state: this.state.map((s) => {
        if (s === null) return null;
        const copy: ParamState = {};
        for (const [k, v] of Object.entries(s)) copy[k] = v instanceof Float32Array ? Float32Array.from(v) : v;
        return copy;
      }),
    };
  }

  /** Restores a stateDict(); subsequent steps are identical to the optimizer it was saved from. */
  loadStateDict(sd: OptimizerStateDict): void {
    const name = this.constructor.name;
    if (!sd || typeof sd !== 'object') throw new Error(`${name}.loadStateDict: expected a state dict object`);
    if (sd.type !== name) throw new Error(`${name}.loadStateDict: state dict is for '${String(sd.type)}', not '${name}'`);
    if (!Array.isArray(sd.state) || sd.state.length !== this.params.length) {
      throw new Error(
        `${name}.loadStateDict: state has ${Array.isArray(sd.state) ? sd.state.length : 'no'} parameter entries, ` +
          `the optimizer has ${this.params.length} parameters`,
      );
    }
    const restored: (ParamState | null)[] = sd.state.map((s, i) => {
      if (s === null) return null;
      const p = this.params[i];
      const out: ParamState = {};
      for (const key of this.stateBuffers(p)) {
        const v = s[key];
        if (v === undefined) continue; // e.g. a momentum buffer that was never created
        const arr = v instanceof Float32Array ? v : Array.isArray(v) ? Float32Array.from(v as number[]) : null;
        if (arr === null || arr.length !== p.size) {
          throw new Error(
            `${name}.loadStateDict: '${key}' of parameter ${i} has ${arr ? arr.length : typeof v} elements, ` +
              `parameter shape ${shapeToString(p.shape)} needs ${p.size}`,
          );
        }
        out[key] = Float32Array.from(arr);
      }
      for (const [k, v] of Object.entries(s)) if (typeof v === 'number') out[k] = v;
      return out;
    });
    for (const [k, v] of Object.entries(sd.hyper ?? {})) {
      if (!(k in this.hyper)) throw new Error(`${name}.loadStateDict: unknown hyperparameter '${k}'`);
      if (typeof v !== typeof this.hyper[k]) {
        throw new Error(`${name}.loadStateDict: hyperparameter '${k}' should be a ${typeof this.hyper[k]}, got ${typeof v}`);
      }
    }
    Object.assign(this.hyper, sd.hyper);
    this.state = restored;
  }
}

// Optimizer base: parameter list, zeroGrad, lr, per-parameter state and its (JSON-able) state dict.
import { Tensor, shapeToString, zeroGradOf } from '../tensor';
import {
  argumentError, checkBoolean, checkNonNegativeInt, checkNumber, checkOptions, checkTensorList, describe, invalid, isPlainObject,
} from '../validate';

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

/** What every optimizer's hyperparameters hold: lr, and other numbers or flags. */
export interface BaseHyper {
  lr: number;
}

/** Checks one hyperparameter's value: (where, name, value) -> the value. */
export type HyperCheck<T extends number | boolean = number | boolean> = (where: string, name: string, v: unknown) => T;

/** The checks hyperparameters use, by kind (the same at construction, by the lr setter and in loadStateDict). */
export const hyperChecks = {
  /** A finite number >= 0 (lr: PyTorch's rule, lr = 0 freezes the weights; weightDecay). */
  nonNegative: (where: string, name: string, v: unknown): number => checkNumber(where, name, v, { min: 0 }),
  /** A number in [0, 1) (betas, momentum, alpha). */
  fraction: (where: string, name: string, v: unknown): number => checkNumber(where, name, v, { min: 0, below: 1 }),
  /** A finite number > 0 (eps). */
  positive: (where: string, name: string, v: unknown): number => checkNumber(where, name, v, { above: 0 }),
  flag: (where: string, name: string, v: unknown): boolean => checkBoolean(where, name, v),
} as const;

/** Hyperparameter name -> its check, for every key of H. */
export type HyperSpec<H> = { readonly [K in keyof H]: HyperCheck<H[K] extends boolean ? boolean : number> };

const ZERO_GRAD_OPTIONS = ['setToNull'] as const;

/** The defaults with every option the caller gave (an option given as undefined keeps its default). */
export function withDefaults<H extends BaseHyper>(defaults: Readonly<H>, given: Partial<H>): H {
  const out = { ...defaults } as H;
  for (const k of Object.keys(given) as (keyof H)[]) if (given[k] !== undefined) out[k] = given[k] as H[keyof H];
  return out;
}

/** The spec of an optimizer that gives none (a user's subclass): lr >= 0, other numbers finite, flags booleans. */
function specFromValues<H extends BaseHyper>(hyper: H): HyperSpec<H> {
  const spec: Record<string, HyperCheck> = {};
  for (const [k, v] of Object.entries(hyper)) {
    spec[k] = k === 'lr' ? hyperChecks.nonNegative : typeof v === 'boolean' ? hyperChecks.flag : (where, name, x) => checkNumber(where, name, x);
  }
  return spec as HyperSpec<H>;
}

/**
 * Base of the optimizers. H is the optimizer's hyperparameters (typed: SGDHyper, AdamHyper, ...), each
 * checked by its spec at construction, by the lr setter and by loadStateDict; lr is always a finite
 * number >= 0 (hyperChecks.nonNegative), the one rule wherever an lr is given.
 */
export abstract class Optimizer<H extends BaseHyper = BaseHyper> {
  /** The parameters this optimizer updates (in order; state is indexed by position). */
  readonly params: Tensor[];
  protected readonly hyper: H;
  protected state: (ParamState | null)[];

  /** How each hyperparameter is checked (at construction, by the lr setter and by loadStateDict). */
  private readonly spec: HyperSpec<H>;

  /**
   * The base constructor a subclass calls (SGD, Adam, ... or your own optimizer).
   * @param params the tensors to update (any iterable, e.g. model.parameters()); each at most once.
   * @param hyper every hyperparameter's starting value, lr included (the subclass merges its defaults in first).
   * @param spec how each hyperparameter is checked, by name (default: lr >= 0, other numbers finite, booleans
   * booleans, as given in hyper). lr is always checked by hyperChecks.nonNegative, whatever the spec says.
   * @throws Error when params is not an iterable of Tensors, is empty or holds the same tensor twice, hyper has a
   * name the spec does not know or lacks one it does, a value fails its check, or checkHyperTogether rejects the
   * combination.
   * @example
   * ```ts
   * class SignSGD extends optim.Optimizer {
   *   constructor(params, lr = 0.01) { super(params, { lr }); }
   *   updateParam(i, p, grad) { for (let j = 0; j < p.size; j++) p.data[j] -= this.lr * Math.sign(grad[j]); }
   *   stateBuffers() { return []; }
   * }
   * ```
   */
  constructor(params: Iterable<Tensor>, hyper: H, spec: HyperSpec<H> = specFromValues(hyper)) {
    const name = this.constructor.name;
    this.params = checkTensorList(name, 'params', params);
    if (this.params.length === 0) throw new Error(`${name}: got an empty parameter list`);
    if (new Set(this.params).size !== this.params.length) {
      throw new Error(`${name}: the parameter list contains the same tensor more than once`);
    }
    this.spec = { ...spec, lr: hyperChecks.nonNegative };
    this.hyper = this.checkedHyper(name, hyper as unknown as Record<string, unknown>, true);
    this.state = this.params.map(() => null);
  }

  /**
   * Every entry of `hyper` checked by the spec (unknown names are an Error; with complete, missing
   * ones too), then checkHyperTogether on the result merged over the current values.
   */
  private checkedHyper(where: string, hyper: Record<string, unknown>, complete: boolean): H {
    const spec = this.spec as Record<string, HyperCheck>;
    const out: Record<string, number | boolean> = complete ? {} : { ...(this.hyper as unknown as Record<string, number | boolean>) };
    for (const [k, v] of Object.entries(hyper)) {
      const check = Object.prototype.hasOwnProperty.call(spec, k) ? spec[k] : undefined;
      if (check === undefined) {
        throw argumentError(where, `unknown hyperparameter '${k}' (${this.constructor.name} has: ${Object.keys(spec).join(', ')})`);
      }
      out[k] = check(where, k, v);
    }
    if (complete) {
      for (const k of Object.keys(spec)) if (!(k in out)) throw argumentError(where, `hyperparameter '${k}' is missing`);
    }
    // every key of H is present and checked by its spec entry
    const checked = out as unknown as H;
    this.checkHyperTogether(where, checked);
    return checked;
  }

  /** Checks between hyperparameters (e.g. SGD's nesterov needs momentum); throws an Error. */
  protected checkHyperTogether(_where: string, _hyper: H): void {}

  /** Learning rate (schedules set it). */
  get lr(): number {
    return this.hyper.lr;
  }
  set lr(value: number) {
    this.hyper.lr = hyperChecks.nonNegative(this.constructor.name, 'lr', value);
  }

  /** A copy of the hyperparameters. */
  get hyperparameters(): H {
    return { ...this.hyper };
  }

  /**
   * Zeroes every parameter's gradient in place: the buffers are kept, so the next backward
   * accumulates into them without allocating. With setToNull the gradients are dropped instead
   * (then step() skips parameters that get no new gradient, like PyTorch's set_to_none).
   * @param opts setToNull: drop the gradients instead of zeroing them (default false).
   * @throws Error for an unknown option or a setToNull that is not a boolean.
   * @example opt.zeroGrad(); loss.backward(); opt.step();
   */
  zeroGrad(opts: { setToNull?: boolean } = {}): void {
    const o = checkOptions(`${this.constructor.name}.zeroGrad`, opts, ZERO_GRAD_OPTIONS);
    if (o.setToNull !== undefined && typeof o.setToNull !== 'boolean') checkBoolean(`${this.constructor.name}.zeroGrad`, 'setToNull', o.setToNull);
    for (const p of this.params) zeroGradOf(p, o.setToNull === true);
  }

  /**
   * Updates every parameter that has a gradient.
   * @throws Error when a parameter's gradient has a different size from the parameter.
   * @example opt.zeroGrad(); loss.backward(); opt.step();
   */
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

  /**
   * The optimizer's full state (hyperparameters and copies of all moment buffers).
   * @example const saved = opt.stateDict(); // later: opt.loadStateDict(saved)
   */
  stateDict(): OptimizerStateDict {
    return {
      type: this.constructor.name,
      hyper: { ...this.hyper } as unknown as Record<string, number | boolean>,
      state: this.state.map((s) => {
        if (s === null) return null;
        const copy: ParamState = {};
        for (const [k, v] of Object.entries(s)) copy[k] = v instanceof Float32Array ? Float32Array.from(v) : v;
        return copy;
      }),
    };
  }

  /**
   * Restores a stateDict(); subsequent steps are identical to the optimizer it was saved from.
   * @param sd what stateDict() returned (from an optimizer of the same class over the same parameters).
   * @throws Error when sd is not such an object, is for another optimizer class, has another number of parameter entries or a state buffer of the wrong length, or a hyperparameter is unknown or out of range.
   * @example
   * ```ts
   * const opt2 = new optim.Adam(model.parameters()); opt2.loadStateDict(opt.stateDict());
   * ```
   */
  loadStateDict(sd: OptimizerStateDict): void {
    const name = this.constructor.name;
    const where = `${name}.loadStateDict`;
    if (!isPlainObject(sd)) invalid(where, 'the state dict', 'an object { type, hyper, state } as stateDict() returns', sd);
    if (sd.type !== name) {
      throw new Error(`${where}: state dict is for ${typeof sd.type === 'string' ? `'${sd.type}'` : describe(sd.type)}, not '${name}'`);
    }
    if (sd.hyper !== undefined && !isPlainObject(sd.hyper)) invalid(where, 'hyper', 'an object of hyperparameters', sd.hyper);
    if (!Array.isArray(sd.state) || sd.state.length !== this.params.length) {
      throw new Error(
        `${name}.loadStateDict: state has ${Array.isArray(sd.state) ? sd.state.length : 'no'} parameter entries, ` +
          `the optimizer has ${this.params.length} parameters`,
      );
    }
    const restored: (ParamState | null)[] = sd.state.map((s, i) => {
      if (s === null) return null;
      if (!isPlainObject(s)) invalid(where, `state[${i}]`, 'an object of buffers and counters (or null)', s);
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
      for (const [k, v] of Object.entries(s)) {
        if (typeof v === 'number') out[k] = checkNonNegativeInt(where, `state[${i}].${k} (a step counter)`, v);
      }
      return out;
    });
    const hyper = this.checkedHyper(where, (sd.hyper ?? {}) as Record<string, unknown>, false);
    Object.assign(this.hyper, hyper);
    this.state = restored;
  }
}

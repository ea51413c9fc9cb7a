// Builds fit()'s optimizer from an instance or a name ('adam', 'sgd', 'adamw', 'rmsprop'), with the classes' own defaults (lib/optim/defaults.ts).
import type { Tensor } from '../tensor';
import { SGD, Adam, AdamW, RMSprop } from '../optim';
import { OPTIMIZER_DEFAULTS, type OptimizerName } from '../optim/defaults';
import type { TrainableOptimizer } from './types';

export type { OptimizerName } from '../optim/defaults';

const BUILD: Record<OptimizerName, (params: Tensor[], opts: { lr?: number }) => TrainableOptimizer> = {
  adam: (p, o) => new Adam(p, o),
  adamw: (p, o) => new AdamW(p, o),
  rmsprop: (p, o) => new RMSprop(p, o),
  sgd: (p, o) => new SGD(p, o),
};

function isOptimizer(o: unknown): o is TrainableOptimizer {
  return typeof o === 'object' && o !== null && typeof (o as TrainableOptimizer).step === 'function' &&
    typeof (o as TrainableOptimizer).zeroGrad === 'function';
}

/** The optimizer fit will use: the instance as given, or a new one over params (lr checked by the optimizer's one rule). */
export function makeOptimizer(spec: TrainableOptimizer | OptimizerName, params: Tensor[], lr?: number): TrainableOptimizer {
  if (isOptimizer(spec)) {
    if (lr !== undefined) {
      // Overwriting the instance's lr silently hid which one trained (issue 11).
      const name = (spec as object).constructor?.name ?? 'optimizer';
      throw new Error(
        "fit: pass lr to the optimizer you constructed, or pass optimizer: 'adam' with lr " +
          `(got lr: ${String(lr)} and ${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name} instance whose lr is ${String(spec.lr)})`,
      );
    }
    return spec;
  }
  const name = typeof spec === 'string' ? (spec.toLowerCase() as OptimizerName) : spec;
  if (typeof name !== 'string' || !Object.prototype.hasOwnProperty.call(OPTIMIZER_DEFAULTS, name)) {
    throw new Error(`fit: unknown optimizer ${JSON.stringify(spec)} (known: 'adam', 'sgd', 'adamw', 'rmsprop', or an optimizer instance)`);
  }
  if (params.length === 0) throw new Error('fit: the model has no parameters to train');
  return BUILD[name](params, lr === undefined ? {} : { lr });
}

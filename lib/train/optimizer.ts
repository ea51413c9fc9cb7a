// Builds fit()'s optimizer from an instance or a name + learning-rate shorthand ('adam', 'sgd', 'adamw', 'rmsprop').
import type { Tensor } from '../tensor';
import { SGD, Adam, AdamW, RMSprop } from '../optim';
import type { TrainableOptimizer } from './types';

export type OptimizerName = 'adam' | 'sgd' | 'adamw' | 'rmsprop';

/** Default learning rate per named optimizer (PyTorch/Keras conventions). */
const DEFAULT_LR: Record<OptimizerName, number> = { adam: 1e-3, adamw: 1e-3, rmsprop: 1e-3, sgd: 1e-2 };

function isOptimizer(o: unknown): o is TrainableOptimizer {
  return typeof o === 'object' && o !== null && typeof (o as TrainableOptimizer).step === 'function' &&
    typeof (o as TrainableOptimizer).zeroGrad === 'function';
}

/** The optimizer fit will use: the instance as given, or a new one over params. */
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
  if (typeof name !== 'string' || !(name in DEFAULT_LR)) {
    throw new Error(`fit: unknown optimizer ${JSON.stringify(spec)} (known: 'adam', 'sgd', 'adamw', 'rmsprop', or an optimizer instance)`);
  }
  const rate = lr ?? DEFAULT_LR[name];
  if (!(rate > 0) || !Number.isFinite(rate)) throw new Error(`fit: lr must be a positive finite number, got ${lr}`);
  if (params.length === 0) throw new Error('fit: the model has no parameters to train');
  switch (name) {
    case 'adam':
      return new Adam(params, { lr: rate });
    case 'adamw':
      return new AdamW(params, { lr: rate });
    case 'rmsprop':
      return new RMSprop(params, { lr: rate });
    case 'sgd':
      return new SGD(params, { lr: rate });
  }
}

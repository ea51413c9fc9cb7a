// Mixed-precision autocast: the scope ('fp32' or 'bf16') in which Linear and matmul choose their matrix-product kernels.
import { AsyncLocalStorage } from 'async_hooks';
import { checkOneOf } from './validate';

/**
 * The precision of the matrix products in training: 'fp32' (default: float32 throughout) or 'bf16'
 * (operands rounded to bfloat16, products summed in float32; weights, gradients, optimizer state and
 * elementwise ops stay float32).
 */
export type Precision = 'fp32' | 'bf16';

/** The precisions autocast and fit accept. */
export const PRECISIONS: readonly Precision[] = ['fp32', 'bf16'];

const scope = new AsyncLocalStorage<Precision>();

/** The precision in effect here: the innermost autocast scope's, else 'fp32'. */
export function currentPrecision(): Precision {
  return scope.getStore() ?? 'fp32';
}

/**
 * Runs fn with the matrix products of nn.Linear (forward and both backward products), ops.linear and
 * matmul / bmm in `precision`, and returns what fn returns. 'bf16' rounds each product's operands to bfloat16 and
 * sums in float32 (vdpbf16ps on CPUs with AVX512-BF16; elsewhere the same maths on the float32 kernels):
 * the weights stay float32 (the master copy the optimizer updates), as do gradients, optimizer state,
 * activations, losses and every elementwise op. bf16 keeps float32's exponent range, so no loss
 * scaling is needed (float16 needs it because its small gradients underflow). The scope follows
 * async code started inside fn (awaits included); a backward pass uses the precision its forward ran in.
 * Nested scopes: the innermost wins.
 * @param precision 'fp32' or 'bf16'.
 * @param fn the code to run (sync or async).
 * @returns fn's result.
 * @throws Error when precision is not 'fp32' or 'bf16', or fn is not a function.
 * @example
 * ```ts
 * const loss = autocast('bf16', () => {
 *   const l = nn.crossEntropy(model.forward(x), labels);
 *   l.backward();
 *   return l;
 * });
 * ```
 */
export function autocast<T>(precision: Precision, fn: () => T): T {
  const p = checkOneOf('autocast', 'precision', precision, PRECISIONS);
  if (typeof fn !== 'function') throw new Error(`autocast: fn must be a function, got ${fn === null ? 'null' : typeof fn}`);
  return scope.run(p, fn);
}

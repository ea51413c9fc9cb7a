// Options-object checks for predictAsync and the batcher, in the vocabulary of lib/validate.ts: unknown keys and wrong value types name the option and the value.
import { checkBoolean, checkFunction, checkNumber, checkOptions as checkKnownOptions, checkPositiveInt, invalid } from '../validate';

/** What an option's value must be (undefined always means "use the default"). */
export type OptionKind = 'positive integer' | 'non-negative number' | 'boolean' | 'function' | 'backend' | 'abort signal';

function isBackend(v: unknown): boolean {
  const b = v as { forwardAsync?: unknown; freezePlan?: unknown } | null;
  return typeof b === 'object' && b !== null && typeof b.forwardAsync === 'function' && typeof b.freezePlan === 'function';
}

/**
 * Checks an options argument: undefined, or a plain object whose keys are all in `kinds` and whose
 * values are undefined or of the given kind. Returns the options ({} for undefined); throws
 * "op: onProgress must be a function, got 5" or "op: unknown option 'batchsize' (did you mean ...)".
 */
export function checkOptions<K extends string>(op: string, options: unknown, kinds: Record<K, OptionKind>): Partial<Record<K, unknown>> {
  const o = checkKnownOptions(op, options as Partial<Record<K, unknown>> | undefined, Object.keys(kinds));
  for (const key of Object.keys(kinds) as K[]) {
    const v = o[key];
    if (v === undefined) continue;
    switch (kinds[key]) {
      case 'positive integer':
        checkPositiveInt(op, key, v);
        break;
      case 'non-negative number':
        checkNumber(op, key, v, { min: 0 });
        break;
      case 'boolean':
        checkBoolean(op, key, v);
        break;
      case 'function':
        checkFunction(op, key, v);
        break;
      case 'backend':
        if (!isBackend(v)) invalid(op, key, 'a backend (an object with forwardAsync and freezePlan)', v);
        break;
      case 'abort signal':
        if (!(v instanceof AbortSignal)) invalid(op, key, 'an AbortSignal', v);
        break;
    }
  }
  return o;
}

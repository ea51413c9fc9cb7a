// Options-object checks for predict/predictAsync: unknown keys and wrong value types name the option and the value.

/** What an option's value must be (undefined always means "use the default"). */
export type OptionKind = 'positive integer' | 'function' | 'backend';

/** A short description of a value for error messages: 5, 5n, 'abc', null, an Array, a Float32Array. */
export function describeValue(v: unknown): string {
  if (typeof v === 'string') return `'${v.length > 40 ? `${v.slice(0, 40)}...` : v}'`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'symbol') return 'a symbol';
  const name = (v as object).constructor?.name;
  return name && name !== 'Object' ? `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}` : 'an object';
}

function fits(kind: OptionKind, v: unknown): boolean {
  switch (kind) {
    case 'positive integer':
      return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
    case 'function':
      return typeof v === 'function';
    case 'backend': {
      const b = v as { forwardAsync?: unknown; freezePlan?: unknown } | null;
      return typeof b === 'object' && b !== null && typeof b.forwardAsync === 'function' && typeof b.freezePlan === 'function';
    }
  }
}

/**
 * Checks an options argument: undefined, or a plain object whose keys are all in `kinds` and whose
 * values are undefined or of the given kind. Returns the options ({} for undefined); throws
 * "op: option onProgress must be a function, got 5" or "op: unknown option 'batchsize'".
 */
export function checkOptions<K extends string>(op: string, options: unknown, kinds: Record<K, OptionKind>): Partial<Record<K, unknown>> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new Error(`${op}: options must be an object, got ${describeValue(options)}`);
  }
  const known = Object.keys(kinds);
  for (const [key, value] of Object.entries(options)) {
    if (!Object.prototype.hasOwnProperty.call(kinds, key)) {
      throw new Error(`${op}: unknown option '${key}' (known options: ${known.join(', ')})`);
    }
    const kind = kinds[key as K];
    if (value !== undefined && !fits(kind, value)) {
      const what = kind === 'backend' ? 'a backend (an object with forwardAsync and freezePlan)' : `a ${kind}`;
      throw new Error(`${op}: option ${key} must be ${what}, got ${describeValue(value)}`);
    }
  }
  return options as Partial<Record<K, unknown>>;
}

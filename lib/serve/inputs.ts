// Several model inputs: an array (forward(a, b)) or a record (forward({ a, b })) of tensors, checked per input, sliced by rows, and several outputs joined back.
import { Tensor } from '../tensor';
import { concat } from '../ops/shape';
import type { ModuleOutput } from '../nn/module';
import { describe, isPlainObject } from '../validate';

/** What predict, predictAsync and fit take as x: one input, or several (an array of tensors or a record of named tensors). */
export type ModelInput = Tensor | Float32Array | Tensor[] | { [name: string]: Tensor };

/** Several inputs, checked: their form, their names ("0", "1" for an array) and tensors, and the shared row count. */
export interface MultiInput {
  form: 'array' | 'record';
  names: string[];
  tensors: Tensor[];
  rows: number;
}

/**
 * True when x holds several inputs: an array or a plain record with at least one Tensor in it (an array of
 * numbers is a single input given in the wrong form, and is reported as such).
 */
export function isMultiInput(x: unknown): x is Tensor[] | { [name: string]: Tensor } {
  if (Array.isArray(x)) return x.some((t) => t instanceof Tensor);
  return isPlainObject(x) && Object.values(x).some((t) => t instanceof Tensor);
}

/** How an input is named in errors: input 0, input 'image'. */
export function inputLabel(form: 'array' | 'record', name: string): string {
  return form === 'array' ? `input ${name}` : `input '${name}'`;
}

/** Checks several inputs: at least one, each a Tensor with a row dimension, all with the same number of rows. */
export function multiInput(op: string, x: Tensor[] | { [name: string]: Tensor }): MultiInput {
  const form = Array.isArray(x) ? 'array' : 'record';
  const names = Array.isArray(x) ? x.map((_, i) => String(i)) : Object.keys(x);
  const tensors = Array.isArray(x) ? x : names.map((k) => x[k]);
  if (names.length === 0) throw new Error(`${op}: x is an empty ${form}; give one Tensor per model input`);
  let rows = -1;
  tensors.forEach((t, i) => {
    const label = inputLabel(form, names[i]);
    if (!(t instanceof Tensor)) {
      throw new Error(`${op}: ${label} must be a Tensor [rows, ...], got ${describe(t)}${(t as unknown) instanceof Float32Array ? ' (wrap it: tensor(data, [rows, features]))' : ''}`);
    }
    if (t.ndim === 0) throw new Error(`${op}: ${label} is a 0-d tensor; expected [rows, ...]`);
    if (rows === -1) rows = t.shape[0];
    else if (t.shape[0] !== rows) {
      throw new Error(`${op}: ${label} has ${t.shape[0]} rows (shape [${t.shape.join(',')}]) but ${inputLabel(form, names[0])} has ${rows}`);
    }
  });
  return { form, names, tensors, rows };
}

/** The forward arguments for rows [start, end) of several inputs (an array spreads into arguments, a record is one argument). */
export function inputArgs(m: MultiInput, start: number, end: number): Tensor[] | [{ [name: string]: Tensor }] {
  const whole = start === 0 && end === m.rows;
  const parts = m.tensors.map((t) => (whole ? t : t.slice(start, end)));
  if (m.form === 'array') return parts;
  const rec: { [name: string]: Tensor } = {};
  m.names.forEach((n, i) => { rec[n] = parts[i]; });
  return [rec];
}

/** The outputs of batches joined along the rows: one tensor, or an array / record of them (same form as each batch). */
export function joinOutputs(parts: ModuleOutput[]): ModuleOutput {
  const first = parts[0];
  if (parts.length === 1) return first;
  if (first instanceof Tensor) return concat(parts as Tensor[], 0);
  if (Array.isArray(first)) return first.map((_, i) => concat(parts.map((p) => (p as Tensor[])[i]), 0));
  const out: { [name: string]: Tensor } = {};
  for (const k of Object.keys(first)) out[k] = concat(parts.map((p) => (p as { [name: string]: Tensor })[k]), 0);
  return out;
}

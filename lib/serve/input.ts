// Inference inputs: the one rule predict and predictAsync share for turning x (Tensor or flat Float32Array) into rows.
import { Tensor } from '../tensor';
import { invalid } from '../validate';

/** Shape options for a flat Float32Array input (a Tensor carries its own shape). */
export interface InputShapeOptions {
  /** Values per row of a flat Float32Array input (must equal the model's input width). */
  features?: number;
  /** Rows in a flat Float32Array input (values per row = length / rows). */
  rows?: number;
}

/** What a model tells about the rows it takes: their width, and whether it starts with a Flatten. */
export interface InputWidth {
  /** Values per row (the first Linear's in-features), or null when the model cannot tell. */
  width: number | null;
  /** True when the model flattens [rows, ...] first, so any trailing dims multiplying to width are rows. */
  flattens: boolean;
}

const shapeText = (s: readonly number[]): string => `[${s.join(',')}]`;

/**
 * Checks a flat Float32Array against options.features / options.rows and the model's width and
 * returns it as a [rows, features] Tensor. A flat array carries no row width, so one of the two
 * options is required: guessing the model's width turned 426 rows of 30 values into 639 rows of 20.
 */
function shapeFlat(op: string, x: Float32Array, opts: InputShapeOptions, width: number | null): Tensor {
  const { features, rows } = opts;
  const n = x.length;
  const hint = width === null ? '[rows, features]' : `[rows, ${width}]`;
  if (features === undefined && rows === undefined) {
    throw new Error(
      `${op}: a flat Float32Array (${n} values) has no row width: pass a Tensor of shape ${hint} ` +
        `(tensor(x, ${hint})) or give options.features${width === null ? '' : ` (${width} for this model)`} or options.rows`,
    );
  }
  let f: number;
  let r: number;
  if (features !== undefined) {
    if (n % features !== 0) throw new Error(`${op}: input has ${n} values, not a multiple of options.features = ${features}`);
    f = features;
    r = n / features;
    if (rows !== undefined && rows * features !== n) {
      throw new Error(`${op}: options.rows = ${rows} and options.features = ${features} make ${rows * features} values, the input has ${n}`);
    }
  } else {
    r = rows as number;
    if (n % r !== 0) throw new Error(`${op}: input has ${n} values, not a multiple of options.rows = ${r}`);
    f = n / r;
  }
  if (width !== null && f !== width) {
    const given = features !== undefined ? `options.features = ${features}` : `${n} values in options.rows = ${rows} rows make ${f} per row`;
    throw new Error(`${op}: ${given}, but the model takes ${width} input features per row`);
  }
  return new Tensor(x, [r, f]);
}

/**
 * The input as a Tensor whose rows the model can take, or an Error naming what is wrong:
 * - a flat Float32Array needs options.features or options.rows (see shapeFlat);
 * - a Tensor's last dimension must be the model's width, or, for a model that starts with a
 *   Flatten, its dimensions after the first must multiply to the width;
 * - options.features / options.rows given with a Tensor must agree with its shape.
 * When the model cannot tell its width (width null), a Tensor is returned as it is.
 * @param op the caller's name for errors ('predict', 'predictAsync', ...).
 * @param x a Tensor or a flat Float32Array.
 * @param opts features and rows (the shape of a flat array; checked against a Tensor's).
 * @param model width (values per row, or null when unknown) and flattens (the model starts with Flatten).
 * @returns x itself (a Tensor) or a [rows, features] Tensor over the flat array.
 * @throws Error when x is neither a Tensor nor a Float32Array, a flat array has neither features nor rows or its
 * length is not a multiple of them, features or rows disagrees with the Tensor's shape, the Tensor is 0-d or its
 * ArrayBuffer was detached, or its row width differs from the model's.
 * @example serve.shapeInput('predict', new Float32Array(128), { features: 64 }, { width: 64, flattens: false }).shape // [2, 64]
 */
export function shapeInput(op: string, x: unknown, opts: InputShapeOptions, model: InputWidth): Tensor {
  const { width, flattens } = model;
  if (x instanceof Float32Array) return shapeFlat(op, x, opts, width);
  if (!(x instanceof Tensor)) {
    invalid(op, 'input', 'a Tensor or a Float32Array', x, Array.isArray(x) ? 'make one with tensor([...])' : undefined);
  }
  const shape = x.shape;
  if (x.data.length !== x.size) {
    throw new Error(`${op}: input tensor of shape ${shapeText(shape)} has ${x.data.length} values (its ArrayBuffer was detached)`);
  }
  const perRow = shape.slice(1).reduce((a, b) => a * b, 1);
  const last = shape.length === 0 ? 1 : shape[shape.length - 1];
  const { features, rows } = opts;
  if (features !== undefined && features !== perRow && features !== last) {
    throw new Error(`${op}: options.features = ${features} disagrees with the input tensor of shape ${shapeText(shape)}`);
  }
  if (rows !== undefined && (shape.length === 0 || rows !== shape[0])) {
    throw new Error(`${op}: options.rows = ${rows} disagrees with the input tensor of shape ${shapeText(shape)}`);
  }
  if (width === null) return x;
  if (shape.length === 0) throw new Error(`${op}: input is a 0-d tensor; expected [rows, ${width}]`);
  if (flattens) {
    if (shape.length < 2 || perRow !== width) {
      throw new Error(
        `${op}: input of shape ${shapeText(shape)} does not match the model: it starts with Flatten, so it takes ` +
          `[rows, ...] with ${width} values per row`,
      );
    }
  } else if (last !== width) {
    throw new Error(
      `${op}: input of shape ${shapeText(shape)} does not match the model's ${width} input features ` +
        `(the last dimension must be ${width})`,
    );
  }
  return x;
}

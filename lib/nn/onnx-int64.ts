// ONNX export helper for layers: an int64 constant (shapes, axes, sizes) written as a float initializer cast to INT64.
import type { OnnxExportContext } from './registry';

/** A Cast(to INT64) node over a float initializer named `<prefix><base>` (the export context writes floats; exact up to 2^24). */
export function int64Constant(ctx: OnnxExportContext, base: string, values: number[]): string {
  return ctx.node('Cast', [ctx.initializer(`${ctx.prefix}${base}`, [values.length], Float32Array.from(values))], [{ name: 'to', int: 7 }]);
}

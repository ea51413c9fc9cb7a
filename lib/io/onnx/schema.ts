// The ONNX protobuf schema and the version facts we rely on. The classes are generated at build time by
// scripts/gen-onnx.js (protobufjs-cli) from the vendored schema/onnx.proto (ONNX v1.22.0).
import { onnx } from './proto/onnx';

export { onnx };

/** TensorProto.DataType values we read or write. */
export const DataType = {
  FLOAT: onnx.TensorProto.DataType.FLOAT,
  INT32: onnx.TensorProto.DataType.INT32,
  INT64: onnx.TensorProto.DataType.INT64,
  DOUBLE: onnx.TensorProto.DataType.DOUBLE,
  INT8: onnx.TensorProto.DataType.INT8,
} as const;

/** AttributeProto.AttributeType values. */
export const AttributeType = onnx.AttributeProto.AttributeType;

/** Lowest and highest default-domain opset that exportModel writes. */
export const MIN_EXPORT_OPSET = 13;
/** The newest ONNX opset exportModel writes (and the default). */
export const MAX_EXPORT_OPSET = 24;

/**
 * The IR version released together with each opset (ONNX release table: 1.8 -> IR 7 / opset 13,
 * 1.10 -> IR 8 / opset 15, 1.14 -> IR 9 / opset 19, 1.16 -> IR 10 / opset 21, 1.18 -> IR 11 / opset 23,
 * 1.19 -> IR 12 / opset 24). Writing the lowest IR that knows the opset keeps files readable by older runtimes.
 */
export function irVersionForOpset(opset: number): number {
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  if (opset <= 22) return 10;
  if (opset === 23) return 11;
  return 12;
}

/** A protobuf int64 as protobufjs hands it back (number or Long) -> number (throws when not exact). */
export function int64ToNumber(v: number | { toNumber(): number } | null | undefined, what: string): number {
  if (v === null || v === undefined) return 0;
  const n = typeof v === 'number' ? v : v.toNumber();
  if (!Number.isSafeInteger(n)) throw new Error(`${what}: integer ${String(v)} is out of range`);
  return n;
}

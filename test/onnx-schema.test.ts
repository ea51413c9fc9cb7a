// The generated ONNX schema module (scripts/gen-onnx.js from the vendored proto2 onnx.proto): explicitly set
// zero values are written, as ONNX's own tooling writes them, so importers can tell "set to 0" from "absent".
import { describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import { onnx } from '../lib/io/onnx/schema';

describe('generated ONNX schema', () => {
  it('writes an INT attribute set to 0 and reads it back as present', () => {
    const bytes = onnx.AttributeProto.encode({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }).finish();
    const back = onnx.AttributeProto.decode(bytes);
    expect(Object.prototype.hasOwnProperty.call(back, 'i')).toBe(true);
    expect(Number(back.i)).toBe(0);
    const absent = onnx.AttributeProto.decode(onnx.AttributeProto.encode({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT }).finish());
    expect(Object.prototype.hasOwnProperty.call(absent, 'i')).toBe(false);
  });

  it('knows the IR versions up to ONNX 1.22 and is generated from the vendored proto2 schema', () => {
    expect(onnx.Version.IR_VERSION_2025_08_26).toBe(12);
    const proto = fs.readFileSync(path.join(__dirname, '..', 'schema', 'onnx.proto'), 'utf8');
    expect(proto).toMatch(/^syntax = "proto2";$/m);
    expect(proto).toMatch(/Apache License, Version 2\.0/);
  });
});

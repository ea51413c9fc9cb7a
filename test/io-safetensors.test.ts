// safetensors: round trips, format details, and rejection of truncated, bit-flipped and malformed files.
import { Rng } from '../lib/random';
import { freshSeed } from './helpers/reference';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import {
  encodeSafetensorsBuffer, decodeSafetensors, writeSafetensorsSync, readSafetensorsSync, NamedArray,
} from '../lib/io/safetensors';

const seed = freshSeed();
function rng(s: number): () => number {
  const g = new Rng(s >>> 0);
  return () => g.next();
}
const rand = rng(seed);
const withSeed = (msg: string): string => `${msg} (seed ${seed})`;

function randomArrays(count: number): NamedArray[] {
  const out: NamedArray[] = [];
  for (let i = 0; i < count; i++) {
    const shape = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => 1 + Math.floor(rand() * 7));
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let j = 0; j < n; j++) data[j] = (rand() - 0.5) * 100;
    out.push({ name: `${i}.weight`, shape, data });
  }
  return out;
}

/** Builds a file from a raw header object and a data buffer (for malformed-file tests). */
function rawFile(header: unknown, data: Uint8Array): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

let dir = '';
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-st-')); });
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

describe('safetensors round trip', () => {
  it('decodes exactly what it encoded, with metadata', () => {
    const arrays = randomArrays(5);
    const buf = encodeSafetensorsBuffer(arrays, { format: 'pt', note: 'hi' });
    const back = decodeSafetensors(buf, 'mem');
    expect(back.metadata).toEqual({ format: 'pt', note: 'hi' });
    expect([...back.tensors.keys()]).toEqual(arrays.map((a) => a.name));
    for (const a of arrays) {
      const t = back.tensors.get(a.name)!;
      expect(t.shape, withSeed(a.name)).toEqual(a.shape);
      expect(Array.from(t.data), withSeed(a.name)).toEqual(Array.from(a.data));
    }
  });

  it('writes the header length as a little-endian u64, pads the header to 8 bytes with spaces, packs data contiguously', () => {
    const arrays = randomArrays(3);
    const buf = Buffer.from(encodeSafetensorsBuffer(arrays));
    const n = Number(buf.readBigUInt64LE(0));
    expect((8 + n) % 8).toBe(0);
    const text = buf.subarray(8, 8 + n).toString('utf8');
    expect(text).toMatch(/} *$/);
    const header = JSON.parse(text) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    let cursor = 0;
    for (const a of arrays) {
      expect(header[a.name].dtype).toBe('F32');
      expect(header[a.name].data_offsets).toEqual([cursor, cursor + a.data.length * 4]);
      cursor += a.data.length * 4;
    }
    expect(buf.length).toBe(8 + n + cursor);
    // Values are little-endian float32 at the recorded offsets.
    expect(buf.readFloatLE(8 + n)).toBe(arrays[0].data[0]);
  });

  it('handles zero-size tensors and an empty file', () => {
    const buf = encodeSafetensorsBuffer([{ name: 'empty', shape: [0, 3], data: new Float32Array(0) }]);
    expect(decodeSafetensors(buf).tensors.get('empty')!.shape).toEqual([0, 3]);
    expect(decodeSafetensors(encodeSafetensorsBuffer([])).tensors.size).toBe(0);
  });

  it('reads data at unaligned buffer offsets (pooled Buffers)', () => {
    const inner = encodeSafetensorsBuffer(randomArrays(2));
    const outer = new Uint8Array(inner.length + 3);
    outer.set(inner, 3);
    const back = decodeSafetensors(outer.subarray(3));
    expect(back.tensors.size).toBe(2);
  });

  it('stores I8 and BF16 tensors (quantised weights) in 1 and 2 bytes and reads them back exactly', () => {
    const i8 = Float32Array.from({ length: 37 }, () => Math.round(rand() * 255) - 128);
    i8[0] = -128; i8[1] = 127;
    // bfloat16 numbers: float32 values with the low 16 bits cleared (signs, tiny, huge, infinity).
    const bf = Float32Array.from({ length: 29 }, () => (rand() - 0.5) * 10 ** Math.round(rand() * 60 - 30));
    bf[0] = -0; bf[1] = Infinity; bf[2] = 3.3895313892515355e38;
    new Uint32Array(bf.buffer).forEach((b, i, a) => { a[i] = b & 0xffff0000; });
    const buf = encodeSafetensorsBuffer([
      { name: 'w', shape: [37], data: i8, dtype: 'I8' }, { name: 'h', shape: [29], data: bf, dtype: 'BF16' }, { name: 's', shape: [1], data: new Float32Array([0.5]) },
    ]);
    const header = Number(Buffer.from(buf).readBigUInt64LE(0));
    expect(buf.byteLength).toBe(8 + header + 37 + 29 * 2 + 4);
    const back = decodeSafetensors(buf).tensors;
    expect(back.get('w')!.dtype).toBe('I8');
    expect(back.get('h')!.dtype).toBe('BF16');
    expect(back.get('w')!.data).toEqual(i8);
    expect(new Uint32Array(back.get('h')!.data.buffer)).toEqual(new Uint32Array(bf.buffer));
    // Stored bytes: int8 two's complement; bfloat16 little-endian high halves.
    expect(buf[8 + header]).toBe(0x80);
    expect(Array.from(buf.subarray(8 + header + 37 + 2, 8 + header + 37 + 4))).toEqual([0x80, 0x7f]); // +Infinity = 0x7f80
    // Values the dtype cannot hold are refused, never rounded or wrapped.
    expect(() => encodeSafetensorsBuffer([{ name: 'w', shape: [2], data: new Float32Array([1, 128]), dtype: 'I8' }])).toThrow(/^safetensors: tensor 'w' is written as I8 but value 1 is 128, not an integer in \[-128, 127\]/);
    expect(() => encodeSafetensorsBuffer([{ name: 'w', shape: [1], data: new Float32Array([0.1]), dtype: 'BF16' }])).toThrow(/^safetensors: tensor 'w' is written as BF16 but value 0 is 0\.1\d*, not a bfloat16 number/);
    expect(() => encodeSafetensorsBuffer([{ name: 'w', shape: [1], data: new Float32Array([1]), dtype: 'F16' as 'F32' }])).toThrow(/myelin writes 'F32', 'I64', 'I8', 'BF16'/);
  });

  it('refuses to encode mismatched shapes and duplicate names', () => {
    expect(() => encodeSafetensorsBuffer([{ name: 'a', shape: [2, 2], data: new Float32Array(3) }])).toThrow(/'a' has 3 values, shape \[2,2\] needs 4/);
    const a = { name: 'a', shape: [1], data: new Float32Array(1) };
    expect(() => encodeSafetensorsBuffer([a, a])).toThrow(/duplicate tensor name 'a'/);
  });

  it('writes files atomically and reads them back', () => {
    const file = path.join(dir, 'w.safetensors');
    const arrays = randomArrays(4);
    writeSafetensorsSync(file, arrays);
    writeSafetensorsSync(file, arrays); // overwrite in place
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(readSafetensorsSync(file).tensors.size).toBe(4);
    expect(() => readSafetensorsSync(path.join(dir, 'missing.safetensors'))).toThrow(/missing\.safetensors: cannot read/);
    // Only regular files, size known before reading: /dev/zero, a FIFO or a directory are refused at once.
    expect(() => readSafetensorsSync('/dev/zero')).toThrow(/^safetensors: \/dev\/zero is a device, not a regular file/);
    const fifo = path.join(dir, 'pipe.safetensors');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    expect(() => readSafetensorsSync(fifo)).toThrow(/pipe\.safetensors is a FIFO \(named pipe\), not a regular file/);
    expect(() => readSafetensorsSync(dir)).toThrow(/is a directory, not a regular file/);
  });
});

describe('safetensors rejects damaged files', () => {
  const good = Buffer.from(encodeSafetensorsBuffer(randomArrays(3), { format: 'pt' }));

  it('every truncation of a file throws an Error naming the file', () => {
    for (let len = 0; len < good.length; len++) {
      let err: unknown = null;
      try {
        decodeSafetensors(good.subarray(0, len), 'model.safetensors');
      } catch (e) {
        err = e;
      }
      expect(err, withSeed(`prefix of ${len} bytes decoded without error`)).toBeInstanceOf(Error);
      expect((err as Error).message.startsWith('model.safetensors: '), (err as Error).message).toBe(true);
    }
  });

  it('bit flips in the header either throw a named Error or decode into consistent tensors', () => {
    const n = Number(good.readBigUInt64LE(0));
    let thrown = 0;
    for (let trial = 0; trial < 2000; trial++) {
      const bad = Buffer.from(good);
      const byte = Math.floor(rand() * (8 + n));
      bad[byte] ^= 1 << Math.floor(rand() * 8);
      try {
        const back = decodeSafetensors(bad, 'f.safetensors');
        for (const t of back.tensors.values()) {
          expect(t.data.length, withSeed(`flip at byte ${byte}`)).toBe(t.shape.reduce((a, b) => a * b, 1));
        }
      } catch (e) {
        expect(e, withSeed(`flip at byte ${byte}`)).toBeInstanceOf(Error);
        expect((e as Error).message.startsWith('f.safetensors: ')).toBe(true);
        thrown++;
      }
    }
    expect(thrown).toBeGreaterThan(1000);
  });

  const f32 = (n: number): Uint8Array => new Uint8Array(n * 4);
  const cases: [string, Buffer, RegExp][] = [
    ['header length past the end', (() => { const b = Buffer.from(good); b.writeBigUInt64LE(BigInt(good.length)); return b; })(), /header length \d+ runs past the end of the file/],
    ['huge header length', (() => { const b = Buffer.from(good); b.writeBigUInt64LE(0xffffffffffffffffn); return b; })(), /runs past the end/],
    ['bad JSON', (() => { const j = Buffer.from('{"a": {"dtype": "F32",'); const l = Buffer.alloc(8); l.writeBigUInt64LE(BigInt(j.length)); return Buffer.concat([l, j]); })(), /header is not valid JSON/],
    ['non-object header', rawFile([1, 2], f32(0)), /header JSON is not an object/],
    ['wrong dtype', rawFile({ a: { dtype: 'F64', shape: [2], data_offsets: [0, 16] } }, new Uint8Array(16)), /tensor 'a' has dtype F64; only F32 is supported/],
    ['unknown dtype', rawFile({ a: { dtype: 'Q4', shape: [2], data_offsets: [0, 8] } }, f32(2)), /unknown dtype "Q4"/],
    ['offsets out of range', rawFile({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32(2)), /run past the end of the data/],
    ['begin > end', rawFile({ a: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, f32(2)), /begin > end/],
    ['overlap', rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, f32(3)), /overlap/],
    ['gap', rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32(2)), /gap in the data/],
    ['trailing bytes', rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32(2)), /trailing bytes/],
    ['length != shape product * 4', rawFile({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32(2)), /'a' has 8 bytes but shape \[3\] x F32 needs 12/],
    ['negative shape', rawFile({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }, f32(0)), /invalid shape/],
    ['bad offsets type', rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: '0-4' } }, f32(1)), /invalid data_offsets/],
    ['non-string metadata', rawFile({ __metadata__: { a: 1 } }, f32(0)), /__metadata__ value for 'a' is not a string/],
    ['invalid UTF-8', (() => { const j = Buffer.from([0x7b, 0xff, 0x7d]); const l = Buffer.alloc(8); l.writeBigUInt64LE(3n); return Buffer.concat([l, j]); })(), /not valid UTF-8/],
  ];
  for (const [name, buf, re] of cases) {
    it(`rejects ${name}`, () => {
      expect(() => decodeSafetensors(buf, 'x.safetensors')).toThrow(re);
      expect(() => decodeSafetensors(buf, 'x.safetensors')).toThrow(/^x\.safetensors: /);
    });
  }
});

// Cross-check with real PyTorch when /usr/bin/python3 has torch (optional: CI may not have it).
const torchAvailable = fs.existsSync('/usr/bin/python3') &&
  spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

describe.runIf(torchAvailable)('safetensors interoperates with PyTorch (torch found at /usr/bin/python3)', () => {
  it('a file we write has the layout PyTorch-side readers expect', () => {
    const arrays = randomArrays(3);
    const file = path.join(dir, 'pt.safetensors');
    writeSafetensorsSync(file, arrays, { format: 'pt' });
    const script = `
import json, struct, sys, torch
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
data = raw[8 + n:]
out = {}
try:
    from safetensors.torch import load_file
    tensors = load_file(sys.argv[1])
except ImportError:
    tensors = {}
    for k, v in hdr.items():
        if k == '__metadata__': continue
        b, e = v['data_offsets']
        tensors[k] = torch.frombuffer(bytearray(data[b:e]), dtype=torch.float32).reshape(v['shape'])
for k, t in tensors.items():
    out[k] = {'shape': list(t.shape), 'sum': float(t.double().sum()), 'first': float(t.flatten()[0])}
print(json.dumps(out))
`;
    const r = spawnSync('/usr/bin/python3', ['-c', script, file], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as Record<string, { shape: number[]; sum: number; first: number }>;
    for (const a of arrays) {
      expect(got[a.name].shape).toEqual(a.shape);
      expect(got[a.name].first).toBe(a.data[0]);
      expect(got[a.name].sum).toBeCloseTo(Array.from(a.data).reduce((s, v) => s + v, 0), 2);
    }
  });
});

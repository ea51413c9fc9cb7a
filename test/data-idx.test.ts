// Tests for the IDX reader: every dtype, gzip and raw, and each error path naming the file.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { readIdx, parseIdx } from '../lib/data/idx';
import { SeededRandom } from '../lib/data/split';

const seed = (Date.now() ^ Math.floor(Math.random() * 2 ** 31)) >>> 0;
const rng = new SeededRandom(seed);
let dir = '';

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-idx-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

type Kind = { code: number; bytes: number; write: (v: DataView, o: number, x: number) => void; gen: () => number };
const KINDS: Record<string, Kind> = {
  uint8: { code: 0x08, bytes: 1, write: (v, o, x) => v.setUint8(o, x), gen: () => rng.nextInt(256) },
  int8: { code: 0x09, bytes: 1, write: (v, o, x) => v.setInt8(o, x), gen: () => rng.nextInt(256) - 128 },
  int16: { code: 0x0b, bytes: 2, write: (v, o, x) => v.setInt16(o, x, false), gen: () => rng.nextInt(65536) - 32768 },
  int32: { code: 0x0c, bytes: 4, write: (v, o, x) => v.setInt32(o, x, false), gen: () => (rng.nextUint32() | 0) },
  float32: {
    code: 0x0d, bytes: 4, write: (v, o, x) => v.setFloat32(o, x, false),
    gen: () => Math.fround((rng.next() - 0.5) * 1e6),
  },
  float64: { code: 0x0e, bytes: 8, write: (v, o, x) => v.setFloat64(o, x, false), gen: () => (rng.next() - 0.5) * 1e12 },
};

const ARRAY_NAMES: Record<string, string> = {
  uint8: 'Uint8Array', int8: 'Int8Array', int16: 'Int16Array', int32: 'Int32Array',
  float32: 'Float32Array', float64: 'Float64Array',
};

function encode(code: number, bytes: number, shape: number[], values: number[], write: Kind['write']): Buffer {
  const header = 4 + 4 * shape.length;
  const buf = Buffer.alloc(header + values.length * bytes);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  buf[2] = code;
  buf[3] = shape.length;
  shape.forEach((s, i) => view.setUint32(4 + 4 * i, s, false));
  values.forEach((x, i) => write(view, header + i * bytes, x));
  return buf;
}

describe(`readIdx (seed ${seed})`, () => {
  for (const [name, kind] of Object.entries(KINDS)) {
    for (const gzip of [false, true]) {
      it(`reads ${name} ${gzip ? 'gzip' : 'raw'} with a random shape`, () => {
        const ndims = 1 + rng.nextInt(3);
        const shape = Array.from({ length: ndims }, () => 1 + rng.nextInt(7));
        const count = shape.reduce((a, b) => a * b, 1);
        const values = Array.from({ length: count }, kind.gen);
        const raw = encode(kind.code, kind.bytes, shape, values, kind.write);
        const file = path.join(dir, `${name}-${gzip}.idx${gzip ? '.gz' : ''}`);
        fs.writeFileSync(file, gzip ? zlib.gzipSync(raw) : raw);
        const got = readIdx(file);
        expect(got.shape, `seed ${seed}`).toEqual(shape);
        expect(got.dtype).toBe(name);
        expect(got.data.constructor.name).toBe(ARRAY_NAMES[name]);
        expect(Array.from(got.data), `seed ${seed}`).toEqual(values);
      });
    }
  }

  it('detects gzip by magic, not by file name', () => {
    const raw = encode(0x08, 1, [3], [1, 2, 3], KINDS.uint8.write);
    const file = path.join(dir, 'no-extension');
    fs.writeFileSync(file, zlib.gzipSync(raw));
    expect(Array.from(readIdx(file).data)).toEqual([1, 2, 3]);
  });

  it('reads a zero-dimensional (scalar) file', () => {
    const raw = encode(0x0c, 4, [], [-7], KINDS.int32.write);
    const got = parseIdx(raw);
    expect(got.shape).toEqual([]);
    expect(Array.from(got.data)).toEqual([-7]);
  });

  it('errors on a missing file, naming it', () => {
    const file = path.join(dir, 'does-not-exist.idx');
    expect(() => readIdx(file)).toThrow(`file not found: ${file}`);
  });

  it('errors on a wrong magic number, naming the file', () => {
    const file = path.join(dir, 'bad-magic.idx');
    fs.writeFileSync(file, Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0]));
    expect(() => readIdx(file)).toThrow(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: wrong magic number 50 4b 03 04`));
  });

  it('errors on an unknown dtype code', () => {
    const buf = encode(0x0a, 1, [2], [1, 2], KINDS.uint8.write);
    expect(() => parseIdx(buf, 'x.idx')).toThrow('x.idx: unknown dtype code 0x0a');
  });

  it('errors when the dimensions overflow', () => {
    const buf = Buffer.alloc(4 + 12);
    buf[2] = 0x08;
    buf[3] = 3;
    buf.writeUInt32BE(0xffffffff, 4);
    buf.writeUInt32BE(0xffffffff, 8);
    buf.writeUInt32BE(2, 12);
    expect(() => parseIdx(buf, 'huge.idx')).toThrow(/huge\.idx: dimensions \[4294967295, 4294967295, 2\] describe .* elements, more than/);
  });

  it('errors on truncated data with expected and actual byte counts', () => {
    const full = encode(0x0b, 2, [2, 3], [1, 2, 3, 4, 5, 6], KINDS.int16.write);
    const file = path.join(dir, 'truncated.idx.gz');
    fs.writeFileSync(file, zlib.gzipSync(full.subarray(0, full.length - 3)));
    expect(() => readIdx(file)).toThrow(`truncated data: shape [2, 3] of int16 needs ${full.length} bytes, got ${full.length - 3}`);
  });

  it('errors on a truncated header', () => {
    expect(() => parseIdx(Buffer.from([0, 0, 8, 3, 0, 0, 0, 1]), 'h.idx')).toThrow('h.idx: truncated header: 3 dimensions need 16 bytes, got 8');
    expect(() => parseIdx(Buffer.from([0, 0]), 'tiny.idx')).toThrow('tiny.idx: file has 2 bytes');
  });

  it('errors on trailing bytes', () => {
    const full = encode(0x08, 1, [2], [1, 2], KINDS.uint8.write);
    expect(() => parseIdx(Buffer.concat([full, Buffer.from([9])]), 't.idx')).toThrow('t.idx: 1 unexpected trailing bytes');
  });

  it('errors on corrupt gzip data, naming the file', () => {
    const gz = zlib.gzipSync(encode(0x08, 1, [4], [1, 2, 3, 4], KINDS.uint8.write));
    const file = path.join(dir, 'corrupt.gz');
    fs.writeFileSync(file, gz.subarray(0, gz.length - 6));
    expect(() => readIdx(file)).toThrow(`${file}: corrupt gzip data`);
  });
});

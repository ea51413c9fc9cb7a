// IDX file reader (the MNIST / Fashion-MNIST format): gzip or raw, every IDX dtype, big-endian.
import * as fs from 'fs';
import * as zlib from 'zlib';

/** Typed array kinds an IDX file can hold, one per IDX dtype code. */
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** IDX dtype names, keyed by their code in the third magic byte. */
export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

/** An IDX file's contents (the MNIST format): shape and the values. */
export interface IdxArray {
  /** Dimension sizes, outermost first (e.g. [60000, 28, 28]). */
  shape: number[];
  /** Elements in row-major order, converted from big-endian to native typed-array values. */
  data: IdxData;
  dtype: IdxDtype;
}

interface DtypeInfo {
  name: IdxDtype;
  bytes: number;
}

const DTYPES: Record<number, DtypeInfo> = {
  0x08: { name: 'uint8', bytes: 1 },
  0x09: { name: 'int8', bytes: 1 },
  0x0b: { name: 'int16', bytes: 2 },
  0x0c: { name: 'int32', bytes: 4 },
  0x0d: { name: 'float32', bytes: 4 },
  0x0e: { name: 'float64', bytes: 8 },
};

/** Largest number of elements we accept (the largest typed array V8 reliably allocates). */
const MAX_ELEMENTS = 2 ** 31 - 1;

/**
 * True when the buffer starts with the gzip magic bytes 1f 8b.
 * @param buf the file's first bytes (or all of them).
 * @returns whether the data is gzip-compressed.
 * @example data.isGzip(fs.readFileSync('train-images-idx3-ubyte.gz')) // true
 */
export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/** An IDX file's header: the shape, the element type, and where the data starts. */
export interface IdxHeader {
  shape: number[];
  dtype: IdxDtype;
  /** Bytes of the header (the data starts here). */
  headerBytes: number;
  /** Elements of the data (the product of the shape). */
  count: number;
  /** Bytes per element. */
  bytes: number;
}

/**
 * Parses the header at the start of `buf` (which may hold only the header, or the whole file); null
 * when `buf` is too short to hold all of it. Errors name `source`: wrong magic, unknown dtype, too
 * many elements.
 */
export function parseIdxHeader(buf: Uint8Array, source = '<buffer>'): IdxHeader | null {
  if (buf.length < 4) return null;
  if (buf[0] !== 0 || buf[1] !== 0) {
    const hex = Array.from(buf.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new Error(`readIdx: ${source}: wrong magic number ${hex} (an IDX file starts with 00 00 <dtype> <ndims>)`);
  }
  const dtypeCode = buf[2];
  const info = DTYPES[dtypeCode];
  if (info === undefined) {
    throw new Error(
      `readIdx: ${source}: unknown dtype code 0x${dtypeCode.toString(16).padStart(2, '0')} ` +
        '(known: 0x08 ubyte, 0x09 sbyte, 0x0B short, 0x0C int, 0x0D float, 0x0E double)',
    );
  }
  const ndims = buf[3];
  const headerBytes = 4 + 4 * ndims;
  if (buf.length < headerBytes) return null;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const shape: number[] = [];
  let count = 1;
  for (let d = 0; d < ndims; d++) {
    const size = view.getUint32(4 + 4 * d, false);
    shape.push(size);
    count *= size;
  }
  if (count > MAX_ELEMENTS) {
    throw new Error(
      `readIdx: ${source}: dimensions [${shape.join(', ')}] describe ${count} elements, ` +
        `more than the ${MAX_ELEMENTS} supported`,
    );
  }
  return { shape, dtype: info.name, headerBytes, count, bytes: info.bytes };
}

/**
 * Parses the bytes of an IDX file (already decompressed).
 * Layout: 0x00 0x00 <dtype> <ndims>, then ndims big-endian uint32 sizes, then the data, big-endian.
 * @param buf the decompressed bytes.
 * @param source the file's name in errors (default '<buffer>').
 * @returns shape, data (a typed array of the file's dtype) and dtype.
 * @throws Error `readIdx: <source>: ...` when the buffer is shorter than the magic, the magic or dtype is invalid,
 * the header is truncated, or the data is shorter or longer than the shape needs.
 * @example data.parseIdx(zlib.gunzipSync(fs.readFileSync('t10k-labels-idx1-ubyte.gz'))).shape // [10000]
 */
export function parseIdx(buf: Uint8Array, source = '<buffer>'): IdxArray {
  if (buf.length < 4) {
    throw new Error(`readIdx: ${source}: file has ${buf.length} bytes, too short for the 4-byte IDX magic`);
  }
  const head = parseIdxHeader(buf, source);
  if (head === null) {
    const ndims = buf[3];
    throw new Error(
      `readIdx: ${source}: truncated header: ${ndims} dimensions need ${4 + 4 * ndims} bytes, got ${buf.length}`,
    );
  }
  const { shape, headerBytes, count } = head;
  const expected = headerBytes + count * head.bytes;
  if (buf.length < expected) {
    throw new Error(
      `readIdx: ${source}: truncated data: shape [${shape.join(', ')}] of ${head.dtype} needs ` +
        `${expected} bytes, got ${buf.length}`,
    );
  }
  if (buf.length > expected) {
    throw new Error(
      `readIdx: ${source}: ${buf.length - expected} unexpected trailing bytes after the data ` +
        `(shape [${shape.join(', ')}] of ${head.dtype} needs ${expected} bytes, got ${buf.length})`,
    );
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return { shape, data: decodeIdx(view, headerBytes, count, head.dtype), dtype: head.dtype };
}

/** Fills out[i] = read(i) (the big-endian values IDX stores) and returns it. */
function bigEndian<T extends Int16Array | Int32Array | Float32Array | Float64Array>(out: T, read: (i: number) => number): T {
  for (let i = 0; i < out.length; i++) out[i] = read(i);
  return out;
}

/** `count` big-endian elements of `dtype` from byte `offset` of `view`, as the matching typed array. */
export function decodeIdx(view: DataView, offset: number, count: number, dtype: IdxDtype): IdxData {
  switch (dtype) {
    case 'uint8':
      return new Uint8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case 'int8':
      return new Int8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case 'int16':
      return bigEndian(new Int16Array(count), (i) => view.getInt16(offset + 2 * i, false));
    case 'int32':
      return bigEndian(new Int32Array(count), (i) => view.getInt32(offset + 4 * i, false));
    case 'float32':
      return bigEndian(new Float32Array(count), (i) => view.getFloat32(offset + 4 * i, false));
    case 'float64':
      return bigEndian(new Float64Array(count), (i) => view.getFloat64(offset + 8 * i, false));
  }
}

/**
 * Reads an IDX file from disk; gzip-compressed files (magic 1f 8b) are decompressed first.
 * @param path the IDX file (plain or gzip-compressed).
 * @returns the dtype, the shape and the values as a typed array.
 * @throws Error when the file is not found or cannot be read, the gzip data is corrupt, or the IDX header or length is invalid.
 * @example
 * ```ts
 * const labels = data.readIdx('train-labels-idx1-ubyte.gz'); // { dtype: 'uint8', shape: [60000], data }
 * ```
 */
export function readIdx(path: string): IdxArray {
  let raw: Buffer;
  try {
    raw = fs.readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`readIdx: file not found: ${path}`);
    throw new Error(`readIdx: cannot read ${path}: ${(err as Error).message}`);
  }
  let bytes: Uint8Array = raw;
  if (isGzip(raw)) {
    try {
      bytes = zlib.gunzipSync(raw);
    } catch (err) {
      throw new Error(`readIdx: ${path}: corrupt gzip data: ${(err as Error).message}`);
    }
  }
  return parseIdx(bytes, path);
}

// safetensors encode/decode (float32 tensors, int64/int32 integer buffers): 8-byte LE header length, JSON header, contiguous data, full validation.
import * as os from 'os';
import { writeFileAtomicSync } from './atomic';
import { readRegularFileSync } from './read-file';

/** The dtypes read into float32: F32 itself, and the integer types of counters such as num_batches_tracked. */
export type StoredDtype = 'F32' | 'I64' | 'I32';

/** One named tensor as stored in a safetensors file (values held as float32; dtype 'I64' writes them as int64). */
export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
  /** How the values are stored: 'F32' (default) or 'I64' (integers, as PyTorch stores num_batches_tracked). */
  dtype?: 'F32' | 'I64';
}

/** A decoded safetensors file: tensors in file order (by data offset) and the string metadata. */
export interface SafetensorsContents {
  tensors: Map<string, { shape: number[]; data: Float32Array; dtype: StoredDtype }>;
  metadata: Record<string, string>;
}

/** Integers up to 2^24 are exact in float32: an integer tensor beyond that cannot be read without changing it. */
const MAX_EXACT_INT = 2 ** 24;

/** Largest header we accept (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100_000_000;

const LITTLE_ENDIAN_HOST = os.endianness() === 'LE';

/** Byte sizes of the dtypes the format defines (we only load F32, but recognise the others for messages). */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};

function shapeProduct(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** int64 little-endian bytes of integer values (checked: each must be an integer). */
function int64LEBytes(name: string, data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isInteger(data[i])) throw new Error(`safetensors: tensor '${name}' is written as I64 but value ${i} is ${data[i]}, not an integer`);
    view.setBigInt64(i * 8, BigInt(data[i]), true);
  }
  return out;
}

function float32ToLEBytes(data: Float32Array): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN_HOST) return bytes;
  const out = new Uint8Array(data.byteLength);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return out;
}

/**
 * Encodes tensors as safetensors chunks (header then each tensor's bytes, in the given order).
 * The header is padded with spaces so the data starts at an 8-byte aligned offset.
 * @param tensors name, shape, float32 data and dtype ('F32' default, or 'I64' for integer values) of each tensor.
 * @param metadata string entries stored as the header's __metadata__ (default none).
 * @returns the chunks: 8-byte header length, header JSON, then each tensor's little-endian bytes.
 * @throws Error when a name is empty, '__metadata__' or repeated, a shape is not a list of non-negative integers,
 * a data length differs from its shape's product, a dtype is neither 'F32' nor 'I64', or an 'I64' value is not an integer.
 * @example io.encodeSafetensors([{ name: 'w', shape: [2], data: Float32Array.of(1, 2) }])
 */
export function encodeSafetensors(tensors: readonly NamedArray[], metadata: Record<string, string> = {}): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const seen = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    if (t.name === '__metadata__' || t.name.length === 0) throw new Error(`safetensors: invalid tensor name '${t.name}'`);
    if (seen.has(t.name)) throw new Error(`safetensors: duplicate tensor name '${t.name}'`);
    seen.add(t.name);
    if (!t.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new Error(`safetensors: tensor '${t.name}' has invalid shape [${t.shape.join(',')}]`);
    }
    const n = shapeProduct(t.shape);
    if (n !== t.data.length) {
      throw new Error(`safetensors: tensor '${t.name}' has ${t.data.length} values, shape [${t.shape.join(',')}] needs ${n}`);
    }
    const dtype = t.dtype ?? 'F32';
    if (dtype !== 'F32' && dtype !== 'I64') throw new Error(`safetensors: tensor '${t.name}' has dtype ${JSON.stringify(dtype)}; myelin writes 'F32' or 'I64'`);
    const size = n * DTYPE_BYTES[dtype];
    header[t.name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  const jsonBytes = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - (jsonBytes % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.byteLength), 0);
  return [prefix, headerBytes, ...tensors.map((t) => (t.dtype === 'I64' ? int64LEBytes(t.name, t.data) : float32ToLEBytes(t.data)))];
}

/**
 * Encodes into one contiguous buffer (encodeSafetensors' chunks concatenated).
 * @param tensors name, shape, float32 data and dtype ('F32' default, or 'I64') of each tensor.
 * @param metadata string entries stored as the header's __metadata__ (default none).
 * @returns the whole file's bytes.
 * @throws Error as encodeSafetensors does.
 * @example fs.writeFileSync('w.safetensors', io.encodeSafetensorsBuffer([{ name: 'w', shape: [2], data: Float32Array.of(1, 2) }]));
 */
export function encodeSafetensorsBuffer(tensors: readonly NamedArray[], metadata: Record<string, string> = {}): Uint8Array {
  return Buffer.concat(encodeSafetensors(tensors, metadata));
}

/**
 * Writes a safetensors file atomically (temp file + fsync + rename).
 * @param file the path to create or replace.
 * @param tensors name, shape, float32 data and dtype ('F32' default, or 'I64') of each tensor.
 * @param metadata string entries stored as the header's __metadata__ (default none).
 * @throws Error as encodeSafetensors does, or when the write fails (naming the file).
 * @example io.writeSafetensorsSync('w.safetensors', [{ name: 'w', shape: [2, 2], data: new Float32Array(4) }]);
 */
export function writeSafetensorsSync(file: string, tensors: readonly NamedArray[], metadata: Record<string, string> = {}): void {
  writeFileAtomicSync(file, encodeSafetensors(tensors, metadata));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Decodes and validates a safetensors buffer. Integer tensors (I64, I32) are converted to float32 when every
 * value is exact in float32 (|v| <= 2^24).
 * @param buf the file's bytes.
 * @param source the file's name in error messages (default 'safetensors').
 * @returns the tensors (in data order) and the string metadata.
 * @throws Error `<source>: ...` on: short file, header length past the end or above 100 MB, bad UTF-8/JSON,
 * non-object header, non-string metadata, a dtype that is unknown or other than F32/I64/I32, bad shapes,
 * bad/out-of-range/overlapping/non-contiguous data offsets, byte lengths that do not match the shape, trailing
 * bytes, or an integer beyond 2^24.
 * @example io.decodeSafetensors(fs.readFileSync('w.safetensors'), 'w.safetensors').tensors.get('w')
 */
export function decodeSafetensors(buf: Uint8Array, source = 'safetensors'): SafetensorsContents {
  const fail = (msg: string): never => {
    throw new Error(`${source}: ${msg}`);
  };
  if (buf.byteLength < 8) fail(`file is ${buf.byteLength} bytes, too short for the 8-byte header length`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(buf.byteLength - 8)) {
    fail(`header length ${headerLen} runs past the end of the file (${buf.byteLength} bytes; truncated or not a safetensors file)`);
  }
  const n = Number(headerLen);
  if (n > MAX_HEADER_BYTES) fail(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (n < 2) fail(`header length ${n} is too small for a JSON object`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + n));
  } catch {
    return fail('header is not valid UTF-8 (corrupted file?)');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    return fail(`header is not valid JSON (corrupted file?): ${(err as Error).message}`);
  }
  if (!isRecord(header)) return fail('header JSON is not an object');
  const dataStart = 8 + n;
  const dataLen = buf.byteLength - dataStart;

  const metadata: Record<string, string> = {};
  const entries: { name: string; shape: number[]; begin: number; end: number; dtype: StoredDtype }[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isRecord(raw)) fail('__metadata__ is not an object');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__ value for '${k}' is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    if (!isRecord(raw)) return fail(`entry for tensor '${name}' is not an object`);
    const { dtype, shape, data_offsets: offsets } = raw;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) fail(`tensor '${name}' has unknown dtype ${JSON.stringify(dtype)}`);
    if (dtype !== 'F32' && dtype !== 'I64' && dtype !== 'I32') {
      fail(`tensor '${name}' has dtype ${dtype as string}; only F32 is supported (and I64/I32 for integer buffers such as num_batches_tracked): convert the model to float32 before saving it (PyTorch: model.float())`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      fail(`tensor '${name}' has invalid shape ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)) {
      fail(`tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) fail(`tensor '${name}' has data_offsets [${begin}, ${end}] with begin > end`);
    if (end > dataLen) {
      fail(`tensor '${name}' data_offsets [${begin}, ${end}] run past the end of the data (${dataLen} bytes; truncated file?)`);
    }
    const expected = shapeProduct(shape as number[]) * DTYPE_BYTES[dtype as string];
    if (end - begin !== expected) {
      fail(`tensor '${name}' has ${end - begin} bytes but shape [${(shape as number[]).join(',')}] x ${dtype as string} needs ${expected}`);
    }
    entries.push({ name, shape: shape as number[], begin, end, dtype: dtype as StoredDtype });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of entries) {
    if (e.begin < cursor) fail(`tensor '${e.name}' data_offsets [${e.begin}, ${e.end}] overlap the previous tensor (ends at ${cursor})`);
    if (e.begin > cursor) fail(`gap in the data before tensor '${e.name}' (bytes ${cursor}..${e.begin} are not used by any tensor)`);
    cursor = e.end;
  }
  if (cursor !== dataLen) fail(`data is ${dataLen} bytes but tensors cover ${cursor} (trailing bytes or corrupted header)`);

  const tensors = new Map<string, { shape: number[]; data: Float32Array; dtype: StoredDtype }>();
  for (const e of entries) {
    const count = (e.end - e.begin) / DTYPE_BYTES[e.dtype];
    const data = new Float32Array(count);
    const bytes = buf.subarray(dataStart + e.begin, dataStart + e.end);
    if (e.dtype !== 'F32') {
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0; i < count; i++) {
        const v = e.dtype === 'I64' ? dv.getBigInt64(i * 8, true) : BigInt(dv.getInt32(i * 4, true));
        if (v > BigInt(MAX_EXACT_INT) || v < -BigInt(MAX_EXACT_INT)) {
          fail(`tensor '${e.name}' (${e.dtype}) holds ${v} at position ${i}, beyond the integers float32 represents exactly (2^24)`);
        }
        data[i] = Number(v);
      }
    } else if (LITTLE_ENDIAN_HOST) {
      new Uint8Array(data.buffer).set(bytes);
    } else {
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0; i < count; i++) data[i] = dv.getFloat32(i * 4, true);
    }
    tensors.set(e.name, { shape: [...e.shape], data, dtype: e.dtype });
  }
  return { tensors, metadata };
}

/** Largest safetensors file readSafetensorsSync reads (a Buffer's limit on 64-bit Node). */
export const MAX_SAFETENSORS_BYTES = 2 ** 32;

/**
 * Reads and validates a safetensors file (a regular file; its size is checked before reading). Errors name the file.
 * @param file the path of the .safetensors file.
 * @returns the tensors (in data order) and the string metadata.
 * @throws Error when the file is missing, not a regular file or larger than 4 GiB, or its contents are invalid
 * (as decodeSafetensors checks).
 * @example io.readSafetensorsSync('model.safetensors').tensors.size
 */
export function readSafetensorsSync(file: string): SafetensorsContents {
  return decodeSafetensors(readRegularFileSync(file, { maxBytes: MAX_SAFETENSORS_BYTES }, 'safetensors'), file);
}

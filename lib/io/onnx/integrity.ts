// A sha256 over an exported ONNX file, carried in the file itself, so that importModel detects any damage.
//
// ONNX has no checksum. exportModel adds two ModelProto.metadata_props entries (field 14): a marker
// `myelin.integrity` = "sha256" before the encoded model, and `myelin.sha256` = the hex sha256 of every
// byte before it at the very end. Protobuf fields may come in any order and repeated fields concatenate,
// so ONNX Runtime and other readers see two ordinary metadata entries.
// On import, a file with the digest must match it; a file with the marker but no digest is damaged (a
// truncation, or a flipped bit in the digest entry's key or tag, cannot make the check go away: the
// marker stays, and a damaged marker is covered by the digest). Files with neither (from PyTorch, or
// older myelin) are imported without this check.
// This works on the protobuf wire format (protobufjs's Reader and Writer, bundled in proto/), independent of the generated decoder.
import { createHash } from 'crypto';
import { Reader, Writer } from './proto/protobuf-minimal';

const METADATA_PROPS_FIELD = 14;
export const INTEGRITY_MARKER_KEY = 'myelin.integrity';
export const INTEGRITY_DIGEST_KEY = 'myelin.sha256';

/** One field of a protobuf message: its number, wire type, and byte range (whole field; payload for length-delimited). */
export interface WireField {
  field: number;
  wireType: number;
  start: number;
  end: number;
  payloadStart: number;
}

/** Splits a protobuf message into its fields (not recursing). Throws on anything malformed. */
export function wireFields(buf: Uint8Array): WireField[] {
  const out: WireField[] = [];
  const r = Reader.create(buf);
  while (r.pos < r.len) {
    const start = r.pos;
    const key = r.uint32();
    const field = key >>> 3;
    const wireType = key & 7;
    if (field === 0) throw new Error(`field number 0 at byte ${start}`);
    let payloadStart = r.pos;
    if (wireType === 2) {
      const len = r.uint32();
      payloadStart = r.pos;
      if (payloadStart + len > r.len) throw new Error(`field ${field} at byte ${start} runs past the end`);
      r.skip(len);
    } else {
      r.skipType(wireType);
    }
    out.push({ field, wireType, start, end: r.pos, payloadStart });
  }
  return out;
}

function metadataEntry(key: string, value: string): Uint8Array {
  const w = Writer.create();
  w.uint32((METADATA_PROPS_FIELD << 3) | 2).fork().uint32((1 << 3) | 2).string(key).uint32((2 << 3) | 2).string(value).ldelim();
  return w.finish();
}

/** The marker, the model bytes, then the digest of everything before the digest. */
export function addIntegrityDigest(model: Uint8Array): Uint8Array {
  const marked = Buffer.concat([metadataEntry(INTEGRITY_MARKER_KEY, 'sha256'), model]);
  const digest = createHash('sha256').update(marked).digest('hex');
  return Buffer.concat([marked, metadataEntry(INTEGRITY_DIGEST_KEY, digest)]);
}

/** key/value of a metadata_props entry, or null when it is not one (a damaged entry is left to the decoder). */
function entryOf(buf: Uint8Array, f: WireField): { key: string; value: string } | null {
  if (f.field !== METADATA_PROPS_FIELD || f.wireType !== 2) return null;
  const payload = buf.subarray(f.payloadStart, f.end);
  let key: string | null = null;
  let value: string | null = null;
  for (const g of wireFields(payload)) {
    if (g.wireType !== 2) continue;
    const text = Buffer.from(payload.subarray(g.payloadStart, g.end)).toString('utf8');
    if (g.field === 1) key = text;
    else if (g.field === 2) value = text;
  }
  return key === null ? null : { key, value: value ?? '' };
}

/**
 * Checks the digest added by addIntegrityDigest, when the file carries one. Throws
 * "not a valid ONNX model: ..." for damaged protobuf structure and "integrity check failed: ..." for a
 * digest that does not match or a marker without a digest.
 */
export function checkIntegrityDigest(bytes: Uint8Array): void {
  let fields: WireField[];
  try {
    fields = wireFields(bytes);
  } catch (err) {
    throw new Error(`not a valid ONNX model: protobuf decoding failed (${(err as Error).message})`);
  }
  let marker = false;
  const digests: { field: WireField; value: string }[] = [];
  for (const f of fields) {
    let e: { key: string; value: string } | null;
    try {
      e = entryOf(bytes, f);
    } catch (err) {
      throw new Error(`not a valid ONNX model: metadata_props: ${(err as Error).message}`);
    }
    if (e?.key === INTEGRITY_MARKER_KEY) marker = true;
    if (e?.key === INTEGRITY_DIGEST_KEY) digests.push({ field: f, value: e.value });
  }
  if (digests.length === 0) {
    if (marker) throw new Error(`integrity check failed: the file was exported with a '${INTEGRITY_DIGEST_KEY}' digest, which is missing (the file is damaged)`);
    return;
  }
  const last = digests[digests.length - 1];
  if (digests.length > 1 || last.field !== fields[fields.length - 1]) {
    throw new Error(`integrity check failed: '${INTEGRITY_DIGEST_KEY}' must appear once, at the end of the file (the file is damaged or was edited)`);
  }
  const actual = createHash('sha256').update(bytes.subarray(0, last.field.start)).digest('hex');
  if (actual !== last.value) {
    throw new Error(`integrity check failed: the file's sha256 does not match its '${INTEGRITY_DIGEST_KEY}' (damaged or changed after export)`);
  }
}

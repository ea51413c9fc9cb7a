// Shard manifests: `<output>.manifest.json` next to each shard's predictions, written atomically after them.
import * as fs from 'fs';
import { createHash } from 'crypto';
import { writeFileAtomicSync } from '../io/atomic';
import { canonicalJson } from '../io/model-dir';
import type { Range, Shard } from './shard';

export interface InputFile {
  path: string;
  size: number;
  mtimeMs: number;
}

/** The JSON manifest of a finished shard: the shard, its range of the input, the inputs, model and predict settings, rows and output. */
export interface ShardManifest {
  format: 'myelin-shard';
  version: 1;
  shard: Shard;
  /** What the range counts: bytes of one CSV, records of one IDX file, files of a list; 'all' for an unsharded run. */
  unit: 'bytes' | 'records' | 'files' | 'all';
  range: Range | null;
  /** The total the ranges of all shards cover: file bytes, records or files. */
  total: number | null;
  inputs: InputFile[];
  model: { digest: string; path: string | null };
  /** The options that shape the output text. */
  predict: { probabilities: boolean; precision: number; inputScale: boolean; labelColumn: string | number | null; delimiter: string | null; header: boolean | null };
  rows: number;
  output: { file: string; bytes: number; sha256: string };
}

export const MANIFEST_SUFFIX = '.manifest.json';

/**
 * The manifest file written next to a shard's output file (output + '.manifest.json').
 * @param output the shard's output file path.
 * @returns the manifest's path.
 * @example batch.manifestPathFor('out/part-0.csv') // 'out/part-0.csv.manifest.json'
 */
export function manifestPathFor(output: string): string {
  return output + MANIFEST_SUFFIX;
}

/** Hex sha256 of a file, read in chunks. */
export function fileSha256(file: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/**
 * Reads a shard manifest (what predictFile writes next to a shard's output).
 * @param file the manifest's path (see manifestPathFor).
 * @param strict true (default): an unreadable file, invalid JSON or a file that is not a shard manifest is an
 * Error; false: any of those gives null.
 * @returns the manifest, or null when the file does not exist (or, with strict false, is not a valid manifest).
 * @throws Error naming the file (strict only) when it cannot be read (other than not existing), is not valid
 * JSON, or lacks format 'myelin-shard', version 1, rows, shard { index, count }, inputs, model.digest or output.sha256.
 * @example const m = batch.readShardManifest(batch.manifestPathFor('out/part-0.csv'));
 */
export function readShardManifest(file: string, strict = true): ShardManifest | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (!strict || (err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`${file}: cannot read the shard manifest: ${(err as Error).message}`);
  }
  let m: ShardManifest;
  try {
    m = JSON.parse(text) as ShardManifest;
  } catch (err) {
    if (!strict) return null;
    throw new Error(`${file}: the shard manifest is not valid JSON: ${(err as Error).message}`);
  }
  const ok = m !== null && typeof m === 'object' && m.format === 'myelin-shard' && m.version === 1 && typeof m.rows === 'number'
    && m.shard !== null && typeof m.shard === 'object' && Number.isInteger(m.shard.index) && Number.isInteger(m.shard.count)
    && Array.isArray(m.inputs) && m.model !== null && typeof m.model?.digest === 'string' && typeof m.output?.sha256 === 'string';
  if (!ok) {
    if (!strict) return null;
    throw new Error(`${file} is not a myelin shard manifest (format 'myelin-shard', version 1)`);
  }
  return m;
}

export function writeShardManifest(file: string, m: ShardManifest): void {
  writeFileAtomicSync(file, JSON.stringify(m, null, 2) + '\n');
}

/** Whether a manifest describes the same work: shard, range, input files (size and mtime), model and output options. */
export function sameWork(a: Omit<ShardManifest, 'rows' | 'output'>, b: Omit<ShardManifest, 'rows' | 'output'>): boolean {
  const key = (m: Omit<ShardManifest, 'rows' | 'output'>): string => canonicalJson({
    shard: m.shard, unit: m.unit, range: m.range, total: m.total, inputs: m.inputs, model: m.model.digest, predict: m.predict,
  });
  return key(a) === key(b);
}

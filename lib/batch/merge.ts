// mergeShards: joins shard outputs in input order after checking their manifests (one model, one input, every row once).
import * as fs from 'fs';
import * as path from 'path';
import { OutputSink } from './output';
import { ShardManifest, MANIFEST_SUFFIX, manifestPathFor, readShardManifest, fileSha256 } from './manifest';

/** What mergeShards resolves with: rows and shards merged, and the output file. */
export interface MergeResult {
  rows: number;
  shards: number;
  output: string;
}

interface Part {
  manifestPath: string;
  outputPath: string;
  m: ShardManifest;
}

/** Shard manifests named by the arguments: directories (every *.manifest.json in them), manifests, or shard outputs. */
function manifestsOf(args: readonly string[]): string[] {
  const out: string[] = [];
  for (const a of args) {
    let st: fs.Stats;
    try { st = fs.statSync(a); } catch { throw new Error(`merge: '${a}' not found`); }
    if (st.isDirectory()) {
      const found = fs.readdirSync(a).filter((n) => n.endsWith(MANIFEST_SUFFIX) && !n.startsWith('.')).sort().map((n) => path.join(a, n));
      if (found.length === 0) throw new Error(`merge: directory '${a}' holds no shard manifests (*${MANIFEST_SUFFIX})`);
      out.push(...found);
    } else if (a.endsWith(MANIFEST_SUFFIX)) out.push(a);
    else {
      const mp = manifestPathFor(a);
      if (!fs.existsSync(mp)) throw new Error(`merge: shard output '${a}' has no manifest ${mp}: the shard did not finish (run it again)`);
      out.push(mp);
    }
  }
  return [...new Set(out.map((p) => path.resolve(p)))];
}

const short = (d: string): string => d.slice(0, 12);
const name = (p: Part): string => `shard ${p.m.shard.index}/${p.m.shard.count} (${p.manifestPath})`;
const key = (v: unknown): string => JSON.stringify(v);

/** Checks that the parts are one complete, consistent set; returns them in input order. */
export function checkShardSet(parts: Part[]): Part[] {
  if (parts.length === 0) throw new Error('merge: no shards given');
  // One model.
  const byDigest = new Map<string, Part[]>();
  for (const p of parts) byDigest.set(p.m.model.digest, [...(byDigest.get(p.m.model.digest) ?? []), p]);
  if (byDigest.size > 1) {
    const groups = [...byDigest.values()].sort((a, b) => b.length - a.length);
    const odd = groups.slice(1).flat();
    throw new Error(
      `merge: ${odd.map(name).join(', ')} ${odd.length === 1 ? 'was' : 'were'} predicted with a different model (digest ${short(odd[0].m.model.digest)}${odd[0].m.model.path !== null ? `, ${odd[0].m.model.path}` : ''}) ` +
        `than the other shards (digest ${short(groups[0][0].m.model.digest)}${groups[0][0].m.model.path !== null ? `, ${groups[0][0].m.model.path}` : ''}): re-run ${odd.length === 1 ? 'it' : 'them'} with the same model`,
    );
  }
  const ref = parts[0];
  for (const p of parts) {
    if (p.m.shard.count !== ref.m.shard.count) {
      throw new Error(`merge: ${name(p)} is one of ${p.m.shard.count} shards but ${name(ref)} one of ${ref.m.shard.count}: shards of different splits cannot be merged`);
    }
    if (p.m.unit !== ref.m.unit || p.m.total !== ref.m.total || key(p.m.inputs) !== key(ref.m.inputs)) {
      throw new Error(`merge: ${name(p)} was predicted from a different input than ${name(ref)} (${describeInputs(p.m)} vs ${describeInputs(ref.m)}): the input changed between shards; re-run the shards on one input`);
    }
    if (key(p.m.predict) !== key(ref.m.predict)) {
      throw new Error(`merge: ${name(p)} was predicted with different options (${key(p.m.predict)}) than ${name(ref)} (${key(ref.m.predict)})`);
    }
  }
  const byIndex = new Map<number, Part>();
  for (const p of parts) {
    const other = byIndex.get(p.m.shard.index);
    if (other !== undefined) throw new Error(`merge: overlap: ${name(other)} and ${p.manifestPath} are the same shard (${p.m.shard.index}/${p.m.shard.count}): give each shard once`);
    byIndex.set(p.m.shard.index, p);
  }
  const count = ref.m.shard.count;
  const missing: number[] = [];
  for (let i = 0; i < count; i++) if (!byIndex.has(i)) missing.push(i);
  if (missing.length > 0) {
    throw new Error(`merge: gap: shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${count}`).join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing (have ${[...byIndex.keys()].sort((a, b) => a - b).map((i) => `${i}/${count}`).join(', ')}): run ${missing.length > 1 ? 'them' : 'it'} first`);
  }
  const ordered = [...byIndex.values()].sort((a, b) => a.m.shard.index - b.m.shard.index);
  // Ranges: contiguous from 0 to the total (bytes, records or files).
  if (ref.m.range !== null) {
    let at = 0;
    for (const p of ordered) {
      const r = p.m.range;
      if (r === null || r.start !== at) {
        const what = r === null || r.start > at ? 'gap' : 'overlap';
        throw new Error(`merge: ${what}: ${name(p)} covers ${ref.m.unit} ${r === null ? 'nothing' : `[${r.start}, ${r.end})`}, but the shards before it end at ${at}`);
      }
      at = r.end;
    }
    if (at !== ref.m.total) throw new Error(`merge: gap: the shards cover ${ref.m.unit} [0, ${at}) of ${ref.m.total}`);
  }
  // The input, as it is now, must be the one predicted.
  for (const f of ref.m.inputs) {
    let st: fs.Stats;
    try { st = fs.statSync(f.path); } catch { continue; } // not visible here: nothing to compare
    if (st.size !== f.size || st.mtimeMs !== f.mtimeMs) {
      throw new Error(`merge: input ${f.path} changed after the shards were predicted (size ${f.size} -> ${st.size}, mtime ${new Date(f.mtimeMs).toISOString()} -> ${new Date(st.mtimeMs).toISOString()}; first shard: ${ref.manifestPath}): re-run the shards`);
    }
  }
  return ordered;
}

function describeInputs(m: ShardManifest): string {
  const list = m.inputs.map((f) => `${f.path}: ${f.size} bytes, mtime ${new Date(f.mtimeMs).toISOString()}`);
  return list.length <= 2 ? list.join('; ') : `${list.length} files, first ${list[0]}`;
}

/**
 * Joins shard outputs (named by directories, shard outputs or their manifests) into one predictions
 * CSV at `output` (atomically), in input order, with one header. Refuses gaps, overlaps, a different
 * model, different options, a changed input, and outputs that do not match their manifest.
 * @param args - shard outputs, their `<output>.manifest.json` files, or directories holding manifests (one string or a list).
 * @param output - the merged predictions CSV path (written atomically).
 * @returns the rows written, the number of shards merged and the output path.
 * @throws Error when a path is not found, a directory holds no manifests, a shard output has no manifest (it did not finish), no shards are given, shards come from different splits, models, options or inputs, two arguments are the same shard (overlap), a shard is missing (gap), an input changed after prediction, or an output does not match its manifest.
 * @example
 * ```ts
 * await mergeShards(['out/part-0.csv', 'out/part-1.csv'], 'predictions.csv');
 * ```
 */
export async function mergeShards(args: string | readonly string[], output: string): Promise<MergeResult> {
  const list = typeof args === 'string' ? [args] : [...args];
  const parts: Part[] = manifestsOf(list).map((mp) => {
    const m = readShardManifest(mp)!;
    if (m === null) throw new Error(`merge: ${mp} not found`);
    return { manifestPath: mp, outputPath: path.join(path.dirname(mp), m.output.file), m };
  });
  const ordered = checkShardSet(parts);
  for (const p of ordered) {
    if (!fs.existsSync(p.outputPath)) throw new Error(`merge: ${name(p)}: its output ${p.outputPath} is missing: re-run the shard`);
    if (path.resolve(p.outputPath) === path.resolve(output)) throw new Error(`merge: --output ${output} is ${name(p)}'s own output`);
    if (fileSha256(p.outputPath) !== p.m.output.sha256) throw new Error(`merge: ${name(p)}: ${p.outputPath} does not match the sha256 in its manifest (changed or damaged after the shard finished): re-run the shard`);
  }
  const sink = new OutputSink(output);
  let header: Buffer | null = null;
  let rows = 0;
  try {
    for (const p of ordered) {
      if (p.m.rows === 0) continue;
      let lines = 0;
      let skipping = header !== null; // every later part's header line
      let own: Buffer[] = [];
      for await (const c of fs.createReadStream(p.outputPath, { highWaterMark: 1 << 20 })) {
        let chunk = c as Buffer;
        for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
        if (header === null || skipping) {
          const nl = chunk.indexOf(10);
          own.push(nl >= 0 ? chunk.subarray(0, nl + 1) : chunk);
          if (nl < 0) continue;
          const h = Buffer.concat(own);
          own = [];
          chunk = chunk.subarray(nl + 1);
          if (header === null) { header = h; await sink.write(h); } else if (!h.equals(header)) {
            throw new Error(`merge: ${name(p)}: its header '${h.toString().trim()}' differs from the first shard's '${header.toString().trim()}'`);
          }
          skipping = false;
        }
        if (chunk.length > 0) await sink.write(chunk);
      }
      if (lines !== p.m.rows + 1) throw new Error(`merge: ${name(p)}: ${p.outputPath} has ${lines - 1} rows, its manifest says ${p.m.rows}`);
      rows += p.m.rows;
    }
    await sink.finish();
  } catch (err) {
    await sink.abort();
    throw err;
  }
  return { rows, shards: ordered.length, output };
}

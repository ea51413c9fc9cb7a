// Hyper-parameter sweeps as array jobs: a grid or seeded random search over MLP fit options; each shard
// trains its trials and writes one result record per trial atomically; sweepReport tabulates them.
import * as fs from 'fs';
import * as path from 'path';
import { createHash } from 'crypto';
import { fit, type FitData } from '../train';
import { readCsv } from '../data/csv';
import { loadDigits } from '../data/digits';
import { Rng } from '../random';
import { writeFileAtomicSync } from '../io/atomic';
import { canonicalJson } from '../io/model-dir';
import { buildMlp } from '../cli/train-command';
import { Shard, checkShard, evenRange } from './shard';

/** A sweep file (sweep.json). */
export interface SweepSpec {
  /** 'digits' or the path of a CSV file (relative to the sweep file). */
  data: string;
  /** CSV: the label column (default 'last'). */
  labelColumn?: string | number;
  /** 'grid' (every combination, in order) or 'random' (`trials` draws, seeded). */
  search: 'grid' | 'random';
  trials?: number;
  seed?: number;
  /** Option name -> the values to try: layers (number[]), lr, epochs, batch, optimizer, activation, seed. */
  space: Record<string, unknown[]>;
  /** Held-out fraction for the metric (default 0.2). */
  valSplit?: number;
}

const KNOWN = ['layers', 'lr', 'epochs', 'batch', 'optimizer', 'activation', 'seed'];

export interface TrialResult {
  format: 'myelin-sweep-trial';
  sweep: string;
  trial: number;
  config: Record<string, unknown>;
  valLoss: number | null;
  valAccuracy: number | null;
  trainLoss: number | null;
  seconds: number;
}

/** Reads and checks a sweep file; returns the spec, its digest and the directory its paths are relative to. */
export function readSweep(file: string): { spec: SweepSpec; digest: string; base: string } {
  let spec: SweepSpec;
  try {
    spec = JSON.parse(fs.readFileSync(file, 'utf8')) as SweepSpec;
  } catch (err) {
    throw new Error(`sweep: ${file}: ${(err as Error).message}`);
  }
  const bad = (msg: string): never => { throw new Error(`sweep: ${file}: ${msg}`); };
  if (spec === null || typeof spec !== 'object') bad('must hold a JSON object');
  if (typeof spec.data !== 'string') bad(`"data" must be 'digits' or a CSV path, got ${JSON.stringify(spec.data)}`);
  if (spec.search !== 'grid' && spec.search !== 'random') bad(`"search" must be 'grid' or 'random', got ${JSON.stringify(spec.search)}`);
  if (spec.search === 'random' && !(Number.isSafeInteger(spec.trials) && spec.trials! > 0)) bad(`random search needs "trials", a positive integer, got ${JSON.stringify(spec.trials)}`);
  if (spec.space === null || typeof spec.space !== 'object') bad('"space" must map option names to lists of values');
  for (const [k, v] of Object.entries(spec.space)) {
    if (!KNOWN.includes(k)) bad(`unknown option "${k}" in "space" (known: ${KNOWN.join(', ')})`);
    if (!Array.isArray(v) || v.length === 0) bad(`"space.${k}" must be a non-empty list, got ${JSON.stringify(v)}`);
  }
  return { spec, digest: createHash('sha256').update(canonicalJson(spec)).digest('hex'), base: path.dirname(path.resolve(file)) };
}

/** Every trial's configuration, in trial order: the grid's combinations, or `trials` seeded random draws. */
export function sweepTrials(spec: SweepSpec): Record<string, unknown>[] {
  const keys = Object.keys(spec.space).sort();
  if (spec.search === 'random') {
    const rng = new Rng(spec.seed ?? 0);
    return Array.from({ length: spec.trials! }, () => Object.fromEntries(keys.map((k) => [k, spec.space[k][rng.int(spec.space[k].length)]])));
  }
  let out: Record<string, unknown>[] = [{}];
  for (const k of keys) out = out.flatMap((c) => spec.space[k].map((v) => ({ ...c, [k]: v })));
  return out;
}

const trialFile = (dir: string, t: number): string => path.join(dir, `trial-${String(t).padStart(5, '0')}.json`);

/** Trains this shard's trials (a contiguous range of them) and writes each result record; finished trials are skipped. */
export async function runSweep(file: string, outDir: string, shard: Shard = { index: 0, count: 1 }, log: (m: string) => void = () => undefined): Promise<TrialResult[]> {
  const { spec, digest, base } = readSweep(file);
  checkShard(shard, 'sweep');
  const trials = sweepTrials(spec);
  const { start, end } = evenRange(trials.length, shard);
  fs.mkdirSync(outDir, { recursive: true });
  let data: FitData;
  let features: number;
  let classes: number;
  if (spec.data === 'digits') {
    const d = loadDigits();
    data = { x: d.x, y: d.y, n: d.n, features: d.features };
    features = d.features;
    classes = 10;
  } else {
    const t = await readCsv(path.resolve(base, spec.data), { labelColumn: spec.labelColumn ?? 'last' });
    if (t.y === null) throw new Error(`sweep: ${spec.data} has no label column`);
    data = { ...t, y: t.y };
    features = t.features;
    classes = t.task === 'classification' ? t.classNames?.length ?? Math.max(...(t.y as Int32Array)) + 1 : 0;
  }
  const results: TrialResult[] = [];
  for (let t = start; t < end; t++) {
    const out = trialFile(outDir, t);
    try {
      const old = JSON.parse(fs.readFileSync(out, 'utf8')) as TrialResult;
      if (old.sweep === digest && old.trial === t) { log(`trial ${t}: already done (${out})`); results.push(old); continue; }
    } catch { /* not done */ }
    const c = { layers: [32], lr: 0.01, epochs: 10, batch: 32, optimizer: 'adam', activation: 'relu', seed: spec.seed ?? 0, ...trials[t] } as
      { layers: number[]; lr: number; epochs: number; batch: number; optimizer: 'adam'; activation: 'relu'; seed: number };
    const model = buildMlp(features, c.layers, classes > 0 ? classes : 1, c.activation, c.seed);
    const started = performance.now();
    const h = await fit(model, data, {
      epochs: c.epochs, batchSize: c.batch, lr: c.lr, optimizer: c.optimizer, seed: c.seed, validationSplit: spec.valSplit ?? 0.2, verbose: 0,
      ...(spec.data !== 'digits' ? { standardize: true } : {}),
    });
    const last = (a: number[]): number | null => (a.length > 0 ? a[a.length - 1] : null);
    const r: TrialResult = {
      format: 'myelin-sweep-trial', sweep: digest, trial: t, config: trials[t],
      valLoss: last(h.valLoss), valAccuracy: classes > 0 ? last(h.valAccuracy) : null, trainLoss: last(h.loss), seconds: (performance.now() - started) / 1000,
    };
    writeFileAtomicSync(out, JSON.stringify(r, null, 2) + '\n');
    log(`trial ${t}: ${JSON.stringify(trials[t])} val loss ${r.valLoss?.toFixed(4)}${r.valAccuracy !== null ? `, val accuracy ${(100 * r.valAccuracy).toFixed(2)}%` : ''}`);
    results.push(r);
  }
  return results;
}

/** The result records of a sweep directory, best first (highest validation accuracy, else lowest validation loss), and the trials still missing. */
export function sweepReport(outDir: string, file?: string): { results: TrialResult[]; missing: number[]; table: string } {
  const all = fs.readdirSync(outDir).filter((n) => /^trial-\d+\.json$/.test(n)).map((n) => JSON.parse(fs.readFileSync(path.join(outDir, n), 'utf8')) as TrialResult);
  let results = all;
  let missing: number[] = [];
  if (file !== undefined) {
    const { spec, digest } = readSweep(file);
    const other = all.filter((r) => r.sweep !== digest);
    if (other.length > 0) throw new Error(`sweep-report: ${path.join(outDir, `trial-${String(other[0].trial).padStart(5, '0')}.json`)} belongs to another sweep than ${file} (the sweep file changed?)`);
    const have = new Set(all.map((r) => r.trial));
    missing = sweepTrials(spec).map((_, i) => i).filter((i) => !have.has(i));
  } else if (new Set(all.map((r) => r.sweep)).size > 1) throw new Error(`sweep-report: ${outDir} holds results of more than one sweep`);
  const score = (r: TrialResult): number => (r.valAccuracy !== null ? -r.valAccuracy : r.valLoss ?? Infinity);
  results = [...all].sort((a, b) => score(a) - score(b) || a.trial - b.trial);
  const rows = results.map((r, i) => `| ${i + 1} | ${r.trial} | ${r.valAccuracy !== null ? (100 * r.valAccuracy).toFixed(2) + '%' : ''} | ${r.valLoss?.toFixed(4) ?? ''} | ${r.seconds.toFixed(1)} | \`${JSON.stringify(r.config)}\` |`);
  const table = ['| rank | trial | val accuracy | val loss | seconds | config |', '|---|---|---|---|---|---|', ...rows].join('\n') +
    (missing.length > 0 ? `\nmissing trials: ${missing.join(', ')}` : '');
  return { results, missing, table };
}

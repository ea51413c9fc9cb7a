// Sharded batch inference through the compiled CLI in child processes: N shards merged equal one process,
// a SIGKILLed shard re-run completes the set, a finished shard is a no-op, merge refuses a different model,
// gaps, overlaps and a changed input; IDX input sharded by records, a list of files by file.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn, spawnSync, SpawnSyncReturns } from 'child_process';
import { ensureDist, DIST_CLI } from './helpers/dist';
import { save } from '../lib/io/model-file';
import * as nn from '../lib/nn';
import { predictFile, mergeShards } from '../lib/batch';
import { parseShard, shardFromEnv, csvSplit } from '../lib/batch/shard';

const seed = ((Date.now() ^ (process.pid << 4)) >>> 0) % 1_000_000;
let dir = '';

interface Run { status: number | null; stdout: string; stderr: string }

function cli(args: string[], env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [DIST_CLI, ...args], { encoding: 'utf8', cwd: dir, env: { ...process.env, ...env }, maxBuffer: 1 << 28 });
}
/** Runs the CLI as a child process without blocking (so several shards run at once). */
function cliAsync(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [DIST_CLI, ...args], { cwd: dir });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('error', reject);
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
const show = (r: Run): string => `exit ${r.status}\nstdout: ${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr.slice(0, 2000)}`;

/** Random rows of 8 features (a header f0..f7 unless headerless); a few blank lines inside and at the end. */
function writeCsv(file: string, rows: number, header = true, salt = 0): void {
  let state = seed + 7 + salt;
  const rand = (): number => { state = (Math.imul(state, 1664525) + 1013904223) >>> 0; return state / 4294967296; };
  const lines = header ? [Array.from({ length: 8 }, (_, j) => `f${j}`).join(',')] : [];
  for (let i = 0; i < rows; i++) {
    lines.push(Array.from({ length: 8 }, () => (rand() * 4 - 2).toFixed(4)).join(','));
    if (i % 997 === 500) lines.push('');
  }
  fs.writeFileSync(file, lines.join('\n') + '\n\n');
}

function model(dirName: string, s: number): string {
  const { Sequential, Linear, ReLU } = nn;
  const out = path.join(dir, dirName);
  save(new Sequential(new Linear(8, 16, { seed: s }), new ReLU(), new Linear(16, 3, { seed: s + 1 })), out,
    { inputShape: [8], metadata: { task: 'classification', classNames: ['a', 'b', 'c'] } });
  return out;
}

/** Runs shards 0..n-1 of `input` at once into `outDir`, then merges them into `merged`; returns the merged bytes. */
async function shardAndMerge(input: string[], n: number, outDir: string, merged: string, extra: string[] = []): Promise<Buffer> {
  const runs = await Promise.all(Array.from({ length: n }, (_, i) =>
    cliAsync(['predict', '--model', 'm1', '--input', ...input, '--output', `${outDir}/`, '--shard', `${i}/${n}`, '--probabilities', '--batch', '64', ...extra])));
  for (const r of runs) expect(r.status, show(r)).toBe(0);
  const m = cli(['merge', '--output', merged, outDir]);
  expect(m.status, show({ ...m, status: m.status })).toBe(0);
  expect(m.stderr).toContain(`merged ${n} shard(s)`);
  return fs.readFileSync(path.join(dir, merged));
}

/** Asserts two outputs are byte-identical; on a difference, names the first differing line. */
function expectSame(got: Buffer, want: Buffer, what: string): void {
  if (got.equals(want)) return;
  const a = got.toString().split('\n');
  const b = want.toString().split('\n');
  let i = 0;
  while (i < Math.min(a.length, b.length) && a[i] === b[i]) i++;
  expect(`${what}: line ${i + 1} of ${a.length}/${b.length}: ${a[i]}`).toBe(`${what}: line ${i + 1} of ${a.length}/${b.length}: ${b[i]}`);
}

function whole(input: string[], out: string, extra: string[] = []): Buffer {
  const r = cli(['predict', '--model', 'm1', '--input', ...input, '--output', out, '--probabilities', '--batch', '64', ...extra]);
  expect(r.status, show({ ...r, status: r.status })).toBe(0);
  return fs.readFileSync(path.join(dir, out));
}

beforeAll(() => {
  ensureDist();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-shard-'));
  model('m1', 1);
  model('m2', 11);
  writeCsv(path.join(dir, 'in.csv'), 3000);
});
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

describe('predict --shard / merge (CLI child processes)', () => {
  it.each([1, 3, 7])('%i shard process(es) merged are byte-identical to one unsharded process', async (n) => {
    const one = whole(['in.csv'], `whole-${n}.csv`);
    expect(one.toString().split('\n')[0]).toBe('class,p_a,p_b,p_c');
    expect(one.toString().trim().split('\n').length).toBe(3001);
    const merged = await shardAndMerge(['in.csv'], n, `csv-${n}`, `merged-${n}.csv`);
    expectSame(merged, one, 'merged vs one process');
    const m = JSON.parse(fs.readFileSync(path.join(dir, `csv-${n}`, `part-00000-of-${String(n).padStart(5, '0')}.csv.manifest.json`), 'utf8'));
    expect(m.unit).toBe('bytes');
    expect(m.range.start).toBe(0);
    expect(m.model.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a headerless CSV: shards after the first do not predict the first line again', async () => {
    writeCsv(path.join(dir, 'nohead.csv'), 500, false);
    const one = whole(['nohead.csv'], 'nohead-whole.csv');
    const merged = await shardAndMerge(['nohead.csv'], 3, 'nohead', 'nohead-merged.csv');
    expectSame(merged, one, 'merged vs one process');
    expect(one.toString().trim().split('\n').length).toBe(501);
  });

  it('CSV byte ranges start at line starts, cover the file and do not overlap', () => {
    const file = path.join(dir, 'in.csv');
    const bytes = fs.readFileSync(file);
    let at = 0;
    for (let i = 0; i < 5; i++) {
      const s = csvSplit(file, { index: i, count: 5 });
      expect(s.range.start).toBe(at);
      if (s.range.start > 0) expect(bytes[s.range.start - 1]).toBe(10);
      at = s.range.end;
      expect(s.firstLine.toString()).toBe('f0,f1,f2,f3,f4,f5,f6,f7\n');
    }
    expect(at).toBe(bytes.length);
  });

  it('a finished shard re-run is a no-op; a shard killed mid-way (SIGKILL) re-runs cleanly and completes the set', async () => {
    writeCsv(path.join(dir, 'big.csv'), 30000, true, 3);
    const one = whole(['big.csv'], 'big-whole.csv', ['--batch', '8']);
    const out = path.join(dir, 'kill');
    for (const i of [0, 2]) expect(cli(['predict', '--model', 'm1', '--input', 'big.csv', '--output', 'kill/', '--shard', `${i}/3`, '--probabilities', '--batch', '8']).status).toBe(0);
    // Shard 1: killed once its temp output exists (it is writing).
    const p = spawn(process.execPath, [DIST_CLI, 'predict', '--model', 'm1', '--input', 'big.csv', '--output', 'kill/', '--shard', '1/3', '--probabilities', '--batch', '8'], { cwd: dir, stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => p.on('exit', (_code, sig) => resolve(sig)));
    const temp = (): string[] => (fs.existsSync(out) ? fs.readdirSync(out).filter((f) => f.startsWith('.part-00001-of-00003.csv.tmp-')) : []);
    const t0 = Date.now();
    while (temp().length === 0 || fs.statSync(path.join(out, temp()[0])).size === 0) {
      if (Date.now() - t0 > 60_000) throw new Error('shard 1 never started writing');
      await new Promise((r) => setTimeout(r, 5));
    }
    p.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(fs.existsSync(path.join(out, 'part-00001-of-00003.csv.manifest.json'))).toBe(false);
    expect(temp().length).toBe(1);
    const gap = cli(['merge', '--output', 'kill-merged.csv', 'kill']);
    expect(gap.status).toBe(1);
    expect(gap.stderr).toMatch(/gap: shard 1\/3 is missing/);
    expect(fs.existsSync(path.join(dir, 'kill-merged.csv'))).toBe(false);
    // The re-run starts over (the dead run's temp file is removed) and completes the set.
    const again = cli(['predict', '--model', 'm1', '--input', 'big.csv', '--output', 'kill/', '--shard', '1/3', '--probabilities', '--batch', '8']);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/shard 1\/3: predicted \d+ rows/);
    expect(temp()).toEqual([]);
    // A finished shard: nothing to do, its output untouched.
    const before = fs.statSync(path.join(out, 'part-00001-of-00003.csv')).mtimeMs;
    const noop = cli(['predict', '--model', 'm1', '--input', 'big.csv', '--output', 'kill/', '--shard', '1/3', '--probabilities', '--batch', '8']);
    expect(noop.status).toBe(0);
    expect(noop.stderr).toMatch(/shard 1\/3: already done .* nothing to do/);
    expect(fs.statSync(path.join(out, 'part-00001-of-00003.csv')).mtimeMs).toBe(before);
    const m = cli(['merge', '--output', 'kill-merged.csv', 'kill']);
    expect(m.status, m.stderr).toBe(0);
    expectSame(fs.readFileSync(path.join(dir, 'kill-merged.csv')), one, 'merged after the kill vs one process');
  });

  it('merge refuses a shard predicted with a different model, naming its file', async () => {
    await shardAndMerge(['in.csv'], 3, 'mixed', 'mixed-ok.csv');
    const r = cli(['predict', '--model', 'm2', '--input', 'in.csv', '--output', 'mixed/', '--shard', '2/3', '--probabilities', '--batch', '64']);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/shard 2\/3: predicted/); // the manifest no longer matches: the shard ran again
    const m = cli(['merge', '--output', 'mixed.csv', 'mixed']);
    expect(m.status).toBe(1);
    expect(m.stderr).toMatch(/shard 2\/3 \(\S*part-00002-of-00003\.csv\.manifest\.json\) was predicted with a different model/);
    expect(fs.existsSync(path.join(dir, 'mixed.csv'))).toBe(false);
  });

  it('merge refuses gaps, overlaps, mixed splits, a changed input and a damaged output', async () => {
    await shardAndMerge(['in.csv'], 3, 'g3', 'g3.csv');
    await shardAndMerge(['in.csv'], 2, 'g2', 'g2.csv');
    const merge = (...args: string[]): SpawnSyncReturns<string> => cli(['merge', '--output', 'bad.csv', ...args]);
    let r = merge('g3/part-00000-of-00003.csv', 'g3/part-00002-of-00003.csv');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/gap: shard 1\/3 is missing/);
    fs.mkdirSync(path.join(dir, 'g3copy'));
    for (const f of ['part-00001-of-00003.csv', 'part-00001-of-00003.csv.manifest.json']) fs.copyFileSync(path.join(dir, 'g3', f), path.join(dir, 'g3copy', f));
    r = merge('g3', 'g3copy');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/overlap: shard 1\/3 .* are the same shard/);
    r = merge('g3/part-00000-of-00003.csv', 'g2/part-00001-of-00002.csv');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/one of 2 shards but .* one of 3: shards of different splits cannot be merged/);
    r = merge('g3/part-00000-of-00003.csv');
    expect(r.stderr).toMatch(/gap: shards 1\/3, 2\/3 are missing/);
    r = merge('g3/nope.csv');
    expect(r.stderr).toMatch(/'g3\/nope.csv' not found/);
    // A damaged output.
    const p1 = path.join(dir, 'g2', 'part-00001-of-00002.csv');
    const text = fs.readFileSync(p1, 'utf8');
    fs.writeFileSync(p1, text.replace(/\n[abc],/, '\nz,'));
    r = merge('g2');
    expect(r.stderr).toMatch(/shard 1\/2 .*part-00001-of-00002\.csv does not match the sha256 in its manifest/);
    // A changed input.
    const t = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(dir, 'in.csv'), t, t);
    r = merge('g3');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/input \S*in\.csv changed after the shards were predicted/);
    expect(fs.existsSync(path.join(dir, 'bad.csv'))).toBe(false);
  });

  it('IDX input is sharded by records', async () => {
    const n = 1000;
    const buf = Buffer.alloc(4 + 8 + n * 8);
    buf.set([0, 0, 0x08, 2]);
    buf.writeUInt32BE(n, 4);
    buf.writeUInt32BE(8, 8);
    for (let i = 0; i < n * 8; i++) buf[12 + i] = (i * 7919 + seed) % 256;
    fs.writeFileSync(path.join(dir, 'x.idx'), buf);
    const one = whole(['x.idx'], 'idx-whole.csv');
    const merged = await shardAndMerge(['x.idx'], 3, 'idx', 'idx-merged.csv');
    expectSame(merged, one, 'merged vs one process');
    const ranges = [0, 1, 2].map((i) => JSON.parse(fs.readFileSync(path.join(dir, 'idx', `part-0000${i}-of-00003.csv.manifest.json`), 'utf8')));
    expect(ranges.map((m) => [m.unit, m.range.start, m.range.end, m.rows])).toEqual([['records', 0, 333, 333], ['records', 333, 666, 333], ['records', 666, 1000, 334]]);
  });

  it('a list of files is sharded by whole files', async () => {
    const files = [0, 1, 2, 3, 4].map((i) => { const f = `list-${i}.csv`; writeCsv(path.join(dir, f), 50 + 30 * i, true, 100 + i); return f; });
    const one = whole(files, 'list-whole.csv');
    expect(one.toString().trim().split('\n').length).toBe(1 + 50 * 5 + 30 * 10);
    const merged = await shardAndMerge(files, 3, 'list', 'list-merged.csv');
    expectSame(merged, one, 'merged vs one process');
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'list', 'part-00001-of-00003.csv.manifest.json'), 'utf8'));
    expect([m.unit, m.range, m.total, m.inputs.length]).toEqual(['files', { start: 1, end: 3 }, 5, 5]);
  });

  it('--shard values and the array-job environment are validated with clear errors', () => {
    for (const [v, re] of [['3/3', /0-based, so I must be below N=3/], ['-1/2', /must be I\/N/], ['a/b', /must be I\/N .* got 'a\/b'/], ['0/0', /N must be at least 1/]] as const) {
      const r = cli(['predict', '--model', 'm1', '--input', 'in.csv', '--output', 'v/', '--shard', v]);
      expect(r.status, v).toBe(2);
      expect(r.stderr, v).toMatch(re);
    }
    let r = cli(['predict', '--model', 'm1', '--input', 'in.csv', '--output', 'v/'], { JOB_COMPLETION_INDEX: '1' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/pass --shard-count <completions> or set MYELIN_SHARD_COUNT/);
    r = cli(['predict', '--model', 'm1', '--input', 'in.csv', '--output', 'v/'], { JOB_COMPLETION_INDEX: '1', MYELIN_SHARD_COUNT: '2' });
    expect(r.status, r.stderr).toBe(0);
    expect(fs.existsSync(path.join(dir, 'v', 'part-00001-of-00002.csv.manifest.json'))).toBe(true);
    r = cli(['predict', '--model', 'm1', '--input', 'in.csv', '--output', 'v/', '--shard-count', '2'], { JOB_COMPLETION_INDEX: '0' });
    expect(r.status, r.stderr).toBe(0);
    r = cli(['predict', '--model', 'm1', '--input', 'in.csv', '--output', 'v/'], { AWS_BATCH_JOB_ARRAY_INDEX: '4', AWS_BATCH_JOB_ARRAY_SIZE: '4' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/AWS_BATCH_JOB_ARRAY_INDEX: the shard index must be an integer in \[0, 3\]/);
    r = cli(['predict', '--model', 'm1', '--input', 'in.csv', '--shard', '0/2']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--shard needs --output/);
    expect(parseShard('2/7')).toEqual({ index: 2, count: 7 });
    expect(shardFromEnv({ AWS_BATCH_JOB_ARRAY_INDEX: '3', AWS_BATCH_JOB_ARRAY_SIZE: '8' })).toEqual({ index: 3, count: 8 });
    expect(shardFromEnv({})).toBeNull();
  });
});

describe('predictFile / mergeShards (API)', () => {
  it('predictFile with a Module and a shard object, merged, equals the unsharded run; a new output directory is created', async () => {
    const { Sequential, Linear } = nn;
    const mod = new Sequential(new Linear(8, 2, { seed: 5 }));
    const input = path.join(dir, 'in.csv');
    const all = await predictFile(mod, input, path.join(dir, 'api-all.csv'), { batchSize: 100, precision: 9 });
    expect(all).toMatchObject({ rows: 3000, skipped: false, manifest: null, unit: 'all' });
    for (let i = 0; i < 4; i++) {
      const r = await predictFile(mod, input, path.join(dir, 'api', `s${i}.csv`), { shard: { index: i, count: 4 }, batchSize: 100, precision: 9 });
      expect(r.unit).toBe('bytes');
    }
    const again = await predictFile(mod, input, path.join(dir, 'api', 's2.csv'), { shard: { index: 2, count: 4 }, batchSize: 100, precision: 9 });
    expect(again.skipped).toBe(true);
    const m = await mergeShards(path.join(dir, 'api'), path.join(dir, 'api-merged.csv'));
    expect(m).toMatchObject({ rows: 3000, shards: 4 });
    expectSame(fs.readFileSync(path.join(dir, 'api-merged.csv')), fs.readFileSync(path.join(dir, 'api-all.csv')), 'API merged vs unsharded');
    await expect(predictFile(mod, input, path.join(dir, 'x.csv'), { shard: { index: 4, count: 4 } })).rejects.toThrow(/shard index must be an integer in \[0, 3\]/);
    await expect(predictFile(mod, input, path.join(dir, 'x.csv'), { shards: 2 } as never)).rejects.toThrow(/shards/);
  });
});

// Smoke test of the benchmark suite: `node bench/run.js --quick` runs on the built package and writes JSON + SVG.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '..');
const script = path.join(root, 'bench', 'run.js');
let dir = '';

interface Candidate { status: string; reason?: string; samples?: number[]; time?: { n: number; median: number; min: number; max: number }; value?: { median: number } }
interface CaseRecord { id: string; group: string; baseline: string; candidates: Record<string, Candidate>; speedup: Record<string, number> }
interface Results {
  machine: { cpu: string; cores: number; node: string; loadAvgStart: number[]; loadAvgEnd: number[] };
  myelin: { native: unknown; js: { backend: string } | null };
  settings: { quick: boolean; reps: number };
  cases: CaseRecord[];
  groupErrors: Record<string, string>;
  targets: { id: string; met: boolean | null; measured: string }[];
}

describe('bench/run.js --quick', () => {
  let run: ReturnType<typeof spawnSync>;
  let results: Results;
  beforeAll(() => {
    if (!fs.existsSync(path.join(root, 'dist', 'index.js'))) {
      throw new Error('bench tests need the built package: run `npm run build:ts` first (dist/index.js missing)');
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-bench-test-'));
    run = spawnSync(process.execPath, [script, '--quick', '--out', path.join(dir, 'r.json'), '--svg', path.join(dir, 'c.svg')], {
      cwd: root, encoding: 'utf8', timeout: 280_000,
    });
    if (run.status !== 0) throw new Error(`bench/run.js --quick exited ${run.status}: ${run.stderr}\n${run.stdout}`);
    results = JSON.parse(fs.readFileSync(path.join(dir, 'r.json'), 'utf8')) as Results;
  });
  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('prints the machine, the tables and the targets', () => {
    const out = String(run.stdout);
    expect(out).toMatch(/machine: .+, \d+ cores/);
    expect(out).toContain('GEMM C = A·B');
    expect(out).toContain('Targets');
    expect(out).toMatch(/load average at end/);
  });

  it('writes JSON with the machine, every case group and medians over the configured reps', () => {
    expect(results.settings.quick).toBe(true);
    expect(results.machine.cores).toBeGreaterThanOrEqual(1);
    expect(results.machine.loadAvgEnd).toHaveLength(3);
    expect(results.myelin.js && results.myelin.js.backend).toBe('js');
    expect(results.groupErrors).toEqual({});
    const groups = new Set(results.cases.map((c) => c.group));
    for (const g of ['gemm', 'activation', 'training', 'inference', 'overhead']) expect(groups.has(g)).toBe(true);
    for (const id of ['gemm-64x64x64', 'act-relu', 'act-softmax', 'train-step-128', 'epoch-128', 'infer-1', 'infer-1024', 'overhead-add', 'xor-step', 'denormal-gemm-256', 'denormal-tanh']) {
      expect(results.cases.map((c) => c.id)).toContain(id);
    }
    let okCount = 0;
    for (const c of results.cases) {
      expect(c.candidates[c.baseline]).toBeDefined();
      for (const [name, cand] of Object.entries(c.candidates)) {
        expect(['ok', 'skipped', 'error']).toContain(cand.status);
        if (cand.status !== 'ok') {
          expect(cand.reason, `${c.id}/${name}`).toBeTruthy();
          continue;
        }
        okCount++;
        const t = cand.time!;
        expect(cand.samples!.length).toBe(t.n);
        expect(t.min).toBeLessThanOrEqual(t.median);
        expect(t.median).toBeLessThanOrEqual(t.max);
        expect(t.median).toBeGreaterThan(0);
        if (c.id !== 'epoch-128') expect(t.n).toBe(results.settings.reps);
      }
    }
    expect(okCount).toBeGreaterThan(10);
    // The pure-TS backend always runs, so every GEMM up to the quick cap has a measured speed-up over naive.
    const g = results.cases.find((c) => c.id === 'gemm-64x64x64')!;
    expect(g.candidates.js.status).toBe('ok');
    expect(g.speedup.js).toBeGreaterThan(0);
  });

  it('evaluates every README target (met, not met, or n/a without --peers)', () => {
    const ids = results.targets.map((t) => t.id);
    expect(ids).toEqual(['train-vs-pytorch', 'train-vs-tfjs', 'infer-vs-best', 'train-bf16-128', 'train-bf16-512', 'latency', 'napi-overhead', 'xor', 'denormal', 'resnet-accuracy', 'resnet-vs-pytorch', 'serving', 'latency-vs-ort', 'async-throughput', 'async-latency']);
    expect(results.targets.find((t) => t.id === 'train-vs-pytorch')!.met).toBeNull();
  });

  it('writes an SVG chart', () => {
    const svg = fs.readFileSync(path.join(dir, 'c.svg'), 'utf8');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('gemm 64³');
  });
});

describe('bench/run.js argument errors', () => {
  it('rejects an unknown group and a bad rep count with a message naming the option', () => {
    const a = spawnSync(process.execPath, [script, '--only', 'nope', '--no-write'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(a.status).not.toBe(0);
    expect(a.stderr).toMatch(/--only: unknown group 'nope'/);
    const b = spawnSync(process.execPath, [script, '--reps', '0', '--no-write'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(b.status).not.toBe(0);
    expect(b.stderr).toMatch(/--reps must be an integer >= 1/);
  });
});

// Sweeps: grid and seeded random trials, sharded like array jobs, one atomic record per trial, finished trials skipped, report best first.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { ensureDist, DIST_CLI } from './helpers/dist';
import { runSweep, sweepReport, sweepTrials, readSweep } from '../lib/batch/sweep';

let dir = '';
beforeAll(() => {
  ensureDist();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-sweep-'));
  const lines = ['f0,f1,f2,kind'];
  let s = 7;
  const rand = (): number => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296; };
  for (let i = 0; i < 240; i++) {
    const k = i % 3;
    lines.push([0, 1, 2].map((j) => ((j === k ? 2 : 0) + rand() - 0.5).toFixed(3)).concat(['abc'[k]]).join(','));
  }
  fs.writeFileSync(path.join(dir, 'blobs.csv'), lines.join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'grid.json'), JSON.stringify({ data: 'blobs.csv', search: 'grid', seed: 3, space: { layers: [[4], [16]], lr: [0.001, 0.05], epochs: [4] } }));
});
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

describe('sweep', () => {
  it('grid trials split over 2 shards equal an unsharded run; a re-run skips finished trials; the report ranks best first', async () => {
    const file = path.join(dir, 'grid.json');
    expect(sweepTrials(readSweep(file).spec)).toEqual([
      { epochs: 4, layers: [4], lr: 0.001 }, { epochs: 4, layers: [4], lr: 0.05 }, { epochs: 4, layers: [16], lr: 0.001 }, { epochs: 4, layers: [16], lr: 0.05 }]);
    const a = await runSweep(file, path.join(dir, 'out'), { index: 0, count: 2 });
    const b = await runSweep(file, path.join(dir, 'out'), { index: 1, count: 2 });
    expect([...a, ...b].map((r) => r.trial)).toEqual([0, 1, 2, 3]);
    const whole = await runSweep(file, path.join(dir, 'whole'));
    for (let t = 0; t < 4; t++) expect([...a, ...b][t].valLoss).toBeCloseTo(whole[t].valLoss!, 6);
    const logs: string[] = [];
    const again = await runSweep(file, path.join(dir, 'out'), { index: 1, count: 2 }, (m) => logs.push(m));
    expect(logs).toEqual([expect.stringMatching(/^trial 2: already done/), expect.stringMatching(/^trial 3: already done/)]);
    expect(again.map((r) => r.seconds)).toEqual(b.map((r) => r.seconds));
    const rep = sweepReport(path.join(dir, 'out'), file);
    expect(rep.missing).toEqual([]);
    const acc = rep.results.map((r) => r.valAccuracy!);
    expect(acc).toEqual([...acc].sort((x, y) => y - x));
    expect(rep.table.split('\n')[0]).toBe('| rank | trial | val accuracy | val loss | seconds | config |');
    fs.rmSync(path.join(dir, 'out', 'trial-00003.json'));
    expect(sweepReport(path.join(dir, 'out'), file).missing).toEqual([3]);
  });

  it('random search is seeded and draws from the space; bad sweep files are errors naming the problem', () => {
    const f = path.join(dir, 'rand.json');
    fs.writeFileSync(f, JSON.stringify({ data: 'digits', search: 'random', trials: 6, seed: 9, space: { lr: [0.1, 0.01, 0.001], batch: [16, 64] } }));
    const t1 = sweepTrials(readSweep(f).spec);
    expect(t1).toEqual(sweepTrials(readSweep(f).spec));
    expect(t1.length).toBe(6);
    for (const c of t1) { expect([0.1, 0.01, 0.001]).toContain(c.lr); expect([16, 64]).toContain(c.batch); }
    expect(new Set(t1.map((c) => JSON.stringify(c))).size).toBeGreaterThan(1);
    fs.writeFileSync(f, JSON.stringify({ data: 'digits', search: 'grid', space: { learningRate: [0.1] } }));
    expect(() => readSweep(f)).toThrow(/unknown option "learningRate" in "space"/);
    fs.writeFileSync(f, JSON.stringify({ data: 'digits', search: 'random', space: { lr: [0.1] } }));
    expect(() => readSweep(f)).toThrow(/random search needs "trials"/);
  });

  it('myelin sweep --shard I/N and myelin sweep-report (CLI child processes)', () => {
    const cli = (...args: string[]) => spawnSync(process.execPath, [DIST_CLI, ...args], { encoding: 'utf8', cwd: dir });
    for (const i of [0, 1]) {
      const r = cli('sweep', 'grid.json', '--out', 'cli-out', '--shard', `${i}/2`);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toContain(`sweep shard ${i}/2: 2 trial(s) in cli-out`);
    }
    const rep = cli('sweep-report', 'cli-out', '--sweep', 'grid.json');
    expect(rep.status, rep.stderr).toBe(0);
    const lines = rep.stdout.trim().split('\n');
    expect(lines.length).toBe(2 + 4);
    expect(lines.slice(2).map((l) => l.split('|')[1].trim())).toEqual(['1', '2', '3', '4']);
    const bad = cli('sweep', 'grid.json', '--out', 'cli-out', '--shard', '2/2');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/I must be below N=2/);
  });
});

// BatchNorm under data-parallel training: with distributed.syncBatchNorm(model) a Conv + BatchNorm2d +
// BatchNorm1d model trained by 2 processes equals one process with the combined batch (1e-5), weights and
// running statistics, also when the last step leaves a rank without rows (it replays the layers'
// all-reduces with zeros); without it each rank normalises with its own batch (so the result differs),
// and rank 0's running statistics are broadcast at the end of every epoch (every rank ends identical).
import { ensureDist } from './helpers/dist';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { maxDiff } from './helpers/distributed-ranks';
import { distributed, nn, tensor } from '../lib';

const ROOT = path.join(__dirname, '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const CHILD = path.join(ROOT, 'test', 'helpers', 'distributed-bn-child.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-dist-bn-'));

interface Result { synced: number; loss: number[]; weights: number[][]; buffers: number[][] }

function train(n: number, name: string, args: string[]): Result[] {
  const out = path.join(dir, `${name}-RANK.json`);
  const cmd = n === 1 ? [CHILD, out, ...args] : [CLI, 'run', '--nproc', String(n), '--grace', '10', CHILD, out, ...args];
  const r = spawnSync(process.execPath, cmd, { encoding: 'utf8', timeout: 120000, env: { ...process.env, TEST_TIMEOUT_MS: '20000' } });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return Array.from({ length: n }, (_, k) => JSON.parse(fs.readFileSync(out.replace('RANK', String(k)), 'utf8')) as Result);
}

beforeAll(() => ensureDist());
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('BatchNorm across ranks', () => {
  it('syncBatchNorm: 2 processes equal one process with the combined batch (weights and running statistics, 1e-5), a short last step included', () => {
    for (const rows of ['200', '203']) {
      // 203 rows in batches of 12 per rank: the last step has 11 rows on rank 0 and none on rank 1.
      const one = train(1, `one${rows}`, ['24', '2', '0', rows])[0];
      const [r0, r1] = train(2, `sync${rows}`, ['12', '2', '1', rows]);
      expect(r0.synced).toBe(2);
      expect(maxDiff(one.weights, r0.weights)).toBeLessThan(1e-5);
      expect(maxDiff(one.buffers, r0.buffers)).toBeLessThan(1e-5);
      expect(maxDiff(r0.weights, r1.weights)).toBe(0);
      expect(maxDiff(r0.buffers, r1.buffers)).toBe(0);
      r0.loss.forEach((l, e) => expect(Math.abs(l - one.loss[e])).toBeLessThan(1e-5));
    }
  }, 240000);

  it('without it each rank normalises with its own batch; rank 0\'s running statistics are broadcast every epoch', () => {
    const one = train(1, 'plain-one', ['24', '2', '0', '200'])[0];
    const [r0, r1] = train(2, 'plain', ['12', '2', '0', '200']);
    expect(maxDiff(one.weights, r0.weights)).toBeGreaterThan(1e-4);
    expect(maxDiff(r0.weights, r1.weights)).toBe(0);
    expect(maxDiff(r0.buffers, r1.buffers)).toBe(0);
  }, 240000);

  it('syncBatchNorm converts every BatchNorm layer, leaves a world of one as plain BatchNorm, refuses a non-module', () => {
    const model = new nn.Sequential(new nn.Linear(4, 6), new nn.BatchNorm1d(6), new nn.Sequential(new nn.Linear(6, 3), new nn.BatchNorm1d(3)), { seed: 1 });
    const plain = new nn.Sequential(new nn.Linear(4, 6), new nn.BatchNorm1d(6), new nn.Sequential(new nn.Linear(6, 3), new nn.BatchNorm1d(3)), { seed: 1 });
    plain.loadStateDict(model.stateDict());
    expect(distributed.syncBatchNorm(model)).toBe(2);
    const x = new Float32Array(40).map((_, i) => Math.sin(i));
    const a = model.forward(tensor(x, [10, 4]));
    const b = plain.forward(tensor(x, [10, 4]));
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(() => distributed.syncBatchNorm({} as never)).toThrow(/distributed\.syncBatchNorm: model must be an nn\.Module, got object/);
  });
});

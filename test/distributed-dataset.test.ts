// fit(model, dataset, { distributed }): every rank reads the same streamed Dataset (a CSV file) and keeps
// its share, round-robin over batches; the ranks agree on the end of each pass through the all-reduce,
// so uneven tails never hang; 2 and 3 processes train to the weights of one process with the combined
// batch (1e-5), also with stepsPerEpoch across passes and with a dataset of the CSV parser's batches.
import { ensureDist } from './helpers/dist';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { data } from '../lib';
import { maxDiff } from './helpers/distributed-ranks';

const ROOT = path.join(__dirname, '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const CHILD = path.join(ROOT, 'test', 'helpers', 'distributed-dataset-child.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-dist-ds-'));
const csv = path.join(dir, 'digits.csv');
const ROWS = 203; // batches of 12 or 8: the ranks' shares differ by a batch and the last batch is short

interface Result { steps: number; loss: number[]; weights: number[][] }

/** `myelin run --nproc n` of the child (n = 1: the script alone, a world of one); returns rank 0's and the others' results. */
function train(n: number, name: string, args: string[]): Result[] {
  const out = path.join(dir, `${name}-RANK.json`);
  const cmd = n === 1 ? [CHILD, csv, out, ...args] : [CLI, 'run', '--nproc', String(n), '--grace', '10', CHILD, csv, out, ...args];
  const r = spawnSync(process.execPath, cmd, { encoding: 'utf8', timeout: 120000, env: { ...process.env, TEST_TIMEOUT_MS: '20000' } });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return Array.from({ length: n }, (_, k) => JSON.parse(fs.readFileSync(out.replace('RANK', String(k)), 'utf8')) as Result);
}

function expectSameTraining(one: Result, ranks: Result[]): void {
  expect(maxDiff(one.weights, ranks[0].weights)).toBeLessThan(1e-5);
  for (const r of ranks.slice(1)) expect(maxDiff(ranks[0].weights, r.weights)).toBe(0);
  // The logged loss is the whole epoch's (summed over the ranks).
  ranks[0].loss.forEach((l, e) => expect(Math.abs(l - one.loss[e])).toBeLessThan(1e-5));
}

beforeAll(() => {
  ensureDist();
  const digits = data.loadDigits({ seed: 1 });
  const lines = [['label', ...Array.from({ length: 64 }, (_, i) => `p${i}`)].join(',')];
  for (let i = 0; i < ROWS; i++) lines.push([digits.train.y[i], ...Array.from(digits.train.x.subarray(i * 64, (i + 1) * 64), (v) => +v.toFixed(4))].join(','));
  fs.writeFileSync(csv, `${lines.join('\n')}\n`);
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('fit(model, dataset, { distributed })', () => {
  it('2 and 3 processes on a shuffled CSV dataset of rows equal one process with the combined batch (1e-5); ragged shares end together', () => {
    const one = train(1, 'one', ['24', '3']);
    expect(one[0].steps).toBe(3 * Math.ceil(ROWS / 24));
    for (const [n, bs] of [[2, 12], [3, 8]]) {
      const ranks = train(n, `rows${n}`, [String(bs), '3']);
      expectSameTraining(one[0], ranks);
      // Rank r trains on batches r, r + n, ...: the last rank's share is a batch short and it takes one
      // empty step at the end of each epoch (not counted as a batch), instead of hanging or stopping early.
      const batches = Math.ceil(ROWS / bs);
      ranks.forEach((r, k) => expect(r.steps).toBe(3 * Math.ceil((batches - k) / n)));
    }
  }, 180000);

  it('with stepsPerEpoch the ranks start each new pass together (epochs that end mid-pass), equal to one process', () => {
    // 4 steps per epoch, 9 steps per pass: epochs 3 and 4 cross the end of the first pass.
    const one = train(1, 'steps1', ['24', '4', '4']);
    expect(one[0].steps).toBe(16);
    const ranks = train(2, 'steps2', ['12', '4', '4']);
    expectSameTraining(one[0], ranks);
    expect(ranks.map((r) => r.steps)).toEqual([16, 15]); // rank 1 took one empty step at the end of the pass
  }, 180000);

  it('a dataset of the CSV parser\'s batches is shared out batch by batch', () => {
    const one = train(1, 'csvb1', ['0', '2', '0', '24']);
    const ranks = train(2, 'csvb2', ['0', '2', '0', '12']);
    expectSameTraining(one[0], ranks);
  }, 180000);
});

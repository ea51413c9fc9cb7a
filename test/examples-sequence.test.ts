// Runs the sequence examples (examples/timeseries-lstm.js, examples/spam.js; against the built dist/) and checks what they print.
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'child_process';
import * as path from 'path';
import { ensureDist } from './helpers/dist';

const root = path.join(__dirname, '..');

function runExample(name: string, args: string[] = []): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(root, 'examples', name), ...args], {
    cwd: root, encoding: 'utf8', timeout: 240_000, env: { ...process.env, FORCE_COLOR: '0' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function number(text: string, re: RegExp): number {
  const m = re.exec(text);
  if (!m) throw new Error(`output does not match ${re}:\n${text}`);
  return Number(m[1]);
}

beforeAll(() => ensureDist());

describe('sequence examples', () => {
  it('timeseries-lstm.js: the loss curve matches PyTorch\'s LSTM within 2% at every one of the 150 steps', () => {
    const r = runExample('timeseries-lstm.js');
    expect(r.code, r.stderr).toBe(0);
    expect(number(r.stdout, /largest relative difference over (\d+) steps/)).toBe(150);
    expect(number(r.stdout, /largest relative difference over \d+ steps: ([\d.]+)%/), r.stdout).toBeLessThan(2);
    // and it learned: the last loss is far below the first
    const first = number(r.stdout, /step +1: loss myelin ([\d.]+)/);
    const last = number(r.stdout, /step 150: loss myelin ([\d.]+)/);
    expect(last, r.stdout).toBeLessThan(0.2 * first);
  });
});

// Starting the ranks of test/helpers/distributed-child.js for the distributed-training tests, over either
// backend: 'gloo' through `myelin run --nproc N`, 'mpi' through `mpirun -np N` (as CI runs as root:
// --allow-run-as-root; more ranks than the 2 cores: --oversubscribe). Plus reading the weights they write.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '..', '..');
export const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
export const CHILD = path.join(ROOT, 'test', 'helpers', 'distributed-child.js');

/** The mpirun command line for n ranks of the child script (flags on the command line, no environment). */
export function mpirunArgs(n: number, args: string[]): string[] {
  return ['--allow-run-as-root', '--oversubscribe', '-np', String(n), process.execPath, CHILD, ...args];
}

/** Runs n ranks of the child script; returns the exit status, output and seconds taken. */
export function runRanks(n: number, args: string[], env: Record<string, string> = {}, backend: 'gloo' | 'mpi' = 'gloo'): { status: number | null; stdout: string; stderr: string; seconds: number } {
  const t0 = performance.now();
  const r = backend === 'mpi'
    ? spawnSync('mpirun', mpirunArgs(n, args), { encoding: 'utf8', env: { ...process.env, TEST_BACKEND: 'mpi', ...env }, timeout: 120000 })
    : spawnSync(process.execPath, [CLI, 'run', '--nproc', String(n), '--grace', '10', CHILD, ...args], {
      encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120000,
    });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, seconds: (performance.now() - t0) / 1000 };
}

export function weightsOf(file: string): number[][] {
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { weights: number[][] }).weights;
}

export function maxDiff(a: number[][], b: number[][]): number {
  let d = 0;
  a.forEach((w, i) => w.forEach((v, j) => { d = Math.max(d, Math.abs(v - b[i][j])); }));
  return d;
}

// `myelin bench`: runs the benchmark suite (bench/run.js) with the remaining arguments passed through.
import * as fs from 'fs';
import * as path from 'path';
import { spawn } from 'child_process';

/** The package root: lib/cli and dist/cli both sit two levels below it. */
export const PACKAGE_ROOT = path.join(__dirname, '..', '..');

/** Runs `node bench/run.js ...args` in the package root; resolves with its exit code. */
export function runBench(args: string[]): Promise<number> {
  const script = path.join(PACKAGE_ROOT, 'bench', 'run.js');
  if (!fs.existsSync(script)) {
    return Promise.reject(new Error(`bench: the benchmark suite is not installed (${script} not found; it ships with the source tree)`));
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: PACKAGE_ROOT, stdio: 'inherit' });
    child.on('error', (err) => reject(new Error(`bench: cannot start ${script}: ${err.message}`)));
    child.on('exit', (code, signal) => resolve(code ?? (signal !== null ? 1 : 0)));
  });
}

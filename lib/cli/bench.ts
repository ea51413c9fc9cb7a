// `myelin bench`: runs the benchmark suite (bench/run.js) with the remaining arguments passed through.
// The suite (and its peers: tfjs, onnxruntime, PyTorch) lives in the source repository, not in the npm
// package, so the installed CLI hides the command; in a clone it is listed (and `npm run bench` runs the same).
import * as fs from 'fs';
import * as path from 'path';
import { spawn } from 'child_process';

/** The package root: lib/cli and dist/cli both sit two levels below it. */
export const PACKAGE_ROOT = path.join(__dirname, '..', '..');

/** bench/run.js under root, or null when the suite is not there (an installed package). */
export function benchScript(root: string = PACKAGE_ROOT): string | null {
  const script = path.join(root, 'bench', 'run.js');
  return fs.existsSync(script) ? script : null;
}

/** Runs `node bench/run.js ...args` in root; resolves with its exit code. */
export function runBench(args: string[], root: string = PACKAGE_ROOT): Promise<number> {
  const script = benchScript(root);
  if (script === null) {
    return Promise.reject(new Error(
      `bench: the benchmark suite is not part of the installed package (no ${path.join(root, 'bench', 'run.js')}); ` +
        'it ships with the source repository: clone it, run `npm install`, then `npm run bench`',
    ));
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: root, stdio: 'inherit' });
    child.on('error', (err) => reject(new Error(`bench: cannot start ${script}: ${err.message}`)));
    child.on('exit', (code, signal) => resolve(code ?? (signal !== null ? 1 : 0)));
  });
}

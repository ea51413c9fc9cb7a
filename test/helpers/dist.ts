// Test helper: makes sure dist/ (the compiled library and CLI) is built and newer than lib/, with a build lock.
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';

export const ROOT = path.join(__dirname, '..', '..');
export const DIST_CLI = path.join(ROOT, 'dist', 'cli', 'main.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

function isStale(): boolean {
  if (!fs.existsSync(DIST_CLI)) return true;
  const stamp = path.join(ROOT, 'dist', '.build-stamp');
  const built = fs.existsSync(stamp) ? fs.statSync(stamp).mtimeMs : 0;
  return newestMtime(path.join(ROOT, 'lib')) > built;
}

/** Builds dist/ with `tsc -p tsconfig.json` when it is missing or older than lib/. Safe across parallel test files. */
export function ensureDist(): void {
  if (!isStale()) return;
  fs.mkdirSync(path.join(ROOT, 'dist'), { recursive: true });
  const lock = path.join(ROOT, 'dist', '.build-lock');
  const deadline = Date.now() + 600_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs > 300_000) fs.rmSync(lock, { recursive: true, force: true });
      } catch { /* lock vanished */ }
      if (Date.now() > deadline) throw new Error('ensureDist: timed out waiting for another build');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
    }
  }
  try {
    if (!isStale()) return;
    const started = Date.now();
    const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], {
      cwd: ROOT, encoding: 'utf8',
    });
    // tsc still emits when other parts of the tree have type errors; only a missing CLI is fatal here.
    if (!fs.existsSync(DIST_CLI)) throw new Error(`ensureDist: tsc did not produce ${DIST_CLI}:\n${r.stdout}\n${r.stderr}`);
    fs.writeFileSync(path.join(ROOT, 'dist', '.build-stamp'), String(started));
    fs.utimesSync(path.join(ROOT, 'dist', '.build-stamp'), new Date(started), new Date(started));
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

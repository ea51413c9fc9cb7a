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

/** Builds dist/ with scripts/build-ts.js when it is missing or older than lib/. Safe across parallel test files. */
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
    // The same build as `npm run build:ts` (comment-free JavaScript, pruned declarations, the ESM facade, the stamp).
    const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-ts.js')], { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0 || !fs.existsSync(DIST_CLI)) throw new Error(`ensureDist: scripts/build-ts.js failed:\n${r.stdout}\n${r.stderr}`);
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

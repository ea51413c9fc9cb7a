// Test helper: runs an example script (examples/<name>, against the built dist/) in a child process, and reads
// numbers out of what it prints.
import { spawnSync } from 'child_process';
import * as path from 'path';

const root = path.join(__dirname, '..', '..');

/** Runs `node examples/<name> ...args` from the repository root (no colours, 240 s limit): exit code and output. */
export function runExample(name: string, args: string[] = []): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(root, 'examples', name), ...args], {
    cwd: root, encoding: 'utf8', timeout: 240_000, env: { ...process.env, FORCE_COLOR: '0' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The number captured by re's first group in text; throws with the text when re does not match. */
export function number(text: string, re: RegExp): number {
  const m = re.exec(text);
  if (!m) throw new Error(`output does not match ${re}:\n${text}`);
  return Number(m[1]);
}

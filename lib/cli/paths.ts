// Output-path checks for the CLI, run before any work: no kernel filesystems, an existing writable directory.
import * as fs from 'fs';
import * as path from 'path';
import { UsageError } from './args';

/**
 * Kernel and device filesystems: nothing the CLI writes belongs there, and Node 20's recursive
 * mkdirSync never returns on a missing path under /proc.
 */
export const SYSTEM_ROOTS: readonly string[] = ['/proc', '/sys', '/dev'];

function isUnder(p: string, root: string): boolean {
  return p === root || p.startsWith(root + path.sep);
}

/** `target` made absolute with its nearest existing ancestor resolved through symlinks, and that ancestor. */
function resolveExisting(target: string): { resolved: string; existing: string; exists: boolean } {
  let probe = path.resolve(target);
  const missing: string[] = [];
  while (!fs.existsSync(probe)) {
    const up = path.dirname(probe);
    if (up === probe) break;
    missing.unshift(path.basename(probe));
    probe = up;
  }
  const existing = fs.realpathSync(probe);
  return { resolved: path.join(existing, ...missing), existing, exists: missing.length === 0 };
}

function refuseSystemPath(option: string, target: string, resolved: string): void {
  for (const root of SYSTEM_ROOTS) {
    if (isUnder(resolved, root)) {
      const via = resolved === path.resolve(target) ? '' : ` (resolves to ${resolved})`;
      throw new UsageError(`${option} '${target}'${via} is under ${root} (a kernel or device filesystem): choose a directory on disk`);
    }
  }
}

/**
 * Checks a directory the command will create or write into (--out, --checkpoint-dir): it must not be
 * under /proc, /sys or /dev, and it (or its nearest existing ancestor) must be a writable directory.
 */
export function checkOutputDir(target: string, option: string): void {
  const { resolved, existing, exists } = resolveExisting(target);
  refuseSystemPath(option, target, resolved);
  if (!fs.statSync(existing).isDirectory()) {
    throw new UsageError(exists
      ? `${option} '${target}' exists and is not a directory`
      : `${option} '${target}': '${existing}' is not a directory`);
  }
  try {
    fs.accessSync(existing, fs.constants.W_OK);
  } catch {
    throw new UsageError(`${option} '${target}': directory '${existing}' is not writable`);
  }
}

/** How an output file is written: 'file' = temp file + rename; 'special' = in place (a device, FIFO or socket). */
export type OutputFileKind = 'file' | 'special';

/**
 * Checks an output file path (--output): an existing device, FIFO or socket (e.g. /dev/null) is written
 * in place; otherwise the file's directory must exist, be writable and lie outside /proc, /sys, /dev.
 */
export function checkOutputFile(target: string, option: string): OutputFileKind {
  let st: fs.Stats | null = null;
  try { st = fs.statSync(target); } catch { /* does not exist yet */ }
  if (st !== null && st.isDirectory()) throw new UsageError(`${option} '${target}' is a directory; give a file name`);
  if (st !== null && !st.isFile()) return 'special';
  const dir = path.dirname(path.resolve(target));
  if (!fs.existsSync(dir)) throw new UsageError(`${option} '${target}': directory '${dir}' does not exist`);
  const { resolved } = resolveExisting(target);
  refuseSystemPath(option, target, resolved);
  checkOutputDir(dir, option);
  return 'file';
}

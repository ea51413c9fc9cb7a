// Facts shared across entry points, defined once: the package version (read once) and the default batch size of predict.
import * as fs from 'fs';
import * as path from 'path';

/**
 * Rows per batch when predict, predictAsync or evaluate are not given a batchSize. Large enough that
 * per-call overhead vanishes, small enough that a batch's activations stay cache-friendly and the
 * event loop (predictAsync) runs often.
 */
export const PREDICT_BATCH_SIZE = 1024;

let cachedVersion: string | null = null;

/** The version in myelin's package.json ('unknown' when it cannot be read). */
export function packageVersion(): string {
  if (cachedVersion !== null) return cachedVersion;
  // lib/constants.ts and dist/constants.js both sit one level below the package root.
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version?: unknown };
    cachedVersion = typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    cachedVersion = 'unknown';
  }
  return cachedVersion;
}

// Test helper: a seeded generator and a scratch directory (created before the file's tests, removed after).
import { beforeAll, afterAll } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** A linear congruential generator: floats in [0, 1), the same sequence for the same seed. */
export function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

/** A temp directory for this test file: `dir()` is its path, `write(name, text)` writes a file in it and returns the path. */
export function scratchDir(prefix: string): { dir: () => string; write: (name: string, text: string | Buffer) => string } {
  let dir = '';
  beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix)); });
  afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });
  return {
    dir: () => dir,
    write: (name, text) => {
      const p = path.join(dir, name);
      fs.writeFileSync(p, text);
      return p;
    },
  };
}

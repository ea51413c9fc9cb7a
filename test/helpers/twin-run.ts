// Runs a kernel-twin child script (test/helpers/<script>, see twin-child.js) on the built package at one SIMD
// level and returns the JSON its last stdout line holds: 'default' leaves MYELIN_SIMD unset (the machine's best
// level), any other value caps the C++ kernels there.
import { spawnSync } from 'child_process';
import * as path from 'path';
import { expect } from 'vitest';
import { ROOT } from './dist';

/**
 * @param script the child's file name in test/helpers.
 * @param simd 'default' or a MYELIN_SIMD value.
 * @param args the child's arguments after the dist directory (the seed first, by convention).
 * @param timeout milliseconds.
 */
export function runTwinChild<T>(script: string, simd: string, args: string[], timeout: number): T {
  const env = { ...process.env };
  if (simd === 'default') delete env.MYELIN_SIMD;
  else env.MYELIN_SIMD = simd;
  const r = spawnSync(process.execPath, [path.join(ROOT, 'test', 'helpers', script), path.join(ROOT, 'dist'), ...args], {
    encoding: 'utf8', env, timeout,
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as T;
}

// Test helper: the committed PyTorch fixtures (JSON made by the scripts beside them, so CI needs no torch) and the
// elementwise check of myelin's numbers against torch's.
import * as fs from 'fs';
import * as path from 'path';
import { expect } from 'vitest';

/** An array as the fixture scripts write it: shape and row-major data. */
export interface Arr { shape: number[]; data: number[] }

/** The fixture `<dir>/<name>.json`, parsed. */
export function loadFixture<T = Record<string, unknown>>(dir: string, name: string): T {
  return JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), 'utf8')) as T;
}

/**
 * expectClose(got, want, what, atol?, rtol?): fails naming the worst element (a NaN is worst) unless every
 * |got - want| <= atol + rtol * |want|; atol and rtol default to the given ones.
 */
export function torchClose(defaults: { atol: number; rtol: number }) {
  return (got: ArrayLike<number>, want: ArrayLike<number>, what: string, atol = defaults.atol, rtol = defaults.rtol): void => {
    expect(got.length, `${what}: length`).toBe(want.length);
    let worst = 0;
    let at = -1;
    for (let i = 0; i < want.length; i++) {
      const excess = Math.abs(got[i] - want[i]) - (atol + rtol * Math.abs(want[i]));
      if (!(excess <= worst)) {
        worst = Number.isNaN(excess) ? Infinity : excess;
        at = i;
      }
    }
    expect(worst, `${what}: element ${at} is ${got[at]}, torch ${want[at]}`).toBeLessThanOrEqual(0);
  };
}

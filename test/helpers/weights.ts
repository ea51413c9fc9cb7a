// Weights written by the distributed test children (JSON { weights: number[][] }) and their largest difference.
import * as fs from 'fs';

/** The weights of a child's result file. */
export function weightsOf(file: string): number[][] {
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { weights: number[][] }).weights;
}

/** The largest absolute difference between two sets of weights of the same shapes. */
export function maxDiff(a: number[][], b: number[][]): number {
  let d = 0;
  a.forEach((w, i) => w.forEach((v, j) => { d = Math.max(d, Math.abs(v - b[i][j])); }));
  return d;
}

// Shared helpers for the ONNX tests: running a file with onnxruntime-node, comparing outputs, seeded data.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SeededRandom } from '../../lib/data/split';

interface OrtTensor { data: Float32Array; dims: readonly number[] }
interface OrtSession { inputNames: readonly string[]; outputNames: readonly string[]; run(feeds: Record<string, unknown>): Promise<Record<string, OrtTensor>> }
interface Ort {
  InferenceSession: { create(file: string, opts?: { logSeverityLevel?: number }): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
}

// onnxruntime-node is a devDependency used only as the reference runtime in tests.
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const ort = require('onnxruntime-node') as Ort;

/** Runs the model in `file` on one float32 input; returns the first output. */
export async function runOrt(file: string, x: Float32Array, shape: number[]): Promise<OrtTensor> {
  const session = await ort.InferenceSession.create(file, { logSeverityLevel: 3 }); // errors only
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, shape) });
  return out[session.outputNames[0]];
}

/**
 * Largest violation of |a - b| <= atol + rtol * |b| over all elements (0 when all are within tolerance), with the
 * index, so a failure says where. rtol 1e-5 is the agreement asked for; atol covers values near zero, where float32
 * rounding differences between two correct implementations are absolute, not relative.
 */
export function maxViolation(a: ArrayLike<number>, b: ArrayLike<number>, rtol = 1e-5, atol = 1e-6): { excess: number; at: number; a: number; b: number } {
  if (a.length !== b.length) throw new Error(`length differs: ${a.length} vs ${b.length}`);
  let worst = { excess: 0, at: -1, a: 0, b: 0 };
  for (let i = 0; i < a.length; i++) {
    const excess = Math.abs(a[i] - b[i]) - (atol + rtol * Math.abs(b[i]));
    if (!(excess <= worst.excess)) worst = { excess: Number.isNaN(excess) ? Infinity : excess, at: i, a: a[i], b: b[i] };
  }
  return worst;
}

export { freshSeed } from './reference';

export function uniform(n: number, rng: SeededRandom, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rng.next();
  return out;
}

/** A fresh temp directory removed by the returned cleanup function. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'myelin-onnx-'));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

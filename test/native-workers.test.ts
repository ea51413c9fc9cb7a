// The native addon loads and computes (gemm + softmax vs a JS expectation) in two worker_threads at once.
import { Worker } from 'worker_threads';
import { describe, expect, it } from 'vitest';

import { loadNative, resolveAddonPath } from '../lib/backend/native';

const forcedJs = process.env.MYELIN_BACKEND === 'js';

// Runs in each worker (plain CommonJS): loads the .node file, computes C = A*B^T and its row
// softmax for the seed it was given, and posts the results back.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('worker_threads');
const b = require(workerData.addon);
const { M, N, K, seed } = workerData;
let s = seed;
const rnd = () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648 - 0.5; };
const A = Float32Array.from({ length: M * K }, rnd);
const B = Float32Array.from({ length: N * K }, rnd);
const C = new Float32Array(M * N);
const P = new Float32Array(M * N);
for (let rep = 0; rep < 20; rep++) {
  b.gemm(false, true, M, N, K, 1, A, B, 0, C);
  b.softmax(M, N, C, P);
}
parentPort.postMessage({ A, B, C, P, simd: b.info().simd });
`;

interface WorkerResult { A: Float32Array; B: Float32Array; C: Float32Array; P: Float32Array; simd: string }

function runWorker(addon: string, seed: number, M: number, N: number, K: number): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { addon, seed, M, N, K } });
    w.once('message', (m: WorkerResult) => resolve(m));
    w.once('error', reject);
    w.once('exit', (code) => { if (code !== 0) reject(new Error(`worker exited with code ${code}`)); });
  });
}

describe.skipIf(forcedJs)('native addon in worker_threads', () => {
  it('loads and computes gemm + softmax in two workers at once', async () => {
    const backend = loadNative(); // fails the test if the addon cannot be loaded
    const addon = resolveAddonPath();
    const seed = Math.floor(Math.random() * 1e6) + 1;
    const M = 70, N = 33, K = 150;
    // The main thread keeps using the addon while the workers run.
    const [r1, r2] = await Promise.all([
      runWorker(addon, seed, M, N, K),
      runWorker(addon, seed + 1, M, N, K),
      (async () => {
        const x = new Float32Array(1 << 16).fill(1);
        for (let i = 0; i < 20; i++) expect(backend.sum(x.length, x)).toBe(65536);
      })(),
    ]);
    for (const r of [r1, r2]) {
      expect(['avx2', 'scalar']).toContain(r.simd);
      for (let i = 0; i < M; i++) {
        const row = new Float64Array(N);
        let max = -Infinity;
        for (let j = 0; j < N; j++) {
          let acc = 0;
          for (let k = 0; k < K; k++) acc += r.A[i * K + k] * r.B[j * K + k];
          row[j] = acc;
          expect(Math.abs(r.C[i * N + j] - acc), `seed ${seed} C[${i},${j}]`).toBeLessThanOrEqual(1e-5 * K);
          max = Math.max(max, acc);
        }
        let sum = 0;
        for (let j = 0; j < N; j++) sum += Math.exp(row[j] - max);
        for (let j = 0; j < N; j++) {
          const p = Math.exp(row[j] - max) / sum;
          expect(Math.abs(r.P[i * N + j] - p), `seed ${seed} P[${i},${j}]`).toBeLessThanOrEqual(1e-5);
        }
      }
    }
    // Different seeds gave different data: the workers did independent work.
    expect(r1.C[0]).not.toBe(r2.C[0]);
  });
});

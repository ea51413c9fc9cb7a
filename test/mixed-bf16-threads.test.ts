// gemmMixedBf16 split across threads gives the same bits at 1, 2 and 3 threads: the reference MLP's products at
// batch 128 and 512 (where the tasks of a row range share its packed A, gemm_mixed_bf16.cc SharedA) and awkward
// shapes (uneven splits, partial tiles, odd K, several K blocks, rows past one packing block), all four
// transposes, beta 0 and 1, and the dense layer's forward with its bias/ReLU epilogue. The outputs start as NaN
// (beta 0), so an output no task wrote fails the test.
import { afterAll, describe, expect, it } from 'vitest';
import { backendsUnderTest } from './helpers/backends';
import { loadBinding } from '../lib/backend/native';
import { freshSeed } from './helpers/reference';
import { Rng } from '../lib/random';

const SEED = freshSeed();
const native = backendsUnderTest().find((b) => b.name === 'native' && b.label === 'native, C++ at every size');

describe.runIf(native !== undefined && native.backend !== null)(`gemmMixedBf16 at 1, 2 and 3 threads: the same bits (seed ${SEED})`, () => {
  const be = native!.backend!;
  const binding = loadBinding();
  const before = binding.info().threads;
  afterAll(() => binding.setNumThreads(before));
  const rng = new Rng(SEED);
  const rand = (n: number) => Float32Array.from({ length: n }, () => 4 * rng.next() - 2);
  const bits = (x: Float32Array) => new Uint32Array(x.buffer, x.byteOffset, x.length);
  // The first index where the bits differ (-1: none), so a failure names one element instead of diffing arrays.
  const firstDiff = (a: Uint32Array, b: Uint32Array) => a.length !== b.length ? 0 : a.findIndex((u, i) => u !== b[i]);

  // [transA, transB, M, N, K]
  const shapes: Array<[boolean, boolean, number, number, number]> = [
    [false, true, 128, 256, 784], [true, false, 256, 784, 128], [false, true, 128, 128, 256], [false, false, 128, 256, 128],
    [true, false, 128, 256, 128], [false, true, 512, 256, 784], [true, false, 256, 784, 512],
    [false, false, 65, 257, 300], [true, true, 17, 513, 65], [false, true, 3, 1000, 257], [true, false, 600, 40, 33],
    [false, false, 1030, 97, 17], [true, true, 257, 65, 1025], [false, true, 9, 49, 2049],
  ];
  for (const [ta, tb, M, N, K] of shapes) {
    it(`${M}x${N}x${K} ${ta ? 'T' : 'N'}${tb ? 'T' : 'N'}`, () => {
      const A = rand(M * K), B = rand(K * N), C0 = rand(M * N);
      const run = (threads: number, beta: number) => {
        binding.setNumThreads(threads);
        const C = beta === 0 ? new Float32Array(M * N).fill(NaN) : C0.slice();
        be.gemmMixedBf16(ta, tb, M, N, K, 0.75, A, B, beta, C);
        return bits(C);
      };
      for (const beta of [0, 1]) {
        const one = run(1, beta);
        expect(one.some((u) => (u & 0x7f800000) === 0x7f800000), 'NaN or Inf at 1 thread').toBe(false);
        expect(firstDiff(run(2, beta), one), `2 threads vs 1, beta ${beta}: first different output`).toBe(-1);
        expect(firstDiff(run(3, beta), one), `3 threads vs 1, beta ${beta}: first different output`).toBe(-1);
      }
    });
  }

  it('the dense layer forward (bias + ReLU epilogue) at batch 128 and 77', () => {
    for (const [M, N, K] of [[128, 256, 784], [77, 130, 200]]) {
      const X = rand(M * K), W = rand(N * K), bias = rand(N);
      const run = (threads: number) => {
        binding.setNumThreads(threads);
        const out = new Float32Array(M * N).fill(NaN), pre = new Float32Array(M * N).fill(NaN);
        be.linearForwardMixedBf16({ M, N, K, X, W, bias, act: 'relu', alpha: 1, out, preact: pre });
        return [bits(out), bits(pre)];
      };
      const one = run(1);
      for (const t of [2, 3]) {
        const r = run(t);
        expect(firstDiff(r[0], one[0]), `${M}x${N}x${K}: out at ${t} threads vs 1`).toBe(-1);
        expect(firstDiff(r[1], one[1]), `${M}x${N}x${K}: preact at ${t} threads vs 1`).toBe(-1);
      }
    }
  });
});

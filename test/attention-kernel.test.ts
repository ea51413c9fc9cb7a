// The fused attention kernel: C++ (AVX-512, AVX2 and portable paths, forced with MYELIN_SIMD in a child process)
// against the TypeScript twin on awkward shapes; the op against a float64 reference and finite differences on both
// backends; dropout keeps 1 - p of the weights; MultiheadAttention's fused path agrees with its composed path.
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Tensor } from '../lib/tensor';
import { IntTensor } from '../lib/int-tensor';
import { Rng } from '../lib/random';
import * as nn from '../lib/nn';
import { noGrad } from '../lib/autograd';
import { scaledDotProductAttention, selfAttentionPacked } from '../lib/ops/attention';
import { permute } from '../lib/ops/seq';
import { reshape } from '../lib/ops/shape';
import { narrow } from '../lib/ops/view';
import { getBackend } from '../lib/backend/select';
import { backendsUnderTest as kernelBackends } from './helpers/backends';
import { backendsUnderTest, freshRng, gradcheck, randomTensor, setBackend } from './helpers/gradcheck';
import { ensureDist } from './helpers/dist';
import { runTwinChild } from './helpers/twin-run';
import { freshSeed } from './helpers/reference';

const SEED = freshSeed();
const native = kernelBackends().find((b) => b.name === 'native');

describe.runIf(native !== undefined)(`C++ attention kernels vs the TS twin (seed ${SEED}; replay with MYELIN_TEST_SEED=${SEED})`, () => {
  beforeAll(() => ensureDist());
  for (const simd of ['default', 'avx2', 'scalar']) {
    it(`agree on lengths 1..257, head dims 8/16/64, masks and dropout (${simd} C++ kernels)`, () => {
      const out = runTwinChild<{ gemmSimd: string; checked: number; disagreements: unknown[]; headsError: string | null; packedErrors: string[] }>(
        'attention-twin.js', simd, [String(SEED)], 180_000,
      );
      if (simd !== 'default') expect(['avx2', 'scalar'].includes(out.gemmSimd) && (simd === 'avx2' || out.gemmSimd === 'scalar')).toBe(true);
      expect(out.checked).toBeGreaterThan(2000);
      expect(out.disagreements, `seed ${SEED}`).toEqual([]);
      expect(out.headsError).toMatch(/BH 3 heads is not a multiple of the batch B 2/);
      expect(out.packedErrors).toHaveLength(2);
      expect(out.packedErrors[0]).toMatch(/width E 5 is not a multiple of the heads H 2/);
      expect(out.packedErrors[1]).toMatch(/packed row width Q 12 is not 3 \* E = 18/);
    }, 200_000);
  }
});

describe.runIf(native !== undefined)(`C++ attention kernels at 1, 2 and 3 threads (seed ${SEED})`, () => {
  // The heads are spread over the pool in groups of consecutive (batch, head) pairs (and, with few heads, in
  // query-row chunks); each pair is computed alone, so every thread count gives the same bits. Shapes: head
  // counts that are not a multiple of the groups (132 = 33 x 4, 15 = 5 x 3), one batch of few heads (row chunks).
  it('packed and per-head attention, forward and backward: identical bits', () => {
    const b = native?.backend;
    if (!b) throw new Error(`the native backend failed to load: ${native?.loadError}`);
    const rng = new Rng(SEED);
    const rand = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
    const before = b.info().threads;
    try {
      for (const [B, H, T, D] of [[33, 4, 16, 32], [5, 3, 40, 8], [1, 2, 129, 16]]) {
        const E = H * D, Q = 3 * E;
        const qkv = rand(B * T * Q), dOut = rand(B * T * E);
        const q = rand(B * H * T * D), k = rand(B * H * T * D), v = rand(B * H * T * D), headsDOut = rand(B * H * T * D);
        const runs = [1, 2, 3].map((threads) => {
          b.setNumThreads(threads);
          const call = { B, T, H, E, Q, qkv, keyPadding: null, causal: true, scale: 1 / Math.sqrt(D), dropout: 0, seed: 0 };
          const out = new Float32Array(B * T * E), lse = new Float32Array(B * H * T), dQkv = new Float32Array(B * T * Q);
          b.attentionQkvForward({ ...call, out, lse });
          b.attentionQkvBackward({ ...call, out, lse, dOut, dQkv });
          const heads = { BH: B * H, B, T, S: T, D, query: q, key: k, value: v, keyPadding: null, causal: false, scale: 1 / Math.sqrt(D), dropout: 0, seed: 0 };
          const o2 = new Float32Array(B * H * T * D), l2 = new Float32Array(B * H * T);
          b.attentionForward({ ...heads, out: o2, lse: l2 });
          const dq = new Float32Array(q.length), dk = new Float32Array(q.length), dv = new Float32Array(q.length);
          b.attentionBackward({ ...heads, out: o2, lse: l2, dOut: headsDOut, dQuery: dq, dKey: dk, dValue: dv });
          return { out, lse, dQkv, o2, l2, dq, dk, dv };
        });
        for (const [i, r] of runs.entries()) {
          if (i === 0) continue;
          for (const key of Object.keys(r) as (keyof typeof r)[]) {
            expect(r[key], `${key} at ${i + 1} threads, B ${B} H ${H} T ${T} D ${D} (seed ${SEED})`).toEqual(runs[0][key]);
          }
        }
      }
    } finally {
      b.setNumThreads(before);
    }
  });
});

/** float64 softmax(q k^T * scale + masks) v, bottom-right causal; rows that see nothing are 0. */
function reference(q: Tensor, k: Tensor, v: Tensor, causal: boolean, pad: Float32Array | null): Float64Array {
  const [B, H, T, D] = q.shape;
  const S = k.shape[2];
  const out = new Float64Array(q.size);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
    const bh = b * H + h;
    for (let i = 0; i < T; i++) {
      const s: number[] = [];
      for (let j = 0; j < S; j++) {
        let d = 0;
        for (let x = 0; x < D; x++) d += q.data[(bh * T + i) * D + x] * k.data[(bh * S + j) * D + x];
        const hidden = (causal && j > i + S - T) || (pad !== null && pad[b * S + j] !== 0);
        s.push(hidden ? -Infinity : d / Math.sqrt(D));
      }
      const m = Math.max(...s);
      if (m === -Infinity) continue;
      const e = s.map((x) => Math.exp(x - m));
      const z = e.reduce((a, c) => a + c, 0);
      for (let j = 0; j < S; j++) for (let x = 0; x < D; x++) out[(bh * T + i) * D + x] += (e[j] / z) * v.data[(bh * S + j) * D + x];
    }
  }
  return out;
}

const initial = getBackend().name as 'js' | 'native';
afterAll(() => setBackend(initial));

for (const backend of backendsUnderTest()) {
  describe(`scaledDotProductAttention (${backend})`, () => {
    beforeAll(() => setBackend(backend));
    it('matches a float64 reference on awkward shapes, with causal and key-padding masks', () => {
      const { seed, rng } = freshRng();
      for (const [B, H, T, S, D] of [[1, 1, 1, 1, 8], [2, 3, 3, 3, 8], [1, 2, 17, 17, 16], [2, 1, 65, 65, 16], [1, 1, 5, 9, 64]]) {
        for (const causal of [false, true]) {
          for (const padded of [false, true]) {
            const q = randomTensor(rng, [B, H, T, D], { scale: 2 }), k = randomTensor(rng, [B, H, S, D], { scale: 2 }), v = randomTensor(rng, [B, H, S, D]);
            const pad = padded ? Float32Array.from({ length: B * S }, () => (rng.next() < 0.3 ? 1 : 0)) : null;
            const y = scaledDotProductAttention(q, k, v, { causal, keyPaddingMask: pad === null ? null : new Tensor(pad, [B, S]) });
            const ref = reference(q, k, v, causal, pad);
            for (let i = 0; i < ref.length; i++) {
              expect(Math.abs(y.data[i] - ref[i]), `seed ${seed} B${B} H${H} T${T} S${S} D${D} causal ${causal} padded ${padded} at ${i}`).toBeLessThan(2e-5 * (1 + Math.abs(ref[i])));
            }
          }
        }
      }
    });

    it('gradients of query, key and value by finite differences (masks, and dropout with a fixed generator seed)', () => {
      const { seed, rng } = freshRng();
      for (const [B, H, T, S, D, causal, padded, dropout] of [
        [1, 1, 1, 1, 8, false, false, 0], [1, 2, 3, 3, 8, true, false, 0], [2, 1, 5, 7, 16, true, true, 0], [1, 1, 17, 17, 8, false, true, 0.3],
      ] as const) {
        const q = randomTensor(rng, [B, H, T, D]), k = randomTensor(rng, [B, H, S, D]), v = randomTensor(rng, [B, H, S, D]);
        const pad = padded ? new IntTensor(Int32Array.from({ length: B * S }, (_, i) => (i % S === 1 ? 1 : 0)), [B, S]) : null;
        gradcheck(([a, b, c]) => scaledDotProductAttention(a, b, c, { causal, keyPaddingMask: pad, dropout, generator: new Rng(7) }), [q, k, v], {
          label: `seed ${seed} B${B} H${H} T${T} S${S} D${D} causal ${causal} padded ${padded} dropout ${dropout}`,
        });
      }
    });

    it('dropout keeps about 1 - p of the weights, scaled by 1 / (1 - p); none in eval; a row that sees no key is 0', () => {
      // Equal scores (q = 0) over S keys of value 1: row i's output is kept_i / ((1 - p) S), kept_i its surviving keys.
      const S = 1000, T = 64;
      const q = new Tensor(new Float32Array(T), [1, 1, T, 1]);
      const k = new Tensor(new Float32Array(S), [1, 1, S, 1]);
      const v = new Tensor(new Float32Array(S).fill(1), [1, 1, S, 1]);
      const y = scaledDotProductAttention(q, k, v, { dropout: 0.25, generator: new Rng(3) });
      let kept = 0;
      for (let i = 0; i < T; i++) {
        const count = y.data[i] * 0.75 * S;
        expect(Math.abs(count - Math.round(count))).toBeLessThan(0.05);
        kept += Math.round(count);
      }
      expect(kept / (S * T)).toBeGreaterThan(0.74);
      expect(kept / (S * T)).toBeLessThan(0.76);
      const evalOut = scaledDotProductAttention(q, k, v, { dropout: 0.25, training: false });
      expect(evalOut.data.every((x) => Math.abs(x - 1) < 1e-6)).toBe(true);
      const allPadded = scaledDotProductAttention(q, k, v, { keyPaddingMask: new Tensor(new Float32Array(S).fill(1), [1, S]) });
      expect(allPadded.data.every((x) => x === 0)).toBe(true);
    });

    it('MultiheadAttention: the fused path equals the composed one (needWeights) with causal and key-padding masks', () => {
      const { seed, rng } = freshRng();
      for (const batchFirst of [true, false]) {
        const mha = new nn.MultiheadAttention(24, 3, { batchFirst, seed: 5 });
        const x = randomTensor(rng, batchFirst ? [2, 11, 24] : [11, 2, 24]);
        const pad = new Tensor(Float32Array.from({ length: 22 }, (_, i) => (i % 11 === 7 ? 1 : 0)), [2, 11]);
        const fused = noGrad(() => mha.attend(x, x, x, { isCausal: true, keyPaddingMask: pad }).output);
        const composed = noGrad(() => mha.attend(x, x, x, { isCausal: true, keyPaddingMask: pad, needWeights: true }).output);
        for (let i = 0; i < fused.size; i++) expect(Math.abs(fused.data[i] - composed.data[i]), `seed ${seed} at ${i}`).toBeLessThan(1e-5);
      }
    });

    it('selfAttentionPacked equals heads split from qkv, scaledDotProductAttention and the heads merged; gradients by finite differences', () => {
      const { seed, rng } = freshRng();
      for (const [B, T, H, D, causal, padded] of [[1, 1, 1, 8, false, false], [2, 17, 3, 8, true, true], [3, 16, 4, 4, true, false], [1, 33, 2, 16, false, true]] as const) {
        const E = H * D;
        const qkv = randomTensor(rng, [B, T, 3 * E], { scale: 2 });
        const pad = padded ? new Tensor(Float32Array.from({ length: B * T }, (_, i) => (i % T === 1 ? 1 : 0)), [B, T]) : null;
        const y = selfAttentionPacked(qkv, H, { causal, keyPaddingMask: pad });
        expect(y.shape).toEqual([B, T, E]);
        const heads = (part: number): Tensor => permute(reshape(narrow(qkv, 2, part * E, E), [B, T, H, D]), [0, 2, 1, 3]);
        const ref = reshape(permute(scaledDotProductAttention(heads(0), heads(1), heads(2), { causal, keyPaddingMask: pad }), [0, 2, 1, 3]), [B, T, E]);
        for (let i = 0; i < y.size; i++) expect(Math.abs(y.data[i] - ref.data[i]), `seed ${seed} B${B} T${T} H${H} D${D} at ${i}`).toBeLessThan(1e-5);
        if (T <= 17) {
          gradcheck(([a]) => selfAttentionPacked(a, H, { causal, keyPaddingMask: pad, dropout: 0.2, generator: new Rng(3) }), [randomTensor(rng, [B, T, 3 * E])], {
            label: `seed ${seed} packed B${B} T${T} H${H} D${D} causal ${causal} padded ${padded}`,
          });
        }
      }
      const q = new Tensor(new Float32Array(2 * 12), [1, 2, 12]);
      expect(() => selfAttentionPacked(q, 3)).toThrow(/qkv of shape \[1,2,12\] must be \[batch, length, 3 \* E\] with E a positive multiple of numHeads 3/);
      expect(() => selfAttentionPacked(q, 0)).toThrow(/numHeads/);
      expect(() => selfAttentionPacked(q.reshape([2, 12]), 2)).toThrow(/qkv of shape \[2,12\]/);
      expect(() => selfAttentionPacked(q, 2, { keyPaddingMask: new Tensor(new Float32Array(3), [1, 3]) })).toThrow(/keyPaddingMask of shape \[1,3\]/);
    });

    it('bad shapes and options are Errors naming them', () => {
      const q = new Tensor(new Float32Array(16), [1, 1, 2, 8]);
      expect(() => scaledDotProductAttention(q, new Tensor(new Float32Array(8), [1, 1, 1, 8]), new Tensor(new Float32Array(16), [1, 1, 2, 8])))
        .toThrow(/disagree/);
      expect(() => scaledDotProductAttention(q.reshape([2, 8]), q, q)).toThrow(/4-D/);
      expect(() => scaledDotProductAttention(q, q, q, { dropout: 1 })).toThrow(/dropout/);
      expect(() => scaledDotProductAttention(q, q, q, { keyPaddingMask: new Tensor(new Float32Array(3), [1, 3]) })).toThrow(/keyPaddingMask of shape \[1,3\]/);
      expect(() => scaledDotProductAttention(q, q, q, { casual: true } as never)).toThrow(/casual/);
    });
  });
}

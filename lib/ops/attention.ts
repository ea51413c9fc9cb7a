// scaledDotProductAttention: the fused attention kernel (online softmax, O(length) memory) forward, its recomputing
// backward beside it, and rotary position embedding (RoPE) of query/key heads.
import { getBackend } from '../backend/select';
import { isTracing, record } from '../autograd';
import { Tensor, shapeToString } from '../tensor-core';
import { IntTensor } from '../int-tensor';
import { reshape } from './shape';
import { Rng, globalGenerator } from '../random';
import { gradBuffer, outputBuffer, privateBuffer, releaseAfterBackward, releasePrivate } from '../buffer-pool';
import { argumentError, checkBoolean, checkNumber, checkOptions, checkTensor, invalid } from '../validate';

/** Options of scaledDotProductAttention: causal, keyPaddingMask, scale, dropout (with training and generator). */
export interface ScaledDotProductAttentionOptions {
  /** Query i sees keys j <= i + S - T (the lower triangle when T == S; a cache's newest rows when T < S). Default false. */
  causal?: boolean;
  /** Shape [B, S]: a nonzero entry hides key j of batch b from all of its queries (PyTorch's key_padding_mask). */
  keyPaddingMask?: Tensor | IntTensor | null;
  /** Score scale (default 1 / sqrt(headDim)). */
  scale?: number;
  /** Dropout on the attention weights, applied only when training is true (default 0). */
  dropout?: number;
  /** Default true: dropout applies (when dropout > 0). */
  training?: boolean;
  /** Source of the dropout seed (default the global generator). */
  generator?: Rng;
}

/** A [B, S] padding mask as float 1/0 data (nonzero -> 1). */
function paddingData(op: string, m: unknown, B: number, S: number): Float32Array {
  const t = m instanceof IntTensor ? m : checkTensor(op, 'keyPaddingMask', m);
  if (t.shape.length !== 2 || t.shape[0] !== B || t.shape[1] !== S) {
    throw argumentError(op, `keyPaddingMask of shape ${shapeToString(t.shape)} must be [batch ${B}, source length ${S}]`);
  }
  const out = new Float32Array(B * S);
  for (let i = 0; i < out.length; i++) out[i] = t.data[i] !== 0 ? 1 : 0;
  return out;
}

/** The kernels' scalar arguments from checked options: masks over B x S keys, head dimension D (the default scale). */
function kernelOptions(op: string, o: ScaledDotProductAttentionOptions, B: number, S: number, D: number): {
  causal: boolean; scale: number; dropout: number; seed: number; keyPadding: Float32Array | null;
} {
  const causal = o.causal === undefined ? false : checkBoolean(op, 'causal', o.causal);
  const scale = o.scale === undefined ? 1 / Math.sqrt(D) : checkNumber(op, 'scale', o.scale);
  const p = o.dropout === undefined ? 0 : checkNumber(op, 'dropout', o.dropout, { min: 0, below: 1 });
  const training = o.training === undefined ? true : checkBoolean(op, 'training', o.training);
  if (o.generator !== undefined && !(o.generator instanceof Rng)) invalid(op, 'generator', 'an Rng', o.generator);
  const dropout = training ? p : 0;
  const seed = dropout > 0 ? (o.generator ?? globalGenerator()).nextUint32() >>> 1 : 0;
  const keyPadding = o.keyPaddingMask === undefined || o.keyPaddingMask === null ? null : paddingData(op, o.keyPaddingMask, B, S);
  return { causal, scale, dropout, seed, keyPadding };
}

/**
 * softmax(q k^T * scale + masks) v over q [B, H, T, D], k and v [B, H, S, D] -> [B, H, T, D] on the fused kernel:
 * scores never exist as a T x S matrix (memory grows with T + S, not T * S); backward recomputes them from the
 * per-row log-sum-exp. Dropout on the weights is a hash of (seed, head, row, key), so backward regenerates the same
 * mask. A query row that sees no key (all its keys padded) gives zeros, where the composed softmax gives NaN.
 * @param q queries, a Tensor [batch, heads, T, headDim].
 * @param k keys, a Tensor [batch, heads, S, headDim].
 * @param v values, a Tensor [batch, heads, S, headDim].
 * @param opts causal (query i sees keys j <= i + S - T; default false), keyPaddingMask ([batch, S], nonzero hides
 * a key; default none), scale (default 1 / sqrt(headDim)), dropout on the weights (in [0, 1), default 0),
 * training (dropout applies only when true; default true), generator (the Rng the dropout seed is drawn from;
 * default the global generator).
 * @returns a Tensor [batch, heads, T, headDim].
 * @throws Error when q, k or v is not a 4-D Tensor, their batch, heads or headDim differ (or k and v their
 * length), an option is unknown or of the wrong kind, dropout is outside [0, 1), generator is not an Rng, or
 * keyPaddingMask is not [batch, S].
 * @example ops.scaledDotProductAttention(q, k, v, { causal: true }) // q, k, v [2, 4, 16, 8] -> [2, 4, 16, 8]
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: ScaledDotProductAttentionOptions = {}): Tensor {
  const op = 'scaledDotProductAttention';
  checkTensor(op, 'query', q);
  checkTensor(op, 'key', k);
  checkTensor(op, 'value', v);
  const o = checkOptions(op, opts, ['causal', 'keyPaddingMask', 'scale', 'dropout', 'training', 'generator']);
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4) {
    throw argumentError(op, `query ${shapeToString(q.shape)}, key ${shapeToString(k.shape)} and value ${shapeToString(v.shape)} must be 4-D [batch, heads, length, headDim]`);
  }
  const [B, H, T, D] = q.shape;
  const S = k.shape[2];
  if (k.shape[0] !== B || k.shape[1] !== H || k.shape[3] !== D || v.shape[0] !== B || v.shape[1] !== H || v.shape[2] !== S || v.shape[3] !== D) {
    throw argumentError(op, `query ${shapeToString(q.shape)}, key ${shapeToString(k.shape)} and value ${shapeToString(v.shape)} disagree (key and value must be [${B}, ${H}, S, ${D}])`);
  }
  const { causal, scale, dropout, seed, keyPadding } = kernelOptions(op, o, B, S, D);
  const BH = B * H;
  const out = outputBuffer(q.size);
  const backend = getBackend();
  const grad = q.requiresGrad || k.requiresGrad || v.requiresGrad;
  const lse = grad ? privateBuffer(BH * T) : null;
  const call = { BH, B, T, S, D, query: q.data, key: k.data, value: v.data, keyPadding, causal, scale, dropout, seed };
  if (q.size > 0 && k.size > 0) backend.attentionForward({ ...call, out, lse });
  else out.fill(0);
  const attrs = isTracing() ? {
    // the caller's float mask as a traced value (an export reads it from the model's input, not a constant)
    causal, scale, T, S, keyPadding: keyPadding === null ? null : o.keyPaddingMask instanceof Tensor ? reshape(o.keyPaddingMask, [B, 1, 1, S]) : new Tensor(keyPadding, [B, 1, 1, S]),
  } : undefined;
  const y = record(new Tensor(out, q.shape), 'attention', [q, k, v], (g) => {
    const dq = gradBuffer(q.size);
    const dk = gradBuffer(k.size);
    const dv = gradBuffer(v.size);
    if (q.size > 0 && k.size > 0) {
      backend.attentionBackward({ ...call, out, lse: lse as Float32Array, dOut: g, dQuery: dq, dKey: dk, dValue: dv });
    } else {
      dq.fill(0);
      dk.fill(0);
      dv.fill(0);
    }
    releaseAfterBackward(lse as Float32Array);
    return [q.requiresGrad ? dq : null, k.requiresGrad ? dk : null, v.requiresGrad ? dv : null];
  }, attrs);
  if (lse !== null && y._node === null) releasePrivate(lse);
  return y;
}

/** Options of selfAttentionPacked: causal, keyPaddingMask ([B, T]), scale, dropout (with training and generator). */
export type SelfAttentionPackedOptions = ScaledDotProductAttentionOptions;

/**
 * Self-attention over one packed projection: qkv [B, T, 3E] holds each position's query, key and value (E = numHeads *
 * headDim each, head h at columns h * headDim of each third: the layout of `linear(x, in_proj_weight, in_proj_bias)`),
 * and the result is [B, T, E] with the heads side by side, ready for the output projection. The same attention as
 * splitting qkv into [B, H, T, headDim] heads, scaledDotProductAttention and merging the heads back, without the
 * permute copies (forward or backward): the fused kernel reads and writes the packed layout in place.
 * @param qkv the packed projections [batch, length, 3 * E].
 * @param numHeads heads H, dividing E.
 * @param opts causal, keyPaddingMask [batch, length], scale (default 1 / sqrt(headDim)), dropout, training, generator.
 * @returns the attention output [batch, length, E].
 * @throws Error when qkv is not a 3-D Tensor whose last dimension is 3 * numHeads * headDim, numHeads is not a positive integer, or an option is invalid.
 * @example
 * ```ts
 * const y = selfAttentionPacked(linear(x, w, b), 4, { causal: true }); // x [2, 16, 64], w [192, 64] -> y [2, 16, 64]
 * ```
 */
export function selfAttentionPacked(qkv: Tensor, numHeads: number, opts: SelfAttentionPackedOptions = {}): Tensor {
  const op = 'selfAttentionPacked';
  checkTensor(op, 'qkv', qkv);
  if (!Number.isInteger(numHeads) || numHeads < 1) invalid(op, 'numHeads', 'a positive integer', numHeads);
  const o = checkOptions(op, opts, ['causal', 'keyPaddingMask', 'scale', 'dropout', 'training', 'generator']);
  const H = numHeads;
  if (qkv.ndim !== 3 || qkv.shape[2] % (3 * H) !== 0 || qkv.shape[2] === 0) {
    throw argumentError(op, `qkv of shape ${shapeToString(qkv.shape)} must be [batch, length, 3 * E] with E a positive multiple of numHeads ${H}`);
  }
  const [B, T, Q] = qkv.shape;
  const E = Q / 3;
  const D = E / H;
  const { causal, scale, dropout, seed, keyPadding } = kernelOptions(op, o, B, T, D);
  const out = outputBuffer(B * T * E);
  const backend = getBackend();
  const lse = qkv.requiresGrad ? privateBuffer(B * H * T) : null;
  const call = { B, T, H, E, Q, qkv: qkv.data, keyPadding, causal, scale, dropout, seed };
  if (out.length > 0) backend.attentionQkvForward({ ...call, out, lse });
  const y = record(new Tensor(out, [B, T, E]), 'attentionPacked', [qkv], (g) => {
    const dQkv = gradBuffer(qkv.size);
    if (out.length > 0) backend.attentionQkvBackward({ ...call, out, lse: lse as Float32Array, dOut: g, dQkv });
    releaseAfterBackward(lse as Float32Array);
    return [dQkv];
  });
  if (lse !== null && y._node === null) releasePrivate(lse);
  return y;
}

/** cos and sin tables [L, D] of RoPE at positions offset..offset+L-1: angle(p, c) = p * base^(-2 (c mod D/2) / D). */
export function ropeTables(L: number, D: number, offset: number, base: number): { cos: Float32Array; sin: Float32Array } {
  const half = D / 2;
  const cos = new Float32Array(L * D);
  const sin = new Float32Array(L * D);
  for (let p = 0; p < L; p++) {
    for (let c = 0; c < half; c++) {
      const a = (offset + p) * Math.pow(base, (-2 * c) / D);
      const ca = Math.cos(a), sa = Math.sin(a);
      cos[p * D + c] = cos[p * D + c + half] = ca;
      sin[p * D + c] = sin[p * D + c + half] = sa;
    }
  }
  return { cos, sin };
}

/** z = rot(x) * s (forward, sign 1) or rot^T(x) * s applied as rot^T(x * s) (backward, sign -1), added into out. */
function rotateHalfInto(x: Float32Array, tab: Float32Array, out: Float32Array, rows: number, L: number, D: number, transpose: boolean): void {
  const half = D / 2;
  for (let r = 0; r < rows; r++) {
    const o = r * D;
    const t = (r % L) * D;
    for (let c = 0; c < half; c++) {
      if (!transpose) {
        // rot(x) = [-x2, x1]
        out[o + c] += -x[o + c + half] * tab[t + c];
        out[o + c + half] += x[o + c] * tab[t + c + half];
      } else {
        // rot^T(g * s) = [g2 s2, -g1 s1]
        out[o + c] += x[o + c + half] * tab[t + c + half];
        out[o + c + half] += -x[o + c] * tab[t + c];
      }
    }
  }
}

/**
 * Rotary position embedding (RoPE, rotate-half form as GPT-NeoX and Llama) of x [..., L, D] (D even): position p's
 * pairs (c, c + D/2) are rotated by p * base^(-2c/D), positions counted from `offset` (the tokens already in a cache).
 * y = x * cos + [-x2, x1] * sin; its backward is the inverse rotation.
 */
export function rope(x: Tensor, offset = 0, base = 10000): Tensor {
  const op = 'rope';
  checkTensor(op, 'input', x);
  if (x.ndim < 2 || x.shape[x.ndim - 1] % 2 !== 0) {
    throw argumentError(op, `input of shape ${shapeToString(x.shape)} must be [..., length, headDim] with an even headDim`);
  }
  if (!Number.isSafeInteger(offset) || offset < 0) invalid(op, 'offset', 'an integer >= 0', offset);
  checkNumber(op, 'base', base, { min: 1 });
  const D = x.shape[x.ndim - 1];
  const L = x.shape[x.ndim - 2];
  const rows = x.size / D;
  const { cos, sin } = ropeTables(L, D, offset, base);
  const out = outputBuffer(x.size);
  for (let i = 0; i < x.size; i++) out[i] = x.data[i] * cos[i % (L * D)];
  rotateHalfInto(x.data, sin, out, rows, L, D, false);
  const attrs = isTracing() ? { cos: new Tensor(cos, [L, D]), sin: new Tensor(sin, [L, D]) } : undefined;
  return record(new Tensor(out, x.shape), 'rope', [x], (g) => {
    const dx = gradBuffer(x.size);
    for (let i = 0; i < x.size; i++) dx[i] = g[i] * cos[i % (L * D)];
    rotateHalfInto(g, sin, dx, rows, L, D, true);
    return [dx];
  }, attrs);
}

// TypeScript twin of the fused attention kernels (native/kernels/attention*.cc): one query row at a time, scores in
// float64 over the row's visible keys (O(S) scratch, never T x S), the same dropout hash bits as the C++ loops.
import { rowBuffer } from './scratch';

/** murmur3's 32-bit finaliser. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The dropout hash of one query row (attention_loops.inc row_hash). */
function attentionRowHash(seed: number, bh: number, i: number): number {
  return fmix((fmix((seed ^ fmix((bh + 0x9e3779b9) >>> 0)) >>> 0) ^ i) >>> 0);
}

/** Whether key j survives dropout in a row of hash rh (attention_loops.inc attention_keep). */
function attentionKeep(rh: number, j: number, threshold: number): boolean {
  return fmix((rh ^ Math.imul(j, 0x9e3779b9)) >>> 0) >= threshold;
}

/**
 * Dropout p's keep test and rescale, as the C++ loops derive them from the float32 p: keepFrom = p * 2^32 (a key
 * survives when its hash is >= keepFrom) and invKeep = 1 / (1 - p) (1 without dropout).
 */
function dropoutConstants(p: number): { keepFrom: number; invKeep: number } {
  const t = Math.fround(p) * 4294967296;
  const keepFrom = t >= 4294967295 ? 4294967295 : Math.floor(t);
  return { keepFrom, invKeep: p > 0 ? Math.fround(1 / Math.fround(1 - Math.fround(p))) : 1 };
}

/**
 * Where head bh = (b, h) lives: query (and dQuery) rows start at qBase(bh) + i * qRow, key/value (and their gradients)
 * at kvBase(bh) + j * kvRow (key's shifted by kShift, value's by vShift), out/dOut at oBase(bh) + i * oRow.
 */
interface Geometry {
  H: number; T: number; S: number; D: number; keyPadding: Float32Array | null; causal: boolean;
  qB: number; qH: number; qRow: number; kvB: number; kvH: number; kvRow: number; oB: number; oH: number; oRow: number; kShift: number; vShift: number;
}

const base = (bStride: number, hStride: number, H: number, bh: number): number => Math.floor(bh / H) * bStride + (bh % H) * hStride;
const qBase = (g: Geometry, bh: number): number => base(g.qB, g.qH, g.H, bh);
const kvBase = (g: Geometry, bh: number): number => base(g.kvB, g.kvH, g.H, bh);
const oBase = (g: Geometry, bh: number): number => base(g.oB, g.oH, g.H, bh);

/** End (exclusive) of the keys row i sees: causal rows are bottom-right aligned. */
function keyEnd(g: Geometry, i: number): number {
  if (!g.causal) return g.S;
  return Math.max(0, Math.min(g.S, i + g.S - g.T + 1));
}

function visible(g: Geometry, bh: number, j: number): boolean {
  return g.keyPadding === null || g.keyPadding[Math.floor(bh / g.H) * g.S + j] === 0;
}

interface AttentionArgs {
  BH: number; B: number; T: number; S: number; D: number;
  query: Float32Array; key: Float32Array; value: Float32Array; keyPadding: Float32Array | null;
  causal: boolean; scale: number; dropout: number; seed: number;
}

/** Heads contiguous: query and out [BH, T, D], key and value [BH, S, D]. */
function geometry(who: string, a: AttentionArgs): Geometry {
  if (a.BH % a.B !== 0) throw new Error(`${who}: BH ${a.BH} heads is not a multiple of the batch B ${a.B}`);
  const { T, S, D } = a;
  const H = a.BH / a.B;
  return {
    H, T, S, D, keyPadding: a.keyPadding, causal: a.causal,
    qB: H * T * D, qH: T * D, qRow: D, kvB: H * S * D, kvH: S * D, kvRow: D, oB: H * T * D, oH: T * D, oRow: D, kShift: 0, vShift: 0,
  };
}

/** Self-attention's packed projections: qkv [B, T, Q = 3E] (query, key, value thirds; head h at h * D), out [B, T, E]. */
function packedGeometry(who: string, B: number, T: number, H: number, E: number, Q: number, keyPadding: Float32Array | null, causal: boolean): Geometry {
  if (!(H > 0) || E % H !== 0) throw new Error(`${who}: width E ${E} is not a multiple of the heads H ${H}`);
  if (Q !== 3 * E) throw new Error(`${who}: the packed row width Q ${Q} is not 3 * E = ${3 * E}`);
  const D = E / H;
  return {
    H, T, S: T, D, keyPadding, causal,
    qB: T * Q, qH: D, qRow: Q, kvB: T * Q, kvH: D, kvRow: Q, oB: T * E, oH: D, oRow: E, kShift: E, vShift: 2 * E,
  };
}

/** Scores of row i of head bh into s[0..end) (float64), -Infinity where hidden; returns the max. */
function rowScores(a: AttentionArgs, g: Geometry, bh: number, i: number, end: number, s: Float64Array): number {
  const D = g.D;
  const qo = qBase(g, bh) + i * g.qRow;
  let m = -Infinity;
  for (let j = 0; j < end; j++) {
    if (!visible(g, bh, j)) {
      s[j] = -Infinity;
      continue;
    }
    const ko = kvBase(g, bh) + j * g.kvRow + g.kShift;
    let dot = 0;
    for (let d = 0; d < D; d++) dot += Math.fround(a.query[qo + d] * a.scale) * a.key[ko + d];
    s[j] = dot;
    if (dot > m) m = dot;
  }
  return m;
}

export function attentionForward(
  BH: number, B: number, T: number, S: number, D: number, query: Float32Array, key: Float32Array, value: Float32Array,
  keyPadding: Float32Array | null, causal: boolean, scale: number, dropout: number, seed: number, out: Float32Array, lse: Float32Array | null,
): void {
  const a = { BH, B, T, S, D, query, key, value, keyPadding, causal, scale, dropout, seed, out, lse };
  forward(a, geometry('attentionForward', a));
}

export function attentionBackward(
  BH: number, B: number, T: number, S: number, D: number, query: Float32Array, key: Float32Array, value: Float32Array,
  keyPadding: Float32Array | null, causal: boolean, scale: number, dropout: number, seed: number, out: Float32Array, lse: Float32Array,
  dOut: Float32Array, dQuery: Float32Array, dKey: Float32Array, dValue: Float32Array,
): void {
  const a = { BH, B, T, S, D, query, key, value, keyPadding, causal, scale, dropout, seed, out, lse, dOut, dQuery, dKey, dValue };
  const g = geometry('attentionBackward', a);
  dKey.fill(0, 0, BH * S * D);
  dValue.fill(0, 0, BH * S * D);
  backward(a, g);
}

export function attentionQkvForward(
  B: number, T: number, H: number, E: number, Q: number, qkv: Float32Array, keyPadding: Float32Array | null, causal: boolean,
  scale: number, dropout: number, seed: number, out: Float32Array, lse: Float32Array | null,
): void {
  const g = packedGeometry('attentionQkvForward', B, T, H, E, Q, keyPadding, causal);
  forward({ BH: B * H, B, T, S: T, D: g.D, query: qkv, key: qkv, value: qkv, keyPadding, causal, scale, dropout, seed, out, lse }, g);
}

export function attentionQkvBackward(
  B: number, T: number, H: number, E: number, Q: number, qkv: Float32Array, keyPadding: Float32Array | null, causal: boolean,
  scale: number, dropout: number, seed: number, out: Float32Array, lse: Float32Array, dOut: Float32Array, dQkv: Float32Array,
): void {
  const g = packedGeometry('attentionQkvBackward', B, T, H, E, Q, keyPadding, causal);
  dQkv.fill(0, 0, B * T * Q);
  backward({
    BH: B * H, B, T, S: T, D: g.D, query: qkv, key: qkv, value: qkv, keyPadding, causal, scale, dropout, seed, out, lse,
    dOut, dQuery: dQkv, dKey: dQkv, dValue: dQkv,
  }, g);
}

function forward(a: AttentionArgs & { out: Float32Array; lse: Float32Array | null }, g: Geometry): void {
  const { T, S, D } = g;
  const s = rowBuffer(S + D);
  const { keepFrom, invKeep } = dropoutConstants(a.dropout);
  for (let bh = 0; bh < a.BH; bh++) {
    for (let i = 0; i < T; i++) {
      const end = keyEnd(g, i);
      const m = rowScores(a, g, bh, i, end, s);
      const oo = oBase(g, bh) + i * g.oRow;
      if (m === -Infinity) {
        a.out.fill(0, oo, oo + D);
        if (a.lse !== null) a.lse[bh * T + i] = -Infinity;
        continue;
      }
      const acc = s.subarray(S, S + D);
      acc.fill(0);
      let l = 0;
      const rh = a.dropout > 0 ? attentionRowHash(a.seed >>> 0, bh, i) : 0;
      for (let j = 0; j < end; j++) {
        if (s[j] === -Infinity) continue;
        const p = Math.exp(s[j] - m);
        l += p;
        const w = a.dropout > 0 ? (attentionKeep(rh, j, keepFrom) ? p * invKeep : 0) : p;
        if (w === 0) continue;
        const vo = kvBase(g, bh) + j * g.kvRow + g.vShift;
        for (let d = 0; d < D; d++) acc[d] += w * a.value[vo + d];
      }
      for (let d = 0; d < D; d++) a.out[oo + d] = acc[d] / l;
      if (a.lse !== null) a.lse[bh * T + i] = m + Math.log(l);
    }
  }
}

function backward(a: AttentionArgs & {
  out: Float32Array; lse: Float32Array; dOut: Float32Array; dQuery: Float32Array; dKey: Float32Array; dValue: Float32Array;
}, g: Geometry): void {
  const { T, S, D } = g;
  const s = rowBuffer(S + D);
  const { keepFrom, invKeep } = dropoutConstants(a.dropout);
  for (let bh = 0; bh < a.BH; bh++) {
    for (let i = 0; i < T; i++) {
      const oo = oBase(g, bh) + i * g.oRow;
      const qo = qBase(g, bh) + i * g.qRow;
      const lse = a.lse[bh * T + i];
      const dq = s.subarray(S, S + D);
      dq.fill(0);
      if (lse !== -Infinity) {
        const end = keyEnd(g, i);
        rowScores(a, g, bh, i, end, s);
        let delta = 0;
        for (let d = 0; d < D; d++) delta += a.dOut[oo + d] * a.out[oo + d];
        const rh = a.dropout > 0 ? attentionRowHash(a.seed >>> 0, bh, i) : 0;
        for (let j = 0; j < end; j++) {
          if (s[j] === -Infinity) continue;
          const p = Math.exp(s[j] - lse);
          const ko = kvBase(g, bh) + j * g.kvRow + g.kShift;
          const vo = kvBase(g, bh) + j * g.kvRow + g.vShift;
          let dp = 0;
          for (let d = 0; d < D; d++) dp += a.dOut[oo + d] * a.value[vo + d];
          let z = p;
          if (a.dropout > 0) {
            const kept = attentionKeep(rh, j, keepFrom);
            z = kept ? p * invKeep : 0;
            dp = kept ? dp * invKeep : 0;
          }
          const ds = p * (dp - delta);
          for (let d = 0; d < D; d++) {
            a.dValue[vo + d] += z * a.dOut[oo + d];
            a.dKey[ko + d] += ds * a.scale * a.query[qo + d];
            dq[d] += ds * a.key[ko + d];
          }
        }
      }
      for (let d = 0; d < D; d++) a.dQuery[qo + d] = dq[d] * a.scale;
    }
  }
}

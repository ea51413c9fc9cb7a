// One LSTM or GRU layer in one direction over a whole sequence, as one autodiff op: the input projection and
// the backward's weight gradients are single GEMMs over all T*B rows, each time step one GEMM for the hidden
// product plus one fused gate kernel (lstmCell*/gruCell*), and backpropagation through time walks the steps back.
import { getBackend } from '../backend/select';
import { needsGrad, record, traced } from '../autograd';
import { Tensor, shapeToString } from '../tensor-core';
import { gradBuffer, outputBuffer, privateBuffer, releaseAfterBackward, releasePrivate } from '../buffer-pool';
import { checkTensor } from '../validate';

/** The four parameters of one layer and direction (PyTorch's weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}). */
export interface RecurrentWeights {
  /** [gates * H, I] */
  wIh: Tensor;
  /** [gates * H, H] */
  wHh: Tensor;
  /** [gates * H] or null */
  bIh: Tensor | null;
  /** [gates * H] or null */
  bHh: Tensor | null;
}

interface Geometry {
  T: number;
  B: number;
  I: number;
  H: number;
  G: number;
}

/** Checks x [T,B,I], the weights and the initial states; returns the sizes. */
function geometry(op: string, x: Tensor, w: RecurrentWeights, gates: number, states: [string, Tensor | null][]): Geometry {
  checkTensor(op, 'input', x);
  if (x.ndim !== 3) throw new Error(`${op}: input must be 3-D [time, batch, features], got ${shapeToString(x.shape)}`);
  const [T, B, I] = x.shape;
  if (T < 1) throw new Error(`${op}: the sequence is empty (input ${shapeToString(x.shape)}); it needs at least one time step`);
  if (w.wIh.ndim !== 2 || w.wIh.shape[0] % gates !== 0 || w.wIh.shape[1] !== I) {
    throw new Error(`${op}: weight_ih ${shapeToString(w.wIh.shape)} does not fit input features ${I} (expected [${gates}*hidden, ${I}])`);
  }
  const G = w.wIh.shape[0];
  const H = G / gates;
  if (w.wHh.ndim !== 2 || w.wHh.shape[0] !== G || w.wHh.shape[1] !== H) {
    throw new Error(`${op}: weight_hh ${shapeToString(w.wHh.shape)} must be [${G}, ${H}]`);
  }
  for (const [name, b] of [['bias_ih', w.bIh], ['bias_hh', w.bHh]] as const) {
    if (b !== null && b.size !== G) throw new Error(`${op}: ${name} ${shapeToString(b.shape)} must have ${G} elements`);
  }
  for (const [name, s] of states) {
    if (s !== null && s.size !== B * H) {
      throw new Error(`${op}: ${name} ${shapeToString(s.shape)} must have batch x hidden = ${B} x ${H} elements`);
    }
  }
  return { T, B, I, H, G };
}

/** b_ih + b_hh (either may be null), or null when both are. */
function summedBias(a: Tensor | null, b: Tensor | null, G: number): Float32Array | null {
  if (a === null && b === null) return null;
  const out = new Float32Array(G);
  for (let j = 0; j < G; j++) out[j] = (a ? a.data[j] : 0) + (b ? b.data[j] : 0);
  return out;
}

/** Time index of the k-th processed step. */
const timeOf = (k: number, T: number, reverse: boolean): number => (reverse ? T - 1 - k : k);

/**
 * Backpropagation through time: walks the steps from the last processed to the first; before step(t, k) (t the
 * time index, k the step's place in processing order), dh holds the output's gradient at t plus dhNext (the
 * gradient reaching h_t through the next step, which step() updates).
 */
function walkBack(T: number, BH: number, reverse: boolean, gy: Float32Array, dhNext: Float32Array, dh: Float32Array, step: (t: number, k: number) => void): void {
  for (let k = T - 1; k >= 0; k--) {
    const t = timeOf(k, T, reverse);
    const s = t * BH;
    for (let i = 0; i < BH; i++) dh[i] = gy[s + i] + dhNext[i];
    step(t, k);
  }
}

/** The weight and bias gradients both cells share: dW_ih = dGi^T x, dW_hh = dGh^T hPrev, biases = column sums. */
function weightGrads(g: Geometry, x: Tensor, hPrev: Float32Array, dGi: Float32Array, dGh: Float32Array, w: RecurrentWeights): (Float32Array | null)[] {
  const backend = getBackend();
  const { T, B, I, H, G } = g;
  const M = T * B;
  const dX = x.requiresGrad ? gradBuffer(M * I) : null;
  if (dX) backend.gemm(false, false, M, I, G, 1, dGi, w.wIh.data, 0, dX);
  const dWih = w.wIh.requiresGrad ? gradBuffer(G * I) : null;
  if (dWih) backend.gemm(true, false, G, I, M, 1, dGi, x.data, 0, dWih);
  const dWhh = w.wHh.requiresGrad ? gradBuffer(G * H) : null;
  if (dWhh) backend.gemm(true, false, G, H, M, 1, dGh, hPrev, 0, dWhh);
  const colSum = (src: Float32Array): Float32Array => {
    const out = gradBuffer(G);
    backend.colSum(M, G, src, out);
    return out;
  };
  const dbIh = w.bIh?.requiresGrad ? colSum(dGi) : null;
  const dbHh = w.bHh?.requiresGrad ? (dGh === dGi && dbIh ? dbIh : colSum(dGh)) : null;
  return [dX, dWih, dWhh, ...(w.bIh ? [dbIh] : []), ...(w.bHh ? [dbHh] : [])];
}

/** The op's tensor inputs: x, the given initial states, then the weights (null biases left out). */
function inputsOf(x: Tensor, states: (Tensor | null)[], w: RecurrentWeights): Tensor[] {
  return [x, ...(states.filter((s) => s !== null) as Tensor[]), w.wIh, w.wHh, ...(w.bIh ? [w.bIh] : []), ...(w.bHh ? [w.bHh] : [])];
}

/** A state's data, or zeros. */
const stateData = (s: Tensor | null, n: number): Float32Array => (s === null ? new Float32Array(n) : s.data);

/**
 * One LSTM layer in one direction (torch.nn.LSTM's recurrence, gates i, f, g, o). Returns [T+1, B, H]: rows
 * 0..T-1 the hidden state at each time index, row T the final cell state (the final hidden state is row T-1,
 * or row 0 when reverse). Differentiable in x, the states and the weights.
 * @param x the input, time-major: a Tensor [T, B, I], T at least 1.
 * @param h0 the initial hidden state (B * H values, e.g. [B, H]), or null for zeros.
 * @param c0 the initial cell state (B * H values), or null for zeros.
 * @param w wIh [4H, I], wHh [4H, H], bIh and bHh ([4H] or null).
 * @param reverse run from the last time step to the first (default false).
 * @returns a Tensor [T + 1, B, H].
 * @throws Error when x is not a 3-D Tensor with at least one time step, wIh does not fit I, wHh is not [4H, H],
 * a bias does not have 4H elements, or h0 or c0 does not have B * H elements.
 * @example ops.lstmLayer(randn([5, 2, 3]), null, null, { wIh: randn([16, 3]), wHh: randn([16, 4]), bIh: null, bHh: null }).shape // [6, 2, 4]
 */
export function lstmLayer(x: Tensor, h0: Tensor | null, c0: Tensor | null, w: RecurrentWeights, reverse = false): Tensor {
  const g = geometry('lstm', x, w, 4, [['h0', h0], ['c0', c0]]);
  const { T, B, I, H, G } = g;
  const BH = B * H, BG = B * G;
  const backend = getBackend();
  const tracked = needsGrad(x, h0, c0, w.wIh, w.wHh, w.bIh, w.bHh);
  const gates = privateBuffer(T * BG);
  const cs = privateBuffer(T * BH);
  const hPrev = privateBuffer(T * BH);
  const y = outputBuffer((T + 1) * BH);
  backend.linearForward({ M: T * B, N: G, K: I, X: x.data, W: w.wIh.data, bias: summedBias(w.bIh, w.bHh, G), act: 'none', alpha: 0, out: gates, preact: null });
  const cInit = stateData(c0, BH);
  let h = stateData(h0, BH);
  let c = cInit;
  for (let k = 0; k < T; k++) {
    const t = timeOf(k, T, reverse);
    const gt = gates.subarray(t * BG, (t + 1) * BG);
    hPrev.set(h, t * BH);
    backend.gemm(false, true, B, G, H, 1, h, w.wHh.data, 1, gt);
    const cOut = cs.subarray(t * BH, (t + 1) * BH);
    const hOut = y.subarray(t * BH, (t + 1) * BH);
    backend.lstmCellForward({ B, H, G, gates: gt, cPrev: c, c: cOut, h: hOut });
    h = hOut;
    c = cOut;
  }
  y.set(c, T * BH);
  const out = new Tensor(y, [T + 1, B, H]);
  const inputs = inputsOf(x, [h0, c0], w);
  if (!tracked) {
    for (const a of [gates, cs, hPrev]) releasePrivate(a);
    return traced(out, 'lstm', inputs, { reverse });
  }
  return record(out, 'lstm', inputs, (gy) => {
    const dG = gradBuffer(T * BG);
    const dc = gradBuffer(BH);
    dc.set(gy.subarray(T * BH, (T + 1) * BH));
    const dhNext = gradBuffer(BH).fill(0);
    const dh = gradBuffer(BH);
    walkBack(T, BH, reverse, gy, dhNext, dh, (t, k) => {
      const s = t * BH;
      const cPrev = k === 0 ? cInit : cs.subarray((reverse ? t + 1 : t - 1) * BH, (reverse ? t + 2 : t) * BH);
      const dGt = dG.subarray(t * BG, (t + 1) * BG);
      backend.lstmCellBackward({ B, H, G, gates: gates.subarray(t * BG, (t + 1) * BG), cPrev, c: cs.subarray(s, s + BH), dh, dc, dGates: dGt });
      backend.gemm(false, false, B, H, G, 1, dGt, w.wHh.data, 0, dhNext);
    });
    const [dX, ...rest] = weightGrads(g, x, hPrev, dG, dG, w);
    for (const a of [gates, cs, hPrev]) releaseAfterBackward(a);
    return [dX, ...(h0 ? [dhNext] : []), ...(c0 ? [dc] : []), ...rest];
  }, { reverse });
}

/**
 * One GRU layer in one direction (torch.nn.GRU's recurrence, gates r, z, n). Differentiable in x, h0 and the weights.
 * @param x the input, time-major: a Tensor [T, B, I], T at least 1.
 * @param h0 the initial hidden state (B * H values, e.g. [B, H]), or null for zeros.
 * @param w wIh [3H, I], wHh [3H, H], bIh and bHh ([3H] or null).
 * @param reverse run from the last time step to the first (default false).
 * @returns a Tensor [T, B, H]: the hidden state at each time index (the final one is row T-1, or row 0 when reverse).
 * @throws Error when x is not a 3-D Tensor with at least one time step, wIh does not fit I, wHh is not [3H, H],
 * a bias does not have 3H elements, or h0 does not have B * H elements.
 * @example ops.gruLayer(randn([5, 2, 3]), null, { wIh: randn([12, 3]), wHh: randn([12, 4]), bIh: null, bHh: null }).shape // [5, 2, 4]
 */
export function gruLayer(x: Tensor, h0: Tensor | null, w: RecurrentWeights, reverse = false): Tensor {
  const g = geometry('gru', x, w, 3, [['h0', h0]]);
  const { T, B, I, H, G } = g;
  const BH = B * H, BG = B * G;
  const backend = getBackend();
  const tracked = needsGrad(x, h0, w.wIh, w.wHh, w.bIh, w.bHh);
  const gi = privateBuffer(T * BG);
  const gh = privateBuffer(T * BG);
  const hPrev = privateBuffer(T * BH);
  const y = outputBuffer(T * BH);
  backend.linearForward({ M: T * B, N: G, K: I, X: x.data, W: w.wIh.data, bias: w.bIh ? w.bIh.data : null, act: 'none', alpha: 0, out: gi, preact: null });
  let h = stateData(h0, BH);
  for (let k = 0; k < T; k++) {
    const t = timeOf(k, T, reverse);
    const ght = gh.subarray(t * BG, (t + 1) * BG);
    hPrev.set(h, t * BH);
    backend.linearForward({ M: B, N: G, K: H, X: h, W: w.wHh.data, bias: w.bHh ? w.bHh.data : null, act: 'none', alpha: 0, out: ght, preact: null });
    const hOut = y.subarray(t * BH, (t + 1) * BH);
    backend.gruCellForward({ B, H, G, gi: gi.subarray(t * BG, (t + 1) * BG), gh: ght, hPrev: h, h: hOut });
    h = hOut;
  }
  const out = new Tensor(y, [T, B, H]);
  const inputs = inputsOf(x, [h0], w);
  if (!tracked) {
    for (const a of [gi, gh, hPrev]) releasePrivate(a);
    return traced(out, 'gru', inputs, { reverse });
  }
  return record(out, 'gru', inputs, (gy) => {
    const dGi = gradBuffer(T * BG);
    const dGh = gradBuffer(T * BG);
    const dhNext = gradBuffer(BH).fill(0);
    const dh = gradBuffer(BH);
    walkBack(T, BH, reverse, gy, dhNext, dh, (t) => {
      const s = t * BH;
      const dGht = dGh.subarray(t * BG, (t + 1) * BG);
      backend.gruCellBackward({
        B, H, G, gates: gi.subarray(t * BG, (t + 1) * BG), gh: gh.subarray(t * BG, (t + 1) * BG), hPrev: hPrev.subarray(s, s + BH),
        dh, dGi: dGi.subarray(t * BG, (t + 1) * BG), dGh: dGht, dhPrev: dhNext,
      });
      backend.gemm(false, false, B, H, G, 1, dGht, w.wHh.data, 1, dhNext);
    });
    const [dX, ...rest] = weightGrads(g, x, hPrev, dGi, dGh, w);
    for (const a of [gi, gh, hPrev]) releaseAfterBackward(a);
    return [dX, ...(h0 ? [dhNext] : []), ...rest];
  }, { reverse });
}

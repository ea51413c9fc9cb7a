// The TypeScript forward-plan kernels: freezePlan, forwardAsync (in slices between event-loop turns) and forwardDense.
import { actCode, checkBool, checkDim, checkF32, checkFloat } from '../check';
import { FrozenPlanRegistry, type FrozenPlan, type PlanLayer } from '../contract';
import { activationForward } from './activation';
import { gemmDot } from './gemm';
import { softmaxRows } from './softmax';

export function freezePlan(layers: PlanLayer[]): FrozenPlan {
  checkPlanLayers('freezePlan', layers);
  return frozenLayers.add(layers, copyLayers(layers));
}

export function forwardAsync(
  M: number, layers: FrozenPlan | PlanLayer[], X: Float32Array, out: Float32Array, softmax: boolean, handOver?: boolean,
): Promise<void> {
  const k = 'forwardAsync';
  let copy: Float32Array;
  let frozen: PlanLayer[];
  try {
    if (Array.isArray(layers)) {
      checkPlanLayers(k, layers);
      frozen = copyLayers(layers); // plain layers are copied for this call only
    } else {
      frozen = frozenLayers.get(k, layers);
    }
    checkPlanIo(k, M, frozen, X, out, softmax);
    if (handOver !== undefined) checkBool(k, 'handOver', handOver);
    // A handed-over X is the caller's private array until the promise settles: read in place.
    copy = handOver === true ? X : X.slice(0, M * frozen[0].K);
  } catch (err) {
    return Promise.reject(err);
  }
  return runForwardAsync(M, frozen, copy, out, softmax);
}

export function forwardDense(M: number, plan: FrozenPlan | PlanLayer[], X: Float32Array, out: Float32Array, softmax: boolean): void {
  const layers = Array.isArray(plan) ? plan : frozenLayers.get('forwardDense', plan);
  checkForwardPlan('forwardDense', M, layers, X, out, softmax);
  const maxN = layers.reduce((m, L) => Math.max(m, L.N), 0);
  // Two ping-pong buffers for the intermediates (none for a single layer).
  const ping = layers.length > 1 ? new Float32Array(M * maxN) : out;
  const pong = layers.length > 2 ? new Float32Array(M * maxN) : out;
  let h = X;
  for (let l = 0; l < layers.length; l++) {
    const dst = l === layers.length - 1 ? out : l % 2 === 0 ? ping : pong;
    denseRows(M, layers[l], h, 0, dst, 0);
    h = dst;
  }
  if (softmax) {
    const N = layers[layers.length - 1].N;
    softmaxRows(M, N, out, out, 0, 0);
  }
}

/** Validates an inference plan (forwardAsync / forwardDense); throws naming the kernel and layer. */
function checkForwardPlan(
  k: string, M: number, layers: PlanLayer[], X: Float32Array, out: Float32Array, softmax: boolean,
): void {
  checkPlanLayers(k, layers);
  checkPlanIo(k, M, layers, X, out, softmax);
}

/** Validates plan layers: each {N, K, W, bias, act, alpha} with K equal to the previous N. */
function checkPlanLayers(k: string, layers: PlanLayer[]): void {
  if (!Array.isArray(layers) || layers.length === 0) throw new Error(`${k}: layers must be a non-empty array`);
  for (let l = 0; l < layers.length; l++) {
    const L = layers[l];
    const name = `layers[${l}]`;
    if (L === null || typeof L !== 'object') throw new Error(`${k}: ${name} must be an object {N, K, W, bias, act, alpha}`);
    checkDim(k, `${name}.N`, L.N);
    checkDim(k, `${name}.K`, L.K);
    if (l > 0 && L.K !== layers[l - 1].N) {
      throw new Error(`${k}: ${name}.K = ${L.K} does not match layers[${l - 1}].N = ${layers[l - 1].N}`);
    }
    checkF32(k, `${name}.W`, L.W, false, 'N', L.N, 'K', L.K);
    checkF32(k, `${name}.bias`, L.bias, true, 'N', L.N);
    actCode(k, L.act);
    checkFloat(k, `${name}.alpha`, L.alpha);
  }
}

/** Validates the rows, input, output and softmax flag of a (validated) plan. */
function checkPlanIo(k: string, M: number, layers: PlanLayer[], X: Float32Array, out: Float32Array, softmax: boolean): void {
  checkDim(k, 'M', M);
  const K0 = layers[0].K;
  const NL = layers[layers.length - 1].N;
  checkF32(k, 'X', X, false, 'M', M, 'K', K0);
  checkF32(k, 'out', out, false, 'M', M, 'N', NL);
  checkBool(k, 'softmax', softmax);
}

/** The private weight copies behind each FrozenPlan this backend made. */
const frozenLayers = new FrozenPlanRegistry<PlanLayer[]>('js');

/** Private copies of validated layers (weights and bias cut to their exact sizes). */
function copyLayers(layers: PlanLayer[]): PlanLayer[] {
  return layers.map((L) => ({
    N: L.N, K: L.K, W: L.W.slice(0, L.N * L.K), bias: L.bias === null ? null : L.bias.slice(0, L.N), act: L.act, alpha: L.alpha,
  }));
}

/** Multiply-adds per slice between event-loop turns (a few milliseconds of JS). */
const ASYNC_SLICE_MACS = 1 << 21;

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** One dense layer on `rows` rows: out = act(X W^T + bias), all row-major with the given offsets. */
function denseRows(
  rows: number, L: PlanLayer, X: Float32Array, xOff: number, out: Float32Array, outOff: number,
): void {
  const { N, K, W, bias } = L;
  const view = outOff === 0 ? out : out.subarray(outOff, outOff + rows * N);
  gemmDot(rows, N, K, 1, X, xOff, W, 0, view);
  const n = rows * N;
  if (bias !== null) {
    for (let i = 0; i < rows; i++) {
      const o = i * N;
      for (let j = 0; j < N; j++) view[o + j] += bias[j];
    }
  }
  activationForward(L.act, n, view, view, L.alpha);
}

/**
 * The layer stack on row chunks: each chunk of rows goes through every layer (its own scratch,
 * allocated per call), with an event-loop turn after each layer-chunk of about ASYNC_SLICE_MACS work.
 * Reads only the private copies it is given (X and the frozen layers); the result goes into a
 * private buffer and is copied into out at the end, if out's buffer is still attached.
 */
async function runForwardAsync(
  M: number, layers: PlanLayer[], X: Float32Array, out: Float32Array, softmax: boolean,
): Promise<void> {
  let maxWidth = 0;
  let maxMacsPerRow = 0;
  for (const L of layers) {
    maxWidth = Math.max(maxWidth, L.N);
    maxMacsPerRow = Math.max(maxMacsPerRow, L.N * L.K);
  }
  const chunk = Math.max(1, Math.min(M, Math.floor(ASYNC_SLICE_MACS / maxMacsPerRow)));
  const bufA = new Float32Array(chunk * maxWidth);
  const bufB = new Float32Array(chunk * maxWidth);
  const last = layers.length - 1;
  const NL = layers[last].N;
  const result = new Float32Array(M * NL);
  for (let r0 = 0; r0 < M; r0 += chunk) {
    const rows = Math.min(chunk, M - r0);
    let src = X;
    let srcOff = r0 * layers[0].K;
    for (let l = 0; l <= last; l++) {
      await yieldToEventLoop();
      const L = layers[l];
      if (l === last) {
        denseRows(rows, L, src, srcOff, result, r0 * NL);
      } else {
        const dst = src === bufA ? bufB : bufA;
        denseRows(rows, L, src, srcOff, dst, 0);
        src = dst;
        srcOff = 0;
      }
    }
    if (softmax) softmaxRows(rows, NL, result, result, r0 * NL, r0 * NL);
  }
  if (out.length < M * NL) {
    throw new Error('forwardAsync: out was detached (its ArrayBuffer transferred) before the result was ready');
  }
  out.set(result);
}

// Test helpers: seeded PRNG, random Float32Array generators, float64 reference kernels, tolerance checks.
import type { Activation, UnaryOp } from '../../lib/backend/contract';
import { Rng as LibRng } from '../../lib/random';

/** Unit roundoff of float32 (2^-24). Tolerances below are written in multiples of it. */
export const U32 = 2 ** -24;

// ---------------------------------------------------------------------------------------------
// Seeded random numbers
// ---------------------------------------------------------------------------------------------

/** A fresh seed per run, or MYELIN_TEST_SEED to replay a failure. */
export function freshSeed(): number {
  const env = process.env.MYELIN_TEST_SEED;
  if (env !== undefined && env !== '') return Number(env) >>> 0;
  return (Math.random() * 0x100000000) >>> 0;
}

export interface Rng {
  readonly seed: number;
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** Standard normal (Box-Muller). */
  normal(): number;
  /** Integer in [0, n). */
  int(n: number): number;
}

/** The library's generator (lib/random.ts, mulberry32) with the test helpers' Box-Muller. */
export function makeRng(seed: number): Rng {
  const g = new LibRng(seed >>> 0);
  const next = (): number => g.next();
  return {
    seed,
    next,
    uniform: (lo, hi) => lo + (hi - lo) * next(),
    normal: () => {
      const u1 = 1 - next();
      const u2 = next();
      return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    },
    int: (n) => Math.floor(next() * n),
  };
}

export function randUniform(rng: Rng, n: number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(lo, hi);
  return a;
}

export function randNormal(rng: Rng, n: number, std = 1, mean = 0): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = mean + std * rng.normal();
  return a;
}

export function randLabels(rng: Rng, M: number, N: number): Int32Array {
  const a = new Int32Array(M);
  for (let i = 0; i < M; i++) a[i] = rng.int(N);
  return a;
}

// ---------------------------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------------------------

export interface CheckContext {
  kernel: string;
  /** Sizes and options, e.g. "M=3 N=17 K=65 transA=true". */
  shape: string;
  seed: number;
  backend?: string;
}

/**
 * Asserts |actual[i] - expected[i]| <= tol[i] for every i (tol: per-element array or a function);
 * returns the largest err/tol ratio.
 * NaN expected requires NaN; an infinite expected value requires the same infinity.
 * The error names the kernel, shape, backend, seed, the first bad index and values, and the bad count.
 */
export function expectClose(
  ctx: CheckContext, what: string, actual: ArrayLike<number>, expected: ArrayLike<number>,
  tol: ArrayLike<number> | ((i: number) => number), count = expected.length,
): number {
  if (actual.length < count) {
    throw new Error(`${describeCtx(ctx)} ${what}: got ${actual.length} values, expected ${count}`);
  }
  const tolAt = typeof tol === 'function' ? tol : (i: number) => tol[i];
  let bad = 0;
  let first = -1;
  let worst = 0;
  for (let i = 0; i < count; i++) {
    const a = actual[i];
    const e = expected[i];
    let ok: boolean;
    if (Number.isNaN(e)) ok = Number.isNaN(a);
    else if (!Number.isFinite(e)) ok = a === e;
    else {
      const t = tolAt(i);
      const err = Math.abs(a - e);
      ok = err <= t; // false for NaN actual
      if (t > 0 && Number.isFinite(err)) worst = Math.max(worst, err / t);
    }
    if (!ok) {
      bad++;
      if (first < 0) first = i;
    }
  }
  if (bad > 0) {
    const a = actual[first];
    const e = expected[first];
    throw new Error(
      `${describeCtx(ctx)} ${what}: ${bad} of ${count} values out of tolerance; first at index ${first}: ` +
        `got ${a}, expected ${e}, |err| = ${Math.abs(a - e)}, tol = ${tolAt(first)}`,
    );
  }
  if (process.env.MYELIN_TEST_REPORT_TOL) recordWorst(ctx, what, worst);
  return worst;
}

const worstSeen = new Map<string, number>();
/** With MYELIN_TEST_REPORT_TOL set, prints the largest err/tol ratio seen per kernel output at exit. */
function recordWorst(ctx: CheckContext, what: string, worst: number): void {
  const key = `${ctx.backend ?? '?'} ${ctx.kernel}.${what}`;
  if (worstSeen.size === 0) {
    process.on('exit', () => {
      for (const [k, v] of [...worstSeen].sort()) process.stdout.write(`max err/tol ${k}: ${v.toExponential(2)}\n`);
    });
  }
  worstSeen.set(key, Math.max(worstSeen.get(key) ?? 0, worst));
}

function describeCtx(ctx: CheckContext): string {
  return `[${ctx.backend ?? '?'}] ${ctx.kernel} (${ctx.shape}; seed=${ctx.seed}; replay with MYELIN_TEST_SEED=${ctx.seed})`;
}

/** Per-element tolerance rtol*|e| + atol. */
export function relTol(expected: ArrayLike<number>, rtol: number, atol = 0): (i: number) => number {
  return (i) => rtol * Math.abs(expected[i]) + atol;
}

export function scalarClose(ctx: CheckContext, what: string, actual: number, expected: number, tol: number): number {
  return expectClose(ctx, what, [actual], [expected], [tol]);
}

// ---------------------------------------------------------------------------------------------
// Special functions in float64 (independent of the backends' approximations)
// ---------------------------------------------------------------------------------------------

/** erfc to ~1e-13 relative: Maclaurin series for |z| < 2.5, continued fraction beyond. */
export function refErfc(z: number): number {
  if (Number.isNaN(z)) return NaN;
  if (z < 0) return 2 - refErfc(-z);
  if (z < 2.5) {
    // erf(z) = 2/sqrt(pi) * sum_n (-1)^n z^(2n+1) / (n! (2n+1))
    let term = z;
    let s = z;
    for (let n = 1; n < 200; n++) {
      term *= (-z * z) / n;
      const add = term / (2 * n + 1);
      s += add;
      if (Math.abs(add) < 1e-17 * Math.abs(s)) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * s;
  }
  if (z > 27) return 0;
  // erfc(z) = exp(-z^2)/sqrt(pi) * 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + ...)))) evaluated bottom-up.
  let f = z;
  for (let n = 300; n >= 1; n--) f = z + n / 2 / f;
  return Math.exp(-z * z) / (Math.sqrt(Math.PI) * f);
}

export function refNormalCdf(x: number): number {
  return 0.5 * refErfc(-x / Math.SQRT2);
}

function refSigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** act(x) in float64. */
export function refAct(act: Activation, x: number, alpha: number): number {
  switch (act) {
    case 'none':
      return x;
    case 'relu':
      return x > 0 ? x : x === x ? 0 : x;
    case 'leakyRelu':
      return x > 0 ? x : alpha * x;
    case 'sigmoid':
      return refSigmoid(x);
    case 'tanh':
      return Math.tanh(x);
    case 'gelu':
      if (x === Infinity) return x;
      if (x === -Infinity) return 0;
      return x * refNormalCdf(x);
    case 'geluTanh': {
      if (x === Infinity) return x;
      if (x === -Infinity) return 0;
      const u = Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x);
      return x * refSigmoid(2 * u); // == 0.5 x (1 + tanh(u)), without cancellation
    }
  }
}

/** act'(x) in float64, as a function of the pre-activation x. */
export function refActGrad(act: Activation, x: number, alpha: number): number {
  switch (act) {
    case 'none':
      return 1;
    case 'relu':
      return x > 0 ? 1 : 0;
    case 'leakyRelu':
      return x > 0 ? 1 : alpha;
    case 'sigmoid': {
      const s = refSigmoid(x);
      return s * (1 - s);
    }
    case 'tanh': {
      const t = Math.tanh(x);
      return 1 - t * t;
    }
    case 'gelu':
      if (!Number.isFinite(x)) return x > 0 ? 1 : 0;
      return refNormalCdf(x) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);
    case 'geluTanh': {
      if (!Number.isFinite(x)) return x > 0 ? 1 : 0;
      const c = Math.sqrt(2 / Math.PI);
      const u = c * (x + 0.044715 * x * x * x);
      const t = Math.tanh(u);
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x);
    }
  }
}

/**
 * act'(.) the way the contract defines backward: from y = act(x) for relu/leakyRelu/sigmoid/tanh
 * (so the reference uses the same stored y as the kernel) and from x for gelu/geluTanh.
 */
export function refActGradFromSaved(act: Activation, x: number, y: number, alpha: number): number {
  switch (act) {
    case 'none':
      return 1;
    case 'relu':
      return y > 0 ? 1 : 0;
    case 'leakyRelu':
      return y > 0 ? 1 : alpha;
    case 'sigmoid':
      return y * (1 - y);
    case 'tanh':
      return 1 - y * y;
    case 'gelu':
    case 'geluTanh':
      return refActGrad(act, x, alpha);
  }
}

export function refUnary(op: UnaryOp, x: number): number {
  switch (op) {
    case 'exp':
      return Math.exp(x);
    case 'log':
      return Math.log(x);
    case 'sqrt':
      return Math.sqrt(x);
    case 'neg':
      return -x;
    case 'abs':
      return Math.abs(x);
    case 'square':
      return x * x;
    case 'reciprocal':
      return 1 / x;
  }
}

// ---------------------------------------------------------------------------------------------
// Float64 reference kernels. Matrix results come with `mag`: the sum of absolute values of the
// terms that formed each element, from which the float32 rounding-error bound is derived.
// ---------------------------------------------------------------------------------------------

export interface RefMatrix {
  value: Float64Array;
  /** Sum of |terms| per element (the condition-number weight of the error bound). */
  mag: Float64Array;
}

/**
 * Error bound for a float32 sum of `terms` products: any summation order (blocked, pairwise,
 * FMA or not) stays within gamma_terms * sum|terms| (Higham, Accuracy and Stability, ch. 3);
 * we allow twice that plus a few roundings for alpha, beta and the final store.
 */
export function dotTol(terms: number, mag: number): number {
  return 2 * (terms + 4) * U32 * mag;
}

export function refGemm(
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: Float32Array, B: Float32Array, beta: number, C: Float32Array,
): RefMatrix {
  const value = new Float64Array(M * N);
  const mag = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      let m = 0;
      if (alpha !== 0) {
        for (let k = 0; k < K; k++) {
          const a = transA ? A[k * M + i] : A[i * K + k];
          const b = transB ? B[j * K + k] : B[k * N + j];
          s += a * b;
          m += Math.abs(a * b);
        }
      }
      const c = beta === 0 ? 0 : beta * C[i * N + j];
      value[i * N + j] = alpha * s + c;
      mag[i * N + j] = Math.abs(alpha) * m + Math.abs(c);
    }
  }
  return { value, mag };
}

export interface RefLinearForward {
  preact: RefMatrix;
  out: Float64Array;
  /** |act'(z)| per element, to propagate the preactivation error bound. */
  slope: Float64Array;
}

export function refLinearForward(
  M: number, N: number, K: number, X: Float32Array, W: Float32Array, bias: Float32Array | null,
  act: Activation, alpha: number,
): RefLinearForward {
  const z = new Float64Array(M * N);
  const mag = new Float64Array(M * N);
  const out = new Float64Array(M * N);
  const slope = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = bias === null ? 0 : bias[j];
      let m = Math.abs(s);
      for (let k = 0; k < K; k++) {
        const p = X[i * K + k] * W[j * K + k];
        s += p;
        m += Math.abs(p);
      }
      z[i * N + j] = s;
      mag[i * N + j] = m;
      out[i * N + j] = refAct(act, s, alpha);
      slope[i * N + j] = Math.abs(refActGrad(act, s, alpha));
    }
  }
  return { preact: { value: z, mag }, out, slope };
}

export interface RefLinearBackward {
  dZ: Float64Array;
  dX: RefMatrix;
  dW: RefMatrix;
  dB: RefMatrix;
}

/** Reference for linearBackward given the float32 tensors the kernel sees (Y, preact as stored). */
export function refLinearBackward(
  M: number, N: number, K: number, X: Float32Array, W: Float32Array, Y: Float32Array,
  preact: Float32Array | null, dY: Float32Array, act: Activation, alpha: number,
  dX0: Float32Array | null, dW0: Float32Array, dB0: Float32Array | null, accumulate: boolean,
  accumulateX = accumulate,
): RefLinearBackward {
  const dZ = new Float64Array(M * N);
  for (let i = 0; i < M * N; i++) {
    const x = preact === null ? NaN : preact[i];
    dZ[i] = dY[i] * refActGradFromSaved(act, x, Y[i], alpha);
  }
  const dX = { value: new Float64Array(M * K), mag: new Float64Array(M * K) };
  for (let i = 0; i < M; i++) {
    for (let k = 0; k < K; k++) {
      let s = accumulateX && dX0 !== null ? dX0[i * K + k] : 0;
      let m = Math.abs(s);
      for (let j = 0; j < N; j++) {
        const p = dZ[i * N + j] * W[j * K + k];
        s += p;
        m += Math.abs(p);
      }
      dX.value[i * K + k] = s;
      dX.mag[i * K + k] = m;
    }
  }
  const dW = { value: new Float64Array(N * K), mag: new Float64Array(N * K) };
  for (let j = 0; j < N; j++) {
    for (let k = 0; k < K; k++) {
      let s = accumulate ? dW0[j * K + k] : 0;
      let m = Math.abs(s);
      for (let i = 0; i < M; i++) {
        const p = dZ[i * N + j] * X[i * K + k];
        s += p;
        m += Math.abs(p);
      }
      dW.value[j * K + k] = s;
      dW.mag[j * K + k] = m;
    }
  }
  const dB = { value: new Float64Array(N), mag: new Float64Array(N) };
  for (let j = 0; j < N; j++) {
    let s = accumulate && dB0 !== null ? dB0[j] : 0;
    let m = Math.abs(s);
    for (let i = 0; i < M; i++) {
      s += dZ[i * N + j];
      m += Math.abs(dZ[i * N + j]);
    }
    dB.value[j] = s;
    dB.mag[j] = m;
  }
  return { dZ, dX, dW, dB };
}

export function refSoftmax(M: number, N: number, x: Float32Array): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    let mx = -Infinity;
    for (let j = 0; j < N; j++) mx = Math.max(mx, x[i * N + j]);
    let s = 0;
    for (let j = 0; j < N; j++) s += Math.exp(x[i * N + j] - mx);
    for (let j = 0; j < N; j++) out[i * N + j] = Math.exp(x[i * N + j] - mx) / s;
  }
  return out;
}

/** Row log-sum-exp values (length M). */
export function refLogSumExp(M: number, N: number, x: Float32Array): Float64Array {
  const out = new Float64Array(M);
  for (let i = 0; i < M; i++) {
    let mx = -Infinity;
    for (let j = 0; j < N; j++) mx = Math.max(mx, x[i * N + j]);
    let s = 0;
    for (let j = 0; j < N; j++) s += Math.exp(x[i * N + j] - mx);
    out[i] = mx + Math.log(s);
  }
  return out;
}

export function refLogSoftmax(M: number, N: number, x: Float32Array): Float64Array {
  const lse = refLogSumExp(M, N, x);
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) out[i * N + j] = x[i * N + j] - lse[i];
  return out;
}

export function refSoftmaxBackward(M: number, N: number, y: Float32Array, dy: Float32Array): RefMatrix {
  const value = new Float64Array(M * N);
  const mag = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    let dot = 0;
    let dm = 0;
    for (let j = 0; j < N; j++) {
      dot += dy[i * N + j] * y[i * N + j];
      dm += Math.abs(dy[i * N + j] * y[i * N + j]);
    }
    for (let j = 0; j < N; j++) {
      const o = i * N + j;
      value[o] = y[o] * (dy[o] - dot);
      mag[o] = Math.abs(y[o]) * (Math.abs(dy[o]) + (N + 2) * dm);
    }
  }
  return { value, mag };
}

export function refLogSoftmaxBackward(M: number, N: number, y: Float32Array, dy: Float32Array): RefMatrix {
  const value = new Float64Array(M * N);
  const mag = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    let s = 0;
    let sm = 0;
    for (let j = 0; j < N; j++) {
      s += dy[i * N + j];
      sm += Math.abs(dy[i * N + j]);
    }
    for (let j = 0; j < N; j++) {
      const o = i * N + j;
      const p = Math.exp(y[o]);
      value[o] = dy[o] - p * s;
      mag[o] = Math.abs(dy[o]) + p * (N + 2) * sm;
    }
  }
  return { value, mag };
}

export interface RefCrossEntropy {
  loss: number;
  losses: Float64Array;
  grad: Float64Array;
  /** Per-row log-sum-exp (for the loss error bound). */
  lse: Float64Array;
  probs: Float64Array;
}

export function refSoftmaxCrossEntropy(M: number, N: number, logits: Float32Array, labels: Int32Array): RefCrossEntropy {
  const lse = refLogSumExp(M, N, logits);
  const losses = new Float64Array(M);
  const grad = new Float64Array(M * N);
  const probs = new Float64Array(M * N);
  let total = 0;
  for (let i = 0; i < M; i++) {
    losses[i] = lse[i] - logits[i * N + labels[i]];
    total += losses[i];
    for (let j = 0; j < N; j++) {
      const p = Math.exp(logits[i * N + j] - lse[i]);
      probs[i * N + j] = p;
      grad[i * N + j] = (p - (j === labels[i] ? 1 : 0)) / M;
    }
  }
  return { loss: total / M, losses, grad, lse, probs };
}

// ---------------------------------------------------------------------------------------------
// Optimizers (PyTorch semantics) on float64 state
// ---------------------------------------------------------------------------------------------

export function refSgdStep(
  param: Float64Array, grad: ArrayLike<number>, velocity: Float64Array | null, lr: number,
  momentum: number, weightDecay: number, nesterov: boolean,
): void {
  for (let i = 0; i < param.length; i++) {
    let g = grad[i] + weightDecay * param[i];
    if (momentum !== 0 && velocity !== null) {
      velocity[i] = momentum * velocity[i] + g;
      g = nesterov ? g + momentum * velocity[i] : velocity[i];
    }
    param[i] -= lr * g;
  }
}

export function refAdamStep(
  param: Float64Array, grad: ArrayLike<number>, m: Float64Array, v: Float64Array, step: number,
  lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, decoupled: boolean,
): void {
  const bc1 = 1 - beta1 ** step;
  const bc2 = 1 - beta2 ** step;
  for (let i = 0; i < param.length; i++) {
    let g = grad[i];
    if (decoupled) param[i] *= 1 - lr * weightDecay;
    else g += weightDecay * param[i];
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    param[i] -= (lr * (m[i] / bc1)) / (Math.sqrt(v[i] / bc2) + eps);
  }
}

export function refRmspropStep(
  param: Float64Array, grad: ArrayLike<number>, sq: Float64Array, buf: Float64Array | null, lr: number,
  alpha: number, eps: number, weightDecay: number, momentum: number,
): void {
  for (let i = 0; i < param.length; i++) {
    const g = grad[i] + weightDecay * param[i];
    sq[i] = alpha * sq[i] + (1 - alpha) * g * g;
    const d = Math.sqrt(sq[i]) + eps;
    if (momentum > 0 && buf !== null) {
      buf[i] = momentum * buf[i] + g / d;
      param[i] -= lr * buf[i];
    } else {
      param[i] -= (lr * g) / d;
    }
  }
}

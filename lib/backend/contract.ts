// The kernel contract: the one interface both backends (native C++ and pure TypeScript) implement.
//
// Conventions (every kernel):
// - Matrices are dense, row-major Float32Arrays. Sizes are integers >= 1 (n >= 0 for flat kernels).
// - Outputs are allocated by the caller and passed in; kernels never allocate results.
// - Flat elementwise kernels allow `out` to alias an input (in-place use is common).
// - Invalid arguments (wrong types, non-integer or non-positive sizes, buffers shorter than the
//   sizes require, labels out of range) throw an Error whose message starts with the kernel name
//   and names the offending sizes, e.g. "gemm: A has 10 elements, expected M*K = 12 (M=3, K=4)".
//   Buffers LONGER than required are accepted (only the leading part is used).
// - Tolerances: kernels are float32; tests compare against float64 references.
// - Numerics, one rule for both backends and every size (the native backend runs tiny calls on the
//   TS twin, so the twin must give what C++ gives): IEEE float32 semantics for special values
//   (x * Infinity = Infinity, 0 * Infinity = NaN, NaN propagates; scalar arguments cross as
//   float32); sums in one fixed float64 order (identical results); a softmax row with NaN or
//   +Infinity is all NaN. Two differences remain by design: dot products (gemm, linear*)
//   accumulate in float32 with FMA in C++ and in float64 in TS, so they agree within
//   K * 2^-23 * sum|a*b| and a partial sum beyond float32's range (3.4e38) can be +-Infinity or
//   NaN in C++ where TS stays finite; and C++ kernels flush denormals (|x| < 2^-126) to zero
//   (inputs read as 0, results written as 0) while TS keeps them.

/** Activation functions known to the kernels. Codes are shared with the native binding. */
export type Activation = 'none' | 'relu' | 'leakyRelu' | 'sigmoid' | 'tanh' | 'gelu' | 'geluTanh';

/** Integer codes passed across N-API for each activation (native/kernels/activation.h mirrors this). */
export const ACTIVATION_CODE: Record<Activation, number> = {
  none: 0,
  relu: 1,
  leakyRelu: 2, // f(x) = x > 0 ? x : alpha * x   (alpha = the `alpha` argument, default 0.01)
  sigmoid: 3,
  tanh: 4,
  gelu: 5, // exact: 0.5 x (1 + erf(x / sqrt 2))
  geluTanh: 6, // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
};

/** Unary elementwise math used by autodiff ops. Codes shared with the native binding. */
export type UnaryOp = 'exp' | 'log' | 'sqrt' | 'neg' | 'abs' | 'square' | 'reciprocal';
export const UNARY_CODE: Record<UnaryOp, number> = {
  exp: 0,
  log: 1,
  sqrt: 2,
  neg: 3,
  abs: 4,
  square: 5,
  reciprocal: 6,
};

export interface BackendInfo {
  /** 'native' (C++ addon) or 'js' (pure TypeScript). */
  backend: 'native' | 'js';
  /** SIMD level the kernels run with: 'avx2' (AVX2+FMA), 'scalar' (portable C++), 'none' (JS). */
  simd: 'avx2' | 'scalar' | 'none';
  /** SIMD level of the matrix multiply (native only): it can be higher than `simd` (AVX-512 GEMM). */
  gemmSimd?: 'avx512' | 'avx2' | 'scalar';
  /** Threads the kernels may use (1 for js). */
  threads: number;
  /** Free-form extra facts (compiler, build type, ...). */
  [key: string]: unknown;
}

/** One dense layer of an inference plan, for the async forward pass. W is [N, K] (out x in). */
export interface PlanLayer {
  N: number;
  K: number;
  W: Float32Array;
  bias: Float32Array | null;
  act: Activation;
  alpha: number;
}

/**
 * A backend-owned, immutable copy of a plan's weights (Backend.freezePlan). Opaque: only the
 * backend that made it can run it.
 */
export interface FrozenPlan {
  readonly backend: 'native' | 'js';
  /** Input features per row (layers[0].K) and outputs per row (last N). */
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Bytes of weights the copy holds. */
  readonly bytes: number;
}

/** The FrozenPlans one backend made, each with the backend's own copy of the weights. */
export class FrozenPlanRegistry<T> {
  private readonly held = new WeakMap<object, T>();

  constructor(private readonly backend: 'native' | 'js') {}

  /** A new FrozenPlan for `layers` (already validated) that holds `copy`. */
  add(layers: readonly { N: number; K: number; bias: unknown }[], copy: T): FrozenPlan {
    let bytes = 0;
    for (const l of layers) bytes += 4 * (l.N * l.K + (l.bias === null ? 0 : l.N));
    const plan: FrozenPlan = Object.freeze({
      backend: this.backend, inFeatures: layers[0].K, outFeatures: layers[layers.length - 1].N, bytes,
    });
    this.held.set(plan, copy);
    return plan;
  }

  /** The copy behind a plan this backend froze; throws naming the kernel for anything else. */
  get(kernel: string, plan: unknown): T {
    const copy = plan !== null && typeof plan === 'object' ? this.held.get(plan) : undefined;
    if (copy !== undefined) return copy;
    const other = plan !== null && typeof plan === 'object' ? (plan as Partial<FrozenPlan>).backend : undefined;
    const what = other === 'native' || other === 'js' ? `a plan frozen by the ${other} backend` : plan === null ? 'null' : typeof plan;
    throw new Error(`${kernel}: layers must be an array of plan layers or a plan from this backend's freezePlan, got ${what}`);
  }
}

export interface Backend {
  readonly name: 'native' | 'js';
  info(): BackendInfo;

  /**
   * C = alpha * op(A) * op(B) + beta * C.  op(A) is M x K, op(B) is K x N, C is M x N.
   * A is stored M x K (transA false) or K x M (transA true); B is K x N or N x K (transB true).
   * When beta == 0, C is not read (NaN/garbage in C does not propagate).
   */
  gemm(
    transA: boolean, transB: boolean, M: number, N: number, K: number,
    alpha: number, A: Float32Array, B: Float32Array, beta: number, C: Float32Array,
  ): void;

  /**
   * Fused dense layer forward: out[M,N] = act(X[M,K] * W^T + bias), W is [N,K] (PyTorch layout).
   * bias may be null. If preact is non-null it receives X * W^T + bias (needed by gelu backward).
   */
  linearForward(
    M: number, N: number, K: number, X: Float32Array, W: Float32Array, bias: Float32Array | null,
    act: Activation, alpha: number, out: Float32Array, preact: Float32Array | null,
  ): void;

  /**
   * Fused dense layer backward. Given dY (gradient w.r.t. the activated output Y), computes
   * dZ = dY * act'(.) into the scratch buffer dZ (length M*N; may alias dY), then
   *   dX  = dZ * W          (M x K)   if dX non-null
   *   dW  = dZ^T * X        (N x K)
   *   dB  = column sums of dZ (N)     if dB non-null
   * With accumulate true, dX/dW/dB are added to (+=); otherwise overwritten.
   * act' uses Y for relu/leakyRelu/sigmoid/tanh and preact for gelu/geluTanh (preact may be null
   * for the others).
   */
  linearBackward(
    M: number, N: number, K: number, X: Float32Array, W: Float32Array,
    Y: Float32Array, preact: Float32Array | null, dY: Float32Array, act: Activation, alpha: number,
    dZ: Float32Array, dX: Float32Array | null, dW: Float32Array, dB: Float32Array | null,
    accumulate: boolean,
  ): void;

  /** out[i,j] = x[i,j] + bias[j] for an M x N matrix. */
  addBias(M: number, N: number, x: Float32Array, bias: Float32Array, out: Float32Array): void;
  /** out[j] = sum_i x[i,j] (length N): the column sums. */
  colSum(M: number, N: number, x: Float32Array, out: Float32Array): void;
  /** out[i] = sum_j x[i,j] (length M): the row sums, each summed like sum(). */
  rowSum(M: number, N: number, x: Float32Array, out: Float32Array): void;

  add(n: number, a: Float32Array, b: Float32Array, out: Float32Array): void;
  sub(n: number, a: Float32Array, b: Float32Array, out: Float32Array): void;
  mul(n: number, a: Float32Array, b: Float32Array, out: Float32Array): void;
  div(n: number, a: Float32Array, b: Float32Array, out: Float32Array): void;
  /** out = s * a (s is rounded to float32; Infinity and NaN are allowed: IEEE arithmetic). */
  scale(n: number, a: Float32Array, s: number, out: Float32Array): void;
  /** y += alpha * x (alpha rounded to float32; Infinity and NaN allowed). */
  axpy(n: number, alpha: number, x: Float32Array, y: Float32Array): void;
  /** out = op(x) elementwise. log of x <= 0 follows IEEE (-inf / NaN). */
  unary(op: UnaryOp, n: number, x: Float32Array, out: Float32Array): void;
  /**
   * Sum of all n elements, accumulated in float64 in one fixed order on every backend (see
   * native/kernels/elementwise.h), so the result is identical bit for bit, cancellations included.
   */
  sum(n: number, x: Float32Array): number;

  /** out = act(x). */
  activationForward(act: Activation, n: number, x: Float32Array, out: Float32Array, alpha: number): void;
  /**
   * dx = dy * act'(.)  using y = act(x) for relu/leakyRelu/sigmoid/tanh and x for gelu/geluTanh.
   * Both x and y must be valid arrays of length n (pass the same array twice if only one is kept).
   */
  activationBackward(
    act: Activation, n: number, x: Float32Array, y: Float32Array, dy: Float32Array,
    dx: Float32Array, alpha: number,
  ): void;

  /** Row-wise softmax of an M x N matrix; stable for logits of magnitude 1e4. */
  softmax(M: number, N: number, x: Float32Array, out: Float32Array): void;
  /**
   * Row-wise log-softmax: x - max - log(sum exp(x - max)). A row holding NaN or +Infinity, or only
   * -Infinity, gives NaN in every element (as PyTorch does); so do softmax and softmaxCrossEntropy.
   */
  logSoftmax(M: number, N: number, x: Float32Array, out: Float32Array): void;
  /** dx = y * (dy - sum_j(dy * y)) row-wise, y = softmax output. */
  softmaxBackward(M: number, N: number, y: Float32Array, dy: Float32Array, dx: Float32Array): void;
  /** dx = dy - exp(y) * sum_j(dy) row-wise, y = log-softmax output. */
  logSoftmaxBackward(M: number, N: number, y: Float32Array, dy: Float32Array, dx: Float32Array): void;

  /**
   * Fused softmax cross-entropy from logits [M,N] and integer labels [M] in [0, N).
   * Returns the mean loss over the M rows. If grad is non-null it receives
   * (softmax(logits) - onehot(labels)) / M. If losses is non-null it receives each row's loss.
   * Throws "softmaxCrossEntropy: label 12 at row 3 is out of range [0, 10)" for a bad label.
   */
  softmaxCrossEntropy(
    M: number, N: number, logits: Float32Array, labels: Int32Array,
    grad: Float32Array | null, losses: Float32Array | null,
  ): number;

  /** Mean squared error: sum((pred - target)^2) / n. */
  mseLoss(n: number, pred: Float32Array, target: Float32Array): number;
  /** grad = float32(2 / n) * float32(pred - target) (float32 steps: a difference beyond 3.4e38 is Infinity). */
  mseBackward(n: number, pred: Float32Array, target: Float32Array, grad: Float32Array): void;

  /**
   * SGD in place (PyTorch semantics, dampening 0):
   *   g = grad + weightDecay * param
   *   if momentum != 0: v = momentum * v + g;  g = nesterov ? g + momentum * v : v
   *   param -= lr * g
   * velocity may be null when momentum == 0.
   */
  sgdStep(
    n: number, param: Float32Array, grad: Float32Array, velocity: Float32Array | null,
    lr: number, momentum: number, weightDecay: number, nesterov: boolean,
  ): void;

  /**
   * Adam / AdamW in place, one fused pass (PyTorch semantics). step is the 1-based step count.
   *   decoupled (AdamW): param *= 1 - lr * weightDecay      else: g = grad + weightDecay * param
   *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
   *   param -= lr * (m / (1 - b1^step)) / (sqrt(v / (1 - b2^step)) + eps)
   */
  adamStep(
    n: number, param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array,
    step: number, lr: number, beta1: number, beta2: number, eps: number,
    weightDecay: number, decoupled: boolean,
  ): void;

  /**
   * RMSprop in place (PyTorch semantics, centered = false):
   *   g = grad + weightDecay * param;  sq = alpha * sq + (1 - alpha) g^2
   *   if momentum > 0: buf = momentum * buf + g / (sqrt(sq) + eps); param -= lr * buf
   *   else param -= lr * g / (sqrt(sq) + eps)
   * buf may be null when momentum == 0.
   */
  rmspropStep(
    n: number, param: Float32Array, grad: Float32Array, sq: Float32Array, buf: Float32Array | null,
    lr: number, alpha: number, eps: number, weightDecay: number, momentum: number,
  ): void;

  /**
   * Copies a plan's weights into memory the backend owns: the result is immutable and can be
   * passed to forwardAsync any number of times. Later changes to (or detaching of) the layers'
   * W/bias arrays do not affect it. Validates like forwardAsync ("freezePlan: layers[1].K ...").
   */
  freezePlan(layers: PlanLayer[]): FrozenPlan;

  /**
   * Inference forward pass of a stack of dense layers, off the main thread on the native backend
   * (a worker on the native thread pool; the JS backend runs it in slices between event-loop
   * turns). X is [M, layers[0].K]; out is [M, last.N]. If softmax is true a row softmax is applied
   * at the end. `layers` is a frozen plan (freezePlan) or plain plan layers, which are then copied
   * for this call. X is copied before forwardAsync returns; `out` is written only when the result
   * is ready, just before the promise resolves. So the caller may change or transfer X and the
   * weights at once; if out's buffer is detached meanwhile, the promise rejects. Invalid arguments
   * give a rejected promise. Concurrent calls are independent (no shared scratch).
   */
  forwardAsync(
    M: number, layers: FrozenPlan | PlanLayer[], X: Float32Array, out: Float32Array, softmax: boolean,
  ): Promise<void>;

  /**
   * Synchronous twin of forwardAsync, for large inference batches: the whole stack in one call.
   * The native backend splits the rows across its threads and runs every layer on each block
   * (no barrier between layers, intermediates stay in each core's caches). Same validation and
   * results as forwardAsync / a chain of linearForward calls.
   */
  forwardDense(M: number, layers: PlanLayer[], X: Float32Array, out: Float32Array, softmax: boolean): void;
}

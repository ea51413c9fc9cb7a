// The kernel table: every kernel of the backend contract described once (arguments, shapes, docs).
//
// scripts/gen-kernels.js turns this file into
// - lib/backend/kernels.gen.ts: the contract's TypeScript signatures, the argument checks of the
//   TypeScript backend and the native backend's adapter (names to codes, tiny calls to TypeScript);
// - native/binding/kernels.gen.h: the argument specs the N-API binding validates from, and the calls;
// - native/kernels/codes.gen.h: the activation and unary-op codes.
// test/native-binding.test.ts derives its validation cases from it. `npm run build:ts` regenerates
// (then `npm run build:native`); test/kernel-table.test.ts fails when a generated file is stale.
//
// Adding a kernel: one row below, its C++ function (native/kernels, arguments in the row's order)
// and its TypeScript twin (an export of that name from a family file in lib/backend/js/).
//
// This file is plain data: no imports (the generator evaluates it on its own).

/** Activation functions known to the kernels; the index of each is its code across N-API. */
export const ACTIVATIONS = [
  'none',
  'relu',
  'leakyRelu', // f(x) = x > 0 ? x : alpha * x   (alpha = the `alpha` argument, default 0.01)
  'sigmoid',
  'tanh',
  'gelu', // exact: 0.5 x (1 + erf(x / sqrt 2))
  'geluTanh', // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
] as const;
export type Activation = (typeof ACTIVATIONS)[number];

/** Unary elementwise math used by autodiff ops; the index of each is its code across N-API. */
export const UNARY_OPS = ['exp', 'log', 'sqrt', 'neg', 'abs', 'square', 'reciprocal'] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];

/** Prefix of each code list's C++ enum constants (kActLeakyRelu, kExp). */
export const CODE_LISTS = {
  act: { values: ACTIVATIONS, noun: 'activation', cppEnum: 'Act', cppPrefix: 'kAct' },
  unary: { values: UNARY_OPS, noun: 'op', cppEnum: 'Unary', cppPrefix: 'k' },
} as const;

/**
 * Argument types. Sizes: `count` is an integer >= 0 (flat kernels), `dim` >= 1 (matrix sizes);
 * both at most 2^31 - 1. `act` / `unary` are names in TypeScript, integer codes across N-API.
 * `float` is a finite number, `scalar` any number (Infinity and NaN included; it crosses as a
 * float32). `f32` / `i32` / `i8` / `u16` are Float32Array / Int32Array / Int8Array / Uint16Array
 * (bfloat16 bits) of at least `len` elements.
 */
export type ArgType = 'bool' | 'count' | 'dim' | 'act' | 'unary' | 'float' | 'scalar' | 'f32' | 'i32' | 'i8' | 'u16';

/** A condition on a scalar or code argument (when a nullable buffer is required). */
export type Condition =
  | { readonly arg: string; readonly op: '!=' | '>'; readonly value: number }
  | { readonly arg: string; readonly in: readonly Activation[] };

export interface Arg {
  readonly name: string;
  readonly type: ArgType;
  /** Buffers: elements required, a product of size arguments ('M*K', 'n'). */
  readonly len?: string;
  /** Buffers: null is allowed (and, in an options object, leaving the field out). */
  readonly nullable?: boolean;
  /** Nullable buffers: null is an error when this holds. */
  readonly requiredWhen?: Condition;
  /** i32 buffers: each element must lie in [0, this size argument); `each` names one element. */
  readonly below?: string;
  readonly each?: string;
}

export interface KernelRow {
  /** What the kernel computes (the doc comment of the contract method). */
  readonly doc: string;
  readonly args: readonly Arg[];
  /** 'number': the kernel returns a number (a loss, a sum); otherwise nothing. */
  readonly returns?: 'number';
  /** The contract takes one options object (fused kernels); N-API stays positional. */
  readonly options?: boolean;
  /** The C++ function: 'header.h myelin::function', called with the arguments in table order. */
  readonly cpp: string;
  /** The native backend runs the call on the TypeScript twin when the product of these sizes is <= max. */
  readonly smallInJs?: { readonly size: string; readonly max: number };
  /**
   * A valid call for the table-derived tests (test/native-binding.test.ts) when their defaults (M=3, N=4,
   * K=5, n=7, other sizes 1, int32 buffers zero) do not make one: sizes and int32 buffer contents.
   */
  readonly example?: { readonly sizes: Readonly<Record<string, number>>; readonly i32?: Readonly<Record<string, readonly number[]>> };
}

const bool = (name: string): Arg => ({ name, type: 'bool' });
const count = (name: string): Arg => ({ name, type: 'count' });
const dim = (name: string): Arg => ({ name, type: 'dim' });
const float = (name: string): Arg => ({ name, type: 'float' });
const scalar = (name: string): Arg => ({ name, type: 'scalar' });
const act: Arg = { name: 'act', type: 'act' };
const f32 = (name: string, len: string): Arg => ({ name, type: 'f32', len });
const f32OrNull = (name: string, len: string, requiredWhen?: Condition): Arg =>
  ({ name, type: 'f32', len, nullable: true, ...(requiredWhen ? { requiredWhen } : {}) });

/**
 * Below these sizes a kernel runs on its TypeScript twin instead of crossing N-API: a native call
 * costs ~0.12-0.25 us of fixed overhead, more than the whole loop in TypeScript for a few dozen
 * elements (measured on Zen: js add n=32 60 ns vs native 154 ns; js adamStep n=32 298 ns vs 330
 * ns; a 4x8x2 matrix product ~40 ns vs ~200 ns). This keeps tiny networks (XOR 2-8-1) at least as
 * fast on the native backend as on pure TS. MYELIN_TINY_KERNELS_IN_JS=0 turns it off.
 * Only kernels whose twin gives the C++ kernel's exact bits per element (elementwise arithmetic,
 * optimizer steps, row gathers, training-only backward passes) route this way: matrix products and
 * forward activations round differently in TypeScript (float64 sums, Math.exp), and a row's
 * inference result must not depend on the batch size.
 */
const SMALL_FLAT = { size: 'n', max: 48 } as const;
const SMALL_OPTIM = { size: 'n', max: 32 } as const;

const binary = (op: string, name: string): KernelRow => ({
  doc: `out = a ${op} b elementwise.`,
  args: [count('n'), f32('a', 'n'), f32('b', 'n'), f32('out', 'n')],
  cpp: `elementwise.h myelin::${name}`,
  smallInJs: SMALL_FLAT,
});

// Valid geometries for the table-derived tests: a 2-group conv of 2x5x5 into 4x3x3 (3x3, stride 2, pad 1),
// and a 3x3 stride-2 pad-1 pooling of 3 planes 5x5 into 3x3.
const CONV_EXAMPLE = {
  sizes: { N: 2, C: 2, OC: 4, inPlane: 25, outPlane: 9, kArea: 9, G: 15 },
  i32: { geom: [2, 5, 5, 4, 3, 3, 3, 3, 2, 2, 1, 1, 1, 1, 2] },
};
/** conv2dForward's and conv2dWinogradForward's arguments. */
const CONV_FORWARD_ARGS: Arg[] = [dim('N'), dim('C'), dim('OC'), dim('inPlane'), dim('outPlane'), dim('kArea'), dim('G'),
  { name: 'geom', type: 'i32', len: 'G' }, f32('X', 'N*C*inPlane'), f32('W', 'OC*kArea'),
  f32OrNull('bias', 'OC'), act, float('alpha'), f32('out', 'N*OC*outPlane')];
// A 2-group 3x3 stride-1 pad-1 conv of 2x5x5 into 4x5x5 (a Winograd geometry).
const WINO_EXAMPLE = {
  sizes: { N: 2, C: 2, OC: 4, inPlane: 25, outPlane: 25, kArea: 9, G: 15 },
  i32: { geom: [2, 5, 5, 4, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 2] },
};
const POOL_EXAMPLE = {
  sizes: { NC: 3, inPlane: 25, outPlane: 9, outTotal: 27, G: 15 },
  i32: { geom: [1, 5, 5, 1, 3, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1] },
};

/** avgPool2dForward and avgPool2dBackward: the same sizes, geometry and countIncludePad, then their input and output planes. */
function avgPoolRow(doc: string, from: Arg, to: Arg, cppName: string): KernelRow {
  return {
    doc,
    args: [dim('NC'), dim('inPlane'), dim('outPlane'), dim('G'), { name: 'geom', type: 'i32', len: 'G' }, bool('countIncludePad'), from, to],
    options: true,
    cpp: `conv.h myelin::${cppName}`,
    example: POOL_EXAMPLE,
  };
}

/** A recurrent-family row: sizes B (batch rows), H (hidden), G (gate width, `gates` * H), then its buffers. */
function recurrentRow(doc: string, buffers: Arg[], cppName: string, gates: number): KernelRow {
  return {
    doc, args: [dim('B'), dim('H'), dim('G'), ...buffers], options: true, cpp: `recurrent.h myelin::${cppName}`,
    example: { sizes: { B: 3, H: 2, G: 2 * gates } },
  };
}

/** attentionForward and attentionBackward: the same shapes, inputs, masks and dropout, then their outputs. */
function attentionRow(doc: string, tail: Arg[], cppName: string): KernelRow {
  return {
    doc,
    args: [dim('BH'), dim('B'), dim('T'), dim('S'), dim('D'), f32('query', 'BH*T*D'), f32('key', 'BH*S*D'), f32('value', 'BH*S*D'),
      f32OrNull('keyPadding', 'B*S'), bool('causal'), float('scale'), float('dropout'), count('seed'), ...tail],
    options: true,
    cpp: `attention.h myelin::${cppName}`,
  };
}

/** gemm's and gemmMixedBf16's arguments. */
const GEMM_ARGS: Arg[] = [bool('transA'), bool('transB'), dim('M'), dim('N'), dim('K'), float('alpha'),
  f32('A', 'M*K'), f32('B', 'K*N'), float('beta'), f32('C', 'M*N')];
/** linearForward's and linearForwardMixedBf16's arguments. */
const LINEAR_FORWARD_ARGS: Arg[] = [dim('M'), dim('N'), dim('K'), f32('X', 'M*K'), f32('W', 'N*K'), f32OrNull('bias', 'N'),
  act, float('alpha'), f32('out', 'M*N'), f32OrNull('preact', 'M*N')];
/** linearBackward's and linearBackwardMixedBf16's arguments. */
const LINEAR_BACKWARD_ARGS: Arg[] = [dim('M'), dim('N'), dim('K'), f32('X', 'M*K'), f32('W', 'N*K'), f32('Y', 'M*N'),
  f32OrNull('preact', 'M*N', { arg: 'act', in: ['gelu', 'geluTanh'] }), f32('dY', 'M*N'), act,
  float('alpha'), f32('dZ', 'M*N'), f32OrNull('dX', 'M*K'), f32('dW', 'N*K'), f32OrNull('dB', 'N'),
  bool('accumulate'), bool('accumulateX')];

export const KERNELS = {
  gemm: {
    doc: `C = alpha * op(A) * op(B) + beta * C.  op(A) is M x K, op(B) is K x N, C is M x N.
A is stored M x K (transA false) or K x M (transA true); B is K x N or N x K (transB true).
When beta == 0, C is not read (NaN/garbage in C does not propagate).`,
    args: GEMM_ARGS,
    cpp: 'gemm.h myelin::gemm',
  },

  linearForward: {
    doc: `Fused dense layer forward: out[M,N] = act(X[M,K] * W^T + bias), W is [N,K] (PyTorch layout).
bias may be null. If preact is non-null it receives X * W^T + bias (needed by gelu backward).`,
    args: LINEAR_FORWARD_ARGS,
    options: true,
    cpp: 'linear.h myelin::linear_forward',
  },

  linearBackward: {
    doc: `Fused dense layer backward. Given dY (gradient w.r.t. the activated output Y), computes
dZ = dY * act'(.) into the scratch buffer dZ (length M*N; may alias dY), then
  dX  = dZ * W          (M x K)   if dX non-null
  dW  = dZ^T * X        (N x K)
  dB  = column sums of dZ (N)     if dB non-null
With accumulate true, dW/dB are added to (+=), with accumulateX true dX is; otherwise they are
overwritten (a fresh dX needs no zero fill while dW/dB accumulate into a parameter's gradient).
act' uses Y for relu/leakyRelu/sigmoid/tanh and preact for gelu/geluTanh (preact may be null
for the others).`,
    args: LINEAR_BACKWARD_ARGS,
    options: true,
    cpp: 'linear.h myelin::linear_backward',
  },

  addBias: {
    doc: 'out[i,j] = x[i,j] + bias[j] for an M x N matrix.',
    args: [dim('M'), dim('N'), f32('x', 'M*N'), f32('bias', 'N'), f32('out', 'M*N')],
    cpp: 'elementwise.h myelin::add_bias',
  },
  colSum: {
    doc: 'out[j] = sum_i x[i,j] (length N): the column sums.',
    args: [dim('M'), dim('N'), f32('x', 'M*N'), f32('out', 'N')],
    cpp: 'elementwise.h myelin::col_sum',
  },
  rowSum: {
    doc: 'out[i] = sum_j x[i,j] (length M): the row sums, each summed like sum().',
    args: [dim('M'), dim('N'), f32('x', 'M*N'), f32('out', 'M')],
    cpp: 'elementwise.h myelin::row_sum',
  },

  add: binary('+', 'add'),
  sub: binary('-', 'sub'),
  mul: binary('*', 'mul'),
  div: binary('/', 'div'),
  scale: {
    doc: 'out = s * a (s is rounded to float32; Infinity and NaN are allowed: IEEE arithmetic).',
    args: [count('n'), f32('a', 'n'), scalar('s'), f32('out', 'n')],
    cpp: 'elementwise.h myelin::scale',
    smallInJs: SMALL_FLAT,
  },
  axpy: {
    doc: 'y += alpha * x (alpha rounded to float32; Infinity and NaN allowed).',
    args: [count('n'), scalar('alpha'), f32('x', 'n'), f32('y', 'n')],
    cpp: 'elementwise.h myelin::axpy',
    smallInJs: SMALL_FLAT,
  },
  unary: {
    doc: 'out = op(x) elementwise. log of x <= 0 follows IEEE (-inf / NaN).',
    args: [{ name: 'op', type: 'unary' }, count('n'), f32('x', 'n'), f32('out', 'n')],
    cpp: 'elementwise.h myelin::unary',
  },
  sum: {
    doc: `Sum of all n elements, accumulated in float64 in one fixed order on every backend (see
native/kernels/elementwise.h), so the result is identical bit for bit, cancellations included.`,
    args: [count('n'), f32('x', 'n')],
    returns: 'number',
    cpp: 'elementwise.h myelin::sum',
    smallInJs: SMALL_FLAT,
  },

  activationForward: {
    doc: 'out = act(x).',
    args: [act, count('n'), f32('x', 'n'), f32('out', 'n'), float('alpha')],
    cpp: 'elementwise.h myelin::activation_forward_parallel',
  },
  activationBackward: {
    doc: `dx = dy * act'(.)  using y = act(x) for relu/leakyRelu/sigmoid/tanh and x for gelu/geluTanh.
Both x and y must be valid arrays of length n (pass the same array twice if only one is kept).`,
    args: [act, count('n'), f32('x', 'n'), f32('y', 'n'), f32('dy', 'n'), f32('dx', 'n'), float('alpha')],
    cpp: 'elementwise.h myelin::activation_backward_parallel',
    smallInJs: SMALL_FLAT,
  },

  softmax: {
    doc: 'Row-wise softmax of an M x N matrix; stable for logits of magnitude 1e4.',
    args: [dim('M'), dim('N'), f32('x', 'M*N'), f32('out', 'M*N')],
    cpp: 'softmax.h myelin::softmax',
  },
  logSoftmax: {
    doc: `Row-wise log-softmax: x - max - log(sum exp(x - max)). A row holding NaN or +Infinity, or only
-Infinity, gives NaN in every element (as PyTorch does); so do softmax and softmaxCrossEntropy.`,
    args: [dim('M'), dim('N'), f32('x', 'M*N'), f32('out', 'M*N')],
    cpp: 'softmax.h myelin::log_softmax',
  },
  softmaxBackward: {
    doc: 'dx = y * (dy - sum_j(dy * y)) row-wise, y = softmax output.',
    args: [dim('M'), dim('N'), f32('y', 'M*N'), f32('dy', 'M*N'), f32('dx', 'M*N')],
    cpp: 'softmax.h myelin::softmax_backward',
  },
  logSoftmaxBackward: {
    doc: 'dx = dy - exp(y) * sum_j(dy) row-wise, y = log-softmax output.',
    args: [dim('M'), dim('N'), f32('y', 'M*N'), f32('dy', 'M*N'), f32('dx', 'M*N')],
    cpp: 'softmax.h myelin::log_softmax_backward',
  },

  softmaxCrossEntropy: {
    doc: `Fused softmax cross-entropy from logits [M,N] and integer labels [M] in [0, N).
Returns the mean loss over the M rows. If grad is non-null it receives
(softmax(logits) - onehot(labels)) / M. If losses is non-null it receives each row's loss.
Throws "softmaxCrossEntropy: label 12 at row 3 is out of range [0, 10)" for a bad label.`,
    args: [dim('M'), dim('N'), f32('logits', 'M*N'),
      { name: 'labels', type: 'i32', len: 'M', below: 'N', each: 'label' },
      f32OrNull('grad', 'M*N'), f32OrNull('losses', 'M')],
    returns: 'number',
    options: true,
    cpp: 'softmax.h myelin::softmax_cross_entropy',
  },
  mseLoss: {
    doc: 'Mean squared error: sum((pred - target)^2) / n.',
    args: [count('n'), f32('pred', 'n'), f32('target', 'n')],
    returns: 'number',
    cpp: 'elementwise.h myelin::mse_loss',
    smallInJs: SMALL_FLAT,
  },
  mseBackward: {
    doc: 'grad = float32(2 / n) * float32(pred - target) (float32 steps: a difference beyond 3.4e38 is Infinity).',
    args: [count('n'), f32('pred', 'n'), f32('target', 'n'), f32('grad', 'n')],
    cpp: 'elementwise.h myelin::mse_backward',
    smallInJs: SMALL_FLAT,
  },

  sgdStep: {
    doc: `SGD in place (PyTorch semantics, dampening 0):
  g = grad + weightDecay * param
  if momentum != 0: v = momentum * v + g;  g = nesterov ? g + momentum * v : v
  param -= lr * g
velocity may be null when momentum == 0.`,
    args: [count('n'), f32('param', 'n'), f32('grad', 'n'),
      f32OrNull('velocity', 'n', { arg: 'momentum', op: '!=', value: 0 }),
      float('lr'), float('momentum'), float('weightDecay'), bool('nesterov')],
    options: true,
    cpp: 'optim.h myelin::sgd_step',
    smallInJs: SMALL_OPTIM,
  },
  adamStep: {
    doc: `Adam / AdamW in place, one fused pass (PyTorch semantics). step is the 1-based step count.
  decoupled (AdamW): param *= 1 - lr * weightDecay      else: g = grad + weightDecay * param
  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
  param -= lr * (m / (1 - b1^step)) / (sqrt(v / (1 - b2^step)) + eps)`,
    args: [count('n'), f32('param', 'n'), f32('grad', 'n'), f32('m', 'n'), f32('v', 'n'), dim('step'),
      float('lr'), float('beta1'), float('beta2'), float('eps'), float('weightDecay'), bool('decoupled')],
    options: true,
    cpp: 'optim.h myelin::adam_step',
    smallInJs: SMALL_OPTIM,
  },
  rmspropStep: {
    doc: `RMSprop in place (PyTorch semantics, centered = false):
  g = grad + weightDecay * param;  sq = alpha * sq + (1 - alpha) g^2
  if momentum > 0: buf = momentum * buf + g / (sqrt(sq) + eps); param -= lr * buf
  else param -= lr * g / (sqrt(sq) + eps)
buf may be null when momentum == 0.`,
    args: [count('n'), f32('param', 'n'), f32('grad', 'n'), f32('sq', 'n'),
      f32OrNull('buf', 'n', { arg: 'momentum', op: '>', value: 0 }),
      float('lr'), float('alpha'), float('eps'), float('weightDecay'), float('momentum')],
    options: true,
    cpp: 'optim.h myelin::rmsprop_step',
    smallInJs: SMALL_OPTIM,
  },

  // ---- normalisation family (BatchNorm, GroupNorm; native/kernels/norm.cc, lib/backend/js/norm.ts) ----
  // x is [N, C, S] row-major: N samples, C channels, S spatial positions (1 for [N, C] inputs).
  batchNormForward: {
    doc: `Batch normalisation with batch statistics (training mode). Per channel c, over the N*S values
x[n, c, s]: mean[c] and the biased variance[c] are written; then
  out = (x - mean[c]) * invstd[c] * weight[c] + bias[c],   invstd[c] = 1 / sqrt(variance[c] + eps)
with invstd also written. weight and bias may be null (1 and 0). GroupNorm uses it with N = 1.`,
    args: [dim('N'), dim('C'), dim('S'), f32('x', 'N*C*S'), f32OrNull('weight', 'C'), f32OrNull('bias', 'C'),
      float('eps'), f32('out', 'N*C*S'), f32('mean', 'C'), f32('variance', 'C'), f32('invstd', 'C')],
    options: true,
    cpp: 'norm.h myelin::batch_norm_forward',
  },
  batchNormBackward: {
    doc: `Batch normalisation backward. With xhat = (x - mean[c]) * invstd[c] and w = weight[c] (1 when null):
  dweight[c] = sum dy * xhat,   dbias[c] = sum dy          (over n and s; each written when non-null)
  dx = w * invstd[c] * (dy - dbias[c] / (N*S) - xhat * dweight[c] / (N*S))   when training
  dx = w * invstd[c] * dy                                                    otherwise (fixed statistics)
dx may be null. Outputs are overwritten.`,
    args: [dim('N'), dim('C'), dim('S'), f32('x', 'N*C*S'), f32('mean', 'C'), f32('invstd', 'C'),
      f32OrNull('weight', 'C'), f32('dy', 'N*C*S'), bool('training'), f32OrNull('dx', 'N*C*S'),
      f32OrNull('dweight', 'C'), f32OrNull('dbias', 'C')],
    options: true,
    cpp: 'norm.h myelin::batch_norm_backward',
  },
  channelAffine: {
    doc: 'out[n, c, s] = x[n, c, s] * scale[c] + shift[c] (shift may be null: 0). Eval-mode BatchNorm, GroupNorm\'s affine.',
    args: [dim('N'), dim('C'), dim('S'), f32('x', 'N*C*S'), f32('scale', 'C'), f32OrNull('shift', 'C'), f32('out', 'N*C*S')],
    cpp: 'norm.h myelin::channel_affine',
  },

  // ---- sequence family (seq-ops): embedding lookups and their gradient (lib/backend/js/sequence.ts, native/kernels/gather.cc) ----
  gatherRows: {
    doc: `out[i*D .. i*D+D) = table[idx[i]*D .. idx[i]*D+D) for i < n: rows of a [V, D] table picked by index
(an embedding lookup; out is [n, D]).`,
    args: [dim('V'), dim('D'), count('n'), f32('table', 'V*D'),
      { name: 'idx', type: 'i32', len: 'n', below: 'V', each: 'index' }, f32('out', 'n*D')],
    cpp: 'gather.h myelin::gather_rows',
    smallInJs: { size: 'n*D', max: 256 },
  },
  scatterAddRows: {
    doc: `table[idx[i]*D ..] += src[i*D ..] for every i < n with idx[i] != skip, in order i = 0, 1, ...: an embedding's
gradient accumulated into the rows touched (skip: the padding row; any value >= V skips none).`,
    args: [dim('V'), dim('D'), count('n'), f32('table', 'V*D'),
      { name: 'idx', type: 'i32', len: 'n', below: 'V', each: 'index' }, f32('src', 'n*D'), count('skip')],
    cpp: 'gather.h myelin::scatter_add_rows',
    smallInJs: { size: 'n*D', max: 256 },
  },

  // ---- Low-precision inference (native/kernels/qgemm*.cc, lib/backend/js/quant.ts) ----------
  quantizeRowsI8: {
    doc: `Quantises each row of X [M,K] to int8 Q (symmetric, zero point 0).
scale >= 1e-30: static, every row uses it; scale == 0: dynamic, scales[i] = f32(max|x| / 127) (0, and
Q = 0, when max|x| < 1e-30). Q = roundToEven(clamp(f32(x * inv), -127, 127)), inv = f32(1 / scale) or
f32(127 / max|x|). A row holding NaN or +-Infinity gets scales[i] = NaN and Q = 0. Other scales are errors.`,
    args: [dim('M'), dim('K'), f32('X', 'M*K'), float('scale'), { name: 'Q', type: 'i8', len: 'M*K' },
      f32('scales', 'M')],
    cpp: 'qgemm.h myelin::quantize_rows_i8',
  },
  qgemmI8: {
    doc: `int8 GEMM with a fused epilogue: out[M,N] = act(z), W is [N,K] (PyTorch layout), bias may be null:
  acc = sum_k A[i,k] W[j,k] (exact int32; an int8 of -128 counts as -127; K <= 131072)
  z = f32(f32(acc) * f32(aScale[i] * wScale[j])) + bias[j]   (float32 steps, no FMA; denormals flush to zero)
Bit-identical on every backend and SIMD path for act none/relu/leakyRelu.`,
    args: [dim('M'), dim('N'), dim('K'), { name: 'A', type: 'i8', len: 'M*K' }, f32('aScale', 'M'),
      { name: 'W', type: 'i8', len: 'N*K' }, f32('wScale', 'N'), f32OrNull('bias', 'N'), act, float('alpha'),
      f32('out', 'M*N')],
    options: true,
    cpp: 'qgemm.h myelin::qgemm_i8',
  },
  toBf16: {
    doc: `out = bfloat16 bits of x: round to nearest even; float32 denormals become signed zero; NaN stays a
quiet NaN (the rounding of vcvtneps2bf16).`,
    args: [count('n'), f32('x', 'n'), { name: 'out', type: 'u16', len: 'n' }],
    cpp: 'qgemm.h myelin::to_bf16',
  },
  gemmBf16: {
    doc: `bf16 GEMM: out[M,N] = act(A[M,K] * W[N,K]^T + bias), A and W bfloat16 bits, products and sums in
float32 (the order of the sums differs between paths); bias may be null.`,
    args: [dim('M'), dim('N'), dim('K'), { name: 'A', type: 'u16', len: 'M*K' }, { name: 'W', type: 'u16', len: 'N*K' },
      f32OrNull('bias', 'N'), act, float('alpha'), f32('out', 'M*N')],
    options: true,
    cpp: 'qgemm.h myelin::gemm_bf16',
  },
  // QuantizedConv2d (lib/quant/conv.ts): patches as GEMM rows, and the GEMM's rows back to NCHW planes.
  im2colQuantizeI8: {
    doc: `Each output pixel's input patch of X[N,C,H,W] (geom as for conv2dForward, groups 1; patch element
(c*KH + i)*KW + j, zeros outside the image) as row n*outPlane + oh*OW + ow, quantised as quantizeRowsI8
quantises a row: Q [N*outPlane, kArea], scales [N*outPlane]. A geometry that disagrees with the sizes is an error.`,
    args: [dim('N'), dim('C'), dim('inPlane'), dim('outPlane'), dim('kArea'), dim('G'), { name: 'geom', type: 'i32', len: 'G' },
      f32('X', 'N*C*inPlane'), float('scale'), { name: 'Q', type: 'i8', len: 'N*outPlane*kArea' }, f32('scales', 'N*outPlane')],
    cpp: 'qgemm.h myelin::im2col_quantize_i8',
    example: { sizes: { N: 2, C: 2, inPlane: 25, outPlane: 9, kArea: 18, G: 15 }, i32: { geom: [2, 5, 5, 4, 3, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1] } },
  },
  im2colBf16: {
    doc: 'The patch rows of im2colQuantizeI8 rounded to bfloat16 (as toBf16): out [N*outPlane, kArea].',
    args: [dim('N'), dim('C'), dim('inPlane'), dim('outPlane'), dim('kArea'), dim('G'), { name: 'geom', type: 'i32', len: 'G' },
      f32('X', 'N*C*inPlane'), { name: 'out', type: 'u16', len: 'N*outPlane*kArea' }],
    cpp: 'qgemm.h myelin::im2col_bf16',
    example: { sizes: { N: 2, C: 2, inPlane: 25, outPlane: 9, kArea: 18, G: 15 }, i32: { geom: [2, 5, 5, 4, 3, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1] } },
  },
  planesFromRows: {
    doc: 'out[n, oc, p] = Y[n, p, oc]: GEMM rows [N*P, OC] back to NCHW planes [N, OC, P].',
    args: [dim('N'), dim('P'), dim('OC'), f32('Y', 'N*P*OC'), f32('out', 'N*OC*P')],
    cpp: 'qgemm.h myelin::planes_from_rows',
  },

  // ---- lowp: direct int8 / bf16 convolutions with a fused max pooling (native/kernels/qconv*.cc, lib/backend/js/quant.ts) ----
  qconvI8: {
    doc: `int8 convolution (QuantizedConv2d) with a max pooling fused after it: W [OC, C*KH*KW] int8, geom as for
conv2dForward (groups 1, convPlane = OH*OW), bias may be null. Each image of X is quantised as one row of
C*inPlane values (quantizeRowsI8's rule: scale > 0 static, 0 dynamic with s_n = f32(max|x| / 127) over the image):
  acc = the exact int32 sum over the patch of Q * W (0 outside the image; an int8 weight of -128 counts as -127)
  y = act(f32(f32(acc) * f32(s_n * wScale[oc])) + bias[oc])   (float32 steps, no FMA; kArea <= 131072)
then out[N,OC,PH,PW] = the max of each pool = [KH, KW, SH, SW] window of y (PG = 4; no padding, floor mode;
NaN wins; [1, 1, 1, 1] is none), outPlane = PH*PW. Bit-identical on every backend and SIMD path for act
none/relu/leakyRelu.`,
    args: [dim('N'), dim('C'), dim('OC'), dim('inPlane'), dim('convPlane'), dim('outPlane'), dim('kArea'), dim('G'),
      { name: 'geom', type: 'i32', len: 'G' }, dim('PG'), { name: 'pool', type: 'i32', len: 'PG' }, f32('X', 'N*C*inPlane'), float('scale'),
      { name: 'W', type: 'i8', len: 'OC*kArea' }, f32('wScale', 'OC'), f32OrNull('bias', 'OC'), act, float('alpha'), f32('out', 'N*OC*outPlane')],
    options: true,
    cpp: 'qconv.h myelin::qconv_i8',
    example: {
      sizes: { N: 2, C: 2, OC: 4, inPlane: 25, convPlane: 25, outPlane: 4, kArea: 18, G: 15, PG: 4 },
      i32: { geom: [2, 5, 5, 4, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1], pool: [2, 2, 2, 2] },
    },
  },

  qconvBf16: {
    doc: `qconvI8's convolution and fused max pooling in bf16: X rounded to bfloat16 (as toBf16), W [OC, C*KH*KW]
bfloat16 bits, products and sums in float32 (the order of the sums differs between paths),
y = act(sum + bias[oc]), then the pooling (pool = [KH, KW, SH, SW], PG = 4, [1, 1, 1, 1] is none).`,
    args: [dim('N'), dim('C'), dim('OC'), dim('inPlane'), dim('convPlane'), dim('outPlane'), dim('kArea'), dim('G'),
      { name: 'geom', type: 'i32', len: 'G' }, dim('PG'), { name: 'pool', type: 'i32', len: 'PG' }, f32('X', 'N*C*inPlane'),
      { name: 'W', type: 'u16', len: 'OC*kArea' }, f32OrNull('bias', 'OC'), act, float('alpha'), f32('out', 'N*OC*outPlane')],
    options: true,
    cpp: 'qconv.h myelin::qconv_bf16',
    example: {
      sizes: { N: 2, C: 2, OC: 4, inPlane: 25, convPlane: 25, outPlane: 4, kArea: 18, G: 15, PG: 4 },
      i32: { geom: [2, 5, 5, 4, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1], pool: [2, 2, 2, 2] },
    },
  },

  // ---- convolution and pooling (NCHW; native/kernels/conv.cc, pool.cc; lib/backend/js/conv.ts) ----
  // The geometry travels as one int32 array `geom` of G = 15 entries (native/kernels/conv.h:
  // C, H, W, OC, OH, OW, KH, KW, strideH, strideW, padH, padW, dilationH, dilationW, groups); the
  // kernels check it against the plane sizes the buffers were checked with, before touching memory.
  conv2dForward: {
    doc: `out[N,OC,OH,OW] = act(conv2d(X[N,C,H,W], W[OC,C/groups,KH,KW]) + bias[OC]) (bias nullable).
inPlane = H*W, outPlane = OH*OW, kArea = C/groups*KH*KW; geom (G = 15 int32) holds the geometry,
OH/OW the floor-mode output sizes. A geometry that disagrees with the sizes is an error.`,
    args: CONV_FORWARD_ARGS,
    options: true,
    cpp: 'conv.h myelin::conv2d_forward',
    example: CONV_EXAMPLE,
  },
  conv2dWinogradForward: {
    doc: `conv2dForward computed by Winograd F(2x2, 3x3) whatever the channel counts (conv2dForward takes this
path itself for 3x3, stride-1, dilation-1 convolutions with >= 32 channels in and out per group, >= 2048
as their product, on planes of >= 12x12); rounds
differently from the direct convolution. Other geometries are an error. Exposed for the twin tests.`,
    args: CONV_FORWARD_ARGS,
    options: true,
    cpp: 'conv.h myelin::conv2d_winograd_forward',
    example: WINO_EXAMPLE,
  },
  conv2dBackward: {
    doc: `Gradients of conv2dForward (no activation) from dY[N,OC,OH,OW]: dX is overwritten; dW and dB
are overwritten, or added to with accumulate. Each of dX, dW, dB may be null (not computed).`,
    args: [dim('N'), dim('C'), dim('OC'), dim('inPlane'), dim('outPlane'), dim('kArea'), dim('G'),
      { name: 'geom', type: 'i32', len: 'G' }, f32('X', 'N*C*inPlane'), f32('W', 'OC*kArea'),
      f32('dY', 'N*OC*outPlane'), f32OrNull('dX', 'N*C*inPlane'), f32OrNull('dW', 'OC*kArea'),
      f32OrNull('dB', 'OC'), bool('accumulate')],
    options: true,
    cpp: 'conv.h myelin::conv2d_backward',
    example: CONV_EXAMPLE,
  },
  // conv-train (the convolutions' training path): the Winograd weight gradient, forced for the twin tests.
  conv2dWinogradWeightGrad: {
    doc: `dW of conv2dBackward computed by Winograd F(2x2, 3x3) whatever the channel counts (conv2dBackward takes this
path itself where conv2dForward takes Winograd); rounds differently from the direct weight gradient. dW is
overwritten, or added to with accumulate. Other geometries than 3x3, stride 1, dilation 1 are an error. Exposed for
the twin tests.`,
    args: [dim('N'), dim('C'), dim('OC'), dim('inPlane'), dim('outPlane'), dim('kArea'), dim('G'),
      { name: 'geom', type: 'i32', len: 'G' }, f32('X', 'N*C*inPlane'), f32('dY', 'N*OC*outPlane'), f32('dW', 'OC*kArea'),
      bool('accumulate')],
    options: true,
    cpp: 'conv.h myelin::conv2d_winograd_weight_grad',
    example: WINO_EXAMPLE,
  },
  // conv-train: max pooling's backward through the ReLU before it (Conv2d, ReLU, MaxPool2d in training), one pass.
  maxPool2dReluBackward: {
    doc: `dX (NC planes, overwritten) = the gradient of maxPool2dForward(relu(.)) from dY: dY added at the argmax positions
of the windows whose max (pooled, maxPool2dForward's out) is > 0, zero elsewhere; maxPool2dBackward followed by the
ReLU's backward, bit for bit, in one pass that reads no plane of the ReLU's output (indices outside [0, inPlane) are
skipped).`,
    args: [dim('NC'), dim('inPlane'), dim('outPlane'), dim('outTotal'),
      { name: 'argmax', type: 'i32', len: 'outTotal' }, f32('pooled', 'NC*outPlane'), f32('dY', 'NC*outPlane'), f32('dX', 'NC*inPlane')],
    options: true,
    cpp: 'conv_backward.h myelin::max_pool2d_relu_backward',
    example: POOL_EXAMPLE,
  },
  maxPool2dForward: {
    doc: `Max pooling of NC planes H x W into OH x OW (geom as for conv2dForward; C, OC, groups unused;
padding at most half the kernel). argmax (outTotal = NC*outPlane) receives each max's index within
its input plane; NaN propagates.`,
    args: [dim('NC'), dim('inPlane'), dim('outPlane'), dim('outTotal'), dim('G'),
      { name: 'geom', type: 'i32', len: 'G' }, f32('X', 'NC*inPlane'), f32('out', 'NC*outPlane'),
      { name: 'argmax', type: 'i32', len: 'outTotal' }],
    options: true,
    cpp: 'conv.h myelin::max_pool2d_forward',
    example: POOL_EXAMPLE,
  },
  maxPool2dBackward: {
    doc: 'dX (NC planes, overwritten) = dY added at the argmax positions of maxPool2dForward (indices outside [0, inPlane) are skipped).',
    args: [dim('NC'), dim('inPlane'), dim('outPlane'), dim('outTotal'),
      { name: 'argmax', type: 'i32', len: 'outTotal' }, f32('dY', 'NC*outPlane'), f32('dX', 'NC*inPlane')],
    options: true,
    cpp: 'conv.h myelin::max_pool2d_backward',
    example: POOL_EXAMPLE,
  },
  avgPool2dForward: avgPoolRow(`Average pooling of NC planes (geom as for maxPool2dForward, dilation 1). The divisor counts the
window within the padded input (countIncludePad) or only the real input elements it covers.`,
  f32('X', 'NC*inPlane'), f32('out', 'NC*outPlane'), 'avg_pool2d_forward'),
  avgPool2dBackward: avgPoolRow('Gradient of avgPool2dForward: dX (overwritten) receives each dY divided over its window.',
    f32('dY', 'NC*outPlane'), f32('dX', 'NC*inPlane'), 'avg_pool2d_backward'),

  // Conv + activation + max pooling for inference plans (conv-infer): native/kernels/conv_fused.cc, lib/backend/js/conv.ts.
  conv2dMaxPoolForward: {
    doc: `out[N,OC,POH,POW] = maxPool(act(conv2d(X, W) + bias)): conv2dForward's convolution (its sizes and geom),
then maxPool2dForward's pooling of the OH x OW output planes by pgeom (its H, W = OH, OW; poolPlane = POH*POW),
without the argmax. The same bits as conv2dForward followed by maxPool2dForward; the convolution's output is
never stored whole. A geometry that disagrees with the sizes, or a pooling whose input is not the convolution's
output, is an error.`,
    args: [dim('N'), dim('C'), dim('OC'), dim('inPlane'), dim('outPlane'), dim('kArea'), dim('poolPlane'), dim('G'),
      { name: 'geom', type: 'i32', len: 'G' }, { name: 'pgeom', type: 'i32', len: 'G' }, f32('X', 'N*C*inPlane'),
      f32('W', 'OC*kArea'), f32OrNull('bias', 'OC'), act, float('alpha'), f32('out', 'N*OC*poolPlane')],
    options: true,
    cpp: 'conv_fused.h myelin::conv2d_max_pool_forward',
    // 2 groups, 3x3 stride-1 pad-1 of 2x5x5 into 4x5x5 (a Winograd geometry), pooled 2x2 into 2x2.
    example: {
      sizes: { N: 2, C: 2, OC: 4, inPlane: 25, outPlane: 25, kArea: 9, poolPlane: 4, G: 15 },
      i32: { geom: [2, 5, 5, 4, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 2], pgeom: [1, 5, 5, 1, 2, 2, 2, 2, 2, 2, 0, 0, 1, 1, 1] },
    },
  },

  // LayerNorm family (arch-cleanup): native/kernels/layer_norm*.cc, lib/backend/js/layer-norm.ts.
  layerNormForward: {
    doc: `LayerNorm over the last dimension of an M x N matrix (biased variance, as torch.nn.LayerNorm):
  mean_i = sum_j x[i,j] / N;  rstd_i = 1 / sqrt(sum_j (x[i,j] - mean_i)^2 / N + eps)
  y[i,j] = (x[i,j] - mean_i) * rstd_i * weight[j] + bias[j]
weight and bias may be null (scale 1, shift 0). mean and rstd (nullable, length M) receive each
row's statistics for layerNormBackward. y may alias x.`,
    args: [dim('M'), dim('N'), f32('x', 'M*N'), f32OrNull('weight', 'N'), f32OrNull('bias', 'N'), float('eps'),
      f32('y', 'M*N'), f32OrNull('mean', 'M'), f32OrNull('rstd', 'M')],
    options: true,
    cpp: 'layer_norm.h myelin::layer_norm_forward',
  },
  layerNormBackward: {
    doc: `LayerNorm backward from layerNormForward's mean and rstd. With xhat = (x - mean) * rstd and
g = dy * weight (weight null: g = dy):
  dx = rstd * (g - mean_j(g) - xhat * mean_j(g * xhat))     if dx non-null (dx may alias dy)
  dWeight = sum_i dy * xhat;  dBias = sum_i dy               each if non-null
With accumulate true, dx/dWeight/dBias are added to (+=); otherwise overwritten.`,
    args: [dim('M'), dim('N'), f32('x', 'M*N'), f32OrNull('weight', 'N'), f32('mean', 'M'), f32('rstd', 'M'),
      f32('dy', 'M*N'), f32OrNull('dx', 'M*N'), f32OrNull('dWeight', 'N'), f32OrNull('dBias', 'N'), bool('accumulate')],
    options: true,
    cpp: 'layer_norm.h myelin::layer_norm_backward',
  },

  // ---- recurrent family (rnn-text): LSTM and GRU cell gate math, one time step over B rows
  // (native/kernels/recurrent*.cc, lib/backend/js/recurrent.ts). G is the gate width: 4H (LSTM) or 3H (GRU).
  lstmCellForward: recurrentRow(`One LSTM step's gate math. gates [B,G] (G = 4H) holds the pre-activations x W_ih^T + b_ih + h W_hh^T + b_hh
in PyTorch's gate order i, f, g, o; it is overwritten with sigmoid(i), sigmoid(f), tanh(g), sigmoid(o). Then
  c = f * cPrev + i * g;   h = o * tanh(c)
G other than 4H is an error.`, [f32('gates', 'B*G'), f32('cPrev', 'B*H'), f32('c', 'B*H'), f32('h', 'B*H')], 'lstm_cell_forward', 4),
  lstmCellBackward: recurrentRow(`Backward of one LSTM step from lstmCellForward's activated gates, cPrev and c. dh is the gradient w.r.t. h;
dc holds the gradient w.r.t. c from later steps on entry and the gradient w.r.t. cPrev on return; dGates [B,G]
receives the gradient w.r.t. the pre-activations (the caller's GEMMs carry it to x, h and the weights).`, [f32('gates', 'B*G'), f32('cPrev', 'B*H'), f32('c', 'B*H'), f32('dh', 'B*H'),
      f32('dc', 'B*H'), f32('dGates', 'B*G')], 'lstm_cell_backward', 4),
  gruCellForward: recurrentRow(`One GRU step's gate math (PyTorch's form: the reset gate multiplies the hidden product). gi [B,G] (G = 3H)
holds x W_ih^T + b_ih in the order r, z, n and is overwritten with r, z, n; gh [B,G] holds hPrev W_hh^T + b_hh.
  r = sigmoid(gi_r + gh_r);  z = sigmoid(gi_z + gh_z);  n = tanh(gi_n + r * gh_n);  h = (1 - z) * n + z * hPrev
G other than 3H is an error.`, [f32('gi', 'B*G'), f32('gh', 'B*G'), f32('hPrev', 'B*H'), f32('h', 'B*H')], 'gru_cell_forward', 3),
  gruCellBackward: recurrentRow(`Backward of one GRU step from gruCellForward's r, z, n (gates), gh and hPrev, given dh (gradient w.r.t. h):
dGi and dGh [B,G] receive the gradients w.r.t. the two pre-activation sums gi and gh; dhPrev [B,H] receives the
direct part dh * z (the part through W_hh is the caller's GEMM). All three are overwritten.`, [f32('gates', 'B*G'), f32('gh', 'B*G'), f32('hPrev', 'B*H'), f32('dh', 'B*H'),
      f32('dGi', 'B*G'), f32('dGh', 'B*G'), f32('dhPrev', 'B*H')], 'gru_cell_backward', 3),
  // Fused attention family (attention branch): native/kernels/attention*.cc, lib/backend/js/attention.ts.
  attentionForward: attentionRow(`Fused scaled-dot-product attention with an online softmax (memory O(S * D), never T x S).
BH = B * H heads (a multiple of B); query is [BH, T, D], key and value [BH, S, D], out [BH, T, D]; score(i, j) = scale * query_i . key_j over the keys query i sees:
keyPadding (nullable, [B, S]) hides key j of batch b from all its queries when nonzero; causal lets query i see
keys j <= i + S - T (bottom-right aligned: the lower triangle when T == S, the newest rows of a cache when T < S).
out_i = sum_j softmax_j(score)(i, j) * keep(i, j) / (1 - dropout) * value_j, keep a hash of (seed, head, i, j) kept
with probability 1 - dropout (0 <= dropout < 1; every key kept at 0). lse (nullable, [BH, T]) receives each
row's log-sum-exp for attentionBackward. A row that sees no key gets out = 0 and lse = -Infinity.`,
  [f32('out', 'BH*T*D'), f32OrNull('lse', 'BH*T')], 'attention_forward'),
  attentionBackward: attentionRow(`Gradients of attentionForward (same shapes, masks, scale, dropout and seed) from its out, lse
and dOut: dQuery [BH, T, D], dKey and dValue [BH, S, D] are overwritten. Probabilities are recomputed from lse.`,
  [f32('out', 'BH*T*D'), f32('lse', 'BH*T'), f32('dOut', 'BH*T*D'), f32('dQuery', 'BH*T*D'), f32('dKey', 'BH*S*D'), f32('dValue', 'BH*S*D')],
  'attention_backward'),

  // Packed self-attention (seq-speed): the fused attention kernels reading self-attention's one qkv projection in place.
  attentionQkvForward: {
    doc: `attentionForward over self-attention's packed projections: qkv [B, T, Q] with Q = 3 * E holds each position's query,
key and value (E = H * D each, head h at columns h * D of each third); out [B, T, E] receives the heads side by side
(no permutes around the kernel), lse (nullable) [B*H, T] each row's log-sum-exp; keyPadding (nullable) is [B, T].
Same scores, masks, dropout (head index b * H + h) and results as attentionForward on the permuted tensors.
E not a multiple of H, or Q != 3 * E, is an error.`,
    args: [dim('B'), dim('T'), dim('H'), dim('E'), dim('Q'), f32('qkv', 'B*T*Q'), f32OrNull('keyPadding', 'B*T'), bool('causal'),
      float('scale'), float('dropout'), count('seed'), f32('out', 'B*T*E'), f32OrNull('lse', 'B*H*T')],
    options: true,
    example: { sizes: { B: 2, T: 3, H: 2, E: 4, Q: 12 } },
    cpp: 'attention.h myelin::attention_qkv_forward',
  },
  attentionQkvBackward: {
    doc: `Gradients of attentionQkvForward (same shapes, masks, scale, dropout and seed) from its out, lse and dOut [B, T, E]:
dQkv [B, T, Q] (the query, key and value gradients in qkv's layout) is overwritten.`,
    args: [dim('B'), dim('T'), dim('H'), dim('E'), dim('Q'), f32('qkv', 'B*T*Q'), f32OrNull('keyPadding', 'B*T'), bool('causal'),
      float('scale'), float('dropout'), count('seed'), f32('out', 'B*T*E'), f32('lse', 'B*H*T'), f32('dOut', 'B*T*E'), f32('dQkv', 'B*T*Q')],
    options: true,
    example: { sizes: { B: 2, T: 3, H: 2, E: 4, Q: 12 } },
    cpp: 'attention.h myelin::attention_qkv_backward',
  },
  // ---- bf16 mixed-precision training (bf16-train): products of bf16-rounded float32 operands, float32 sums
  // (native/kernels/gemm_mixed_bf16*.cc, lib/backend/js/mixed-bf16.ts); autocast('bf16') routes the
  // matrix products of Linear and matmul here.
  gemmMixedBf16: {
    doc: `gemm with bf16 products: C = alpha * op(bf16(A)) * op(bf16(B)) + beta * C, every element of A and B rounded to
bfloat16 (nearest even, float32 denormals to signed zero, as toBf16) and the exact products summed in float32
(vdpbf16ps on AVX512-BF16; elsewhere the rounded operands on the float32 gemm). Shapes and beta as gemm.`,
    args: GEMM_ARGS,
    cpp: 'gemm_mixed_bf16.h myelin::gemm_mixed_bf16',
  },
  linearForwardMixedBf16: {
    doc: 'linearForward with the product X * W^T on gemmMixedBf16 (bias, activation and preact in float32).',
    args: LINEAR_FORWARD_ARGS,
    options: true,
    cpp: 'linear.h myelin::linear_forward_mixed_bf16',
  },
  linearBackwardMixedBf16: {
    doc: 'linearBackward with dX = dZ * W and dW = dZ^T * X on gemmMixedBf16 (dZ and dB in float32).',
    args: LINEAR_BACKWARD_ARGS,
    options: true,
    cpp: 'linear.h myelin::linear_backward_mixed_bf16',
  },
} satisfies Record<string, KernelRow>;

export type KernelName = keyof typeof KERNELS;

// What the generated signatures (kernels.gen.ts: KernelSignatures, positional, and KernelOptions)
// become for the contract and for the binding.
type Signatures<S> = { [K in keyof S]: (...args: never[]) => unknown };

/** The contract's kernels: a kernel with an options object takes that one object. */
export type ContractKernels<S extends Signatures<S>, O> = {
  [K in keyof S]: K extends keyof O ? (options: O[K]) => ReturnType<S[K]> : S[K];
};

/** The binding's kernels: positional, activations and unary ops as their integer codes. */
export type BindingKernels<S extends Signatures<S>> = {
  [K in keyof S]: (...args: CodesAsNumbers<Parameters<S[K]>>) => ReturnType<S[K]>;
};
type CodesAsNumbers<A extends readonly unknown[]> = { [I in keyof A]: A[I] extends Activation | UnaryOp ? number : A[I] };

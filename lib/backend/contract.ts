// The kernel contract: the one interface both backends (native C++ and pure TypeScript) implement.
//
// The flat kernels are described once, in lib/backend/kernel-table.ts (their signatures are
// generated into kernels.gen.ts); this file adds the inference-plan kernels and the conventions.
//
// Conventions (every kernel):
// - Matrices are dense, row-major Float32Arrays. Sizes are integers >= 1 (n >= 0 for flat kernels).
// - The contract is primitives plus fused kernels that earned their place by measurement (bench/).
//   Fused kernels (the table rows marked `options`: linearForward, linearBackward, layerNormForward,
//   layerNormBackward, softmaxCrossEntropy, the optimizer steps) take one options object; the
//   primitives take positional arguments, and so do the plan kernels below (M, layers, X, out, softmax).
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

import type { Activation } from './kernel-table';
import type { Kernels } from './kernels.gen';

export type { Activation, UnaryOp } from './kernel-table';
export { ACTIVATIONS, UNARY_OPS } from './kernel-table';
export { ACTIVATION_CODE, UNARY_CODE } from './check';
export type {
  AdamStepOptions, Kernels, LayerNormBackwardOptions, LayerNormForwardOptions, LinearBackwardOptions, LinearForwardOptions,
  RmspropStepOptions, SgdStepOptions, SoftmaxCrossEntropyOptions,
} from './kernels.gen';

export interface BackendInfo {
  /** 'native' (C++ addon) or 'js' (pure TypeScript). */
  backend: 'native' | 'js';
  /** SIMD level the kernels run with: 'avx2' (AVX2+FMA), 'scalar' (portable C++), 'none' (JS). */
  simd: 'avx2' | 'scalar' | 'none';
  /** SIMD level of the matrix multiply (native only): it can be higher than `simd` (AVX-512 GEMM). */
  gemmSimd?: 'avx512' | 'avx2' | 'scalar';
  /** Path of the int8 GEMM (native only): AMX tiles, AVX512-VNNI, AVX2 or portable C++. */
  int8Path?: 'amx' | 'avx512vnni' | 'avx2' | 'scalar';
  /** Path of the bf16 GEMM (native only): AMX tiles, AVX512-BF16, or widened to the float32 GEMM. */
  bf16Path?: 'amx' | 'avx512bf16' | 'fp32';
  /** The AMX tiles' state (native only): 'in use for int8 and bf16', or 'unavailable: <why>' / 'off: <why>'. */
  amx?: string;
  /** Path of the mixed-precision GEMM of autocast('bf16') (native only): AVX512-BF16, or bf16-rounded operands on the float32 GEMM. */
  mixedBf16Path?: 'avx512bf16' | 'fp32';
  /** Path of the int8 convolution at stride 1 (native only): the direct AVX512-VNNI kernel, or patch rows through the int8 GEMM. */
  qconvPath?: 'avx512vnni-direct' | 'im2col';
  /** Path of the bf16 convolution at stride 1 (native only): the direct AVX512-BF16 kernel, or patch rows through the bf16 GEMM. */
  qconvBf16Path?: 'avx512bf16-direct' | 'im2col';
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

/**
 * A backend: the kernels of the table (lib/backend/kernel-table.ts, typed in kernels.gen.ts) plus
 * the inference-plan kernels, which take a stack of dense layers rather than flat arguments.
 */
export interface Backend extends Kernels {
  readonly name: 'native' | 'js';
  info(): BackendInfo;

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
   * for this call. X is copied before forwardAsync returns, unless `handOver` is true; `out` is
   * written only when the result is ready, just before the promise resolves. So the caller may
   * change or transfer X and the weights at once; if out's buffer is detached meanwhile, the promise
   * rejects. With `handOver` true the caller hands X over instead: X is read in place (no copy) and
   * must not be written, transferred or detached until the promise settles (serve passes its own
   * private arrays this way: the batcher's joined rows, predictAsync's chunk copies). Invalid
   * arguments give a rejected promise. Concurrent calls are independent (no shared scratch).
   */
  forwardAsync(
    M: number, layers: FrozenPlan | PlanLayer[], X: Float32Array, out: Float32Array, softmax: boolean, handOver?: boolean,
  ): Promise<void>;

  /**
   * Synchronous twin of forwardAsync: the whole stack in one call on the calling thread.
   * The native backend splits large batches' rows across its threads and runs every layer on
   * each block (no barrier between layers, intermediates stay in each core's caches). `layers`
   * is plain plan layers (read in place) or a frozen plan (freezePlan: its weights are packed
   * once, so small batches skip the per-call packing and layer reading). Same validation and
   * results as forwardAsync / a chain of linearForward calls.
   */
  forwardDense(M: number, layers: FrozenPlan | PlanLayer[], X: Float32Array, out: Float32Array, softmax: boolean): void;
}

// Tape-free inference for a dense segment of a plan (nn/plan.ts): fused linearForward calls over cached per-batch-size scratch, or one forwardDense call.
import { getBackend } from '../backend/select';
import type { Backend, FrozenPlan, PlanLayer } from '../backend/contract';
import { Tensor } from '../tensor';
import { freshArray } from '../buffer-pool';
import type { Linear } from './linear';
import type { FusedActivation } from './registry';

/** One kernel call of the plan: a Linear with the activation the planner fused into it. */
export interface DenseStep {
  layer: Linear;
  /** The activation fused into this call, or null. */
  activation: FusedActivation | null;
}

/** Scratch arrays for one batch size: the outputs of every step but the last (and the last when a softmax follows). */
interface Scratch {
  rows: number;
  buffers: Float32Array[];
}

const MAX_CACHED_BATCH_SIZES = 4;

/**
 * From this many rows, predict runs the whole stack as one forwardDense call (rows split across
 * the native threads, every layer per block); below it, one linearForward call per layer, whose
 * per-call cost is lower for a handful of rows (batch-1 latency).
 */
const DENSE_STACK_MIN_ROWS = 64;

/** Values of each weight and bias array predict compares with its frozen copy on every call. */
const GUARD_SAMPLES = 16;

/**
 * A dense segment of a plan (Linears with their fused activations, optionally a final row softmax), run
 * without the autograd tape. Below DENSE_STACK_MIN_ROWS rows it makes the kernel calls Sequential.forward
 * makes in eval mode (same fusion, same shapes, same order); from there one forwardDense call runs the
 * stack per row block (the same maths, rows blocked across threads). It skips the tensors, the tape and
 * fresh intermediate arrays.
 */
export class DenseInference {
  readonly inFeatures: number;
  readonly outFeatures: number;
  private readonly scratch: Scratch[] = [];
  /**
   * The weight state (each W and bias array and its write version, on which backend) seen by the
   * last call, and the frozen (packed) copy made from it once a second call found it unchanged.
   */
  private seenBackend: Backend | null = null;
  private readonly seenArrays: (Float32Array | null)[] = [];
  private readonly seenVersions: number[] = [];
  private frozen: FrozenPlan | null = null;
  /** A few values of each W and bias at freezing (GUARD_SAMPLES spread over each array, both ends included). */
  private guard: Float32Array | null = null;

  private constructor(
    private readonly steps: DenseStep[],
    private readonly softmax: boolean,
  ) {
    this.inFeatures = steps[0].layer.inFeatures;
    this.outFeatures = steps[steps.length - 1].layer.outFeatures;
  }

  /** Compiles the planner's dense steps, or returns null when their shapes do not chain (forward then says why). */
  static compile(steps: DenseStep[], softmax: boolean): DenseInference | null {
    if (steps.length === 0) return null;
    for (let i = 1; i < steps.length; i++) if (steps[i - 1].layer.outFeatures !== steps[i].layer.inFeatures) return null;
    return new DenseInference(steps, softmax);
  }

  /** The Linear layers behind the steps (their weights are read live), with their fused activations. */
  get denseSteps(): readonly DenseStep[] {
    return this.steps;
  }

  /** True when a row softmax ends the segment. */
  get endsInSoftmax(): boolean {
    return this.softmax;
  }

  private scratchFor(rows: number): Float32Array[] {
    for (const s of this.scratch) if (s.rows === rows) return s.buffers;
    const count = this.softmax ? this.steps.length : this.steps.length - 1;
    const buffers: Float32Array[] = [];
    for (let i = 0; i < count; i++) buffers.push(new Float32Array(rows * this.steps[i].layer.outFeatures));
    if (this.scratch.length >= MAX_CACHED_BATCH_SIZES) this.scratch.shift();
    this.scratch.push({ rows, buffers });
    return buffers;
  }

  /** The stack as backend plan layers, reading the live weights (rebuilt per call: 1 object a layer). */
  planLayers(): PlanLayer[] {
    return this.steps.map(({ layer, activation: fused }) => {
      return {
        N: layer.outFeatures,
        K: layer.inFeatures,
        W: layer.weight.data,
        bias: layer.bias ? layer.bias.data : null,
        act: fused === null ? 'none' : fused.act,
        alpha: fused === null ? 0.01 : fused.alpha,
      };
    });
  }

  /**
   * On the native backend, the frozen copy of the weights (packed once for the GEMM: a batch of a
   * few rows then runs as one call with no packing, the layers not read again) when the weights
   * are as the previous call saw them: same arrays, same write versions. Weights that changed
   * since (a training step, loadStateDict, assigning .data, markChanged()) are recorded and run
   * in place this time, so alternating training steps and predictions never pay for a copy.
   * Writing into a weight's data in place without markChanged() is not seen (as for predictAsync).
   */
  private frozenPlan(backend: Backend): FrozenPlan | null {
    if (backend.name !== 'native') return null;
    const arrays = this.seenArrays;
    const versions = this.seenVersions;
    let same = backend === this.seenBackend;
    for (let i = 0; i < this.steps.length; i++) {
      const { weight, bias } = this.steps[i].layer;
      const b = bias === null ? null : bias.data;
      const bv = bias === null ? 0 : bias._version;
      if (same && (arrays[2 * i] !== weight.data || versions[2 * i] !== weight._version || arrays[2 * i + 1] !== b || versions[2 * i + 1] !== bv)) same = false;
      arrays[2 * i] = weight.data;
      versions[2 * i] = weight._version;
      arrays[2 * i + 1] = b;
      versions[2 * i + 1] = bv;
    }
    this.seenBackend = backend;
    if (same && this.frozen !== null && !this.sampleWeights(this.guard)) same = false;
    if (!same) {
      this.frozen = null;
      return null;
    }
    if (this.frozen === null) {
      this.frozen = backend.freezePlan(this.planLayers());
      this.guard = new Float32Array(this.steps.length * 2 * GUARD_SAMPLES);
      this.sampleWeights(null);
    }
    return this.frozen;
  }

  /**
   * A guard against the common misuse (weights rewritten in place without markChanged(), such as
   * a hand-written update loop): compares GUARD_SAMPLES values of every W and bias with those
   * recorded at freezing (`against`), or records them (`against` null). False on any difference.
   */
  private sampleWeights(against: Float32Array | null): boolean {
    const g = this.guard!;
    let at = 0;
    for (const { layer } of this.steps) {
      for (const t of [layer.weight, layer.bias]) {
        const a = t === null ? null : t.data;
        for (let s = 0; s < GUARD_SAMPLES; s++, at++) {
          const v = a === null ? 0 : a[Math.floor((s * (a.length - 1)) / (GUARD_SAMPLES - 1))];
          if (against === null) g[at] = v;
          else if (!Object.is(g[at], v)) return false;
        }
      }
    }
    return true;
  }

  /** Runs rows [0, rows) of x ([rows, inFeatures], row-major) into out ([rows, outFeatures]). */
  private runBatch(rows: number, x: Float32Array, out: Float32Array): void {
    const backend = getBackend();
    const frozen = this.frozenPlan(backend);
    if (frozen !== null) {
      backend.forwardDense(rows, frozen, x, out, this.softmax);
      return;
    }
    const layers = this.planLayers();
    if (rows >= DENSE_STACK_MIN_ROWS) {
      // One call for the whole stack: the native backend splits rows across threads per block.
      backend.forwardDense(rows, layers, x, out, this.softmax);
      return;
    }
    const buffers = this.scratchFor(rows);
    let h = x;
    const last = layers.length - 1;
    for (let i = 0; i <= last; i++) {
      const l = layers[i];
      const y = i === last && !this.softmax ? out : buffers[i];
      backend.linearForward({ M: rows, N: l.N, K: l.K, X: h, W: l.W, bias: l.bias, act: l.act, alpha: l.alpha, out: y });
      h = y;
    }
    if (this.softmax) backend.softmax(rows, this.outFeatures, h, out);
  }

  /**
   * Predicts for x ([rows, inFeatures] data) in batches of batchSize rows, like serve's predict does
   * (one forward pass when rows <= batchSize). Returns a new [rows, outFeatures] tensor.
   */
  run(x: Float32Array, rows: number, batchSize: number): Tensor {
    const K = this.inFeatures;
    const N = this.outFeatures;
    const out = freshArray(rows * N);
    if (rows > 0) {
      if (rows <= batchSize) {
        this.runBatch(rows, x, out);
      } else {
        for (let start = 0; start < rows; start += batchSize) {
          const end = Math.min(rows, start + batchSize);
          this.runBatch(end - start, x.subarray(start * K, end * K), out.subarray(start * N, end * N));
        }
      }
    }
    return new Tensor(out, [rows, N]);
  }
}

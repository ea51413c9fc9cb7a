// Tape-free inference for Sequential MLPs: fused linearForward calls over cached per-batch-size scratch (Module.predict's fast path).
import { getBackend } from '../backend/select';
import type { PlanLayer } from '../backend/contract';
import { Tensor } from '../tensor';
import { freshArray } from '../buffer-pool';
import type { Module } from './module';
import type { Linear } from './linear';
import { inferenceRole, type FusedActivation } from './registry';
import { planChain } from './plan';

/** One kernel call of the plan: a Linear with the activation the planner fused into it. */
interface DenseStep {
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

/**
 * A Sequential's layers compiled into dense steps (by their registered inference roles), run without
 * the autograd tape. Below DENSE_STACK_MIN_ROWS rows it makes the kernel calls Sequential.forward makes
 * in eval mode (same fusion, same shapes, same order); from there one forwardDense call runs the stack
 * per row block. It skips the tensors, the tape and fresh intermediate arrays.
 */
export class DenseInference {
  readonly inFeatures: number;
  readonly outFeatures: number;
  private readonly scratch: Scratch[] = [];

  private constructor(
    private readonly steps: DenseStep[],
    private readonly softmax: boolean,
  ) {
    this.inFeatures = steps[0].layer.inFeatures;
    this.outFeatures = steps[steps.length - 1].layer.outFeatures;
  }

  /**
   * Compiles a Sequential's layers, or returns null when they are not a plain MLP: only exact
   * built-in Linear, ReLU, LeakyReLU, Sigmoid, Tanh, GELU (each right after a Linear), Dropout,
   * Flatten(1) and a final Softmax.
   */
  static compile(layers: readonly Module[]): DenseInference | null {
    const plan = planChain(layers.map(inferenceRole));
    if (plan.problem !== null) return null;
    const steps: DenseStep[] = [];
    for (const i of plan.dense) {
      const linear = layers[i] as Linear;
      const prev = steps[steps.length - 1];
      if (prev !== undefined && prev.layer.outFeatures !== linear.inFeatures) return null;
      steps.push({ layer: linear, activation: plan.fused[i] });
    }
    return new DenseInference(steps, plan.softmax);
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
  private planLayers(): PlanLayer[] {
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

  /** Runs rows [0, rows) of x ([rows, inFeatures], row-major) into out ([rows, outFeatures]). */
  private runBatch(rows: number, x: Float32Array, out: Float32Array): void {
    const backend = getBackend();
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
   * Predicts for x ([rows, inFeatures] data) in batches of batchSize rows, like Module.predict does
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

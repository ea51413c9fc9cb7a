// GradientReducer: data-parallel gradient averaging. Parameters are grouped into buckets (last layer
// first, the order backward finishes them); a bucket's all-reduce starts on the communication thread as
// soon as backward has completed all its gradients, so communication overlaps the rest of backward.
import { Tensor } from '../tensor';
import { setLeafGradHook } from '../autograd';
import type { ProcessGroup } from './group';

/** One collective of a training step, in the order it was queued: a gradient bucket, or a synchronised BatchNorm's all-reduce of n floats. */
type StepCollective = { kind: 'bucket'; index: number } | { kind: 'sync'; n: number };

/** The collectives queued since the last step ended (forward's synchronised BatchNorms, then backward's). */
let stepLog: StepCollective[] = [];
/** The weight of the step whose backward is running, or null outside backward (read by synchronised BatchNorm). */
let activeWeight: number | null = null;

/**
 * An all-reduce (sum, in place) that is part of a training step, recorded so that a rank with no rows
 * in a later step can replay the step's collectives with zeros (synchronised BatchNorm uses it).
 */
export function stepAllreduce(group: ProcessGroup, a: Float32Array): Float32Array {
  stepLog.push({ kind: 'sync', n: a.length });
  return group.allreduce(a);
}

/** The batch weight of this rank's step while its backward runs through a GradientReducer, else null. */
export function currentStepWeight(): number | null {
  return activeWeight;
}

interface Bucket {
  params: Tensor[];
  offsets: number[];
  /** Gradient floats; data[size] is the batch-weight slot (only the last bucket's is non-zero), then the extras (last bucket). */
  size: number;
  data: Float32Array;
  ready: number;
}

/** Per-run counters: steps, bytes each rank hands the all-reduce per step, and where the time went. */
export interface ReducerStats {
  steps: number;
  buckets: number;
  /** Floats in each bucket, in the order they are all-reduced. */
  bucketSizes: number[];
  /** Bytes each rank all-reduces per step: the gradients and the batch weight (one float at the end of the last bucket). */
  bytesPerStep: number;
  /** Bytes each rank sends per step with Gloo's ring all-reduce: 2 (W-1)/W x the bytes reduced. */
  sentPerStep: number;
  /**
   * Gradient bytes whose all-reduce started while backward still had work to do: every bucket started
   * during backward except the last one, which backward completes at its very end.
   */
  bytesStartedInBackward: number;
  /** Milliseconds in backward (buckets start during it). */
  backwardMs: number;
  /** Milliseconds blocked after backward waiting for the all-reduces (communication not hidden). */
  waitMs: number;
}

/**
 * Averages the gradients of the ranks each step, in buckets started from backward (fit's distributed
 * option uses it; usable on its own with a ProcessGroup and a parameter list).
 */
export class GradientReducer {
  private readonly buckets: Bucket[] = [];
  private readonly where = new Map<Tensor, { bucket: number; index: number }>();
  private weightValue = 0;
  private nextToStart = 0;
  private inBackward = false;
  /** The previous step's collectives, in order (replayed with zeros by a rank that has no rows). */
  private schedule: StepCollective[] = [];
  private readonly hook = (leaf: Tensor): void => this.onLeaf(leaf);
  readonly stats: ReducerStats;
  /**
   * The sums over the ranks of the extra values backward() was given (after it returns): `extras` floats
   * that ride in the last bucket, so a step can agree on small things (e.g. "a rank has another batch")
   * without a collective of its own.
   */
  readonly extras: Float32Array;

  /**
   * Groups the parameters into buckets (in reverse order: backward finishes the last layer first).
   * @param params the model's parameters (the same list, in the same order, on every rank).
   * @param group the joined process group the gradients are averaged over.
   * @param bucketBytes the gradient bytes per bucket (default 1 MiB; one parameter larger than that gets a bucket of its own).
   * @param extras floats every step sums over the ranks beside the gradients (default 0; see `extras`).
   * @throws Error when bucketBytes is not an integer of at least 4.
   * @example const reducer = new distributed.GradientReducer(model.parameters(), distributed.init());
   */
  constructor(readonly params: Tensor[], readonly group: ProcessGroup, bucketBytes = 1 << 20, extras = 0) {
    if (!Number.isInteger(bucketBytes) || bucketBytes < 4) throw new Error(`distributed: bucketBytes must be an integer of at least 4, got ${bucketBytes}`);
    let current: Tensor[] = [];
    let size = 0;
    const flush = (): void => {
      if (current.length === 0) return;
      const offsets: number[] = [];
      let at = 0;
      for (const p of current) {
        offsets.push(at);
        at += p.size;
      }
      current.forEach((p, index) => this.where.set(p, { bucket: this.buckets.length, index }));
      // One float more in every bucket; only the last bucket's carries the batch weight (the others stay 0),
      // so a step costs one collective per bucket and no extra one for the weight.
      this.buckets.push({ params: current, offsets, size: at, data: new Float32Array(at + 1), ready: 0 });
      current = [];
      size = 0;
    };
    // Reverse order: backward completes the last layer's gradients first.
    for (let i = params.length - 1; i >= 0; i--) {
      const p = params[i];
      if (size > 0 && (size + p.size) * 4 > bucketBytes) flush();
      current.push(p);
      size += p.size;
    }
    flush();
    if (this.buckets.length === 0) this.buckets.push({ params: [], offsets: [], size: 0, data: new Float32Array(1), ready: 0 });
    if (extras > 0) {
      const last = this.buckets[this.buckets.length - 1];
      last.data = new Float32Array(last.size + 1 + extras);
    }
    this.extras = new Float32Array(extras);
    const bytes = 4 * this.buckets.reduce((s, b) => s + b.data.length, 0);
    const w = group.worldSize;
    this.stats = { steps: 0, buckets: this.buckets.length, bucketSizes: this.buckets.map((b) => b.data.length), bytesPerStep: bytes, sentPerStep: (2 * (w - 1) / w) * bytes, bytesStartedInBackward: 0, backwardMs: 0, waitMs: 0 };
  }

  /**
   * Broadcasts rank 0's parameter values to every rank (one buffer).
   * @example reducer.broadcastParameters(); // before the first step, so every rank starts from rank 0's weights
   */
  broadcastParameters(): void {
    const total = this.params.reduce((s, p) => s + p.size, 0);
    const flat = new Float32Array(total);
    let at = 0;
    for (const p of this.params) {
      flat.set(p.data, at);
      at += p.size;
    }
    this.group.broadcast(flat, 0);
    at = 0;
    for (const p of this.params) {
      p.data.set(flat.subarray(at, at + p.size));
      at += p.size;
    }
  }

  /**
   * Runs backward (or nothing, for a rank with no rows this step: run null) and leaves in every
   * parameter's .grad the weighted mean over the ranks: sum_r w_r g_r / sum_r w_r, where w_r is rank r's
   * batch weight (its rows, or its class-weight sum), which is the gradient of one process's batch made
   * of all the ranks' rows. Every rank must call it once per step; buckets are all-reduced as backward fills them.
   * @param run the backward pass to run (e.g. () => loss.backward()), or null for an empty step.
   * @param weight this rank's batch weight (its rows this step, 0 for an empty step).
   * @param extras the constructor's number of extra values, summed over the ranks into `extras` (default: zeros).
   * @throws Error when the weights of all ranks sum to 0 or less (every rank had an empty batch), or when a
   * collective fails (a lost rank, a timeout).
   * @example reducer.backward(() => loss.backward(), xb.shape[0]); opt.step();
   */
  backward(run: (() => void) | null, weight: number, extras?: ArrayLike<number>): void {
    this.weightValue = weight;
    this.nextToStart = 0;
    for (const b of this.buckets) {
      b.ready = 0;
      b.data.fill(0, b.size);
    }
    const last = this.buckets[this.buckets.length - 1];
    last.data[last.size] = weight;
    if (extras !== undefined) {
      if (extras.length !== this.extras.length) throw new Error(`distributed: expected ${this.extras.length} extra values for the all-reduce, got ${extras.length}`);
      for (let i = 0; i < extras.length; i++) last.data[last.size + 1 + i] = extras[i];
    }
    const started = performance.now();
    if (run !== null) {
      const prev = setLeafGradHook(this.hook);
      this.inBackward = true;
      activeWeight = weight;
      try {
        run();
      } finally {
        this.inBackward = false;
        activeWeight = null;
        setLeafGradHook(prev);
      }
    }
    const backwardDone = performance.now();
    // Parameters backward did not reach (unused this step, or an empty step) all-reduce zeros.
    for (let i = this.nextToStart; i < this.buckets.length; i++) {
      const b = this.buckets[i];
      if (b.ready < b.params.length) {
        const tail = b.data.slice(b.size);
        b.data.fill(0);
        b.params.forEach((p, j) => {
          if (p.grad !== null) b.data.set(p.grad.data, b.offsets[j]);
        });
        if (weight !== 1) for (let k = 0; k < b.size; k++) b.data[k] *= weight;
        b.data.set(tail, b.size);
        b.ready = b.params.length;
      }
    }
    if (run === null && this.schedule.some((c) => c.kind === 'sync')) this.replay();
    this.startReady();
    this.group.wait();
    this.schedule = stepLog;
    stepLog = [];
    const total = last.data[last.size];
    for (let i = 0; i < this.extras.length; i++) this.extras[i] = last.data[last.size + 1 + i];
    if (!(total > 0)) throw new Error(`distributed: the ranks' batch weights sum to ${total} (every rank had an empty batch)`);
    for (const b of this.buckets) {
      const inv = 1 / total;
      b.params.forEach((p, j) => {
        if (p.grad === null) p.grad = new Tensor(new Float32Array(p.size), p.shape.slice());
        const g = p.grad.data;
        const off = b.offsets[j];
        for (let k = 0; k < g.length; k++) g[k] = b.data[off + k] * inv;
      });
    }
    this.stats.steps++;
    this.stats.backwardMs += backwardDone - started;
    this.stats.waitMs += performance.now() - backwardDone;
  }

  private onLeaf(leaf: Tensor): void {
    const at = this.where.get(leaf);
    if (at === undefined || leaf.grad === null) return;
    const b = this.buckets[at.bucket];
    const g = leaf.grad.data;
    const off = b.offsets[at.index];
    const w = this.weightValue;
    if (w === 1) b.data.set(g, off);
    else for (let k = 0; k < g.length; k++) b.data[off + k] = g[k] * w;
    b.ready++;
    this.startReady();
  }

  /**
   * An empty step of a model with synchronised BatchNorm: the other ranks' step interleaves the layers'
   * all-reduces (forward, then backward) with the gradient buckets, so this rank queues the previous
   * step's sequence, with zeros for the layers (no rows: sums and counts 0) and its zero buckets.
   */
  private replay(): void {
    for (const c of this.schedule) {
      if (c.kind === 'sync') stepAllreduce(this.group, new Float32Array(c.n));
      else {
        while (this.nextToStart <= c.index) this.startNext();
      }
    }
  }

  private startNext(): void {
    const b = this.buckets[this.nextToStart];
    this.group.start(b.data);
    stepLog.push({ kind: 'bucket', index: this.nextToStart });
    if (this.inBackward && this.nextToStart < this.buckets.length - 1) this.stats.bytesStartedInBackward += 4 * b.data.length;
    this.nextToStart++;
  }

  /** Starts the complete buckets in bucket order (the order must be the same on every rank). */
  private startReady(): void {
    while (this.nextToStart < this.buckets.length) {
      const b = this.buckets[this.nextToStart];
      if (b.ready < b.params.length) return;
      this.startNext();
    }
  }
}

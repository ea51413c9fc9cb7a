// Reusable Float32Arrays for op temporaries: a free list by length, backward-pass and training-step arenas, and an allocation counter.
//
// Who may reuse what (so a tensor the user holds is never overwritten):
// - gradBuffer(): gradients that flow between backward rules. They live in the arena of the running
//   backward pass and go back to the pool when it ends. The tape copies one before making it a leaf's
//   .grad, so nothing outside the pass ever sees a pooled array.
// - privateBuffer(): arrays an op keeps only inside its own backward closure (the cross-entropy
//   gradient, GELU pre-activations). releaseAfterBackward() hands one to the running backward pass
//   once the closure has run for the last time (the tape frees each node after one use).
// - outputBuffer(): the data of tensors an op returns. Fresh (new Float32Array, owning its ArrayBuffer)
//   unless a training-step arena is open; fit opens one around each step of a model made only of
//   built-in layers, with built-in losses and metrics, where no user code can keep the step's tensors
//   (see lib/train/fit.ts). Inside enterInternalOutputs() (Sequential, between two built-in layers)
//   small outputs are carved from a shared slab instead: those tensors never reach user code.
// Pooled arrays have arbitrary contents: every user overwrites them fully (or zero-fills them).

/** What a pool-owned array is doing now. */
const enum State {
  Free = 0,
  BackwardArena = 1,
  StepArena = 2,
  Private = 3,
}

const freeLists = new Map<number, Float32Array[]>();
const stateOf = new WeakMap<Float32Array, State>();
/** Elements held in the free lists; arrays beyond the cap are left to the GC. */
let freeElements = 0;
const MAX_FREE_ELEMENTS = 64 * 1024 * 1024; // 256 MB of float32

/**
 * Pool-owned arrays that are small are carved from shared ArrayBuffer slabs instead of each getting
 * its own: a fresh ArrayBuffer costs about 0.3 us, and a small typed array V8 keeps on its heap is
 * copied out (the same cost again) the first time it is passed to the native addon. Only arrays the
 * pool owns are carved: they never reach user code (see the rules above), so nobody can transfer or
 * detach a slab (`postMessage(t.data.buffer, [t.data.buffer])` on a carved array would empty every
 * other array cut from the same slab). A slab's memory is never handed out twice, so every carved
 * array starts zeroed; the GC frees a slab when all arrays cut from it are gone.
 */
const SMALL_ARRAY_MAX = 128; // elements
const SLAB_BYTES = 8192;
let slab = new ArrayBuffer(0);
let slabOffset = 0;

/** A new zeroed Float32Array of n elements for the pool (small ones carved from a slab). */
function poolArray(n: number): Float32Array {
  if (n > SMALL_ARRAY_MAX || n === 0) return new Float32Array(n);
  const bytes = n * 4;
  if (slabOffset + bytes > slab.byteLength) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabOffset = 0;
  }
  const a = new Float32Array(slab, slabOffset, n);
  slabOffset += (bytes + 15) & ~15; // 16-byte aligned starts
  return a;
}

/**
 * A new zeroed Float32Array of n elements that owns its whole ArrayBuffer: for data user code can
 * reach (op results, gradients), which users may transfer to a worker or detach.
 */
export function freshArray(n: number): Float32Array {
  return new Float32Array(n);
}

let backwardArena: Float32Array[] | null = null;
/** True while an op's output feeds only library code (see enterInternalOutputs). */
let internalOutputs = false;
let stepArena: Float32Array[] | null = null;
let enabled = true;

/** Counters for tests and benchmarks: arrays the pool had to create, and arrays it handed out again. */
export interface BufferPoolStats {
  allocations: number;
  reuses: number;
}
const stats: BufferPoolStats = { allocations: 0, reuses: 0 };

/** A copy of the pool's counters (they only grow). */
export function bufferPoolStats(): BufferPoolStats {
  return { ...stats };
}

/**
 * Turns pooling on or off (on by default). Off, every buffer is a fresh zeroed array, exactly as
 * without a pool: tests use it to check that reuse does not change results. Returns the old setting.
 */
export function setBufferPooling(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/** Empties the free lists (tests; or to give memory back after training a large model). */
export function clearBufferPool(): void {
  freeLists.clear();
  freeElements = 0;
}

function take(n: number, state: State): Float32Array {
  const list = freeLists.get(n);
  let a: Float32Array;
  if (list !== undefined && list.length > 0) {
    a = list.pop() as Float32Array;
    freeElements -= n;
    stats.reuses++;
  } else {
    a = poolArray(n);
    stats.allocations++;
  }
  stateOf.set(a, state);
  return a;
}

function give(a: Float32Array): void {
  stateOf.set(a, State.Free);
  if (freeElements + a.length > MAX_FREE_ELEMENTS) return;
  let list = freeLists.get(a.length);
  if (list === undefined) {
    list = [];
    freeLists.set(a.length, list);
  }
  list.push(a);
  freeElements += a.length;
}

/** True for an array the pool owns (its contents may be overwritten once its arena ends). */
export function isPooled(a: Float32Array): boolean {
  const s = stateOf.get(a);
  return s !== undefined;
}

/** A gradient array for a backward rule: pooled while a backward pass runs, else fresh. Contents arbitrary. */
export function gradBuffer(n: number): Float32Array {
  if (backwardArena === null || !enabled) return freshArray(n);
  const a = take(n, State.BackwardArena);
  backwardArena.push(a);
  return a;
}

/**
 * Data for a tensor an op returns: pooled inside a training-step arena, carved from a slab inside
 * enterInternalOutputs, else fresh and owning its ArrayBuffer (zeroed in both of the last cases).
 */
export function outputBuffer(n: number): Float32Array {
  if (!enabled) return freshArray(n);
  if (stepArena === null) return internalOutputs ? poolArray(n) : freshArray(n);
  const a = take(n, State.StepArena);
  stepArena.push(a);
  return a;
}

/**
 * An array an op keeps only inside its own backward closure. Pass it to releaseAfterBackward() when
 * the closure has used it for the last time, or to releasePrivate() if no node was recorded.
 * Contents arbitrary.
 */
export function privateBuffer(n: number): Float32Array {
  if (!enabled) return freshArray(n);
  if (stepArena !== null) {
    const a = take(n, State.StepArena);
    stepArena.push(a);
    return a;
  }
  return take(n, State.Private);
}

/**
 * From here until leaveInternalOutputs(returned value), op outputs are carved from shared slabs (for
 * small ones): only around a call whose result library code alone consumes, such as a built-in layer
 * inside Sequential.forward whose output feeds the next built-in layer. Such arrays must never become
 * data a user can reach, since transferring one slab's ArrayBuffer would empty every array cut from it.
 */
export function enterInternalOutputs(): boolean {
  const was = internalOutputs;
  internalOutputs = true;
  return was;
}

/** Ends enterInternalOutputs (pass what it returned; call it in a finally). */
export function leaveInternalOutputs(was: boolean): void {
  internalOutputs = was;
}

/** Returns a privateBuffer() to the pool when the running backward pass ends. */
export function releaseAfterBackward(a: Float32Array | null): void {
  if (a === null || stateOf.get(a) !== State.Private) return;
  if (backwardArena === null) {
    give(a);
    return;
  }
  stateOf.set(a, State.BackwardArena);
  backwardArena.push(a);
}

/** Returns a privateBuffer() that no backward closure captured (nothing was recorded). */
export function releasePrivate(a: Float32Array | null): void {
  if (a !== null && stateOf.get(a) === State.Private) give(a);
}

/** Opens the arena of one backward pass (the tape calls this); returns the arena to close. */
export function beginBackwardArena(): Float32Array[] | null {
  const outer = backwardArena;
  backwardArena = [];
  return outer;
}

/** Closes the backward arena: every gradBuffer of the pass goes back to the pool. */
export function endBackwardArena(outer: Float32Array[] | null): void {
  const arena = backwardArena;
  backwardArena = outer;
  if (arena !== null) for (const a of arena) give(a);
}

/**
 * Opens a training-step arena: until endStepArena, op outputs come from the pool and are all
 * reclaimed at the end. Only for code that provably drops every tensor of the step (fit's loop).
 */
export function beginStepArena(): void {
  if (stepArena !== null) throw new Error('beginStepArena: a training-step arena is already open (internal error)');
  stepArena = [];
}

/** True while a training-step arena is open (an inference plan then leaves its outputs to it). */
export function stepArenaOpen(): boolean {
  return stepArena !== null;
}

/** Closes the training-step arena; the step's tensors must no longer be used. */
export function endStepArena(): void {
  const arena = stepArena;
  stepArena = null;
  if (arena !== null) for (const a of arena) give(a);
}

// The autodiff tape: graph nodes recorded by ops, the reverse-mode backward walk, and noGrad.
import type { Tensor } from './tensor';
import { getBackend } from './backend/select';
import { beginBackwardArena, beginStepArena, endBackwardArena, endStepArena, gradBuffer, isPooled, stepArenaOpen } from './buffer-pool';
import { checkFunction } from './validate';

/**
 * An op's local backward rule: given the gradient of the loss w.r.t. the op's output, return the
 * gradient w.r.t. each input (null where an input does not need one). Returned arrays may alias
 * gradOut or each other; the tape never writes into them.
 */
export type BackwardRule = (gradOut: Float32Array) => (Float32Array | null)[];

/** One recorded op: its name, its inputs, and its backward rule (null once the graph is freed). */
export interface GradNode {
  readonly op: string;
  inputs: Tensor[];
  backward: BackwardRule | null;
}

let noGradDepth = 0;

/**
 * True when ops record onto the tape (outside every noGrad).
 * @example noGrad(() => isGradEnabled()) // false
 */
export function isGradEnabled(): boolean {
  return noGradDepth === 0;
}

/**
 * Runs fn without recording any op onto the tape; results do not require grad. fn must be
 * synchronous (a counter brackets the call); an async fn is rejected rather than half-covered.
 * @param fn synchronous code to run without recording gradients.
 * @returns what fn returns.
 * @throws Error when fn is not a function or returns a Promise; whatever fn throws.
 * @example
 * ```ts
 * const y = noGrad(() => model.forward(x)); // y.requiresGrad === false
 * ```
 */
export function noGrad<T>(fn: () => T): T {
  checkFunction('noGrad', 'fn', fn);
  noGradDepth++;
  let result: T;
  try {
    result = fn();
  } finally {
    noGradDepth--;
  }
  if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
    throw new Error('noGrad: fn returned a Promise; noGrad only covers synchronous code (wrap each synchronous forward pass instead)');
  }
  return result;
}

/**
 * Runs one training step of a hand-written loop with the step's activations and gradients in pooled
 * buffers, reclaimed when fn returns (what fit does around each of its steps): the loop then allocates
 * next to nothing per step and the garbage collector stays idle. Every tensor an op makes inside fn is
 * dead once fn returns (its data is reused by the next step), so take what you need out as numbers
 * (`loss.item()`) before returning. Parameters, their .grad and optimizer state are not affected: they
 * are updated in place and stay valid. Nested calls (and calls inside fit) share the outer step's pool.
 * @param fn the step, synchronous: typically zeroGrad, forward, loss, backward, optimizer step.
 * @returns what fn returns (a number, or nothing; not a tensor made inside the step).
 * @throws Error when fn is not a function, returns a Promise (a step must be synchronous), or returns a
 * tensor whose data lives in the step's pool; whatever fn throws (the pool is reclaimed either way).
 * @example
 * ```ts
 * const loss = trainingStep(() => {
 *   opt.zeroGrad();
 *   const l = nn.crossEntropy(model.forward(x), y);
 *   l.backward();
 *   opt.step();
 *   return l.item();
 * });
 * ```
 */
export function trainingStep<T>(fn: () => T): T {
  checkFunction('trainingStep', 'fn', fn);
  if (stepArenaOpen()) return checkStepResult(fn());
  beginStepArena();
  let result: T;
  try {
    result = fn();
    checkStepResult(result);
  } finally {
    endStepArena();
  }
  return result;
}

/** Rejects a Promise or a tensor on the step's pool as trainingStep's result; returns the result. */
function checkStepResult<T>(result: T): T {
  if (result === null || typeof result !== 'object') return result;
  if (typeof (result as { then?: unknown }).then === 'function') {
    throw new Error('trainingStep: fn returned a Promise; a training step must be synchronous (await the data before the step, then run it)');
  }
  const data = (result as { data?: unknown }).data;
  if (data instanceof Float32Array && isPooled(data)) {
    throw new Error('trainingStep: fn returned a tensor made inside the step; its buffer is reused by the next step (return loss.item() instead)');
  }
  return result;
}

/** True when an op over these inputs must be recorded. */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  if (noGradDepth !== 0) return false;
  for (const t of inputs) if (t && t.requiresGrad) return true;
  return false;
}

/** An op's non-tensor arguments (axis, exponent, slope...) and extra tensor operands, as the op tracer sees them. */
export type OpAttrs = Readonly<Record<string, number | boolean | string | null | ArrayLike<number> | Tensor>>;

/** Receives every op as it runs (ONNX export by tracing, lib/io/onnx/trace.ts); null when nothing traces. */
export type OpTracer = (out: Tensor, op: string, inputs: readonly Tensor[], attrs: OpAttrs | undefined) => void;

let tracer: OpTracer | null = null;

/** Installs `t` as the op tracer (null removes it); returns the previous one. */
export function setOpTracer(t: OpTracer | null): OpTracer | null {
  const prev = tracer;
  tracer = t;
  return prev;
}

/** True while an op tracer is installed (ops that skip record() when nothing needs grad report anyway). */
export function isTracing(): boolean {
  return tracer !== null;
}

/**
 * The one place where ops report themselves to the tracer (record() calls it; ops without a gradient
 * call it directly). Returns out. Costs one null check when nothing traces.
 */
export function traced(out: Tensor, op: string, inputs: readonly Tensor[], attrs?: OpAttrs): Tensor {
  if (tracer !== null) tracer(out, op, inputs, attrs);
  return out;
}

/**
 * Records `out` as the result of `op` over `inputs` if any input requires grad (and grad is
 * enabled), and reports it to the op tracer. `attrs` are the op's non-tensor arguments, for the
 * tracer only: ops build them only while tracing (`isTracing() ? { axis } : undefined`), so an
 * untraced op pays one null check. Returns out for chaining.
 */
export function record(out: Tensor, op: string, inputs: Tensor[], backward: BackwardRule, attrs?: OpAttrs): Tensor {
  if (tracer !== null) tracer(out, op, inputs, attrs);
  if (!needsGrad(...inputs)) return out;
  out.requiresGrad = true;
  out._node = { op, inputs, backward };
  return out;
}

function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** Nodes in topological order (inputs before outputs), found by an iterative depth-first walk. */
function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: { t: Tensor; next: number }[] = [{ t: root, next: 0 }];
  visited.add(root);
  while (stack.length > 0) {
    const frame = stack[stack.length - 1];
    const node = frame.t._node;
    if (node && node.backward === null) {
      throw new Error(
        `backward: the graph has been freed (op '${node.op}' was already backpropagated through); ` +
          'run the forward pass again before calling backward a second time',
      );
    }
    const inputs = node ? node.inputs : [];
    if (frame.next < inputs.length) {
      const child = inputs[frame.next++];
      if (!visited.has(child) && child.requiresGrad) {
        visited.add(child);
        stack.push({ t: child, next: 0 });
      }
    } else {
      order.push(frame.t);
      stack.pop();
    }
  }
  return order;
}

function addArrays(a: Float32Array, b: Float32Array): Float32Array {
  const out = gradBuffer(a.length);
  getBackend().add(a.length, a, b, out);
  return out;
}

/**
 * Backpropagates from root: accumulates d(root)/d(leaf) into every leaf's .grad (scaled by
 * `grad`, which defaults to 1 for a scalar root) and frees the graph.
 */
export function backward(root: Tensor, grad: Float32Array | null, makeGrad: (data: Float32Array, shape: number[]) => Tensor): void {
  if (!root.requiresGrad) {
    throw new Error(
      `backward: tensor of shape ${shapeStr(root.shape)} does not require grad ` +
        '(no input of the ops that produced it had requiresGrad set, or it was made under noGrad)',
    );
  }
  if (grad === null) {
    if (root.size !== 1) {
      throw new Error(
        `backward: output of shape ${shapeStr(root.shape)} is not a scalar; pass a gradient of the same shape ` +
          '(or reduce it first, e.g. loss.sum() or loss.mean())',
      );
    }
  } else {
    if (grad.length !== root.size) {
      throw new Error(
        `backward: gradient has ${grad.length} elements, output of shape ${shapeStr(root.shape)} has ${root.size}`,
      );
    }
  }

  // Gradient arrays of this pass come from a pool and return to it when the pass ends.
  const outerArena = beginBackwardArena();
  try {
    let seed = grad;
    if (seed === null) {
      seed = gradBuffer(1);
      seed[0] = 1;
    }
    walkBackward(root, seed, grad !== null, makeGrad);
  } finally {
    endBackwardArena(outerArena);
  }
}

/** Called with each leaf as soon as its gradient for the running backward pass is complete; null when nothing listens. */
export type LeafGradHook = (leaf: Tensor) => void;

let leafGradHook: LeafGradHook | null = null;

/**
 * Installs `hook` (null removes it); returns the previous one. Distributed training starts the
 * all-reduce of a bucket of gradients from here while backward goes on (lib/distributed/reducer.ts).
 */
export function setLeafGradHook(hook: LeafGradHook | null): LeafGradHook | null {
  const prev = leafGradHook;
  leafGradHook = hook;
  return prev;
}

/** The reverse walk of backward(): runs every rule once, accumulating into leaf .grad, and frees the graph. */
function walkBackward(
  root: Tensor, seed: Float32Array, seedIsCallers: boolean, makeGrad: (data: Float32Array, shape: number[]) => Tensor,
): void {
  const order = topologicalOrder(root);
  // Gradient arrays already adopted as some leaf's .grad (the caller's seed counts as taken):
  // a second leaf receiving the same array must copy it.
  const adopted = new Set<Float32Array>();
  if (seedIsCallers) adopted.add(seed);
  const grads = new Map<Tensor, Float32Array>();
  grads.set(root, seed);
  // Consumers come after their inputs in `order`, so walking it backwards sees every
  // contribution to a tensor's gradient before that tensor is processed.
  for (let i = order.length - 1; i >= 0; i--) {
    const t = order[i];
    const g = grads.get(t);
    grads.delete(t);
    const node = t._node;
    if (!node) {
      if (t.requiresGrad) {
        if (g) accumulateLeafGrad(t, g, adopted, makeGrad);
        // A leaf comes after all its consumers in the reverse walk: its gradient is final here (also when
        // a fused op added into its .grad directly and handed the tape nothing).
        if (leafGradHook !== null) leafGradHook(t);
      }
      continue;
    }
    const rule = node.backward;
    const inputs = node.inputs;
    // Free the graph as we go: the saved tensors of this op are released after its rule runs.
    node.backward = null;
    node.inputs = [];
    if (!g || !rule) continue;
    const inputGrads = rule(g);
    for (let j = 0; j < inputs.length; j++) {
      const input = inputs[j];
      const ig = inputGrads[j];
      if (!ig || !input.requiresGrad) continue;
      if (ig.length !== input.size) {
        throw new Error(
          `backward: op '${node.op}' produced a gradient of ${ig.length} elements for an input of shape ` +
            `${shapeStr(input.shape)} (internal error)`,
        );
      }
      const prev = grads.get(input);
      grads.set(input, prev ? addArrays(prev, ig) : ig);
    }
  }
}

/**
 * Adds g into t.grad. A fresh .grad takes ownership of g when no other leaf has and the pool does not
 * own it (backward rules return new or pooled arrays, or pass their input through), else a copy.
 */
function accumulateLeafGrad(
  t: Tensor, g: Float32Array, adopted: Set<Float32Array>, makeGrad: (data: Float32Array, shape: number[]) => Tensor,
): void {
  if (t.grad === null) {
    // Pooled arrays are reused after this pass, and the caller's own array stays the caller's: copy.
    const own = adopted.has(g) || g.length !== t.size || isPooled(g) ? Float32Array.from(g) : g;
    adopted.add(own);
    t.grad = makeGrad(own, t.shape.slice());
  } else {
    const d = t.grad.data;
    getBackend().add(d.length, d, g, d);
  }
}

// The planner: a module's layers (by their registered roles) -> steps, rewritten by a list of passes (fusion), cut into native dense segments and ops segments; cached per model structure.
import type { FusedActivation, InferenceRole } from './registry';
import { definitionOf, inferenceRole } from './registry';
import type { Module } from './module';
import { Tensor } from '../tensor';
import type { Linear } from './linear';
import { DenseInference } from './dense-inference';
import { Conv1d, Conv2d } from './conv';
import { foldBatchNorm, type FoldedChain } from './fold-bn';
import { conv1d, conv2d, type Conv1dOptions, type Conv2dOptions } from '../ops/conv';
import { conv2dMaxPool } from '../ops/conv-pool';
import { MaxPool2d } from './pool';
import { beginStepArena, endStepArena, isPooled, stepArenaOpen } from '../buffer-pool';

/**
 * One step of a plan, covering layers [from, to) of the chain. 'linear' runs a Linear (with the activation
 * a pass fused into it, covering the activation's layer too); 'activation', 'identity' and 'softmax' are
 * layers with those roles left as they are; 'module' is a layer without a role: it runs through its forward.
 */
export interface PlanStep {
  kind: 'linear' | 'activation' | 'identity' | 'softmax' | 'module' | 'conv' | 'batchNorm';
  from: number;
  to: number;
  /** For 'linear' and 'conv': the fused activation (null: none). For 'activation': its own. */
  activation: FusedActivation | null;
  /** For 'conv': the BatchNorm folded into it (the layer after the conv), when a pass fused one. */
  batchNorm?: boolean;
}

/**
 * A planner pass: rewrites the steps (each step's [from, to) must stay in order and cover the chain).
 * Passes run in the order of `planPasses`; add one there to teach the planner a new fusion.
 */
export type PlanPass = (steps: PlanStep[]) => PlanStep[];

/** Linear followed directly by a fusable activation -> one 'linear' step running both. */
export const fuseLinearActivation: PlanPass = (steps) => {
  const out: PlanStep[] = [];
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i];
    const next = steps[i + 1];
    if (s.kind === 'linear' && s.activation === null && next?.kind === 'activation') {
      out.push({ kind: 'linear', from: s.from, to: next.to, activation: next.activation });
      i++;
    } else {
      out.push(s);
    }
  }
  return out;
};

/**
 * Conv, then optionally a BatchNorm with running statistics (folded into the conv's weights at inference),
 * then optionally a fusable activation (the kernel's output pass) -> one 'conv' step.
 */
export const fuseConvBatchNormActivation: PlanPass = (steps) => {
  const out: PlanStep[] = [];
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i];
    if (s.kind !== 'conv' || s.activation !== null || s.batchNorm === true) {
      out.push(s);
      continue;
    }
    const fused: PlanStep = { ...s };
    if (steps[i + 1]?.kind === 'batchNorm') {
      fused.batchNorm = true;
      fused.to = steps[++i].to;
    }
    if (steps[i + 1]?.kind === 'activation') {
      fused.activation = steps[i + 1].activation;
      fused.to = steps[++i].to;
    }
    out.push(fused);
  }
  return out;
};

/** The passes every plan goes through, in order. */
export const planPasses: PlanPass[] = [fuseLinearActivation, fuseConvBatchNormActivation];

/** A run of steps the native backend executes as one stack of fused dense layers (optionally ending in a row softmax). */
export interface DenseSegment {
  kind: 'dense';
  from: number;
  to: number;
  /** The 'linear' steps, in order. */
  linears: PlanStep[];
  softmax: boolean;
}

/** A run of layers that runs through their forward (their ops). */
export interface OpsSegment {
  kind: 'ops';
  from: number;
  to: number;
}

export type Segment = DenseSegment | OpsSegment;

/** What the planner made of a chain of layers. */
export interface ChainPlan {
  /** The steps after every pass. */
  steps: PlanStep[];
  /**
   * Per layer: the activation fused into it in every mode (a Linear right before a fusable activation; a
   * Conv right before a ReLU or LeakyReLU), else null. Sequential's training forward runs these fused.
   */
  fused: (FusedActivation | null)[];
  /** The chain cut into native dense segments and ops segments, in order, covering every layer. */
  segments: Segment[];
  /** The Linear layers' indices, in order: the dense steps when the whole chain is one dense plan. */
  dense: number[];
  /** True when a final Softmax ends the plan. */
  softmax: boolean;
  /** Why the chain is not one dense plan (the layer's index and the reason), or null when it is. */
  problem: { at: number; reason: 'unsupported' | 'afterSoftmax' | 'unfusedActivation' | 'noLinear' } | null;
}

function initialSteps(roles: readonly (InferenceRole | null)[]): PlanStep[] {
  return roles.map((r, i): PlanStep => {
    if (r === null) return { kind: 'module', from: i, to: i + 1, activation: null };
    return { kind: r.kind, from: i, to: i + 1, activation: r.kind === 'activation' ? r.activation : null };
  });
}

/** Cuts steps into maximal dense runs (identity | linear)* with a Linear, optionally closed by a softmax; the rest is ops. */
function segmentsOf(steps: PlanStep[]): Segment[] {
  const out: Segment[] = [];
  const pushOps = (s: PlanStep): void => {
    const last = out[out.length - 1];
    if (last?.kind === 'ops' && last.to === s.from) last.to = s.to;
    else out.push({ kind: 'ops', from: s.from, to: s.to });
  };
  let i = 0;
  while (i < steps.length) {
    let j = i;
    const linears: PlanStep[] = [];
    while (j < steps.length && (steps[j].kind === 'identity' || steps[j].kind === 'linear')) {
      if (steps[j].kind === 'linear') linears.push(steps[j]);
      j++;
    }
    if (linears.length === 0) {
      const end = Math.max(j, i + 1);
      for (; i < end; i++) pushOps(steps[i]);
      continue;
    }
    const softmax = steps[j]?.kind === 'softmax';
    if (softmax) j++;
    out.push({ kind: 'dense', from: steps[i].from, to: steps[j - 1].to, linears, softmax });
    i = j;
  }
  return out;
}

/**
 * Plans a chain from its layers' roles (null: the layer runs only through its forward): the passes
 * rewrite the steps (fusion is local: it holds whatever else is in the chain), then the chain is cut
 * into dense and ops segments. `problem` says why the whole chain is not one dense plan.
 */
export function planChain(roles: readonly (InferenceRole | null)[]): ChainPlan {
  let steps = initialSteps(roles);
  for (const pass of planPasses) steps = pass(steps);
  const fused: (FusedActivation | null)[] = roles.map(() => null);
  for (const s of steps) {
    if (s.kind === 'linear' && s.activation !== null) fused[s.from] = s.activation;
    // A conv fuses its activation in training too when no BatchNorm sits between (relu / leakyRelu: their backward reads the output).
    else if (s.kind === 'conv' && s.batchNorm !== true && (s.activation?.act === 'relu' || s.activation?.act === 'leakyRelu')) fused[s.from] = s.activation;
  }
  const dense: number[] = [];
  let softmax = false;
  let problem: ChainPlan['problem'] = null;
  for (const s of steps) {
    if (problem !== null) break;
    if (softmax) problem = { at: s.from, reason: 'afterSoftmax' };
    else if (s.kind === 'linear') dense.push(s.from);
    else if (s.kind === 'softmax') softmax = true;
    else if (s.kind === 'activation') problem = { at: s.from, reason: 'unfusedActivation' };
    else if (s.kind !== 'identity') problem = { at: s.from, reason: 'unsupported' }; // 'module', or a kind a newer pass made
  }
  if (problem === null && dense.length === 0) problem = { at: roles.length, reason: 'noLinear' };
  return { steps, fused, segments: segmentsOf(steps), dense, softmax, problem };
}

/** A segment of a model plan, ready to run: dense segments carry their compiled DenseInference. */
export type RunSegment =
  | { kind: 'dense'; from: number; to: number; inference: DenseInference; firstLinear: number }
  | { kind: 'ops'; from: number; to: number };

/** A module's inference plan: its layers as a flat chain (nested chains flattened) and the segments to run them. */
export interface ModelPlan {
  /** The chain's layers: a chain container's leaves, or [model] for a module the planner sees as one layer. */
  layers: Module[];
  chain: ChainPlan;
  segments: RunSegment[];
  /** Per layer index: the fused conv step starting there (runLayers runs it instead of those layers). */
  convs?: (ConvFusion | undefined)[];
  /** Whether runPlan may take its intermediate activations from the buffer pool (decided at the first run). */
  pooled?: boolean;
}

/**
 * A Conv (+ folded BatchNorm) (+ activation) (+ MaxPool2d) run as one kernel at inference. `fold` holds the
 * folded copy of the conv (weights recomputed by refresh() when a source tensor's version or array changed).
 */
export interface ConvFusion {
  from: number;
  to: number;
  conv: Conv1d | Conv2d;
  bn: Module | null;
  fold: FoldedChain | null;
  activation: FusedActivation | null;
  /** A MaxPool2d right after the conv's step (or right after the conv, with a ReLU after the pool): pooled in the kernel. */
  pool: MaxPool2d | null;
  /** Where the layers after the convolution's own step start: the pool's index (from..poolAt run as the conv step). */
  poolAt: number;
}

/** The exact MaxPool2d at layers[i] (a subclass may change forward), else null. */
function maxPoolAt(layers: Module[], i: number): MaxPool2d | null {
  const l = layers[i];
  return l instanceof MaxPool2d && Object.getPrototypeOf(l) === MaxPool2d.prototype ? l : null;
}

function convFusions(layers: Module[], steps: PlanStep[]): (ConvFusion | undefined)[] | undefined {
  let out: (ConvFusion | undefined)[] | undefined;
  for (let k = 0; k < steps.length; k++) {
    const s = steps[k];
    if (s.kind !== 'conv') continue;
    const conv = layers[s.from];
    if (!(conv instanceof Conv2d || conv instanceof Conv1d)) continue;
    // Conv2d (+ BN) (+ act) then MaxPool2d: the pool in the kernel. ReLU commutes with max pooling (the same
    // bits: max of ReLUs = ReLU of the max, NaN wins both), so Conv2d, MaxPool2d, ReLU fuses as well.
    const pool = conv instanceof Conv2d ? maxPoolAt(layers, s.to) : null;
    let activation = s.activation;
    let to = s.to;
    if (pool !== null) {
      to = s.to + 1;
      const after = steps[k + 1]?.from === s.to ? steps[k + 2] : undefined;
      if (activation === null && after?.kind === 'activation' && after.from === to && after.activation?.act === 'relu') {
        activation = after.activation;
        to = after.to;
      }
    }
    if (activation === null && s.batchNorm !== true && pool === null) continue;
    const bn = s.batchNorm === true ? layers[s.from + 1] : null;
    const fold = bn === null ? null : foldBatchNorm([conv, bn]);
    if (bn !== null && fold === null) continue; // not foldable after all (channel counts): run the layers
    out ??= [];
    out[s.from] = { from: s.from, to, conv, bn, fold, activation, pool, poolAt: s.to };
  }
  return out;
}

/** Runs a fused conv step on h (eval mode, no gradients); a layer in training mode runs unfused. */
function runConvFusion(plan: ModelPlan, f: ConvFusion, h: Tensor): Tensor {
  if (f.conv.training || f.bn?.training || h.ndim !== (f.conv instanceof Conv2d ? 4 : 3) || h.shape[1] !== f.conv.inChannels) {
    return runLayerRange(plan, f.from, f.to, h); // the layers' own forward (which says what is wrong)
  }
  let c = f.conv;
  if (f.fold !== null) {
    f.fold.refresh();
    c = f.fold.layers[0] as Conv1d | Conv2d;
  }
  if (f.pool !== null && c instanceof Conv2d) {
    const y = conv2dMaxPool(h, c.weight, c.bias, c, f.activation, f.pool);
    if (y !== null) return y;
    // Not one kernel after all (gradients wanted, 'same' padding's crop, sizes that do not fit): the conv step, then the layers.
    const activationFirst = f.poolAt + 1 === f.to || f.activation === null;
    const z = fusedConvForward(c, h, activationFirst ? f.activation : null);
    return runLayerRange(plan, f.poolAt, activationFirst ? f.poolAt + 1 : f.to, z);
  }
  return fusedConvForward(c, h, f.activation);
}

/** A Conv1d/Conv2d's forward with its activation in the kernel's output pass (input checked by the layer's forward). */
export function fusedConvForward(c: Conv1d | Conv2d, h: Tensor, activation: FusedActivation | null): Tensor {
  if (h.ndim !== (c instanceof Conv2d ? 4 : 3) || h.shape[1] !== c.inChannels) return c.forward(h) as Tensor; // says what is wrong
  const opts = { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups };
  return c instanceof Conv2d
    ? conv2d(h, c.weight, c.bias, opts as Conv2dOptions, activation)
    : conv1d(h, c.weight, c.bias, opts as Conv1dOptions, activation);
}

/** The layers a chain container (a module whose registration has `chain`) runs in order, nested chains flattened. */
export function chainLayers(m: Module): Module[] | null {
  const def = definitionOf(m);
  if (def?.chain === undefined) return null;
  const out: Module[] = [];
  for (const child of def.chain(m)) out.push(...(chainLayers(child) ?? [child]));
  return out;
}

/** The chain containers a plan was built from: each one's child array and its elements at that time. */
type ChainSnapshot = { array: readonly Module[]; items: Module[] }[];

const snapshots = new WeakMap<ModelPlan, ChainSnapshot>();

/** The child arrays of every chain container in m (m included), with copies of their elements. */
function chainSnapshot(m: Module, out: ChainSnapshot = []): ChainSnapshot {
  const def = definitionOf(m);
  if (def?.chain === undefined) return out;
  const array = def.chain(m);
  out.push({ array, items: array.slice() });
  for (const child of array) chainSnapshot(child, out);
  return out;
}

/**
 * True when the plan was built for model's current structure: the same child arrays holding the same
 * layers (a cheap check, no registry look-ups: predict calls it every time), and forward not patched since.
 */
function isCurrent(model: Module, plan: ModelPlan): boolean {
  const snap = snapshots.get(plan);
  if (snap === undefined) return false;
  if (snap.length === 0) return definitionOf(model)?.chain === undefined;
  if (Object.prototype.hasOwnProperty.call(model, 'forward') || definitionOf(model)?.chain?.(model) !== snap[0].array) return false;
  for (const { array, items } of snap) {
    if (array.length !== items.length) return false;
    for (let i = 0; i < items.length; i++) if (array[i] !== items[i]) return false;
  }
  return true;
}

function compile(layers: Module[]): ModelPlan {
  const chain = planChain(layers.map(inferenceRole));
  const convs = convFusions(layers, chain.steps);
  const segments: RunSegment[] = [];
  for (const s of chain.segments) {
    const inference = s.kind === 'dense'
      ? DenseInference.compile(s.linears.map((st) => ({ layer: layers[st.from] as Linear, activation: st.activation })), s.softmax)
      : null;
    if (s.kind === 'dense' && inference !== null) {
      segments.push({ kind: 'dense', from: s.from, to: s.to, inference, firstLinear: s.linears[0].from });
    } else {
      // Linears whose shapes do not chain run through their forward (which says what is wrong).
      const last = segments[segments.length - 1];
      if (last?.kind === 'ops' && last.to === s.from) last.to = s.to;
      else segments.push({ kind: 'ops', from: s.from, to: s.to });
    }
  }
  return { layers, chain, segments, convs };
}

const plans = new WeakMap<Module, ModelPlan>();

/**
 * The inference plan of `model`, built once per structure: cached while its chain holds the same
 * layers (a changed layer list builds a new one). A module that is not a registered chain is one
 * 'module' step (its forward runs; the chains inside it plan themselves when it calls them).
 */
export function planModel(model: Module): ModelPlan {
  const cached = plans.get(model);
  if (cached !== undefined && isCurrent(model, cached)) return cached;
  const layers = chainLayers(model) ?? [model];
  const plan = layers.length === 1 && layers[0] === model
    ? { layers, chain: planChain([null]), segments: [{ kind: 'ops', from: 0, to: 1 } as RunSegment] }
    : compile(layers);
  snapshots.set(plan, chainSnapshot(model));
  plans.set(model, plan);
  return plan;
}

let inferenceDepth = 0;

/**
 * Runs fn in planned inference (predict, predictAsync): inside it, a chain container's forward called
 * by an outer module (a user Module holding a Sequential MLP) runs its dense segments natively. The
 * caller is responsible for eval mode and noGrad.
 */
export function withPlannedInference<T>(fn: () => T): T {
  inferenceDepth++;
  try {
    return fn();
  } finally {
    inferenceDepth--;
  }
}

/** True inside withPlannedInference. */
export function inPlannedInference(): boolean {
  return inferenceDepth > 0;
}

/**
 * Runs layers [from, to) of the plan through their forward (their ops), a fused conv step (Conv + folded
 * BatchNorm + activation) as one convolution.
 */
export function runLayers(plan: ModelPlan, from: number, to: number, h: Tensor): Tensor {
  const convs = plan.convs;
  for (let i = from; i < to; i++) {
    const f = convs?.[i];
    if (f !== undefined && f.to <= to) {
      h = runConvFusion(plan, f, h);
      i = f.to - 1;
      continue;
    }
    h = runLayerRange(plan, i, i + 1, h);
  }
  return h;
}

/** Layers [from, to) through their own forward. */
function runLayerRange(plan: ModelPlan, from: number, to: number, h: Tensor): Tensor {
  for (let i = from; i < to; i++) {
    const y = plan.layers[i].forward(h);
    if (!(y instanceof Tensor)) throw new Error(`${plan.layers[i].describe()}.forward returned ${Array.isArray(y) ? 'an array' : 'a record'}; a layer inside a chain must return one Tensor`);
    h = y;
  }
  return h;
}

/**
 * Runs a chain's plan on one batch h (eval mode, no gradients: the caller's job): dense segments through
 * their DenseInference (native kernels, no tape) when the activations are [rows, features], every other
 * layer through its forward. Identity layers (Dropout, Flatten(1)) vanish on 2-d activations; on other
 * shapes they run first (a Flatten makes the rows) so the dense part still runs natively.
 */
export function runPlan(plan: ModelPlan, h: Tensor): Tensor {
  // A chain of exact built-in layers (which keep no tensors) runs in a step arena: its intermediate
  // activations come from the buffer pool and go back to it at the end, so a predict of a CNN does not
  // allocate (and page in) fresh arrays per layer. The result leaves the arena as its own array.
  // ('view' layers return their input's own array object, which the isPooled check below sees.)
  if (plan.pooled === undefined) plan.pooled = plan.layers.every((l) => definitionOf(l)?.keepsNoTensors !== undefined && definitionOf(l)?.keepsNoTensors !== false);
  if (!plan.pooled || stepArenaOpen()) return runSegments(plan, h);
  beginStepArena();
  try {
    const y = runSegments(plan, h);
    return isPooled(y.data) ? new Tensor(y.data.slice(), y.shape) : y;
  } finally {
    endStepArena();
  }
}

function runSegments(plan: ModelPlan, h: Tensor): Tensor {
  for (const seg of plan.segments) {
    if (seg.kind === 'ops') {
      h = runLayers(plan, seg.from, seg.to, h);
      continue;
    }
    const K = seg.inference.inFeatures;
    if (!(h.ndim === 2 && h.shape[1] === K)) h = runLayers(plan, seg.from, seg.firstLinear, h);
    if (h.ndim === 2 && h.shape[1] === K) h = seg.inference.run(h.data, h.shape[0], h.shape[0]);
    else h = runLayers(plan, seg.firstLinear, seg.to, h); // Linear's forward says what is wrong, or runs an n-d input
  }
  return h;
}

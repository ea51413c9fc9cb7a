// Whole-model dense plans for predictAsync, the batcher and the CLI: a model's config, by its layers' registered roles (the planner, nn/plan.ts), as PlanLayers over its weights.
import type { PlanLayer } from '../backend/contract';
import { sizeOf, type Tensor } from '../tensor';
import { definitionOfType, type InferenceRole } from '../nn/registry';
import { planChain, type ChainPlan } from '../nn/plan';

/** What plan building needs from a model: its architecture and its named parameters (nn.Module has both). */
export interface PlannableModel {
  toConfig(): unknown;
  namedParameters(): [string, Tensor][];
}

/** The parameters behind one plan layer (their write versions tell when a weight copy is stale). */
export interface PlanSource {
  weight: Tensor;
  bias: Tensor | null;
}

/** A dense-layer plan plus whether a row softmax ends it. */
export interface InferencePlan {
  layers: PlanLayer[];
  /** The weight and bias tensors of each layer, in the same order. */
  sources: PlanSource[];
  softmax: boolean;
  /** Input features per row (layers[0].K). */
  inFeatures: number;
  /** Outputs per row (last layer's N). */
  outFeatures: number;
  /** True when a Flatten comes before the first Linear: an input [rows, ...] is read as rows of inFeatures values. */
  flattens: boolean;
}

interface Cfg {
  type: string;
  [key: string]: unknown;
}

interface Step {
  cfg: Cfg;
  prefix: string;
  where: string;
}

/**
 * The model's structure is not one dense plan (a layer without an inference role, an activation not right
 * after a Linear, anything after a final Softmax). predictAsync runs an nn.Module's plan in segments
 * instead (nn/plan.ts), and any other model through its own predict.
 */
export class UnplannableModelError extends Error {}

/** A parameter whose data was detached (its ArrayBuffer transferred) has no values left to run: throws an Error naming it. */
export function checkAttached(name: string, t: Tensor): void {
  if (t.data.length !== sizeOf(t.shape)) {
    throw new Error(
      `predictAsync: parameter '${name}' has ${t.data.length} values but its shape [${t.shape.join(',')}] needs ${sizeOf(t.shape)}: ` +
        'its ArrayBuffer was detached (transferred with postMessage or structuredClone); give it a new array (t.data = copy)',
    );
  }
}

/** Flattens containers (nested Sequentials) into a list of leaf layers with their parameter name prefixes. */
function leaves(cfg: Cfg, prefix: string, where: string, out: Step[]): void {
  const def = definitionOfType(cfg.type);
  if (def?.children) {
    let children: Cfg[];
    try {
      children = def.children(cfg) as Cfg[];
    } catch {
      throw new Error(`predictAsync: ${where} ${cfg.type} config has no layers list`);
    }
    if (!Array.isArray(children)) throw new Error(`predictAsync: ${where} ${cfg.type} config has no layers list`);
    children.forEach((l, i) => leaves(l, `${prefix}${i}.`, `${where}[${i}]`, out));
    return;
  }
  out.push({ cfg, prefix, where });
}

function roleOf(cfg: Cfg): InferenceRole | null {
  const def = definitionOfType(cfg.type);
  return def?.inference ? def.inference(cfg) : null;
}

/** The planner's reason a chain has no dense plan, in the layer's terms. */
function unplannableMessage(steps: Step[], problem: NonNullable<ChainPlan['problem']>): string {
  if (problem.reason === 'noLinear') return 'predictAsync: the model has no Linear layer to run';
  const { cfg, where } = steps[problem.at];
  const label = `${cfg.type} at ${where}`;
  if (problem.reason === 'afterSoftmax') return `predictAsync: ${label} follows a Softmax; only a final Softmax can be planned`;
  if (problem.reason === 'unfusedActivation') return `predictAsync: ${label} does not directly follow a Linear layer, so it cannot be fused`;
  if (cfg.type === 'Flatten' && cfg.startDim !== 1) {
    return `predictAsync: unsupported layer ${label} with startDim ${String(cfg.startDim)} (only startDim 1 can be planned)`;
  }
  return `predictAsync: unsupported layer ${label} (plannable: Linear, ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Dropout, Flatten, final Softmax)`;
}

/**
 * Builds the dense-layer plan of a model (the planner, nn/plan.ts, over the layers' registered roles). Linear layers become PlanLayers, an activation right after
 * a Linear is fused into it, Dropout and Flatten vanish (inference), and a final Softmax sets the
 * softmax flag. Anything else throws an Error naming the layer and its position.
 * The plan references the model's weight arrays (no copy); see snapshot.ts for the copy
 * predictAsync runs on.
 * @param model the model (its toConfig() and namedParameters() are read).
 * @returns layers (N, K, weights, bias, fused activation), their source Tensors, softmax, inFeatures, outFeatures
 * and flattens.
 * @throws Error when toConfig() returns no layer config; UnplannableModelError for a layer the plan cannot run;
 * Error when a Linear lacks a 2-d weight, takes another width than the previous Linear gives, has a bias of the
 * wrong size, or a weight's ArrayBuffer was detached.
 * @example serve.buildPlan(new nn.Sequential(new nn.Linear(4, 3), new nn.ReLU())).layers[0].act // 'relu'
 */
export function buildPlan(model: PlannableModel): InferencePlan {
  const root = model.toConfig() as Cfg;
  if (root === null || typeof root !== 'object' || typeof root.type !== 'string') {
    throw new Error('predictAsync: model.toConfig() did not return a layer config');
  }
  const steps: Step[] = [];
  leaves(root, '', 'model', steps);
  const params = new Map(model.namedParameters());
  const plan = planChain(steps.map((st) => roleOf(st.cfg)));
  if (plan.problem !== null) throw new UnplannableModelError(unplannableMessage(steps, plan.problem));
  const layers: PlanLayer[] = [];
  const sources: PlanSource[] = [];
  for (const i of plan.dense) {
    const { cfg, prefix, where } = steps[i];
    const label = `${cfg.type} at ${where}`;
    const W = params.get(`${prefix}weight`);
    const b = params.get(`${prefix}bias`) ?? null;
    if (W === undefined || W.shape.length !== 2) throw new Error(`predictAsync: ${label} has no 2-d '${prefix}weight' parameter`);
    const [N, K] = W.shape;
    const prev = layers[layers.length - 1];
    if (prev !== undefined && prev.N !== K) {
      throw new Error(`predictAsync: ${label} takes ${K} inputs but the previous Linear gives ${prev.N}`);
    }
    checkAttached(`${prefix}weight`, W);
    if (b !== null) checkAttached(`${prefix}bias`, b);
    if (b !== null && b.size !== N) throw new Error(`predictAsync: ${label} bias has ${b.size} values, expected ${N}`);
    const fused = plan.fused[i];
    layers.push({ N, K, W: W.data, bias: b === null ? null : b.data, act: fused?.act ?? 'none', alpha: fused?.alpha ?? 0 });
    sources.push({ weight: W, bias: b });
  }
  const softmax = plan.softmax;
  // A Flatten before the first Linear: inputs may arrive with more than two dimensions.
  const flattens = steps.slice(0, plan.dense[0]).some((st) => st.cfg.type === 'Flatten');
  return { layers, sources, softmax, inFeatures: layers[0].K, outFeatures: layers[layers.length - 1].N, flattens };
}

// Inference plans: turns a Sequential of Linear/activation/Dropout/Flatten/Softmax into dense PlanLayers.
import type { Activation, PlanLayer } from '../backend/contract';
import { sizeOf, type Tensor } from '../tensor';

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

/** A parameter whose data was detached (its ArrayBuffer transferred) has no values left to run. */
function checkAttached(name: string, t: Tensor): void {
  if (t.data.length !== sizeOf(t.shape)) {
    throw new Error(
      `predictAsync: parameter '${name}' has ${t.data.length} values but its shape [${t.shape.join(',')}] needs ${sizeOf(t.shape)}: ` +
        'its ArrayBuffer was detached (transferred with postMessage or structuredClone); give it a new array (t.data = copy)',
    );
  }
}

/** Flattens nested Sequentials into a list of leaf layers with their parameter name prefixes. */
function leaves(cfg: Cfg, prefix: string, where: string, out: Step[]): void {
  if (cfg.type === 'Sequential') {
    const layers = cfg.layers;
    if (!Array.isArray(layers)) throw new Error(`predictAsync: ${where} Sequential config has no layers list`);
    layers.forEach((l, i) => leaves(l as Cfg, `${prefix}${i}.`, `${where}[${i}]`, out));
    return;
  }
  out.push({ cfg, prefix, where });
}

function activationOf(cfg: Cfg): { act: Activation; alpha: number } | null {
  switch (cfg.type) {
    case 'ReLU': return { act: 'relu', alpha: 0 };
    case 'LeakyReLU': return { act: 'leakyRelu', alpha: typeof cfg.negativeSlope === 'number' ? cfg.negativeSlope : 0.01 };
    case 'Sigmoid': return { act: 'sigmoid', alpha: 0 };
    case 'Tanh': return { act: 'tanh', alpha: 0 };
    case 'GELU': return { act: cfg.approximate === 'tanh' ? 'geluTanh' : 'gelu', alpha: 0 };
    default: return null;
  }
}

/**
 * Builds the dense-layer plan of a model. Linear layers become PlanLayers, an activation right after
 * a Linear is fused into it, Dropout and Flatten vanish (inference), and a final Softmax sets the
 * softmax flag. Anything else throws an Error naming the layer and its position.
 * The plan references the model's weight arrays (no copy); see snapshot.ts for the copy
 * predictAsync runs on.
 */
export function buildPlan(model: PlannableModel): InferencePlan {
  const root = model.toConfig() as Cfg;
  if (root === null || typeof root !== 'object' || typeof root.type !== 'string') {
    throw new Error('predictAsync: model.toConfig() did not return a layer config');
  }
  const steps: Step[] = [];
  leaves(root, '', 'model', steps);
  const params = new Map(model.namedParameters());
  const layers: PlanLayer[] = [];
  const sources: PlanSource[] = [];
  let softmax = false;
  let lastWasLinear = false;
  for (let i = 0; i < steps.length; i++) {
    const { cfg, prefix, where } = steps[i];
    const label = `${cfg.type} at ${where}`;
    if (softmax) throw new Error(`predictAsync: ${label} follows a Softmax; only a final Softmax can be planned`);
    if (cfg.type === 'Linear') {
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
      layers.push({ N, K, W: W.data, bias: b === null ? null : b.data, act: 'none', alpha: 0 });
      sources.push({ weight: W, bias: b });
      lastWasLinear = true;
      continue;
    }
    if (cfg.type === 'Flatten' && cfg.startDim !== undefined && cfg.startDim !== 1) {
      throw new Error(`predictAsync: unsupported layer ${label} with startDim ${String(cfg.startDim)} (only startDim 1 can be planned)`);
    }
    if (cfg.type === 'Dropout' || cfg.type === 'Flatten') continue;
    if (cfg.type === 'Softmax') {
      softmax = true;
      continue;
    }
    const a = activationOf(cfg);
    if (a === null) {
      throw new Error(`predictAsync: unsupported layer ${label} (plannable: Linear, ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Dropout, Flatten, final Softmax)`);
    }
    if (!lastWasLinear) throw new Error(`predictAsync: ${label} does not directly follow a Linear layer, so it cannot be fused`);
    const prev = layers[layers.length - 1];
    prev.act = a.act;
    prev.alpha = a.alpha;
    lastWasLinear = false;
  }
  if (layers.length === 0) throw new Error('predictAsync: the model has no Linear layer to run');
  return { layers, sources, softmax, inFeatures: layers[0].K, outFeatures: layers[layers.length - 1].N };
}

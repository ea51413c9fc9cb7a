// Inference pass: folds an eval-mode BatchNorm into the Linear (or any layer with a per-output-channel weight and a bias key) before it.
import type { Tensor } from '../tensor';
import { Module } from './module';
import { definitionOf, definitionOfType } from './registry';
import { BatchNorm1d, BatchNorm2d, batchNormAffine } from './batch-norm';
import type { LayerConfig } from './config';

/**
 * In place: weight rows (one per output channel, `weight.length / scale.length` values each) times
 * scale[o], and bias[o] = bias[o] * scale[o] + shift[o] (bias null: shift). What y = BN(layer(x)) is
 * in eval mode, with BN's y = x * scale + shift.
 */
export function foldScaleShift(weight: Float32Array, bias: Float32Array | null, scale: Float32Array, shift: Float32Array, outWeight: Float32Array, outBias: Float32Array): void {
  const C = scale.length;
  const per = weight.length / C;
  if (!Number.isInteger(per) || outBias.length !== C || outWeight.length !== weight.length || shift.length !== C || (bias !== null && bias.length !== C)) {
    throw new Error(`foldScaleShift: a weight of ${weight.length} values does not split into ${C} output channels matching bias, scale and shift`);
  }
  for (let o = 0; o < C; o++) {
    const s = scale[o];
    for (let j = o * per; j < (o + 1) * per; j++) outWeight[j] = weight[j] * s;
    outBias[o] = (bias === null ? 0 : bias[o]) * s + shift[o];
  }
}

interface Fold {
  source: Module;
  bn: BatchNorm1d | BatchNorm2d;
  folded: Module;
  /** The _version and array of every tensor the folded weights were computed from. */
  versions: number[];
  arrays: Float32Array[];
}

/**
 * A chain with each foldable (layer, BatchNorm) pair replaced by one layer; refresh() recomputes the folded
 * weights when a source tensor changed (its _version, bumped by optimizers, training-mode BatchNorm and
 * loadStateDict, or its array), as predictAsync's weight snapshot does.
 */
export interface FoldedChain {
  layers: Module[];
  refresh(): void;
}

function sourceTensors(f: Fold): Tensor[] {
  return [...Object.values(f.source.stateDict()), ...Object.values(f.bn.stateDict())];
}

function computeFold(f: Fold): void {
  const src = f.source.stateDict();
  const bn = f.bn;
  const p: Record<string, Float32Array | undefined> = {};
  for (const [k, t] of Object.entries(bn.stateDict())) p[k] = t.data;
  const { scale, shift } = batchNormAffine(bn.toConfig(), p);
  const dst = f.folded.stateDict();
  foldScaleShift(src.weight.data, src.bias ? src.bias.data : null, scale, shift, dst.weight.data, dst.bias.data);
  dst.weight._version++;
  dst.bias._version++;
  const ts = sourceTensors(f);
  f.versions = ts.map((t) => t._version);
  f.arrays = ts.map((t) => t.data);
}

/**
 * The layer a BatchNorm at `i` can fold into: the exact registered layer before it, with a 2-D+ weight whose
 * first dim is the BatchNorm's channels and a `bias` config key (Linear; Conv layers alike); and running stats.
 */
function foldable(layers: readonly Module[], i: number): boolean {
  const bn = layers[i];
  if (!(bn instanceof BatchNorm1d || bn instanceof BatchNorm2d) || definitionOf(bn) === undefined || bn.runningMean === null || i === 0) return false;
  const prev = layers[i - 1];
  const def = definitionOf(prev);
  const w = prev.stateDict().weight as Tensor | undefined;
  const cfg = prev.toConfig() as LayerConfig & { bias?: unknown };
  return def !== undefined && def.keys.bias !== undefined && typeof cfg.bias === 'boolean' && w !== undefined && w.ndim >= 2 && w.shape[0] === bn.numFeatures;
}

/**
 * Folds every eval-mode-foldable BatchNorm of a chain into the layer before it (the planner's Conv/Linear +
 * BatchNorm pass; the result computes what the chain computes in eval mode). Returns null when there is none.
 */
export function foldBatchNorm(layers: readonly Module[]): FoldedChain | null {
  const folds: Fold[] = [];
  const out: Module[] = [];
  for (let i = 0; i < layers.length; i++) {
    if (i + 1 < layers.length && foldable(layers, i + 1)) {
      const source = layers[i];
      const cfg = { ...source.toConfig(), bias: true };
      const def = definitionOfType(cfg.type);
      if (def === undefined) throw new Error(`foldBatchNorm: layer type '${cfg.type}' is not registered`);
      const folded = def.fromConfig(cfg, () => {
        throw new Error('foldBatchNorm: containers are not folded');
      });
      const fold: Fold = { source, bn: layers[i + 1] as BatchNorm1d, folded, versions: [], arrays: [] };
      computeFold(fold);
      folds.push(fold);
      out.push(folded);
      i++;
    } else {
      out.push(layers[i]);
    }
  }
  if (folds.length === 0) return null;
  return {
    layers: out,
    refresh() {
      for (const f of folds) {
        const ts = sourceTensors(f);
        if (ts.some((t, k) => t._version !== f.versions[k] || t.data !== f.arrays[k])) computeFold(f);
      }
    },
  };
}

// Export pass: each BatchNormalization that alone reads a Conv's output is folded into that Conv's weight and bias
// (what an eval-mode model computes, one node fewer per pair), as torch.onnx.export does in eval mode.
import { onnx, DataType } from './schema';
import { floatsToLittleEndianBytes, type GraphBuilder } from './encode';
import { foldScaleShift } from '../../nn/fold-bn';

/** The float32 values of an initializer written by GraphBuilder (little-endian raw data). */
function floatsOf(t: onnx.ITensorProto): Float32Array {
  const raw = t.rawData as Uint8Array;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Float32Array(raw.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/**
 * Folds every Conv -> BatchNormalization pair of `g` whose Conv output is read by the BatchNormalization alone (and
 * is not a graph output) and whose parameters are all float initializers: W'[o] = W[o] * s[o], B'[o] = B[o] * s[o] +
 * shift[o] with s = scale / sqrt(var + eps), shift = bias - mean * s. The Conv takes the BatchNormalization's output
 * name; initializers nothing reads any more are dropped. Returns the number of pairs folded.
 */
export function foldConvBatchNorm(g: GraphBuilder, graphOutputs: ReadonlySet<string>): number {
  const inits = new Map<string, onnx.ITensorProto>();
  for (const t of g.initializers) inits.set(t.name as string, t);
  const readers = (value: string): onnx.INodeProto[] => g.nodes.filter((n) => (n.input ?? []).includes(value));
  const float = (name: string | undefined): Float32Array | null => {
    const t = name ? inits.get(name) : undefined;
    return t !== undefined && t.dataType === DataType.FLOAT && t.rawData ? floatsOf(t) : null;
  };
  let folded = 0;
  for (const bn of g.nodes.slice()) {
    if (bn.opType !== 'BatchNormalization' || (bn.output ?? []).length !== 1) continue;
    const x = (bn.input ?? [])[0];
    const conv = g.nodes.find((n) => n.opType === 'Conv' && (n.output ?? [])[0] === x);
    if (conv === undefined || graphOutputs.has(x) || readers(x).length !== 1) continue;
    const [gamma, beta, mean, variance] = [1, 2, 3, 4].map((k) => float((bn.input ?? [])[k]));
    const wName = (conv.input ?? [])[1];
    const w = float(wName);
    const bName = (conv.input ?? [])[2] || undefined;
    const b = bName === undefined ? null : float(bName);
    if (w === null || gamma === null || beta === null || mean === null || variance === null || (bName !== undefined && b === null)) continue;
    const C = gamma.length;
    const wDims = (inits.get(wName) as onnx.ITensorProto).dims as number[];
    if (Number(wDims[0]) !== C || [beta, mean, variance].some((v) => v.length !== C) || (b !== null && b.length !== C)) continue;
    const eps = (bn.attribute ?? []).find((a) => a.name === 'epsilon')?.f ?? 1e-5;
    const scale = new Float32Array(C);
    const shift = new Float32Array(C);
    for (let c = 0; c < C; c++) {
      scale[c] = gamma[c] / Math.sqrt(Math.fround(variance[c] + eps));
      shift[c] = beta[c] - mean[c] * scale[c];
    }
    const w2 = new Float32Array(w.length);
    const b2 = new Float32Array(C);
    foldScaleShift(w, b, scale, shift, w2, b2);
    // The Conv's own initializers are rewritten; one another node reads too (a shared weight) is left, and a new one made.
    const prefix = wName.endsWith('weight') ? wName.slice(0, -'weight'.length) : `${wName}_`;
    const put = (name: string | undefined, base: string, dims: number[], values: Float32Array): string => {
      if (name !== undefined && readers(name).length === 1) {
        (inits.get(name) as onnx.ITensorProto).rawData = floatsToLittleEndianBytes(values);
        return name;
      }
      return g.initializer(base, dims, values);
    };
    const newW = put(wName, `${prefix}weight`, wDims.map(Number), w2);
    const newB = put(bName, `${prefix}bias`, [C], b2);
    conv.input = [(conv.input ?? [])[0], newW, newB];
    conv.output = [(bn.output as string[])[0]];
    g.nodes.splice(g.nodes.indexOf(bn), 1);
    folded++;
  }
  if (folded > 0) {
    const used = new Set<string>(g.nodes.flatMap((n) => n.input ?? []));
    for (let i = g.initializers.length - 1; i >= 0; i--) if (!used.has(g.initializers[i].name as string)) g.initializers.splice(i, 1);
  }
  return folded;
}

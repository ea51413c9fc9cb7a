// ONNX export of nn.LSTM / nn.GRU: one ONNX LSTM or GRU node per layer (both directions in one node), gate blocks
// reordered from PyTorch's (LSTM i,f,g,o -> i,o,f,c; GRU r,z,n -> z,r,h with linear_before_reset = 1), Transposes for
// batchFirst and a Reshape of Y [T, D, B, H] into [T, B, D*H]; returnSequences false picks each direction's last step.
import type { LayerDefinition, OnnxExportContext } from './registry';
import type { RecurrentConfig } from './recurrent';
import { directionSuffix } from './recurrent';

/** ONNX's gate block order as indices into PyTorch's. */
const ONNX_GATES = { LSTM: [0, 3, 1, 2], GRU: [1, 0, 2] } as const;

/** Concatenates the blocks of `src` ([gates * rows * cols]) in `order` into dst at offset. */
function reorder(dst: Float32Array, at: number, src: Float32Array, order: readonly number[]): void {
  const block = src.length / order.length;
  order.forEach((g, k) => dst.set(src.subarray(g * block, (g + 1) * block), at + k * block));
}

function exportRecurrent(kind: 'LSTM' | 'GRU', ctx: OnnxExportContext, c: RecurrentConfig): void {
  const order = ONNX_GATES[kind];
  const gates = order.length;
  const H = c.hiddenSize;
  const D = c.bidirectional ? 2 : 1;
  const G = gates * H;
  if (ctx.shape.length !== 2 || ctx.shape[1] !== c.inputSize) {
    throw new Error(`onnx.exportModel: ${ctx.where} ${kind}(${c.inputSize}, ${H}) needs a per-sample input [time, ${c.inputSize}], got [${ctx.shape.join(',')}]`);
  }
  let x = ctx.current;
  if (c.batchFirst) x = ctx.node('Transpose', [x], [{ name: 'perm', ints: [1, 0, 2] }]);
  let y = x;
  for (let l = 0; l < c.numLayers; l++) {
    const inSize = l === 0 ? c.inputSize : D * H;
    const W = new Float32Array(D * G * inSize);
    const R = new Float32Array(D * G * H);
    const Bv = new Float32Array(D * 2 * G);
    for (let d = 0; d < D; d++) {
      const s = `_l${l}${directionSuffix(d)}`;
      reorder(W, d * G * inSize, ctx.param(`weight_ih${s}`), order);
      reorder(R, d * G * H, ctx.param(`weight_hh${s}`), order);
      if (c.bias) {
        reorder(Bv, d * 2 * G, ctx.param(`bias_ih${s}`), order);
        reorder(Bv, d * 2 * G + G, ctx.param(`bias_hh${s}`), order);
      }
    }
    const attrs = [
      { name: 'hidden_size', int: H }, { name: 'direction', string: D === 2 ? 'bidirectional' : 'forward' },
      ...(kind === 'GRU' ? [{ name: 'linear_before_reset', int: 1 }] : []),
    ];
    const p = `${ctx.prefix}l${l}_`;
    y = ctx.node(kind, [y, ctx.initializer(`${p}W`, [D, G, inSize], W), ctx.initializer(`${p}R`, [D, G, H], R), ctx.initializer(`${p}B`, [D, 2 * G], Bv)], attrs);
    if (l < c.numLayers - 1 || c.returnSequences) {
      // Y [T, D, B, H] -> [T, B, D*H] ([B, T, D*H] for the batch-first output of the last layer)
      const last = l === c.numLayers - 1;
      const perm = last && c.batchFirst ? [2, 0, 1, 3] : [0, 2, 1, 3];
      y = ctx.node('Reshape', [ctx.node('Transpose', [y], [{ name: 'perm', ints: perm }]), ctx.ints(`${ctx.prefix}seq_shape`, [0, 0, -1])]);
    }
  }
  if (c.returnSequences) {
    ctx.current = y;
    ctx.shape = [ctx.shape[0], D * H];
    return;
  }
  // The last layer's final hidden state from Y [T, D, B, H]: the forward direction's last step, the reverse one's first.
  const pick = (t: number, d: number): string =>
    ctx.node('Gather', [ctx.node('Gather', [y, ctx.ints(`${ctx.prefix}step`, [t])], [{ name: 'axis', int: 0 }]), ctx.ints(`${ctx.prefix}direction`, [d])], [{ name: 'axis', int: 1 }]);
  const parts = D === 1 ? [pick(-1, 0)] : [pick(-1, 0), pick(0, 1)];
  const joined = parts.length === 1 ? parts[0] : ctx.node('Concat', parts, [{ name: 'axis', int: 3 }]);
  ctx.current = ctx.node('Reshape', [joined, ctx.ints(`${ctx.prefix}last_shape`, [-1, D * H])]);
  ctx.shape = [D * H];
}

export function recurrentOnnx(kind: 'LSTM' | 'GRU'): Partial<LayerDefinition<RecurrentConfig>> {
  return { onnx: (ctx, c) => exportRecurrent(kind, ctx, c) };
}

/** What an ONNX LSTM/GRU node says, as the importer reads it (attributes and constant W, R, B). */
export interface OnnxRecurrentNode {
  kind: 'LSTM' | 'GRU';
  /** The node's label for errors ("LSTM node 'name'"). */
  label: string;
  /** Every attribute the node carries, by name (strings decoded, lists as arrays). */
  attrs: Record<string, number | string | number[] | string[]>;
  W: { dims: number[]; data: ArrayLike<number> };
  R: { dims: number[]; data: ArrayLike<number> };
  B: { dims: number[]; data: ArrayLike<number> } | null;
}

/** The default activations per direction: LSTM f, g, h; GRU f, g. */
const DEFAULT_ACTIVATIONS = { LSTM: ['Sigmoid', 'Tanh', 'Tanh'], GRU: ['Sigmoid', 'Tanh'] } as const;

/**
 * An ONNX LSTM/GRU node (one layer, forward, reverse or bidirectional) -> the config and PyTorch-named parameters of a
 * one-layer nn.LSTM/nn.GRU (sequence-first, output [T, B, D*H]; batchFirst for layout 1), gate blocks reordered back
 * from ONNX's (LSTM i,o,f,c -> i,f,g,o; GRU z,r,h -> r,z,n). `reverse`: direction 'reverse', whose one direction the
 * caller runs on the sequence reversed in time (its weights are the forward layer's). Throws naming the attribute for
 * what PyTorch's layers cannot compute: other activations, activation_alpha/beta, clip, input_forget, a layout other
 * than 0 or 1, another direction, GRU linear_before_reset 0.
 */
export function recurrentFromOnnx(n: OnnxRecurrentNode): { config: RecurrentConfig; params: Record<string, Float32Array>; reverse: boolean } {
  const { kind, label, attrs } = n;
  const gates = ONNX_GATES[kind].length;
  const direction = attrs.direction ?? 'forward';
  if (direction !== 'forward' && direction !== 'bidirectional' && direction !== 'reverse') {
    throw new Error(`${label}: direction='${String(direction)}' is not supported (forward, reverse or bidirectional)`);
  }
  const D = direction === 'bidirectional' ? 2 : 1;
  const acts = attrs.activations as string[] | undefined;
  const defaults = Array.from({ length: D }, () => DEFAULT_ACTIVATIONS[kind]).flat();
  if (acts !== undefined && (acts.length !== defaults.length || acts.some((a, i) => a.toLowerCase() !== defaults[i].toLowerCase()))) {
    throw new Error(`${label}: activations [${acts.join(', ')}] are not supported (only the defaults [${defaults.join(', ')}], as PyTorch's ${kind})`);
  }
  for (const a of ['activation_alpha', 'activation_beta', 'clip']) {
    if (attrs[a] !== undefined) throw new Error(`${label}: attribute ${a} is not supported (PyTorch's ${kind} has no ${a === 'clip' ? 'cell clipping' : 'activation parameters'})`);
  }
  if ((attrs.input_forget ?? 0) !== 0) throw new Error(`${label}: input_forget=${String(attrs.input_forget)} is not supported (only 0)`);
  const layout = attrs.layout ?? 0;
  if (layout !== 0 && layout !== 1) throw new Error(`${label}: layout=${String(layout)} is not supported (0: [time, batch, features] or 1: [batch, time, features])`);
  if (kind === 'GRU' && (attrs.linear_before_reset ?? 0) !== 1) {
    throw new Error(`${label}: linear_before_reset=${String(attrs.linear_before_reset ?? 0)} is not supported (only 1, PyTorch's GRU)`);
  }
  const H = attrs.hidden_size;
  const [dW, gW, I] = n.W.dims;
  if (typeof H !== 'number' || !(H > 0)) throw new Error(`${label}: hidden_size must be given (a positive integer), got ${String(H)}`);
  const G = gates * H;
  if (n.W.dims.length !== 3 || dW !== D || gW !== G) throw new Error(`${label}: W has shape [${n.W.dims.join(',')}], expected [${D}, ${G}, input size]`);
  if (n.R.dims.length !== 3 || n.R.dims.some((d, i) => d !== [D, G, H][i])) throw new Error(`${label}: R has shape [${n.R.dims.join(',')}], expected [${D}, ${G}, ${H}]`);
  if (n.B !== null && (n.B.dims.length !== 2 || n.B.dims[0] !== D || n.B.dims[1] !== 2 * G)) throw new Error(`${label}: B has shape [${n.B.dims.join(',')}], expected [${D}, ${2 * G}]`);
  // ONNX block k holds PyTorch block order[k]: PyTorch block g is ONNX block order.indexOf(g).
  const order = ONNX_GATES[kind];
  const back = Array.from({ length: gates }, (_, g) => order.indexOf(g as never));
  const params: Record<string, Float32Array> = {};
  const take = (src: ArrayLike<number>, at: number, rows: number, cols: number): Float32Array => {
    const part = Float32Array.from({ length: rows * cols }, (_, i) => src[at + i]);
    const out = new Float32Array(rows * cols);
    reorder(out, 0, part, back);
    return out;
  };
  // An all-zero B is what a layer without biases exports (exportModel writes zeros; a missing B means zeros too).
  const bias = n.B !== null && Array.from(n.B.data).some((v) => v !== 0);
  for (let d = 0; d < D; d++) {
    const s = `_l0${directionSuffix(d)}`;
    params[`weight_ih${s}`] = take(n.W.data, d * G * I, G, I);
    params[`weight_hh${s}`] = take(n.R.data, d * G * H, G, H);
    if (bias && n.B !== null) {
      params[`bias_ih${s}`] = take(n.B.data, d * 2 * G, G, 1);
      params[`bias_hh${s}`] = take(n.B.data, d * 2 * G + G, G, 1);
    }
  }
  const config: RecurrentConfig = {
    type: kind, inputSize: I, hiddenSize: H, numLayers: 1, bias, batchFirst: layout === 1, dropout: 0, bidirectional: D === 2, returnSequences: true,
  };
  return { config, params, reverse: direction === 'reverse' };
}

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

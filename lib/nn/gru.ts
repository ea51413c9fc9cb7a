// nn.GRU: a stack of gated recurrent unit layers (torch.nn.GRU: gates r, z, n; names weight_ih_l0 ...), fused gate kernels.
import type { Tensor } from '../tensor';
import { gruLayer, type RecurrentWeights } from '../ops/recurrent';
import { narrow } from '../ops/view';
import { RecurrentBase, recurrentKeys, recurrentOptions, recurrentParameters, type DirectionRun, type RecurrentConfig, type RecurrentOptions } from './recurrent';
import { register } from './registry';
import { recurrentOnnx } from './recurrent-onnx';

/**
 * Gated recurrent unit (torch.nn.GRU): r, z = sigmoid(.), n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn)),
 * h = (1 - z) n + z h. forward(x, h0?) gives the output sequence; forwardWithState also gives h.
 */
export class GRU extends RecurrentBase {
  /**
   * Creates the layer (weights uniform in +-1/sqrt(hiddenSize), as PyTorch).
   * @param inputSize features per time step, a positive integer.
   * @param hiddenSize the hidden state size, a positive integer.
   * @param opts numLayers (default 1, at most 1024), bias (default true), batchFirst (default false), dropout (in [0, 1), default 0), bidirectional (default false), returnSequences (default true), seed.
   * @throws Error when a size is not a positive integer or an option is unknown or out of range.
   * @example
   * ```ts
   * const gru = new nn.GRU(8, 32, { returnSequences: false, batchFirst: true }); // [batch, time, 8] -> [batch, 32]
   * ```
   */
  constructor(inputSize: number, hiddenSize: number, opts: RecurrentOptions = {}) {
    super('GRU', 3, inputSize, hiddenSize, opts);
  }

  protected override initialStates(hx: unknown, batch: number): [Tensor | null, Tensor | null] {
    if (hx === undefined || hx === null) return [null, null];
    return [this.checkState('h0', hx, batch), null];
  }

  protected override runDirection(x: Tensor, w: RecurrentWeights, reverse: boolean, h0: Tensor | null): DirectionRun {
    const T = x.shape[0];
    const y = gruLayer(x, h0, w, reverse);
    return { seq: y, h: narrow(y, 0, reverse ? 0 : T - 1, 1) };
  }
}

register<RecurrentConfig>(GRU, {
  keys: recurrentKeys,
  fromConfig: (c) => new GRU(c.inputSize, c.hiddenSize, recurrentOptions(c)),
  parameters: (c) => recurrentParameters(c, 3),
  ...recurrentOnnx('GRU'),
});

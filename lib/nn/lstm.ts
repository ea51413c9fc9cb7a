// nn.LSTM: a stack of long short-term memory layers (torch.nn.LSTM: gates i, f, g, o; names weight_ih_l0 ...), fused gate kernels.
import type { Tensor } from '../tensor';
import { lstmLayer, type RecurrentWeights } from '../ops/recurrent';
import { narrow } from '../ops/view';
import { RecurrentBase, recurrentKeys, recurrentOptions, recurrentParameters, type DirectionRun, type RecurrentConfig, type RecurrentOptions } from './recurrent';
import { register } from './registry';
import { recurrentOnnx } from './recurrent-onnx';

/**
 * Long short-term memory (torch.nn.LSTM): per step i, f, o = sigmoid(.), g = tanh(.) of x W_ih^T + b_ih + h W_hh^T + b_hh,
 * c = f c + i g, h = o tanh(c). forward(x, [h0, c0]?) gives the output sequence; forwardWithState also gives h and c.
 */
export class LSTM extends RecurrentBase {
  /**
   * Creates the layer (weights uniform in +-1/sqrt(hiddenSize), as PyTorch).
   * @param inputSize features per time step, a positive integer.
   * @param hiddenSize the hidden state size, a positive integer.
   * @param opts numLayers (default 1, at most 1024), bias (default true), batchFirst (default false), dropout (in [0, 1), default 0), bidirectional (default false), returnSequences (default true), seed.
   * @throws Error when a size is not a positive integer, an option is unknown or out of range; forward throws for an initial state that is not [h0, c0] of [numLayers * directions, batch, hidden].
   * @example
   * ```ts
   * const lstm = new nn.LSTM(8, 32, { batchFirst: true }); // [batch, time, 8] -> [batch, time, 32]
   * ```
   */
  constructor(inputSize: number, hiddenSize: number, opts: RecurrentOptions = {}) {
    super('LSTM', 4, inputSize, hiddenSize, opts);
  }

  protected override initialStates(hx: unknown, batch: number): [Tensor | null, Tensor | null] {
    if (hx === undefined || hx === null) return [null, null];
    if (!Array.isArray(hx) || hx.length !== 2) {
      throw new Error(`LSTM.forward: the initial state must be [h0, c0] (two tensors of [numLayers * directions, batch, hidden]), got ${Array.isArray(hx) ? `an array of ${hx.length}` : typeof hx}`);
    }
    return [this.checkState('h0', hx[0], batch), this.checkState('c0', hx[1], batch)];
  }

  protected override runDirection(x: Tensor, w: RecurrentWeights, reverse: boolean, h0: Tensor | null, c0: Tensor | null): DirectionRun {
    const T = x.shape[0];
    const y = lstmLayer(x, h0, c0, w, reverse);
    return { seq: narrow(y, 0, 0, T), h: narrow(y, 0, reverse ? 0 : T - 1, 1), c: narrow(y, 0, T, 1) };
  }
}

register<RecurrentConfig>(LSTM, {
  keys: recurrentKeys,
  fromConfig: (c) => new LSTM(c.inputSize, c.hiddenSize, recurrentOptions(c)),
  parameters: (c) => recurrentParameters(c, 4),
  ...recurrentOnnx('LSTM'),
});

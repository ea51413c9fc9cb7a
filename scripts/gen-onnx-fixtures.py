#!/usr/bin/env python3
"""Writes the PyTorch-exported ONNX fixtures in test/fixtures/onnx/ (run from the repo root:
python3 scripts/gen-onnx-fixtures.py). Needs torch (Debian: apt-get install python3-torch); the onnx
Python package is not needed. Each model gets <name>.onnx plus <name>.json with a fixed input and
torch's output for it, which test/onnx-torch.test.ts checks importModel against."""
import json
import os
import sys

import torch
from torch import nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'onnx')


class MatMulLinear(nn.Module):
    """y = x @ W + b with W stored [in, out]: torch exports MatMul + Add (weights transposed relative to nn.Linear)."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.w = nn.Parameter(torch.randn(n_in, n_out) / n_in ** 0.5)
        self.b = nn.Parameter(torch.randn(n_out) * 0.1)

    def forward(self, x):
        return torch.matmul(x, self.w) + self.b


def export(name, model, example, opset, **kwargs):
    if len(sys.argv) > 1 and name not in sys.argv[1:]:
        return  # python3 scripts/gen-onnx-fixtures.py NAME... writes only those
    model.eval()
    path = os.path.join(OUT, name + '.onnx')
    torch.onnx.export(model, example, path, opset_version=opset, input_names=['x'], output_names=['y'],
                      dynamic_axes={'x': {0: 'batch'}, 'y': {0: 'batch'}}, **kwargs)
    with torch.no_grad():
        y = model(example)
    with open(os.path.join(OUT, name + '.json'), 'w') as f:
        json.dump({'torch': torch.__version__, 'opset': opset, 'inputShape': list(example.shape),
                   'input': example.flatten().tolist(), 'outputShape': list(y.shape), 'output': y.flatten().tolist()}, f)
    print('wrote', path)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    # Gemm (transB=1) + exact GELU as Div/Erf/Add/Mul/Mul with Constant nodes + Softmax(axis=-1).
    mlp = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 16), nn.GELU(), nn.Linear(16, 10), nn.Softmax(dim=-1))
    export('torch_mlp_gemm', mlp, torch.rand(5, 64), 13)

    # MatMul + Add with a [in, out] weight, Flatten of [N,1,8,8], Tanh, LeakyReLU, tanh-GELU, Sigmoid, Dropout.
    mm = nn.Sequential(nn.Flatten(), MatMulLinear(64, 24), nn.Tanh(), nn.Dropout(0.2), MatMulLinear(24, 12),
                       nn.LeakyReLU(0.2), nn.Linear(12, 8), nn.GELU(approximate='tanh'), nn.Linear(8, 3), nn.Sigmoid())
    export('torch_mlp_matmul', mm, torch.rand(4, 1, 8, 8), 14)

    # Older style: opset 11 (Softmax axis=1 semantics), initializers listed as graph inputs, no constant folding.
    old = nn.Sequential(nn.Linear(10, 6), nn.Sigmoid(), nn.Linear(6, 4), nn.Softmax(dim=1))
    export('torch_mlp_opset11', old, torch.randn(3, 10), 11, keep_initializers_as_inputs=True, do_constant_folding=False)

    # LayerNorm: LayerNormalization from opset 17; below it, torch's ReduceMean/Sub/Pow/.../Div decomposition.
    for name, opset in [('torch_layernorm_opset17', 17), ('torch_layernorm_opset13', 13)]:
        ln = nn.Sequential(nn.Linear(12, 8), nn.LayerNorm(8, eps=1e-4), nn.GELU(), nn.Linear(8, 4))
        with torch.no_grad():
            ln[1].weight.copy_(torch.randn(8))
            ln[1].bias.copy_(torch.randn(8))
        export(name, ln, torch.randn(5, 12) * 2, opset)

    # A small CNN: importModel must refuse it and name Conv and MaxPool.
    cnn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(18, 4))
    export('torch_cnn_unsupported', cnn, torch.rand(2, 1, 8, 8), 13)


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
"""Writes the PyTorch fixtures of the sequence layers in test/fixtures/seq/ (run from the repo root:
/usr/bin/python3 scripts/gen-seq-fixtures.py [NAME...]). Needs torch. Each fixture is a JSON file of
inputs, parameters and torch's outputs (and gradients), which test/seq-torch.test.ts checks myelin against;
torch_embedding also writes an .onnx file from torch.onnx.export for importModel."""
import json
import os
import sys

import torch
from torch import nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'seq')


def wanted(name):
    return len(sys.argv) <= 1 or name in sys.argv[1:]


def flat(t):
    return t.detach().flatten().tolist()


def write(name, obj):
    obj['torch'] = torch.__version__
    path = os.path.join(OUT, name + '.json')
    with open(path, 'w') as f:
        json.dump(obj, f)
    print('wrote', path)


def embedding_onnx():
    """nn.Embedding -> Flatten -> Linear exported by torch.onnx.export (Gather on int64 ids, Flatten, Gemm)."""
    torch.manual_seed(1)
    model = nn.Sequential(nn.Embedding(20, 8), nn.Flatten(), nn.Linear(5 * 8, 3)).eval()
    ids = torch.randint(0, 20, (2, 5))
    path = os.path.join(OUT, 'torch_embedding.onnx')
    torch.onnx.export(model, ids, path, opset_version=13, input_names=['ids'], output_names=['y'],
                      dynamic_axes={'ids': {0: 'batch'}, 'y': {0: 'batch'}})
    with torch.no_grad():
        y = model(ids)
    write('torch_embedding', {'inputShape': list(ids.shape), 'input': flat(ids), 'outputShape': list(y.shape), 'output': flat(y)})


def main():
    os.makedirs(OUT, exist_ok=True)
    if wanted('torch_embedding'):
        embedding_onnx()


if __name__ == '__main__':
    main()

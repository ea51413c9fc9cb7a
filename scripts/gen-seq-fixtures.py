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


def params_of(module):
    return {name: {'shape': list(p.shape), 'data': flat(p)} for name, p in module.named_parameters()}


def grads_of(module):
    return {name: flat(p.grad) for name, p in module.named_parameters()}


def mha_case(name, batch_first, causal, key_padding, attn_mask):
    """nn.MultiheadAttention(8, 2) self/cross attention: output, head-averaged weights, and the gradients of
    sum(output * w) (w fixed) w.r.t. query, key, value and every parameter."""
    torch.manual_seed(2)
    E, H, B, T, S = 8, 2, 3, 5, 6 if not causal else 5
    mha = nn.MultiheadAttention(E, H, batch_first=batch_first)
    with torch.no_grad():
        mha.in_proj_bias.uniform_(-0.3, 0.3)
        mha.out_proj.bias.uniform_(-0.3, 0.3)
    shape = (lambda L: (B, L, E)) if batch_first else (lambda L: (L, B, E))
    q = torch.randn(*shape(T), requires_grad=True)
    k = torch.randn(*shape(S), requires_grad=True)
    v = torch.randn(*shape(S), requires_grad=True)
    kpm = None
    if key_padding:
        kpm = torch.zeros(B, S, dtype=torch.bool)
        kpm[0, S - 1] = True
        kpm[2, S - 2:] = True
    mask = None
    if causal:
        mask = torch.triu(torch.ones(T, S, dtype=torch.bool), diagonal=1)
    if attn_mask:
        extra = torch.zeros(T, S, dtype=torch.bool)
        extra[1, 0] = True
        extra[3, 2] = True
        mask = extra if mask is None else (mask | extra)
    out, weights = mha(q, k, v, key_padding_mask=kpm, attn_mask=mask, need_weights=True)
    w = torch.linspace(-1, 1, out.numel()).reshape(out.shape)
    (out * w).sum().backward()
    write(name, {
        'embedDim': E, 'numHeads': H, 'batchFirst': batch_first, 'causal': causal,
        'params': params_of(mha),
        'query': {'shape': list(q.shape), 'data': flat(q)}, 'key': {'shape': list(k.shape), 'data': flat(k)},
        'value': {'shape': list(v.shape), 'data': flat(v)},
        'keyPaddingMask': None if kpm is None else flat(kpm.float()), 'extraMask': attn_mask,
        'output': {'shape': list(out.shape), 'data': flat(out)}, 'weights': {'shape': list(weights.shape), 'data': flat(weights)},
        'outputWeights': flat(w),
        'grads': {'query': flat(q.grad), 'key': flat(k.grad), 'value': flat(v.grad), **grads_of(mha)},
    })


class DecoderBlock(nn.Module):
    """Pre-norm GPT block: x + attn(ln1(x)) (causal), then x + fc2(gelu(fc1(ln2(x))))."""

    def __init__(self, E, H, M):
        super().__init__()
        self.ln1 = nn.LayerNorm(E)
        self.attn = nn.MultiheadAttention(E, H, batch_first=True)
        self.ln2 = nn.LayerNorm(E)
        self.fc1 = nn.Linear(E, M)
        self.fc2 = nn.Linear(M, E)

    def forward(self, x):
        T = x.shape[1]
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        h = self.ln1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.fc2(nn.functional.gelu(self.fc1(self.ln2(x))))


def decoder_block():
    torch.manual_seed(3)
    E, H, M, B, T = 8, 2, 16, 2, 5
    block = DecoderBlock(E, H, M)
    with torch.no_grad():
        for p in [block.ln1.weight, block.ln2.weight]:
            p.uniform_(0.5, 1.5)
        for p in [block.ln1.bias, block.ln2.bias, block.attn.in_proj_bias, block.attn.out_proj.bias]:
            p.uniform_(-0.3, 0.3)
    x = torch.randn(B, T, E, requires_grad=True)
    y = block(x)
    w = torch.linspace(-1, 1, y.numel()).reshape(y.shape)
    (y * w).sum().backward()
    write('torch_decoder_block', {
        'embedDim': E, 'numHeads': H, 'mlpDim': M, 'params': params_of(block),
        'input': {'shape': list(x.shape), 'data': flat(x)}, 'output': {'shape': list(y.shape), 'data': flat(y)},
        'outputWeights': flat(w), 'grads': {'input': flat(x.grad), **grads_of(block)},
    })


def main():
    os.makedirs(OUT, exist_ok=True)
    if wanted('torch_embedding'):
        embedding_onnx()
    cases = [
        ('torch_mha_batch_first', True, False, False, False),
        ('torch_mha_seq_first_padding', False, False, True, False),
        ('torch_mha_causal_padding_mask', True, True, True, True),
    ]
    for name, *args in cases:
        if wanted(name):
            mha_case(name, *args)
    if wanted('torch_decoder_block'):
        decoder_block()


if __name__ == '__main__':
    main()

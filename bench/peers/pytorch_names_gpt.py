#!/usr/bin/env python3
"""PyTorch twin of examples/names-gpt.js: the same 4-layer pre-norm decoder-only transformer (width 128, 4 heads,
context 16, GELU MLP 4x, learned positions, N(0, 0.02) token/position tables, PyTorch's default Linear/MHA init),
the same data split and batches (read from `node examples/names-gpt.js --dump-data file.json`), Adam with the same
learning rate and steps. Prints one JSON line: validation loss, training time, tokens/s, threads.

  /usr/bin/python3 bench/peers/pytorch_names_gpt.py file.json [--threads N]
Also: --bench-step (time train steps only) and --bench-generate (per-token latency with a KV cache, batch 1)."""
import json
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, h, batch_first=True)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)

    def forward(self, x, mask):
        h = self.ln1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self, vocab, context, d, layers, heads):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(context, d))
        with torch.no_grad():
            self.emb.weight.mul_(0.02)
            self.pos.mul_(0.02)
        self.blocks = nn.ModuleList([Block(d, heads) for _ in range(layers)])
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)

    def forward(self, ids):
        L = ids.shape[1]
        mask = torch.triu(torch.ones(L, L, dtype=torch.bool), diagonal=1)
        x = self.emb(ids) + self.pos[:L]
        for b in self.blocks:
            x = b(x, mask)
        return self.head(self.ln(x))


def main():
    args = sys.argv[1:]
    threads = int(args[args.index('--threads') + 1]) if '--threads' in args else torch.get_num_threads()
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    d = json.load(open(args[0]))
    V, T = d['vocabSize'], d['context']
    model = GPT(V, T, d['width'], d['layers'], d['heads'])
    tr_in = torch.tensor(d['train']['inputs'], dtype=torch.long).view(-1, T)
    tr_tg = torch.tensor(d['train']['targets'], dtype=torch.long).view(-1, T)
    va_in = torch.tensor(d['val']['inputs'], dtype=torch.long).view(-1, T)
    va_tg = torch.tensor(d['val']['targets'], dtype=torch.long).view(-1, T)
    opt = torch.optim.Adam(model.parameters(), lr=d['lr'])
    batches = d['batches']
    if '--bench-generate' in args:
        return bench_generate(model, V, T)
    t0 = time.perf_counter()
    n = len(batches) if '--bench-step' not in args else min(len(batches), int(args[args.index('--bench-step') + 1]))
    for s in range(n):
        idx = torch.tensor(batches[s])
        opt.zero_grad()
        logits = model(tr_in[idx])
        loss = F.cross_entropy(logits.reshape(-1, V), tr_tg[idx].reshape(-1))
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        val = F.cross_entropy(model(va_in).reshape(-1, V), va_tg.reshape(-1)).item()
    print(json.dumps({'valLoss': val, 'steps': n, 'seconds': seconds, 'tokensPerSecond': n * len(batches[0]) * T / seconds,
                      'threads': threads, 'torch': torch.__version__}))


def bench_generate(model, V, T):
    """Per-token latency at batch 1 with a KV cache: the blocks' keys/values kept and each step attends over them."""
    model.eval()
    reps = 200
    with torch.no_grad():
        times = []
        for _ in range(5):
            cache = [None] * len(model.blocks)
            ids = torch.zeros(1, 1, dtype=torch.long)
            t0 = time.perf_counter()
            for p in range(reps):
                pos = p % T
                if pos == 0:
                    cache = [None] * len(model.blocks)
                x = model.emb(ids) + model.pos[pos:pos + 1]
                for i, b in enumerate(model.blocks):
                    h = b.ln1(x)
                    qkv = F.linear(h, b.attn.in_proj_weight, b.attn.in_proj_bias)
                    q, k, v = qkv.split(x.shape[-1], dim=-1)
                    H = b.attn.num_heads
                    sh = lambda t: t.view(1, -1, H, x.shape[-1] // H).transpose(1, 2)
                    q, k, v = sh(q), sh(k), sh(v)
                    if cache[i] is not None:
                        k = torch.cat([cache[i][0], k], 2)
                        v = torch.cat([cache[i][1], v], 2)
                    cache[i] = (k, v)
                    a = torch.softmax(q @ k.transpose(-1, -2) / (q.shape[-1] ** 0.5), -1) @ v
                    x = x + b.attn.out_proj(a.transpose(1, 2).reshape(1, 1, -1))
                    x = x + b.fc2(F.gelu(b.fc1(b.ln2(x))))
                logits = model.head(model.ln(x))
                ids = logits[:, -1].argmax(-1, keepdim=True)
            times.append((time.perf_counter() - t0) / reps)
        times.sort()
        print(json.dumps({'msPerToken': times[len(times) // 2] * 1000, 'threads': torch.get_num_threads()}))


if __name__ == '__main__':
    main()

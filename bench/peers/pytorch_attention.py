#!/usr/bin/env python3
"""PyTorch peer of bench/cases/attention.js (the 'attention' group). Prints one JSON line
{version, results: {caseId: {secondsPerOp: [...], iters, threads}}}: for each case the faster of 1 and 2 threads.
Cases: attention-L<L> (softmax(q k^T / sqrt d + causal) v forward + backward, batch 1, 4 heads, head dim 64; torch
1.13 has no fused attention), gpt-train-step (examples/names-gpt.js's model, batch 32 x 16 tokens, Adam),
gpt-generate-token (that model, batch 1, per-token latency with a key/value cache).

  /usr/bin/python3 bench/peers/pytorch_attention.py --reps 7 --target-sec 0.2 --lengths 128,512,2048 --vocab 29
Options for bench/gpt-cpu.js: --cpu-time (process CPU time instead of the wall clock), --threads N (only N threads),
--cases gpt-train-step,gpt-generate-token (only those cases)."""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_names_gpt import GPT  # noqa: E402


def arg(name, default, cast=str):
    a = sys.argv[1:]
    return cast(a[a.index(name) + 1]) if name in a else default


REPS = arg('--reps', 7, int)
TARGET = arg('--target-sec', 0.2, float)
CLOCK = time.process_time if '--cpu-time' in sys.argv else time.perf_counter
THREADS = (arg('--threads', 0, int),) if '--threads' in sys.argv else (1, 2)


def measure(fn):
    fn()
    t0 = CLOCK()
    fn()
    one = max(CLOCK() - t0, 1e-6)
    iters = max(1, int(TARGET / one))
    samples = []
    for _ in range(REPS):
        t0 = CLOCK()
        for _ in range(iters):
            fn()
        samples.append((CLOCK() - t0) / iters)
    return samples, iters


def best_of_threads(make):
    best = None
    for threads in THREADS:
        torch.set_num_threads(threads)
        samples, iters = measure(make())
        med = sorted(samples)[len(samples) // 2]
        if best is None or med < best[0]:
            best = (med, {'secondsPerOp': samples, 'iters': iters, 'threads': threads})
    return best[1]


def attention_case(L):
    def make():
        torch.manual_seed(0)
        q, k, v = (torch.randn(1, 4, L, 64, requires_grad=True) for _ in range(3))
        mask = torch.triu(torch.ones(L, L, dtype=torch.bool), 1)

        def step():
            s = (q @ k.transpose(-1, -2)) / 8.0
            y = torch.softmax(s.masked_fill(mask, float('-inf')), -1) @ v
            y.sum().backward()
        return step
    return make


def train_case(V):
    def make():
        torch.manual_seed(1)
        model = GPT(V, 16, 128, 4, 4)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        ids = torch.randint(0, V, (32, 16))
        tg = torch.randint(0, V, (32, 16))

        def step():
            opt.zero_grad()
            F.cross_entropy(model(ids).reshape(-1, V), tg.reshape(-1)).backward()
            opt.step()
        return step
    return make


def generate_case(V):
    def make():
        torch.manual_seed(1)
        model = GPT(V, 16, 128, 4, 4).eval()
        state = {'cache': None, 'pos': 0, 'ids': torch.zeros(1, 1, dtype=torch.long)}

        def token():
            with torch.no_grad():
                if state['pos'] == 16:
                    state['cache'], state['pos'] = None, 0
                pos = state['pos']
                x = model.emb(state['ids']) + model.pos[pos:pos + 1]
                cache = state['cache'] or [None] * len(model.blocks)
                E = x.shape[-1]
                for i, b in enumerate(model.blocks):
                    h = b.ln1(x)
                    q, k, v = F.linear(h, b.attn.in_proj_weight, b.attn.in_proj_bias).split(E, dim=-1)
                    H = b.attn.num_heads
                    q, k, v = (t.view(1, 1, H, E // H).transpose(1, 2) for t in (q, k, v))
                    if cache[i] is not None:
                        k = torch.cat([cache[i][0], k], 2)
                        v = torch.cat([cache[i][1], v], 2)
                    cache[i] = (k, v)
                    a = torch.softmax(q @ k.transpose(-1, -2) / (E // H) ** 0.5, -1) @ v
                    x = x + b.attn.out_proj(a.transpose(1, 2).reshape(1, 1, E))
                    x = x + b.fc2(F.gelu(b.fc1(b.ln2(x))))
                logits = model.head(model.ln(x))
                state['ids'] = logits[:, -1].argmax(-1, keepdim=True)
                state['cache'], state['pos'] = cache, pos + 1
        return token
    return make


def main():
    lengths = [int(x) for x in arg('--lengths', '128,512,2048').split(',')]
    V = arg('--vocab', 29, int)
    cases = {f'attention-L{L}': attention_case(L) for L in lengths}
    cases['gpt-train-step'] = train_case(V)
    cases['gpt-generate-token'] = generate_case(V)
    only = arg('--cases', None)
    results = {k: best_of_threads(make) for k, make in cases.items() if only is None or k in only.split(',')}
    print(json.dumps({'version': torch.__version__, 'results': results}))


if __name__ == '__main__':
    main()

#!/usr/bin/python3
"""PyTorch peer for the myelin benchmark's 'rnn' group: torch.nn.LSTM and torch.nn.GRU (one layer, batch_first) over a
batch of sequences, forward (inference mode) and forward + backward of a fixed upstream gradient. Times each case with
torch threads 1 and 2 and keeps the faster (PyTorch at its best on the machine). Prints one JSON line.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_mlp import best_over_threads, print_results  # noqa: E402  (same timing rules as the MLP peer)


def cases(batch, time, inp, hidden):
    g = torch.Generator().manual_seed(100)
    out = {}
    for kind, cls in (("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU)):
        torch.manual_seed(3)
        layer = cls(inp, hidden, batch_first=True)
        x = torch.rand(batch, time, inp, generator=g) * 2 - 1
        xg = x.clone().requires_grad_(True)
        up = torch.rand(batch, time, hidden, generator=g) * 2 - 1

        def forward(layer=layer, x=x):
            with torch.inference_mode():
                layer(x)

        def forward_backward(layer=layer, xg=xg, up=up):
            xg.grad = None
            layer.zero_grad(set_to_none=True)
            layer(xg)[0].backward(up)

        out[kind + "-forward"] = (forward, batch)
        out[kind + "-forward-backward"] = (forward_backward, batch)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--target-sec", type=float, default=0.2)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--time", type=int, default=64)
    p.add_argument("--input", type=int, default=64)
    p.add_argument("--hidden", type=int, default=128)
    args = p.parse_args()
    print_results(best_over_threads(lambda: cases(args.batch, args.time, args.input, args.hidden), args.reps, args.warmup, args.target_sec))


if __name__ == "__main__":
    main()

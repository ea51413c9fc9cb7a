#!/usr/bin/python3
"""PyTorch peer for the myelin benchmark's 'cnn' group: the Fashion-MNIST two-convolution network
(conv 32 - pool - conv 64 - pool - linear 128 - linear 10, ReLU, Adam 1e-3) and its second
convolution alone (32 -> 64, 3x3, padding 1, 14x14, batch 128). Times each case with torch threads
1 and 2 and keeps the faster (PyTorch at its best on the machine). Prints one JSON line.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_mlp import best_over_threads, measure, print_results  # noqa: E402  (same timing rules as the MLP peer)


def build_cnn(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(64 * 7 * 7, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))


def cases(batch):
    g = torch.Generator().manual_seed(100)
    model = build_cnn(7)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    pool = [(torch.rand(batch, 1, 28, 28, generator=g), torch.randint(0, 10, (batch,), generator=g)) for _ in range(4)]
    state = {"i": 0}

    def train_step():
        x, y = pool[state["i"] % len(pool)]
        state["i"] += 1
        model.train()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    conv = torch.nn.Conv2d(32, 64, 3, padding=1)
    cx = torch.rand(batch, 32, 14, 14, generator=g, requires_grad=True)
    cg = torch.rand(batch, 64, 14, 14, generator=g)

    def conv_forward():
        with torch.no_grad():
            conv(cx)

    def conv_backward():
        cx.grad = None
        conv.zero_grad(set_to_none=True)
        conv(cx).backward(cg)

    xi = torch.rand(2 * batch, 1, 28, 28, generator=g)
    x1 = torch.rand(1, 1, 28, 28, generator=g)
    model.eval()  # inference below; train_step sets train mode again

    def infer():
        with torch.inference_mode():
            model(xi)

    def infer1():
        with torch.inference_mode():
            model(x1)

    return {"cnn-train-step": (train_step, batch), "conv-forward": (conv_forward, batch),
            "conv-forward-backward": (conv_backward, batch), "cnn-infer": (infer, 2 * batch),
            "cnn-infer1": (infer1, 1)}


def config():
    """This process's PyTorch configuration (the environment is fixed per process; threads per command)."""
    return {"version": torch.__version__, "mkldnn": torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled,
            "python": sys.version.split()[0],
            **{k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OMP_NUM_THREADS", "OMP_WAIT_POLICY")}}


def serve(batch):
    """Paired-block mode for bench/cases/cnn.js: reads 'train <threads> <steps>' lines on stdin and answers each
    with one JSON line {"wall": s, "cpu": s} per train step (time.perf_counter and time.process_time around the
    block), so the benchmark can interleave these blocks with myelin's in one run. 'config' answers config()."""
    step = cases(batch)["cnn-train-step"][0]
    print(json.dumps({"ready": True, "config": config()}), flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "config":
            print(json.dumps(config()), flush=True)
        elif words[0] == "train" and len(words) == 3:
            torch.set_num_threads(int(words[1]))
            steps = int(words[2])
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(steps):
                step()
            print(json.dumps({"wall": (time.perf_counter() - t0) / steps, "cpu": (time.process_time() - c0) / steps}), flush=True)
        elif words[0] == "quit":
            return
        else:
            print(json.dumps({"error": "unknown command: " + line.strip()}), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--target-sec", type=float, default=0.2)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--cases", default="", help="comma-separated case ids to run (default: all)")
    p.add_argument("--serve", action="store_true", help="paired-block mode: train-step blocks on request (see serve)")
    args = p.parse_args()
    if args.serve:
        serve(args.batch)
        return
    wanted = set(args.cases.split(",")) if args.cases else None
    print_results(best_over_threads(
        lambda: {k: v for k, v in cases(args.batch).items() if wanted is None or k in wanted},
        args.reps, args.warmup, args.target_sec))

if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""PyTorch peer for the myelin benchmark: the reference MLP task (784-256-128-10 ReLU, softmax
cross-entropy, Adam 1e-3) timed for training at batch 128, inference at batch 1024 and batch-1
latency. Prints one JSON line. With --export-onnx PATH it writes the same network as ONNX and exits.

Fastest configuration on the 2-core benchmark machine: torch.set_num_threads(1) with
OPENBLAS_NUM_THREADS=2 in the environment (Debian's torch runs matmuls in OpenBLAS, which has its
own threads); bench/run.js sets both.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F


def build_mlp(sizes, seed):
    torch.manual_seed(seed)
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def calibrate(fn, target_sec, max_iters=100000):
    """Calls per timed block so that one block lasts about target_sec."""
    fn()
    iters = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min(target_sec, 0.02) or iters >= max_iters:
            return max(1, min(max_iters, int(target_sec / max(dt / iters, 1e-9)) + 1))
        iters *= 4


def measure(fn, reps, warmup, target_sec):
    """Seconds per call for each of `reps` timed blocks (after `warmup` untimed blocks)."""
    iters = calibrate(fn, target_sec)
    for _ in range(warmup):
        for _ in range(iters):
            fn()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        out.append((time.perf_counter() - t0) / iters)
    return out, iters


def best_over_threads(make_cases, reps, warmup, target_sec):
    """Times every case of make_cases() ({name: (fn, work)}) with torch threads 1 and 2; keeps the faster median of each."""
    results = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for name, (fn, work) in make_cases().items():
            s, it = measure(fn, reps, warmup, target_sec)
            best = results.get(name)
            if best is None or sorted(s)[len(s) // 2] < sorted(best["secondsPerOp"])[len(best["secondsPerOp"]) // 2]:
                results[name] = {"secondsPerOp": s, "work": work, "iters": it, "threads": threads}
    return results


def print_results(results):
    """The one JSON line the benchmark's peer runner reads."""
    print(json.dumps({"name": "pytorch", "version": torch.__version__,
                      "config": {"mkldnn": torch.backends.mkldnn.is_available(), "python": sys.version.split()[0],
                                 "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")},
                      "results": results}))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--target-sec", type=float, default=0.2)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--export-onnx", metavar="PATH", help="write the MLP as ONNX to PATH and exit")
    p.add_argument("--only", choices=["train", "infer", "all"], default="all")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    sizes = [784, 256, 128, 10]
    model = build_mlp(sizes, 7)

    if args.export_onnx:
        model.eval()
        dummy = torch.zeros(1, sizes[0])
        torch.onnx.export(
            model, dummy, args.export_onnx, input_names=["input"], output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13,
        )
        print(json.dumps({"name": "pytorch", "exported": args.export_onnx}))
        return

    g = torch.Generator().manual_seed(100)
    pool = [(torch.rand(args.batch, sizes[0], generator=g),
             torch.randint(0, sizes[-1], (args.batch,), generator=g)) for _ in range(4)]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    state = {"i": 0}

    def train_step():
        x, y = pool[state["i"] % len(pool)]
        state["i"] += 1
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    results = {}
    if args.only in ("train", "all"):
        model.train()
        s, it = measure(train_step, args.reps, args.warmup, args.target_sec)
        results["train%d" % args.batch] = {"secondsPerOp": s, "work": args.batch, "iters": it}
    if args.only in ("infer", "all"):
        model.eval()
        x1024 = torch.rand(1024, sizes[0], generator=g)
        x1 = torch.rand(1, sizes[0], generator=g)
        with torch.inference_mode():
            s, it = measure(lambda: model(x1024), args.reps, args.warmup, args.target_sec)
            results["infer1024"] = {"secondsPerOp": s, "work": 1024, "iters": it}
            s, it = measure(lambda: model(x1), args.reps, args.warmup, args.target_sec)
            results["infer1"] = {"secondsPerOp": s, "work": 1, "iters": it}

    print(json.dumps({
        "name": "pytorch",
        "version": torch.__version__,
        "config": {
            "torch_threads": torch.get_num_threads(),
            "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
            "python": sys.version.split()[0],
        },
        "results": results,
    }))


if __name__ == "__main__":
    main()

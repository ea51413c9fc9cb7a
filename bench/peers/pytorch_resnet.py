#!/usr/bin/python3
"""PyTorch accuracy reference for examples/fashion-resnet.js (the benchmark's 'cnn-accuracy' group).

Trains the same small residual network with the same settings on Fashion-MNIST: pixels / 255
standardised with the train set's mean and std, augmentation by a random crop with 2 pixels of zero
padding and a horizontal flip (p = 1/2), Adam with the 1cycle policy (max lr 4e-3, no momentum
cycling, as myelin's OneCycleLR), batch 128 with the last partial batch kept, PyTorch's default init.
Prints one JSON line: test accuracy and loss, seconds of training, threads.
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

EPOCHS, BATCH, MAX_LR, PADDING = 6, 128, 4e-3, 2


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(dir_, limit):
    def pick(stem):
        for name in (stem + ".gz", stem):
            if os.path.exists(os.path.join(dir_, name)):
                return os.path.join(dir_, name)
        raise SystemExit(f"pytorch_resnet: {stem}[.gz] not found in {dir_} (apt-get install dataset-fashion-mnist)")
    sets = []
    for kind in ("train", "t10k"):
        x = read_idx(pick(f"{kind}-images-idx3-ubyte"))[:limit].astype(np.float32) / 255
        y = read_idx(pick(f"{kind}-labels-idx1-ubyte"))[:limit].astype(np.int64)
        sets.append((torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y)))
    return sets


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout))
        self.shortcut = None if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return F.relu(self.body(x) + (x if self.shortcut is None else self.shortcut(x)))


def resnet(stem, blocks, classes=10):
    """conv 3x3 1->stem + BN + ReLU, a BasicBlock per (cin, cout, stride), global average pool, linear -> classes."""
    return nn.Sequential(
        nn.Conv2d(1, stem, 3, padding=1, bias=False), nn.BatchNorm2d(stem), nn.ReLU(),
        *[BasicBlock(cin, cout, stride) for cin, cout, stride in blocks],
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(blocks[-1][1], classes))


def fashion_resnet(width=16):
    """Same layers and parameter names (state_dict) as examples/fashion-resnet.js's Sequential (--width: stem channels)."""
    return resnet(width, [(width, 2 * width, 2), (2 * width, 4 * width, 2)])


def augment(x, gen):
    """Random crop of the zero-padded image (offset in [-PADDING, PADDING]) and a left-right flip with p = 1/2."""
    n, _, h, w = x.shape
    padded = F.pad(x, (PADDING, PADDING, PADDING, PADDING))
    off = torch.randint(0, 2 * PADDING + 1, (n, 2), generator=gen)
    flip = torch.rand(n, generator=gen) < 0.5
    rows = (off[:, 0:1] + torch.arange(h)).view(n, 1, h, 1).expand(n, 1, h, w + 2 * PADDING)
    out = padded.gather(2, rows)
    cols = (off[:, 1:2] + torch.arange(w)).view(n, 1, 1, w).expand(n, 1, h, w)
    out = out.gather(3, cols)
    out[flip] = out[flip].flip(3)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dir", default=os.environ.get("MYELIN_DATA", "/usr/share/datasets/fashion-mnist"))
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--width", type=int, default=16)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    (xtr, ytr), (xte, yte) = load(args.dir, args.limit)
    mean, std = xtr.mean(), xtr.std(unbiased=False)
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    torch.manual_seed(args.seed)
    model = fashion_resnet(args.width)
    opt = torch.optim.Adam(model.parameters(), lr=MAX_LR)
    steps = math.ceil(len(xtr) / BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=MAX_LR, epochs=args.epochs, steps_per_epoch=steps, cycle_momentum=False)
    gen = torch.Generator().manual_seed(args.seed + 1)
    started = time.time()
    for _ in range(args.epochs):
        model.train()
        order = torch.randperm(len(xtr), generator=gen)
        for b in range(steps):
            idx = order[b * BATCH:(b + 1) * BATCH]
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(augment(xtr[idx], gen)), ytr[idx]).backward()
            opt.step()
            sched.step()
    seconds = time.time() - started
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(xte[i:i + 1000]) for i in range(0, len(xte), 1000)])
    print(json.dumps({
        "name": "pytorch", "version": torch.__version__, "threads": args.threads, "epochs": args.epochs, "width": args.width,
        "train": len(xtr), "test": len(xte), "seconds": seconds,
        "accuracy": (logits.argmax(1) == yte).float().mean().item(), "loss": F.cross_entropy(logits, yte).item(),
        "config": {"mkldnn": torch.backends.mkldnn.is_available(), "python": sys.version.split()[0]},
    }))


if __name__ == "__main__":
    main()

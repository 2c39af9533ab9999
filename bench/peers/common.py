"""Shared pieces of the peer train-step benchmarks: configuration, data, timing, output.

The configuration is the one munet's `bench train-step` uses (see bench/README.md):
ViT on 28x28 grey images (1 channel), patch 4 (49 patch tokens + 1 class token), width 64,
4 heads, MLP 256, 4 pre-LN blocks, GELU (tanh approximation), LayerNorm eps 1e-6, learned
position embeddings, final LayerNorm, class-token head, 10 classes, batch 64, mean softmax
cross-entropy, SGD momentum 0.9 (no dampening, no Nesterov, no weight decay) after global-norm
clipping to 1.0, learning rate 0.01 (constant).
"""
import argparse
import glob
import gzip
import json
import os
import statistics
import time

import numpy as np

CONFIG = dict(
    image_size=28, channels=1, patch=4, width=64, heads=4, mlp=256, depth=4, classes=10,
    batch=64, layer_norm_eps=1e-6, learning_rate=0.01, momentum=0.9, clip_norm=1.0,
)
TOKENS = (CONFIG["image_size"] // CONFIG["patch"]) ** 2 + 1  # 49 patches + class token
BATCHES = 16  # distinct batches cycled through (prepared before timing)


def parse_args(framework):
    parser = argparse.ArgumentParser(description=f"{framework} train-step benchmark (munet peer)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps before each run")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data", default=None,
                        help="directory with MNIST-format idx files (default: data/ if present, "
                             "else synthetic)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def _read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def _find(root, pattern):
    hits = sorted(glob.glob(os.path.join(root, "**", pattern), recursive=True))
    return hits[0] if hits else None


def load_batches(args):
    """BATCHES batches of (images float32 [B, 28, 28, 1] in [-1, 1], labels int32 [B]).

    Real data when MNIST-format idx files (train-images-idx3-ubyte[.gz] and
    train-labels-idx1-ubyte[.gz]) are found under --data or data/; synthetic otherwise.
    Pixels are scaled with x / 127.5 - 1, as the reference does.
    """
    root = args.data or ("data" if os.path.isdir("data") else None)
    images = labels = None
    source = "synthetic"
    if root:
        image_file = _find(root, "*train-images*idx3*")
        label_file = _find(root, "*train-labels*idx1*")
        if image_file and label_file:
            images, labels = _read_idx(image_file), _read_idx(label_file)
            source = os.path.dirname(image_file)
    batch = CONFIG["batch"]
    count = BATCHES * batch
    if images is None or len(images) < count:
        rng = np.random.default_rng(args.seed)
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=(count,), dtype=np.uint8)
        source = "synthetic"
    x = images[:count].astype(np.float32).reshape(BATCHES, batch, 28, 28, 1) / 127.5 - 1
    y = labels[:count].astype(np.int32).reshape(BATCHES, batch)
    return x, y, source


def time_runs(step, args):
    """Runs warm-up then timed steps, `args.runs` times; returns (steps/s per run, losses).

    `step(i)` does one training step on batch i % BATCHES and returns something `sync` can wait
    on; the clock stops only after the last step's result is ready.
    """
    rates, losses = [], []
    i = 0
    for _ in range(args.runs):
        for _ in range(args.warmup):
            step(i)
            i += 1
        start = time.perf_counter_ns()
        for _ in range(args.steps):
            loss = step(i)
            i += 1
        loss = float(loss)  # waits for the last step
        elapsed = (time.perf_counter_ns() - start) / 1e9
        rates.append(args.steps / elapsed)
        losses.append(loss)
    return rates, losses


def report(framework, version, args, rates, losses, parameters, source, first_loss):
    print(json.dumps({
        "framework": framework,
        "version": version,
        "threads": args.threads,
        "steps_per_second": statistics.median(rates),
        "runs": [round(r, 3) for r in rates],
        "steps_per_run": args.steps,
        "warmup_steps": args.warmup,
        "parameters": parameters,
        "data": source,
        "loss_first": round(first_loss, 4),
        "loss_last": round(losses[-1], 4),
    }))


def pin_to_cores(threads):
    """Restricts this process to its first `threads` allowed cores (a no-op when already there)."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) > threads:
        os.sched_setaffinity(0, set(allowed[:threads]))

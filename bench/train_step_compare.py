#!/usr/bin/env python3
"""munet vs PyTorch vs JAX: steps/s of the reference ViT train step, measured interleaved.

For each round r in 1..runs and each thread count, runs one timed measurement of every
framework in turn (munet, PyTorch, JAX), each in a fresh process, so that slow drifts of the
machine (other load, thermal state) hit all of them alike. Prints the per-run numbers and a
Markdown table of the medians with each one's ratio to PyTorch.

  munet:   .build/release/munet bench train-step --tier T --threads N --json
           (prints "munet: not available" when the binary or the command is missing)
  PyTorch: bench/peers/train_step_torch.py --threads N   (torch.set_num_threads(N))
  JAX:     taskset -c 0..N-1 bench/peers/train_step_jax.py --threads N

The peers run with the Python of .venv-bench/ when it exists (bench/setup-peers makes it).
Usage: bench/train_step_compare.py [--threads 1,2] [--runs 5] [--steps 30] [--warmup 5]
                                   [--tier threads,blas,blas@SkylakeX] [--munet .build/release/munet]
                                   [--munet-args "--steps 30"]
--steps and --warmup apply to the peers; munet gets only the flags above plus --munet-args.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS = os.path.join(ROOT, "bench", "peers")


def peer_python():
    venv = os.path.join(ROOT, ".venv-bench", "bin", "python")
    return venv if os.path.exists(venv) else sys.executable


def last_json_line(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return None


def run(command, timeout, env=None):
    """(parsed JSON line, error message): exactly one of them is None."""
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    except FileNotFoundError as error:
        return None, str(error)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout} s"
    result = last_json_line(done.stdout)
    if done.returncode != 0 or result is None or "steps_per_second" not in result:
        message = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["no output"])[-1]
        return None, f"exit {done.returncode}: {message}"
    return result, None


def commands(args, threads):
    common = ["--threads", str(threads), "--steps", str(args.steps), "--warmup", str(args.warmup)]
    peer = common + ["--runs", "1"]
    pin = ["taskset", "-c", f"0-{threads - 1}"] if shutil.which("taskset") else []
    munet = {
        f"munet {spec}": [args.munet, "bench", "train-step", "--tier", spec.split("@")[0], "--threads",
                          str(threads), "--json"] + args.munet_args.split()
        for spec in args.tier.split(",")
    }
    return munet | {
        "PyTorch": [peer_python(), os.path.join(PEERS, "train_step_torch.py")] + peer,
        "JAX": pin + [peer_python(), os.path.join(PEERS, "train_step_jax.py")] + peer,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--runs", type=int, default=5, help="measurements per framework and thread count")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps before each measurement")
    parser.add_argument("--tier", default="threads",
                        help="munet tier(s), comma-separated: reference, threads, blas; blas@CORE runs "
                             "with OPENBLAS_CORETYPE=CORE (e.g. blas@SkylakeX), blas@auto without it "
                             "(OpenBLAS then picks its kernels for the CPU itself)")
    parser.add_argument("--munet", default=os.path.join(ROOT, ".build", "release", "munet"))
    parser.add_argument("--munet-args", default="",
                        help="extra arguments for munet (it chooses its own step counts otherwise)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per measurement")
    args = parser.parse_args()
    thread_counts = [int(t) for t in args.threads.split(",")]
    munet_names = [f"munet {tier}" for tier in args.tier.split(",")]
    frameworks = munet_names + ["PyTorch", "JAX"]
    rates = {(f, t): [] for f in frameworks for t in thread_counts}
    versions = {}
    unavailable = {}

    if not os.path.exists(args.munet):
        for name in munet_names:
            unavailable[name] = f"{os.path.relpath(args.munet, ROOT)} not built"
    for name, module in (("PyTorch", "torch"), ("JAX", "jax")):
        check = subprocess.run([peer_python(), "-c", f"import {module}"], capture_output=True)
        if check.returncode != 0:
            unavailable[name] = f"python module {module} not installed (run bench/setup-peers)"
    for name, reason in unavailable.items():
        print(f"{name}: not available ({reason})")

    for round_index in range(args.runs):
        for threads in thread_counts:
            for name, command in commands(args, threads).items():
                if name in unavailable:
                    continue
                env = None
                if "@" in name:
                    core = name.split("@")[1]
                    env = dict(os.environ, OPENBLAS_CORETYPE=core)
                    if core == "auto":
                        del env["OPENBLAS_CORETYPE"]
                result, error = run(command, args.timeout, env)
                if error:
                    # A missing `bench train-step` command makes munet unavailable, not a failure.
                    print(f"{name}: not available ({error})")
                    unavailable[name] = error
                    continue
                rate = result["steps_per_second"]
                rates[(name, threads)].append(rate)
                versions[name] = result.get("version", "")
                print(f"round {round_index + 1}/{args.runs}  {name:16s} {threads} thread(s): "
                      f"{rate:7.2f} steps/s", flush=True)

    print()
    print(f"Reference ViT train step (batch 64, 28x28x1, patch 4, width 64, depth 4), "
          f"{args.steps} timed steps per measurement, median of {args.runs} interleaved measurements.")
    print()
    print("| threads | framework | steps/s (median) | runs | ratio to PyTorch |")
    print("|---:|---|---:|---|---:|")
    for threads in thread_counts:
        torch_rates = rates[("PyTorch", threads)]
        torch_median = statistics.median(torch_rates) if torch_rates else None
        for name in frameworks:
            values = rates[(name, threads)]
            label = name if name.startswith("munet") else f"{name} {versions.get(name, '')}".strip()
            if name.startswith("munet"):
                spec = name.split()[1]
                label = f"munet --tier {spec.split('@')[0]}"
                if "@" in spec:
                    core = spec.split("@")[1]
                    label += " (OPENBLAS_CORETYPE unset)" if core == "auto" else f" (OPENBLAS_CORETYPE={core})"
            if not values:
                print(f"| {threads} | {label} | not available | | |")
                continue
            median = statistics.median(values)
            ratio = f"{median / torch_median:.2f}" if torch_median else ""
            runs = ", ".join(f"{v:.2f}" for v in values)
            print(f"| {threads} | {label} | {median:.2f} | {runs} | {ratio} |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes or checks the pinned evolution runs in golden/evolve/.

    scripts/evolve_golden.py check [--munet PATH]      replay every golden run, compare (CI)
    scripts/evolve_golden.py make NAME CONFIG SEED [--from NAME] [--force]

A golden run is golden/evolve/NAME.json (configuration, seed, the golden run it continues,
the system digest and every task digest as printed by `munet digest`) plus
golden/evolve/NAME.journal.jsonl (the committed journal). `check` replays each with the given
munet executable (default: the release build) in a temporary directory and fails on any
difference. `make` refuses to overwrite an existing golden without --force: changing a golden
is a change of results and its commit must say what changed and why.
"""
import argparse, filecmp, json, os, shutil, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "golden", "evolve")


def munet(binary, *args):
    result = subprocess.run([binary, *args], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"munet {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def digest(binary, directory, task=None):
    args = ["digest", directory] + (["--task", task] if task else [])
    return munet(binary, *args).split()[0]


def run(binary, golden, scratch, threads):
    """Evolves golden['config'] with its seed (after its source run) and returns the directory."""
    source = None
    if golden.get("from"):
        source = run(binary, load(golden["from"]), scratch, threads)
    out = os.path.join(scratch, golden["name"])
    args = ["evolve", "--config", golden["config"], "--seed", str(golden["seed"]), "--out", out,
            "--quiet", "--threads", str(threads)]
    if source:
        args += ["--from", source]
    munet(binary, *args)
    return out


def load(name):
    with open(os.path.join(GOLDEN, name + ".json")) as handle:
        golden = json.load(handle)
    golden["name"] = name
    return golden


def task_names(directory):
    with open(os.path.join(directory, "manifest.json")) as handle:
        return [task["name"] for task in json.load(handle)["state"]["tasks"]]


def make(args):
    os.makedirs(GOLDEN, exist_ok=True)
    path = os.path.join(GOLDEN, args.name + ".json")
    if os.path.exists(path) and not args.force:
        sys.exit(f"{path} exists; pass --force to change a golden result (and say why in the commit)")
    golden = {"name": args.name, "config": args.config, "seed": args.seed, "from": args.source}
    with tempfile.TemporaryDirectory() as scratch:
        out = run(args.munet, golden, scratch, 2)
        golden["system_sha256"] = digest(args.munet, out)
        golden["tasks"] = {task: digest(args.munet, out, task) for task in sorted(task_names(out))}
        golden["journal"] = f"golden/evolve/{args.name}.journal.jsonl"
        shutil.copyfile(os.path.join(out, "journal.jsonl"), os.path.join(ROOT, golden["journal"]))
    del golden["name"]
    with open(path, "w") as handle:
        json.dump(golden, handle, indent=2, sort_keys=True)
        handle.write("\n")
    print(f"wrote {path}: system {golden['system_sha256']}")


def check(args):
    names = sorted(name[:-5] for name in os.listdir(GOLDEN) if name.endswith(".json")) if os.path.isdir(GOLDEN) else []
    if not names:
        sys.exit(f"no golden runs in {GOLDEN}: they are part of the repository; restore them")
    failures = 0
    with tempfile.TemporaryDirectory() as scratch:
        for index, name in enumerate(names):
            golden = load(name)
            run_scratch = os.path.join(scratch, str(index))
            os.makedirs(run_scratch)
            out = run(args.munet, golden, run_scratch, 1 + index % 2)
            problems = []
            system = digest(args.munet, out)
            if system != golden["system_sha256"]:
                problems.append(f"system digest {system}, golden {golden['system_sha256']}")
            for task, expected in sorted(golden["tasks"].items()):
                actual = digest(args.munet, out, task)
                if actual != expected:
                    problems.append(f"task {task} digest {actual}, golden {expected}")
            if not filecmp.cmp(os.path.join(out, "journal.jsonl"), os.path.join(ROOT, golden["journal"]), shallow=False):
                problems.append(f"journal differs from {golden['journal']}")
            status = "ok" if not problems else "FAILED\n    " + "\n    ".join(problems)
            print(f"golden {name} (seed {golden['seed']}, {1 + index % 2} threads): {status}")
            failures += bool(problems)
    if failures:
        sys.exit(f"{failures} golden evolution run(s) differ")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--munet", default=os.path.join(ROOT, ".build", "release", "munet"))
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check")
    maker = sub.add_parser("make")
    maker.add_argument("name")
    maker.add_argument("config")
    maker.add_argument("seed", type=int)
    maker.add_argument("--from", dest="source")
    maker.add_argument("--force", action="store_true")
    args = parser.parse_args()
    (make if args.command == "make" else check)(args)


if __name__ == "__main__":
    main()

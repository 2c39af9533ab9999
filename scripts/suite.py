#!/usr/bin/env python3
"""munet's real-data benchmark suite: the µ2Net evolution (with short and with long children), a
scale-controlled evolution and four baselines at equal training compute on MNIST, Fashion-MNIST,
optdigits and three tasks derived from MNIST (docs/results.md).

    scripts/suite.py run [NAME ...]       evolve each run (resumes), report it, re-evaluate every task
    scripts/suite.py results              write golden/suite/results.json and docs/results.md
    scripts/suite.py check [NAME ...]     replay each run in a temporary directory, compare digests
    scripts/suite.py check-docs           docs/results.md and golden/suite/results.json agree (fast)

Runs go to runs/suite-NAME-seed0 (the default directory of `munet evolve` for the config), so
`run` after an interruption continues where it stopped: `munet evolve` resumes a run from its
last committed generation, bit-identical to an uninterrupted one, and a finished run is only
reported. The wall-clock time of each run made uninterrupted in one call goes to
runs/suite-times.json (telemetry: never in a digest).

`results` refuses to replace golden/suite/results.json when a digest changed unless --force
is given: changing it is a change of results, and its commit must say what changed and why.
Needs the real datasets in data/ (scripts/fetch-data) and the release build (scripts/run builds it).
"""
import argparse, csv, json, os, re, shutil, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = "fixtures/configs/suite"
GOLDEN = os.path.join(ROOT, "golden", "suite", "results.json")
DOC = os.path.join(ROOT, "docs", "results.md")
PLOTS = os.path.join(ROOT, "docs", "results")
TIMES = os.path.join(ROOT, "runs", "suite-times.json")

# (name, what it is). Order: the order in which `run` runs them and the columns of the tables.
RUNS = [
    ("evolve", "µ2Net evolution, 2 rounds × 4 generations × 4 children × 12 validations"),
    ("scale", "the same evolution with `score.size_base` 0.5 (scale control)"),
    ("evolve-long", "µ2Net evolution with longer children at the same compute: "
                    "2 rounds × 3 generations × 2 children × 32 validations"),
    ("finetune-all", "baseline: fine-tune every root component, new head"),
    ("freeze-bottom-1", "baseline: root's embedding and block 0 frozen, the rest fine-tuned"),
    ("adapters-16", "baseline: root frozen, residual adapters of width 16 before every block"),
    ("scratch", "baseline: every component freshly initialised"),
]
BASELINES = ["finetune-all", "freeze-bottom-1", "adapters-16", "scratch"]
EVOLUTIONS = ["evolve", "scale", "evolve-long"]
NAMES = [name for name, _ in RUNS]
TARGETS = {"mnist": 99.3, "fashion-mnist": 91.5, "optdigits": 98.5}


def config_path(name):
    return f"{CONFIGS}/suite-{name}.json"


def run_dir(name):
    return f"runs/suite-{name}-seed0"


def munet_binary(args):
    return os.path.abspath(args.munet) if args.munet else os.path.join(ROOT, ".build", "release", "munet")


def munet(binary, *args, echo=False):
    if echo:
        print("$ munet " + " ".join(args), flush=True)
        result = subprocess.run([binary, *args], cwd=ROOT)
        if result.returncode != 0:
            sys.exit(f"munet {' '.join(args)} failed (exit {result.returncode})")
        return ""
    result = subprocess.run([binary, *args], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"munet {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def digest(binary, directory, task=None):
    return munet(binary, "digest", directory, *(["--task", task] if task else [])).split()[0]


def load_json(path):
    with open(path) as handle:
        return json.load(handle)


def selected(names):
    for name in names:
        if name not in NAMES:
            sys.exit(f"unknown run {name!r}; runs: {', '.join(NAMES)}")
    return names or NAMES


# ---------------------------------------------------------------------------------------------
# run

def run(args):
    binary = munet_binary(args)
    times = load_json(TIMES) if os.path.exists(TIMES) else {}
    for name in selected(args.names):
        directory = run_dir(name)
        fresh = not os.path.exists(os.path.join(ROOT, directory))
        start = time.monotonic()
        munet(binary, "evolve", "--config", config_path(name), "--quiet", echo=True)
        seconds = time.monotonic() - start
        munet(binary, "report", directory, echo=True)
        # Zero forgetting, checked independently of the run: every task's retained path,
        # rebuilt alone from its components, must give exactly its recorded test result.
        for task in task_names(directory):
            munet(binary, "eval", directory, "--task", task, echo=True)
        if fresh:  # only an uninterrupted run's time says how long a run takes
            times[name] = round(seconds, 1)
            os.makedirs(os.path.dirname(TIMES), exist_ok=True)
            with open(TIMES, "w") as handle:
                json.dump(times, handle, indent=2, sort_keys=True)


def task_names(directory):
    return [task["name"] for task in load_json(os.path.join(ROOT, directory, "manifest.json"))["state"]["tasks"]]


# ---------------------------------------------------------------------------------------------
# results: read a finished run

def summarise(binary, name):
    """The facts of one finished run that the results pin: digests, per-task results."""
    directory = run_dir(name)
    manifest = load_json(os.path.join(ROOT, directory, "manifest.json"))
    state = manifest["state"]
    paths = {path["id"]: path for path in state["paths"]}
    report = os.path.join(ROOT, directory, "report")
    with open(os.path.join(report, "components.csv")) as handle:
        sizes = {int(row["id"]): int(row["num_params"]) for row in csv.DictReader(handle)}
    with open(os.path.join(report, "paths.csv")) as handle:
        accounted = {int(row["id"]): float(row["final_accounted_params"])
                     for row in csv.DictReader(handle) if row["final_accounted_params"]}
    tasks = {}
    for task in task_names(directory):
        path = paths[state["retained"][task]]
        tasks[task] = {
            "digest": digest(binary, directory, task),
            "path": path["id"],
            "test": path["test"],
            "validation": path["validation"],
            "parameters": sum(sizes[component] for component in path["components"]),
            "accounted_parameters": accounted[path["id"]],
            "image_size": path["hyperparameters"]["ds_image_size"],
            "layers": path["hyperparameters"]["num_layers"],
            "adapter_layers": len(path["hyperparameters"]["adapter_layers"]),
        }
    lineage = lineages(directory)
    for task, facts in tasks.items():
        facts["lineage_children"], facts["lineage_steps"] = lineage(facts["path"])
    return {
        "config": config_path(name),
        "seed": manifest["config"]["seed"],
        "digest": digest(binary, directory),
        "tasks": tasks,
        "system_parameters": sum(sizes.values()),
    }


def lineages(directory):
    """Returns a function: path id -> (children on its lineage, training steps along it). The
    lineage is the chain of parents back to the root, through other tasks' paths too; its steps
    are how much training the path's inherited weights have had (an upper bound: a component
    frozen along the way stopped training there)."""
    parent = {}
    with open(os.path.join(ROOT, directory, "journal.jsonl")) as handle:
        for line in handle:
            event = json.loads(line)
            if event["event"] == "child" and event.get("path") is not None:
                parent[event["path"]] = (event["parent"], event["steps_run"])

    def walk(path):
        children = steps = 0
        while path in parent:
            path, run = parent[path]
            children += 1
            steps += run
        return children, steps
    return walk


def percent(result):
    correct, count = result
    return 100.0 * correct / count


def average_test(run):
    return sum(percent(t["test"]) for t in run["tasks"].values()) / len(run["tasks"])


def mean_accounted(run):
    return sum(t["accounted_parameters"] for t in run["tasks"].values()) / len(run["tasks"])


def results(args):
    binary = munet_binary(args)
    runs = {}
    for name in NAMES:
        if not os.path.exists(os.path.join(ROOT, run_dir(name), "report", "paths.csv")):
            sys.exit(f"{run_dir(name)} is missing or unreported: run `scripts/suite.py run {name}` first")
        runs[name] = summarise(binary, name)
    golden = {"format": "munet-suite-results-1", "runs": runs}
    if os.path.exists(GOLDEN) and not args.force:
        old = load_json(GOLDEN)
        changed = [n for n in NAMES if n in old["runs"] and old["runs"][n]["digest"] != runs[n]["digest"]]
        if changed:
            sys.exit(f"{GOLDEN}: digests of {', '.join(changed)} would change; that is a change of "
                     "results (use --force and say in the commit what changed and why)")
    os.makedirs(os.path.dirname(GOLDEN), exist_ok=True)
    with open(GOLDEN, "w") as handle:
        json.dump(golden, handle, indent=1, sort_keys=True)
        handle.write("\n")
    os.makedirs(PLOTS, exist_ok=True)
    for name in EVOLUTIONS:
        for plot in ("scores", "parameters", "sharing"):
            shutil.copyfile(os.path.join(ROOT, run_dir(name), "report", plot + ".svg"),
                            os.path.join(PLOTS, f"{name}-{plot}.svg"))
    times = load_json(TIMES) if os.path.exists(TIMES) else {}
    with open(DOC, "w") as handle:
        handle.write(render(runs, times))
    print(f"wrote {os.path.relpath(GOLDEN, ROOT)}, {os.path.relpath(DOC, ROOT)} and {os.path.relpath(PLOTS, ROOT)}/")


# ---------------------------------------------------------------------------------------------
# docs/results.md

def render(runs, times):
    from suite_doc import render_document  # the prose lives beside this script
    return render_document(runs, times, RUNS, BASELINES, EVOLUTIONS, TARGETS, config_path, run_dir,
                           percent, average_test, mean_accounted)


# ---------------------------------------------------------------------------------------------
# check: replay

def check(args):
    binary = munet_binary(args)
    golden = load_json(GOLDEN)["runs"]
    failures = 0
    with tempfile.TemporaryDirectory(prefix="munet-suite-") as scratch:
        for name in selected(args.names):
            out = os.path.join(scratch, name)
            start = time.monotonic()
            munet(binary, "evolve", "--config", config_path(name), "--out", out, "--quiet",
                  "--tier", args.tier, "--threads", str(args.threads))
            seconds = time.monotonic() - start
            expected = golden[name]
            problems = []
            got = digest(binary, out)
            if got != expected["digest"]:
                problems.append(f"system digest {got} != {expected['digest']}")
            for task, facts in expected["tasks"].items():
                got = digest(binary, out, task)
                if got != facts["digest"]:
                    problems.append(f"task {task}: digest {got} != {facts['digest']}")
            status = "ok" if not problems else "DIFFERENT"
            print(f"{name}: {status} ({seconds:.0f} s, --tier {args.tier} --threads {args.threads})", flush=True)
            for problem in problems:
                print("  " + problem)
            failures += bool(problems)
            shutil.rmtree(out)
    if failures:
        sys.exit(f"{failures} run(s) differ from {os.path.relpath(GOLDEN, ROOT)}")


def check_docs(args):
    """Every digest in golden/suite/results.json appears in docs/results.md and vice versa."""
    golden = load_json(GOLDEN)["runs"]
    with open(DOC) as handle:
        text = handle.read()
    in_doc = set(re.findall(r"`([0-9a-f]{64})`", text))
    pinned = {run["digest"] for run in golden.values()}
    pinned |= {task["digest"] for run in golden.values() for task in run["tasks"].values()}
    missing = sorted(pinned - in_doc)
    extra = sorted(in_doc - pinned)
    if missing or extra:
        sys.exit(f"docs/results.md and golden/suite/results.json disagree: "
                 f"missing from the doc {missing}, not pinned {extra}")
    print(f"docs/results.md: {len(pinned)} digests, all pinned in golden/suite/results.json")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--munet", help="munet executable (default: .build/release/munet)")
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("run")
    command.add_argument("names", nargs="*")
    command = commands.add_parser("results")
    command.add_argument("--force", action="store_true")
    command = commands.add_parser("check")
    command.add_argument("names", nargs="*")
    command.add_argument("--tier", default="threads", choices=["reference", "threads"])
    command.add_argument("--threads", type=int, default=2)
    commands.add_parser("check-docs")
    args = parser.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    {"run": run, "results": results, "check": check, "check-docs": check_docs}[args.command](args)


if __name__ == "__main__":
    main()

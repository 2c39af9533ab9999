#!/usr/bin/env python3
"""Kills `munet evolve` with SIGKILL at seeded random points, resumes it, and checks that the
final system digest equals the digest of an uninterrupted run.

    scripts/crash_harness.py --kills N --seed S [--config PATH] [--munet PATH] [--work DIR]
                             [--kills-per-chain K] [--json PATH] [--keep] [-- EXTRA EVOLVE ARGS]

First an uninterrupted reference run (its digest, wall time and number of file-system write
steps, from MUNET_FAULT_LOG). Then chains: a chain starts a fresh --out directory and runs the
same command again and again, each process killed at a random point, until it has taken
--kills-per-chain kills; a last process then runs to the end and its digest must equal the
reference. Each kill is one of two kinds, chosen with equal probability:

  time        SIGKILL after a random delay, uniform over the estimated remaining run time:
              lands anywhere, mostly inside a generation (during training);
  write-step  MUNET_FAULT_KILL_AT_WRITE=n, n uniform over the estimated remaining write steps:
              the process kills itself just before the n-th step of its file writing (open
              temporary, write, fsync, close, rename, open directory, fsync directory, mkdir,
              remove), so it lands inside a checkpoint commit, at every kind of step.

A kill that comes too late (the process already finished) is not counted as a kill; the chain
then ends there and its digest is checked. For each kill the script prints its kind, the step
the process was at (from its MUNET_FAULT_LOG: the last step it started) and the committed
cursor it left (round/task/generation from manifest.json). A kill survived when its chain
resumed to the reference digest. Exit status 1 if any chain failed (its directory is kept).

Default: the release executable and fixtures/configs/smoke.json.
"""
import argparse, json, os, random, shutil, signal, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, required=True, help="kills to deliver")
    parser.add_argument("--seed", type=int, required=True, help="seed of the kill schedule")
    parser.add_argument("--config", default=os.path.join(ROOT, "fixtures/configs/smoke.json"))
    parser.add_argument("--munet", default=os.path.join(ROOT, ".build/release/munet"))
    parser.add_argument("--work", help="scratch directory (default: a new temporary one)")
    parser.add_argument("--kills-per-chain", type=int, default=6)
    parser.add_argument("--json", help="write the figures and every kill to this file")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("extra", nargs="*", help="extra arguments for munet evolve (after --)")
    return parser.parse_args()


class Harness:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.work = args.work or tempfile.mkdtemp(prefix="munet-crash-")
        os.makedirs(self.work, exist_ok=True)
        self.kills = []
        self.chains = []
        self.late = 0

    def command(self, out):
        return [self.args.munet, "evolve", "--config", self.args.config, "--out", out, "--quiet",
                *self.args.extra]

    def launch(self, out, log, kill_at=None):
        env = dict(os.environ)
        env["MUNET_FAULT_LOG"] = log
        env.pop("MUNET_FAULT_KILL_AT_WRITE", None)
        if kill_at is not None:
            env["MUNET_FAULT_KILL_AT_WRITE"] = str(kill_at)
        return subprocess.Popen(self.command(out), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def reference(self):
        out = os.path.join(self.work, "reference")
        log = os.path.join(self.work, "reference.log")
        start = time.monotonic()
        process = self.launch(out, log)
        stdout, stderr = process.communicate()
        self.reference_seconds = time.monotonic() - start
        if process.returncode != 0:
            sys.exit(f"the reference run failed:\n{stdout}\n{stderr}")
        self.reference_digest = digest_line(stdout)
        steps = read_log(log)
        self.reference_steps = len(steps)
        # Where each commit (a completed manifest rename) ends in the reference's write steps.
        self.commit_ends = [number for number, step, target in steps
                            if step == "rename" and target.endswith("/manifest.json")]
        print(f"reference: digest {self.reference_digest}, {self.reference_seconds:.2f} s, "
              f"{self.reference_steps} write steps")

    def chain(self, index):
        out = os.path.join(self.work, f"chain{index}")
        chain_kills = []
        commits = 0
        attempt = 0
        while True:
            attempt += 1
            log = os.path.join(self.work, f"chain{index}.{attempt}.log")
            want_kill = len(chain_kills) < self.args.kills_per_chain and \
                len(self.kills) + len(chain_kills) < self.args.kills
            kind = self.rng.choice(["time", "write-step"]) if want_kill else None
            kill_at = None
            delay = None
            # The steps left after the chain's last commit, as the reference run took them.
            done = self.commit_ends[min(commits, len(self.commit_ends)) - 1] if commits else 0
            remaining = max(1, self.reference_steps - done)
            if kind == "write-step":
                kill_at = self.rng.randint(1, remaining)
            elif kind == "time":
                delay = self.rng.uniform(0.0, self.reference_seconds * remaining / self.reference_steps)
            start = time.monotonic()
            process = self.launch(out, log, kill_at)
            if delay is not None:
                try:
                    process.wait(timeout=delay)
                except subprocess.TimeoutExpired:
                    process.send_signal(signal.SIGKILL)
            stdout, stderr = process.communicate()
            elapsed = time.monotonic() - start
            steps = read_log(log)
            if process.returncode == -signal.SIGKILL:
                last = steps[-1] if steps else None
                record = {
                    "chain": index, "attempt": attempt, "kind": kind,
                    "requested": kill_at if kind == "write-step" else round(delay, 4),
                    "seconds": round(elapsed, 4), "steps_started": len(steps),
                    "step": last[1] if last else None, "target": describe_target(last[2], out) if last else None,
                    "cursor": committed_cursor(out),
                }
                chain_kills.append(record)
                print(f"  kill {len(self.kills) + len(chain_kills):4d} chain {index} {kind:10s} "
                      f"{'n=' + str(kill_at) if kill_at else f't={delay:.3f}s':>9s}  at "
                      f"{record['step'] or 'start'} {record['target'] or ''}  cursor {record['cursor']}")
                commits += completed_commits(steps)
                continue
            if process.returncode == 0:
                if kind is not None:
                    self.late += 1
                final = digest_line(stdout)
                survived = final == self.reference_digest
                if not survived:
                    print(f"  chain {index}: digest {final} differs from the reference; kept {out}")
                for record in chain_kills:
                    record["survived"] = survived
                self.chains.append({"chain": index, "kills": len(chain_kills), "survived": survived,
                                    "digest": final})
                if survived and not self.args.keep:
                    shutil.rmtree(out, ignore_errors=True)
                return chain_kills
            print(f"  chain {index}: munet failed with status {process.returncode} after "
                  f"{len(chain_kills)} kills; kept {out}\n{stdout[-2000:]}\n{stderr[-2000:]}")
            for record in chain_kills:
                record["survived"] = False
            self.chains.append({"chain": index, "kills": len(chain_kills), "survived": False,
                                "error": stderr[-2000:]})
            return chain_kills

    def run(self):
        start = time.monotonic()
        self.reference()
        index = 0
        while len(self.kills) < self.args.kills:
            index += 1
            self.kills += self.chain(index)
        duration = time.monotonic() - start
        survived = sum(1 for kill in self.kills if kill["survived"])
        by_kind = {}
        for kill in self.kills:
            entry = by_kind.setdefault(kill["kind"], {"tried": 0, "survived": 0})
            entry["tried"] += 1
            entry["survived"] += kill["survived"]
        by_step = {}
        for kill in self.kills:
            key = f"{kill['step'] or 'before any write'} {target_class(kill['target'])}"
            by_step[key] = by_step.get(key, 0) + 1
        print(f"\nkills tried {len(self.kills)}, survived {survived}; chains {len(self.chains)} "
              f"(failed {sum(1 for c in self.chains if not c['survived'])}); "
              f"kills that came after the end {self.late}; {duration:.1f} s")
        for kind, entry in sorted(by_kind.items()):
            print(f"  {kind:10s} tried {entry['tried']:4d} survived {entry['survived']:4d}")
        print("  where the kills landed (step, file):")
        for key, count in sorted(by_step.items(), key=lambda item: (-item[1], item[0])):
            print(f"    {count:4d}  {key}")
        if self.args.json:
            with open(self.args.json, "w") as handle:
                json.dump({"seed": self.args.seed, "config": os.path.relpath(self.args.config, ROOT),
                           "reference_digest": self.reference_digest,
                           "reference_seconds": round(self.reference_seconds, 3),
                           "reference_write_steps": self.reference_steps, "kills_tried": len(self.kills),
                           "kills_survived": survived, "late": self.late, "by_kind": by_kind,
                           "by_step": by_step, "seconds": round(duration, 1), "chains": self.chains,
                           "kills": self.kills}, handle, indent=1)
        ok = survived == len(self.kills) and all(chain["survived"] for chain in self.chains)
        if not self.args.keep and ok:
            shutil.rmtree(self.work, ignore_errors=True)
        return 0 if ok else 1


def digest_line(stdout):
    for line in reversed(stdout.splitlines()):
        if line.startswith("digest "):
            return line.split()[1]
    return None


def read_log(path):
    """[(n, step, target)] of a MUNET_FAULT_LOG file (a line cut by the kill is dropped)."""
    if not os.path.exists(path):
        return []
    entries = []
    with open(path) as handle:
        for line in handle:
            if not line.endswith("\n"):
                break
            number, step, target = line.rstrip("\n").split(" ", 2)
            entries.append((int(number), step, target))
    return entries


def completed_commits(steps):
    """Manifest renames a killed process completed (a step logged after them: the log line is
    written before its step runs)."""
    return sum(1 for index, (number, step, target) in enumerate(steps)
               if step == "rename" and target.endswith("/manifest.json") and index + 1 < len(steps))


def describe_target(target, out):
    return os.path.relpath(target, out) if target.startswith(out) else target


def target_class(target):
    if target is None:
        return ""
    if target.startswith("components/"):
        return "components/<id>.safetensors"
    return target


def committed_cursor(out):
    try:
        with open(os.path.join(out, "manifest.json")) as handle:
            cursor = json.load(handle)["state"]["cursor"]
    except (OSError, ValueError, KeyError):
        return "none (no manifest yet)"
    if cursor["finished"]:
        return "finished"
    started = "" if cursor["task_started"] else " (task not started)"
    return f"round {cursor['round']} task {cursor['task_index']} generation {cursor['generation']}{started}"


if __name__ == "__main__":
    sys.exit(Harness(parse_args()).run())

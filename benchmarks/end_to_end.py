"""The demo pipeline end to end: wall time per asset, Dagster's own share, peak memory, growth with corpus size.

    python benchmarks/end_to_end.py --sizes 1200 2400 4800 --until climblab   # cost vs corpus size
    python benchmarks/end_to_end.py --sizes 2400                              # the whole pipeline (= climb demo)
    [--executor in_process|multiprocess] [--seed 0] [--keep DIR] [--out FILE]

Each size is one `climb run [--until ASSET]` subprocess on a freshly generated demo corpus of that many
clean documents (seed 0; the target set stays at the demo's 240 documents), with its own storage root and
Dagster instance, exactly as `climb demo` runs it (the code location's executor unless --executor or
$CLIMB_EXECUTOR names one; the executor the runs really used is read back from their event logs). Measured:

- wall: the subprocess from spawn to exit, so interpreter start, imports and definitions load count;
- per asset: STEP_START -> STEP_SUCCESS of every step, read back from the instance's event log and summed
  over partitions (a step is named by the assets it materialised, or `check:<name>` for a check step);
- Dagster's share: wall minus the time in which at least one step was running, split into startup
  (spawn -> first run start: imports, definitions, instance, shard registration), inside runs (run start
  -> end not covered by a step: step-process spawn and code-location import under multiprocess, plan,
  event writes) and between runs (run creation, job reconstruction, the CLI's own work);
- CPU seconds (user + system) of the whole process tree, from getrusage: on a shared machine this moves
  far less than wall time with the neighbours' load;
- peak memory of the process tree (the CLI, step processes, proxy workers), sampled from /proc every
  0.2 s: summed RSS (shared library pages counted once per process, an upper bound) and summed PSS
  (shared pages divided among sharers: the tree's real footprint), plus the largest single process.

Merges its rows into benchmarks/results/end_to_end.json (keyed by size, --until and executor) and prints
Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "end_to_end.json"
SAMPLE_SECONDS = 0.2  # /proc sampling period: short enough to catch a step process's peak
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


# ------------------------------------------------------------------ process-tree memory
def _children_by_parent() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = defaultdict(list)
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
            except OSError:  # exited meanwhile
                continue
            tree[int(stat.rsplit(")", 1)[1].split()[1])].append(int(entry.name))
    return tree


def _memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB; PSS falls back to RSS where smaps_rollup is unreadable."""
    try:
        rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB
    except OSError:
        return 0, 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return rss, int(line.split()[1])
    except OSError:
        pass
    return rss, rss


class TreeMemory(threading.Thread):
    """Samples a process and all its descendants until stopped; keeps the peaks in MiB."""

    def __init__(self, root_pid: int) -> None:
        super().__init__(daemon=True)
        self.root_pid, self.stopped = root_pid, threading.Event()
        self.peak = {"rss_tree_mb": 0.0, "pss_tree_mb": 0.0, "rss_largest_process_mb": 0.0, "processes": 0}

    def run(self) -> None:
        while not self.stopped.wait(SAMPLE_SECONDS):
            tree, pids, todo = _children_by_parent(), [], [self.root_pid]
            while todo:
                pid = todo.pop()
                pids.append(pid)
                todo += tree.get(pid, [])
            samples = [_memory_kb(pid) for pid in pids]
            for key, value in (("rss_tree_mb", sum(s[0] for s in samples) / 1024),
                               ("pss_tree_mb", sum(s[1] for s in samples) / 1024),
                               ("rss_largest_process_mb", max(s[0] for s in samples) / 1024),
                               ("processes", len([s for s in samples if s[0]]))):
                self.peak[key] = max(self.peak[key], round(value, 1))


# ------------------------------------------------------------------ event-log timings
def _covered(intervals: list[tuple[float, float]]) -> float:
    """Seconds inside at least one interval (parallel steps count once)."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total


def step_timings(dagster_home: Path) -> dict:
    """Per-run and per-step times from the instance the CLI wrote."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(dagster_home))
    runs, steps, executors = [], [], set()
    for record in sorted(instance.get_run_records(), key=lambda r: r.start_time or 0):
        run_id, started, names = record.dagster_run.run_id, {}, defaultdict(set)
        status = record.dagster_run.status.value
        assert status == "SUCCESS", f"run {run_id} ended {status}"
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is not None and entry.message.startswith("Executing steps"):  # the executor's first words
                executors.add("multiprocess" if "multiprocess" in entry.message else "in_process")
            if event is None or not entry.step_key:
                continue
            kind = event.event_type_value
            if kind == "STEP_START":
                started[entry.step_key] = entry.timestamp
            elif kind == "STEP_SUCCESS":
                steps.append({"run": run_id, "step": entry.step_key, "start": started[entry.step_key],
                              "end": entry.timestamp})
            elif kind == "ASSET_MATERIALIZATION":
                names[entry.step_key].add(event.asset_key.to_user_string())
            elif kind == "ASSET_CHECK_EVALUATION" and not names[entry.step_key]:
                names[entry.step_key].add(f"check:{event.event_specific_data.check_name}")
        for step in steps:
            if step["run"] == run_id:
                step["name"] = "+".join(sorted(names[step["step"]])) or step["step"]
        runs.append({"run": run_id, "partition": record.dagster_run.tags.get("dagster/partition"),
                     "start": record.start_time, "end": record.end_time})
    instance.dispose()
    return {"runs": runs, "steps": steps, "executor": "+".join(sorted(executors))}


def breakdown(timings: dict, spawned: float, exited: float) -> dict:
    """Per-asset seconds and the split of the wall time between steps and Dagster."""
    runs, steps = timings["runs"], timings["steps"]
    wall = exited - spawned
    per_asset: dict[str, dict] = defaultdict(lambda: {"seconds": 0.0, "steps": 0})
    for step in steps:
        per_asset[step["name"]]["seconds"] += step["end"] - step["start"]
        per_asset[step["name"]]["steps"] += 1
    in_steps = _covered([(s["start"], s["end"]) for s in steps])
    run_wall = sum(r["end"] - r["start"] for r in runs)
    inside_runs = run_wall - sum(_covered([(s["start"], s["end"]) for s in steps if s["run"] == r["run"]])
                                 for r in runs)
    startup = min(r["start"] for r in runs) - spawned
    return {
        "executor": timings["executor"],
        "wall_seconds": round(wall, 2),
        "runs": len(runs),
        "steps": len(steps),
        "step_seconds_sum": round(sum(s["end"] - s["start"] for s in steps), 2),
        "step_seconds_covered": round(in_steps, 2),
        "dagster_seconds": round(wall - in_steps, 2),
        "dagster_share": round((wall - in_steps) / wall, 3),
        "dagster_startup_seconds": round(startup, 2),
        "dagster_inside_runs_seconds": round(inside_runs, 2),
        "dagster_between_runs_seconds": round(wall - in_steps - startup - inside_runs, 2),
        "per_asset": {name: {"seconds": round(v["seconds"], 2), "steps": v["steps"],
                             "share_of_wall": round(v["seconds"] / wall, 3)}
                      for name, v in sorted(per_asset.items(), key=lambda kv: -kv[1]["seconds"])},
    }


# ------------------------------------------------------------------ one size
def _children_cpu_seconds() -> float:
    """User + system CPU of every finished descendant: the work, whatever the neighbours' load did to wall time."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_sampled(command: list[str], env: dict, sampler) -> tuple[str, int, float, float, threading.Thread]:
    """Run `command` from the repository (output captured) while `sampler(pid)` samples its process tree;
    returns (output, exit status, spawn time, exit time, the sampler)."""
    spawned = time.time()
    child = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampling = sampler(child.pid)
    sampling.start()
    output, _ = child.communicate()
    exited = time.time()
    sampling.stopped.set()
    sampling.join()
    return output, child.returncode, spawned, exited, sampling


def run_size(size: int, *, until: str | None, executor: str | None, seed: int, work: Path) -> dict:
    sys.path.insert(0, str(REPO))
    from climb.demo.corpus import generate_demo_corpus

    home = work / f"size_{size}_{until or 'all'}_{executor or 'default'}"
    manifest = generate_demo_corpus(home / "demo", seed=seed, n_documents=size)
    env = {k: v for k, v in os.environ.items() if k not in ("CLIMB_CONFIG", "DAGSTER_HOME")}
    env["CLIMB_HOME"] = str(home)
    if executor:
        env["CLIMB_EXECUTOR"] = executor
    command = [sys.executable, "-m", "climb_assets.cli", "run", *(["--until", until] if until else [])]
    load_before, cpu_before = os.getloadavg(), _children_cpu_seconds()
    output, returncode, spawned, exited, memory = run_sampled(command, env, TreeMemory)
    if returncode != 0:
        raise SystemExit(f"size {size}: `{' '.join(command)}` exited {returncode}:\n{output[-3000:]}")
    row = {"documents": size, "input_records": manifest.expected["input_records"], "until": until or "all",
           "executor_requested": env.get("CLIMB_EXECUTOR") or "auto",
           **breakdown(step_timings(home / "dagster"), spawned, exited),
           "cpu_seconds": round(_children_cpu_seconds() - cpu_before, 1),
           "peak_memory": memory.peak, "load_average_before": [round(x, 2) for x in load_before],
           "load_average_after": [round(x, 2) for x in os.getloadavg()]}
    row["documents_per_second"] = round(size / row["wall_seconds"], 1)
    return row


def _table(rows: list[dict]) -> str:
    header = ("| documents | until | executor | wall s | CPU s | docs/s | in steps s | Dagster s (share) "
              "| startup / in runs / between s | runs | peak RSS tree MB | peak PSS tree MB |")
    lines = [header, "|---:|---|---|" + "---:|" * 9]
    for r in rows:
        memory = r["peak_memory"]
        lines.append(
            f"| {r['documents']:,} | {r['until']} | {r['executor']} | {r['wall_seconds']:.1f} "
            f"| {r.get('cpu_seconds', '-')} | {r['documents_per_second']} | {r['step_seconds_covered']:.1f} "
            f"| {r['dagster_seconds']:.1f} ({r['dagster_share']:.0%}) | {r['dagster_startup_seconds']:.1f} / "
            f"{r['dagster_inside_runs_seconds']:.1f} / {r['dagster_between_runs_seconds']:.1f} | {r['runs']} "
            f"| {memory['rss_tree_mb']:,.0f} | {memory['pss_tree_mb']:,.0f} |")
    return "\n".join(lines)


def _key(row: dict) -> tuple:
    return row["documents"], row["until"], row["executor"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2400], help="clean documents per corpus")
    parser.add_argument("--until", metavar="ASSET", help="stop at this asset (default: the whole pipeline)")
    parser.add_argument("--executor", choices=["in_process", "multiprocess"], help="default: the code location's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="keep each size's storage root and instance under this folder")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    assert Path("/proc/self/statm").exists(), "needs Linux /proc to sample the process tree's memory"
    rows = []
    with tempfile.TemporaryDirectory(prefix="climb_e2e_") as scratch:
        work = args.keep or Path(scratch)
        for size in args.sizes:  # one size at a time: the sizes must not compete for the cores
            row = run_size(size, until=args.until, executor=args.executor, seed=args.seed, work=work)
            print(f"{size:,} documents: {row['wall_seconds']:.1f} s, Dagster {row['dagster_share']:.0%}, "
                  f"peak PSS {row['peak_memory']['pss_tree_mb']:,.0f} MB", flush=True)
            rows.append(row)
    previous = json.loads(args.out.read_text()) if args.out.exists() else {"rows": []}
    fresh = {_key(r) for r in rows}
    merged = [r for r in previous["rows"] if _key(r) not in fresh] + [{**r, "date": time.strftime("%Y-%m-%d")}
                                                                     for r in rows]
    merged.sort(key=lambda r: (r["until"], r["executor"], r["documents"]))
    results = {"machine": platform.node(), "processor": platform.processor() or platform.machine(),
               "cpus": os.cpu_count(), "python": platform.python_version(), "rows": merged}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results in {args.out}\n\n{_table(merged)}\n")
    for r in rows:
        print(f"per asset, {r['documents']:,} documents, until {r['until']}, {r['executor']}:")
        print("| asset | steps | seconds | share of wall |\n|---|---:|---:|---:|")
        for name, v in r["per_asset"].items():
            print(f"| {name} | {v['steps']} | {v['seconds']:.1f} | {v['share_of_wall']:.0%} |")


if __name__ == "__main__":
    main()

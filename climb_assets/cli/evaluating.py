"""`climb eval`: lm-evaluation-harness on a saved proxy, offline, over local benchmark files
(climb.search.lm_eval_tasks). The model defaults to the verified proxy of the optimal mixture."""

import argparse
import json
import tempfile
import time
from pathlib import Path

from climb.core import load_config
from climb_assets.cli import ClimbError
from climb_assets.cli.printing import _echo


def task_items(spec: str, benchmarks: dict, limit: int | None) -> tuple[str, list]:
    """(name, items) of one `--tasks` entry: a configured benchmark's name, or NAME=FORMAT:PATH.

    Args:
        spec: the entry.
        benchmarks: name -> the configuration's target.benchmarks entry.
        limit: --limit (the first N items; None: all).
    """
    from climb.search.benchmarks import FORMATS, load_benchmark

    if "=" in spec:
        name, _, source = spec.partition("=")
        fmt, _, path = source.partition(":")
        if fmt not in FORMATS or not path:
            raise ClimbError(f"--tasks {spec}: expected NAME=FORMAT:PATH with FORMAT one of {', '.join(FORMATS)}")
    elif spec in benchmarks:
        name, fmt, path = spec, benchmarks[spec].format, benchmarks[spec].path  # every item: its limit is the search's
    else:
        raise ClimbError(f"--tasks {spec}: not a benchmark of target.benchmarks ({', '.join(benchmarks) or 'none'}) "
                         f"and not NAME=FORMAT:PATH")
    try:
        return name.strip(), load_benchmark(path.strip(), fmt, limit=limit)
    except (FileNotFoundError, ValueError) as err:
        raise ClimbError(f"--tasks {spec}: {err}") from err


def default_model(config) -> str:
    """The verified proxy of the committed optimal mixture (optimal_mixture.json's verified_proxy)."""
    from climb.core import Storage
    from climb.search import OPTIMAL

    storage = Storage(config.storage_root)
    if storage.partition_path(OPTIMAL) is None:
        raise ClimbError(f"no --model and no optimal_mixture under {config.storage_root}: run the search first")
    relative = storage.read_json(OPTIMAL, "optimal_mixture.json").get("verified_proxy")
    if not relative:
        raise ClimbError("the optimal mixture's verification proxy was not saved (proxy.save: none): pass --model")
    return f"{storage.root}/{relative}"


def cmd_eval(args: argparse.Namespace) -> int:
    """Write the tasks' files, run lm-eval on the model offline, print one line per task (and --out JSON)."""
    from climb.core.device import resolve_placement
    from climb.search import run_lm_eval

    config = load_config(args.config, home=args.home)
    if args.limit is not None and args.limit < 1 or args.batch_size < 1:
        raise ClimbError(f"--limit and --batch-size must be >= 1, got {args.limit} and {args.batch_size}")
    model = args.model or default_model(config)
    benchmarks = {b.name: b for b in config.target.benchmarks}
    tasks = dict(task_items(s.strip(), benchmarks, args.limit) for s in args.tasks.split(",") if s.strip())
    if not tasks:
        raise ClimbError("--tasks names no task")
    device = resolve_placement(args.device).device
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="climb-eval-") as scratch:
        try:
            results = run_lm_eval(model=model, tasks=tasks, folder=args.task_dir or scratch, device=device,
                                  batch_size=args.batch_size)
        except (FileNotFoundError, ValueError) as err:
            raise ClimbError(str(err)) from err
    _echo(f"climb eval: {model} on {device}, lm-evaluation-harness, {time.perf_counter() - started:.1f} s")
    for name, r in results.items():
        _echo(f"  {name}: {r['n']:,} items, acc {r['acc']:.4f}, acc_norm {r['acc_norm']:.4f} (per character), "
              f"acc_bytes {r['acc_bytes']:.4f} (per byte: the search's acc_norm)")
    if args.out:
        Path(args.out).write_text(json.dumps({"model": model, "device": device, "results": results}, indent=2) + "\n")
    return 0

"""`climb`: run the pipeline as real Dagster materialisations against a persistent instance.

    climb demo                 the whole pipeline on the built-in demo corpus, then a summary
    climb run [--config FILE] [--until ASSET] [--select SELECTION]
    climb status [--json]
    climb export --out DIR [--tokens N] [--format parquet,jsonl,megatron] [--seed S] [--overwrite]
    climb ui [--port PORT]     the Dagster UI on what the CLI materialised (loopback only)

The instance lives in `$DAGSTER_HOME`, else `<storage root>/dagster`, so `dagster dev -w workspace.yaml`
(or `dg dev`) with the same DAGSTER_HOME, CLIMB_CONFIG and CLIMB_HOME shows every run the CLI made.
Exit status: 0 on success, 1 with a one-line reason on failure.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import dagster as dg

from climb_assets.phases import plan_phases
from climb.core import DEFAULT_CONFIG_PATH, ConfigError, load_config

SHARD_COUNTS = ("input_records", "kept", "filtered", "duplicates", "quarantined")
# No executor here: the code location's (deployment.executor; auto: $CLIMB_EXECUTOR, else multiprocess from 8 CPUs).
RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


class ClimbError(RuntimeError):
    """A failure reported to the user in one line."""


def _echo(message: str) -> None:
    print(message, flush=True)


def prepare_environment(config_path: str | None, home: str | None):
    """Validate the configuration, export it to the code location, and open the instance."""
    if config_path:
        os.environ["CLIMB_CONFIG"] = str(Path(config_path).resolve())
    if home:
        os.environ["CLIMB_HOME"] = str(Path(home).resolve()) if "://" not in home else home
    config = load_config()
    if not os.environ.get("DAGSTER_HOME"):
        local_root = config.storage_root if "://" not in config.storage_root else str(Path.home() / ".climb")
        os.environ["DAGSTER_HOME"] = str(Path(local_root) / "dagster")
    dagster_home = Path(os.environ["DAGSTER_HOME"])
    dagster_home.mkdir(parents=True, exist_ok=True)
    settings = dagster_home / "dagster.yaml"
    if not settings.exists():
        settings.write_text("telemetry:\n  enabled: false\n")
    return config, dg.DagsterInstance.get()


def _definitions():
    # Imported after prepare_environment: loading the code location reads CLIMB_CONFIG.
    from climb_assets import definitions

    return definitions


def _selection(defs: dg.Definitions, until: str | None, select: str | None) -> set[dg.AssetKey]:
    graph = defs.resolve_asset_graph()
    if until and select:
        raise ClimbError("use either --until or --select, not both")
    if until:
        key = dg.AssetKey.from_user_string(until)
        if key not in graph.get_all_asset_keys():
            known = ", ".join(k.to_user_string() for k in graph.toposorted_asset_keys)
            raise ClimbError(f"--until {until}: no such asset (assets: {known})")
        selection = dg.AssetSelection.assets(key).upstream()
    elif select:
        try:
            selection = dg.AssetSelection.from_string(select)
        except Exception as err:
            raise ClimbError(f"--select {select!r}: {err}") from err
    else:
        selection = dg.AssetSelection.all()
    keys = set(selection.resolve(graph))
    if not keys:
        raise ClimbError("the selection matches no asset")
    return keys


def sync_shards(instance: dg.DagsterInstance, config) -> list:
    """Register every shard the corpus paths match; forget registered shards whose file is gone."""
    from climb_assets.partitions import SHARDS
    from climb.corpus import config_shards

    shards = config_shards(config)
    wanted = [s.key for s in shards]
    registered = set(instance.get_dynamic_partitions(SHARDS))
    new = [k for k in wanted if k not in registered]
    if new:
        instance.add_dynamic_partitions(SHARDS, new)
    for stale in sorted(registered - set(wanted)):
        _echo(f"warning: shard {stale!r} no longer matches corpus.paths; removing its partition")
        instance.delete_dynamic_partition(SHARDS, stale)
    return shards


def _failure_reason(result) -> str:
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.step_failure_data.error
            while error is not None and error.cause is not None:  # the user's exception, not Dagster's wrapper
                error = error.cause
            user = event.step_failure_data.user_failure_data
            message = (user.description if user and user.description else None) or (error.message if error else "")
            return f"{event.step_key} failed: {message.strip().splitlines()[0] if message.strip() else 'unknown error'}"
        if event.event_type_value == "ASSET_CHECK_EVALUATION" and not event.event_specific_data.passed:
            return f"blocking check {event.event_specific_data.check_name} failed"
    return "the run failed"


def _execute(instance, keys: list[dg.AssetKey], partition: str | None, label: str, kind: str):
    definitions = _definitions()
    job = {"shards": definitions.shard_job, "corpus": definitions.corpus_job, "rounds": definitions.round_job}[kind]
    tags = {"dagster/partition": partition} if partition else {}
    tags["climb/launched_by"] = "cli"
    started = time.perf_counter()
    with dg.execute_job(
        dg.reconstructable(job), instance, run_config=RUN_CONFIG, tags=tags, asset_selection=keys
    ) as result:
        if not result.success:
            raise ClimbError(f"{label}: {_failure_reason(result)} (run {result.run_id})")
        _echo(f"  {label}: ok in {time.perf_counter() - started:.1f} s (run {result.run_id[:8]})")
        return result


def _check_executor(instance, config) -> None:
    """`climb run` orchestrates in this process: the k8s executor needs a cluster's K8sRunLauncher."""
    from dagster_k8s import K8sRunLauncher

    from climb_assets.deployment import EXECUTOR_ENV, executor_name

    if executor_name(config.deployment) == "k8s" and not isinstance(instance.run_launcher, K8sRunLauncher):
        raise ClimbError(f"deployment.executor is k8s (or ${EXECUTOR_ENV}=k8s) but this instance has no "
                         "K8sRunLauncher: launch from the cluster's Dagster (see deploy/README.md), or run "
                         f"locally with {EXECUTOR_ENV}=multiprocess")


def run_pipeline(instance, config, *, until: str | None = None, select: str | None = None) -> dict:
    """Materialise the selected assets phase by phase: per-shard phases one run per shard."""
    defs = _definitions().defs
    _check_executor(instance, config)
    graph = defs.resolve_asset_graph()
    keys = _selection(defs, until, select)
    shards = sync_shards(instance, config)
    names = ", ".join(k.to_user_string() for k in graph.toposorted_asset_keys if k in keys)
    _echo(f"climb: materialising {names} over {len(shards)} shard(s); storage {config.storage_root}")
    for phase_kind, members in plan_phases(graph, keys):
        label = ", ".join(k.to_user_string() for k in members)
        if phase_kind == "corpus":
            _execute(instance, members, None, label, "corpus")
            continue
        if phase_kind == "rounds":  # each round needs the one before: stop at the first failure
            for round_key in graph.get(members[0]).partitions_def.get_partition_keys():
                _execute(instance, members, round_key, f"round {round_key}: {label}", "rounds")
            continue
        _echo(f"per shard: {label}")
        failures = []
        for index, shard in enumerate(shards, start=1):
            try:  # one bad shard does not stop the others; the phase still ends in failure
                _execute(instance, members, shard.key, f"[{index}/{len(shards)}] {shard.key}", "shards")
            except ClimbError as err:
                _echo(f"  {err}")
                failures.append(str(err))
        if failures:
            raise ClimbError(f"{len(failures)} of {len(shards)} shard(s) failed; first: {failures[0]}")
    return shard_totals(instance, defs)


def shard_totals(instance, defs) -> dict:
    from climb_assets.status import asset_status

    return asset_status(instance, defs)["assets"].get("documents", {}).get("metadata", {})


def _climbmix_line(config) -> str | None:
    """One line on the committed ClimbMix export, or None before one exists."""
    from climb.climbmix import CLIMBMIX, SUMMARY
    from climb.core import Storage

    storage = Storage(config.storage_root)
    path = storage.partition_path(CLIMBMIX)
    if path is None:
        return None
    totals = storage.read_json(CLIMBMIX, SUMMARY)["totals"]
    return (f"ClimbMix: {totals['tokens']:,} tokens ({totals['budget_error']:+.2%} of the budget "
            f"{totals['budget']:,}), {totals['documents']:,} documents in {storage.uri(path)}; "
            "`climb export --out DIR [--tokens N]` writes one elsewhere")


def _print_summary(config, totals: dict) -> None:
    counts = ", ".join(f"{name} {totals.get(name, 0):,}" for name in SHARD_COUNTS)
    _echo(f"documents: {counts}")
    balanced = totals.get("input_records") == sum(totals.get(n, 0) for n in SHARD_COUNTS[1:])
    _echo(f"accounting {'balances' if balanced else 'DOES NOT BALANCE'}; outputs under {config.storage_root}")
    climbmix = _climbmix_line(config)
    if climbmix:
        _echo(climbmix)
    _echo(
        "UI: DAGSTER_HOME={home} CLIMB_CONFIG={cfg} CLIMB_HOME={root} dagster dev -w workspace.yaml".format(
            home=os.environ["DAGSTER_HOME"], cfg=os.environ.get("CLIMB_CONFIG", DEFAULT_CONFIG_PATH),
            root=config.storage_root,
        )
    )


def cmd_demo(args: argparse.Namespace) -> int:
    from climb_assets.deployment import EXECUTOR_ENV
    from climb.demo import DemoManifest, generate_demo_corpus

    home = args.home or os.environ.get("CLIMB_HOME") or str(Path.cwd() / "climb_home")
    demo_dir = Path(home) / "demo"
    try:
        present = DemoManifest.load(demo_dir).seed == args.seed
    except (OSError, ValueError, KeyError, TypeError):
        present = False
    if not present:
        manifest = generate_demo_corpus(demo_dir, seed=args.seed)
        _echo(f"climb: wrote the demo corpus ({manifest.n_documents:,} documents, seed {args.seed}) to {demo_dir}")
    # One process unless told otherwise: the demo's steps last seconds, and spawning a process per step
    # (each importing torch) made its shard phase ~4.5x slower on 2 cores.
    os.environ.setdefault(EXECUTOR_ENV, "in_process")
    config, instance = prepare_environment(str(DEFAULT_CONFIG_PATH), home)
    totals = run_pipeline(instance, config)
    _print_summary(config, totals)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    config, instance = prepare_environment(args.config, args.home)
    totals = run_pipeline(instance, config, until=args.until, select=args.select)
    _print_summary(config, totals)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from climb_assets.status import asset_status

    config, instance = prepare_environment(args.config, args.home)
    status = asset_status(instance, _definitions().defs)
    if args.json:
        _echo(json.dumps(status, indent=2, sort_keys=True))
        return 0
    for name, entry in status["assets"].items():
        state = "materialised" if entry["materialized"] else "not materialised"
        if "partitions_total" in entry:
            state += f" ({entry['partitions_materialized']}/{entry['partitions_total']} partitions)"
        fields = ", ".join(f"{k} {v:,}" if isinstance(v, (int, float)) and not isinstance(v, bool) else f"{k} {v}"
                           for k, v in entry["metadata"].items()
                           if isinstance(v, (int, float)) or (isinstance(v, str) and len(v) < 80 and "\n" not in v
                                                              and k != "path"))
        checks = ", ".join(f"{c}: {r['passed']} passed, {r['failed']} failed" for c, r in entry["checks"].items())
        _echo(f"{name}: {state}" + (f"; {fields}" if fields else "") + (f" [checks {checks}]" if checks else ""))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Sample ClimbLab at the optimal mixture into --out (atomically), in the chosen formats, with its card."""
    import logging

    from climb.climbmix import FORMATS, ExportSettings
    from climb.climbmix import export_to_directory
    from climb.core import Storage

    config = load_config(args.config, home=args.home)
    formats = None
    if args.format is not None:
        formats = [f.strip() for f in args.format.split(",") if f.strip()]
        if not formats or any(f not in FORMATS for f in formats):
            raise ClimbError(f"--format {args.format}: a comma-separated subset of {','.join(FORMATS)}")
    if args.tokens is not None and args.tokens < 1:
        raise ClimbError(f"--tokens must be >= 1, got {args.tokens}")
    settings = ExportSettings.from_config(config.export, tokens=args.tokens, seed=args.seed, formats=formats)
    log = logging.getLogger("climb.export")
    log.addHandler(logging.NullHandler())  # warnings are echoed below, once
    started = time.perf_counter()
    try:
        summary = export_to_directory(storage=Storage(config.storage_root), settings=settings, out=args.out,
                                      overwrite=args.overwrite, config=config.model_dump(mode="json"), log=log)
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        raise ClimbError(str(err)) from err
    totals = summary["totals"]
    _echo(f"climb: ClimbMix in {summary['path']}: {totals['tokens']:,} tokens ({totals['budget_error']:+.2%} of "
          f"{totals['budget']:,}), {totals['documents']:,} documents; {', '.join(settings.formats)} and README.md "
          f"({time.perf_counter() - started:.1f} s)")
    for row in summary["clusters"]:
        if row["weight"] or row["tokens"]:
            _echo(f"  super-cluster {row['cluster_id']} ({row['label']}): weight {row['weight']:.4f} -> "
                  f"{row['realised_weight']:.4f}, {row['tokens']:,} tokens, {row['epochs']:.2f} epochs")
    for warning in summary["warnings"]:
        _echo(f"  warning: {warning}")
    return 0


WORKSPACE = """load_from:
  - python_module:
      module_name: climb_assets.definitions
      attribute: defs
      location_name: climb
"""


def cmd_ui(args: argparse.Namespace) -> int:
    """Replace this process with `dagster dev` on the same configuration, root and instance."""
    prepare_environment(args.config, args.home)
    workspace = Path(os.environ["DAGSTER_HOME"]) / "workspace.yaml"
    workspace.write_text(WORKSPACE)
    command = ["dagster", "dev", "-w", str(workspace), "-h", args.host, "-p", str(args.port)]
    _echo(f"climb: {' '.join(command)} (DAGSTER_HOME={os.environ['DAGSTER_HOME']})")
    os.execvp(command[0], command)
    return 0  # not reached


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="climb", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="the whole pipeline on the built-in demo corpus")
    demo.add_argument("--home", help="storage root (default $CLIMB_HOME, else ./climb_home)")
    demo.add_argument("--seed", type=int, default=0, help="demo corpus seed")
    demo.set_defaults(handler=cmd_demo)
    for name, handler, text in (("run", cmd_run, "materialise the configured pipeline"),
                                ("status", cmd_status, "each asset's state and latest metadata"),
                                ("ui", cmd_ui, "open the Dagster UI on this project's instance")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--config", help="configuration file (default $CLIMB_CONFIG, else the demo's)")
        sub.add_argument("--home", help="storage root (overrides the file and $CLIMB_HOME)")
        sub.set_defaults(handler=handler)
        if name == "run":
            sub.add_argument("--until", metavar="ASSET", help="this asset and everything upstream")
            sub.add_argument("--select", metavar="SELECTION", help="Dagster asset-selection syntax")
        elif name == "status":
            sub.add_argument("--json", action="store_true", help="machine-readable output")
        else:
            sub.add_argument("--port", type=int, default=3000)
            sub.add_argument("--host", default="127.0.0.1", help="bind address (loopback by default)")
    export = commands.add_parser("export", help="write ClimbMix (the optimal mixture sampled to a token budget)")
    export.add_argument("--out", required=True, metavar="DIR", help="output folder (new or empty; see --overwrite)")
    export.add_argument("--tokens", type=int, metavar="N", help="token budget (default: export.tokens)")
    export.add_argument("--format", metavar="LIST",
                        help="comma-separated parquet,jsonl,megatron (default: export.formats)")
    export.add_argument("--seed", type=int, metavar="S", help="sampling seed (default: export.seed)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing non-empty --out")
    export.add_argument("--config", help="configuration file (default $CLIMB_CONFIG, else the demo's)")
    export.add_argument("--home", help="storage root (overrides the file and $CLIMB_HOME)")
    export.set_defaults(handler=cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ConfigError, ClimbError) as err:
        print(f"climb: error: {' | '.join(str(err).splitlines())}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

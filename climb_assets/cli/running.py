"""What `climb` runs: the environment and instance, shard registration, Dagster runs, the command handlers."""

import argparse
import json
import os
import time
from pathlib import Path

import dagster as dg

from climb.core import DEFAULT_CONFIG_PATH, load_config
from climb_assets.cli import ClimbError
from climb_assets.cli.parsing import export_formats, selected_keys
from climb_assets.instance_storage import instance_settings
from climb_assets.cli.printing import _echo, print_export, print_search, print_status, print_summary

WORKSPACE = """load_from:
  - python_module:
      module_name: climb_assets.definitions
      attribute: defs
      location_name: climb
"""


def prepare_environment(config_path: str | None, home: str | None):
    """Load and validate the configuration (once), export it to the code location, and open the instance.

    CLIMB_CONFIG and CLIMB_HOME are always set to the resolved file and storage root before the code
    location loads: it reads them (through `dg.EnvVar`), so it sees what this process loaded.
    Returns (config, instance).
    """
    config = load_config(config_path, home=home)
    os.environ["CLIMB_CONFIG"] = config.config_path
    os.environ["CLIMB_HOME"] = config.storage_root
    if not os.environ.get("DAGSTER_HOME"):
        local_root = config.storage_root if "://" not in config.storage_root else str(Path.home() / ".climb")
        os.environ["DAGSTER_HOME"] = str(Path(local_root) / "dagster")
    dagster_home = Path(os.environ["DAGSTER_HOME"])
    dagster_home.mkdir(parents=True, exist_ok=True)
    settings = dagster_home / "dagster.yaml"
    if not settings.exists():  # an existing instance keeps its settings (and its event log)
        settings.write_text(instance_settings(dagster_home))
    return config, dg.DagsterInstance.get()


def _definitions():
    # Imported after prepare_environment: loading the code location reads CLIMB_CONFIG and CLIMB_HOME.
    from climb_assets import definitions

    return definitions


def sync_shards(instance: dg.DagsterInstance, config) -> tuple[list, list[str]]:
    """Register every shard the corpus paths match; forget registered shards whose file is gone.
    Returns (the shards, the keys of those forgotten)."""
    from climb_assets.partitions import SHARDS
    from climb.corpus import config_shards

    shards = config_shards(config)
    wanted = [s.key for s in shards]
    registered = set(instance.get_dynamic_partitions(SHARDS))
    new = [k for k in wanted if k not in registered]
    if new:
        instance.add_dynamic_partitions(SHARDS, new)
    removed = sorted(registered - set(wanted))
    for stale in removed:
        _echo(f"warning: shard {stale!r} no longer matches corpus.paths; removing its partition")
        instance.delete_dynamic_partition(SHARDS, stale)
    return shards, removed


def _run_label(run) -> str:
    """The run's assets (the first three, then how many more) and its shard."""
    names = sorted(k.to_user_string() for k in run.asset_selection or ())
    label = ", ".join(names[:3]) + (f" +{len(names) - 3} more" if len(names) > 3 else "")
    shard = run.tags.get("dagster/partition")
    return f"{label} [{shard}]" if shard else label


def _check_executor(instance, config, daemon: bool) -> None:
    """The k8s executor launches step pods from a run pod: the backfill goes to a cluster's daemon."""
    from climb_assets.deployment import EXECUTOR_ENV, executor_name

    if executor_name(config.deployment) != "k8s":
        return
    from dagster_k8s import K8sRunLauncher  # a second's import, only where it is used
    if not isinstance(instance.run_launcher, K8sRunLauncher) or not daemon:
        raise ClimbError(f"deployment.executor is k8s (or ${EXECUTOR_ENV}=k8s) but this instance has no "
                         "K8sRunLauncher and running daemon: launch from the cluster's Dagster (see deploy/README.md), "
                         f"or run locally with {EXECUTOR_ENV}=multiprocess")


def _command_line(until: str | None, select: str | None, force: bool = False) -> str:
    return ("climb run" + (f" --until {until}" if until else "") + (f" --select {select}" if select else "")
            + (" --force" if force else ""))


def plan_subset(instance, config, graph, keys, shards, removed: list[str], force: bool):
    """The asset partitions to materialise: all of them with `force`, else the missing and stale ones
    (climb_assets/freshness.py), each asset's count printed. None when everything is fresh."""
    from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
    from dagster._core.definitions.events import AssetKeyPartitionKey

    from climb.corpus.documents import documents_versions
    from climb.search import target_files_version
    from climb_assets.backfills import backfill_subset
    from climb_assets.freshness import FreshnessPlanner

    if force:
        return backfill_subset(graph, keys, instance)
    started = time.perf_counter()
    sources = {AssetKeyPartitionKey(dg.AssetKey("documents"), shard): version
               for shard, version in documents_versions(shards, config).items()}
    sources[AssetKeyPartitionKey(dg.AssetKey("target_set"), None)] = target_files_version(config)
    planner = FreshnessPlanner(instance, graph, [s.key for s in shards], sources, removed)
    plan = planner.plan(keys)
    ordered = [k for k in graph.toposorted_asset_keys if k in keys]
    for line in plan.summary(ordered):
        _echo(f"  {line}")
    _echo(f"climb: {len(plan.run)} asset partition(s) to materialise, {sum(plan.fresh.values())} fresh "
          f"(planned in {time.perf_counter() - started:.2f} s; --force re-runs every one)")
    return AssetGraphSubset.from_asset_partition_set(set(plan.run), graph) if plan.run else None


def run_pipeline(instance, config, *, until: str | None = None, select: str | None = None,
                 force: bool = False) -> dict:
    """Materialise the selected assets as one asset backfill on the instance (the UI's "Materialize changed and
    missing", or with `force` "Materialize all"); a daemon serving the instance carries it out, else this process."""
    import logging

    from climb_assets.backfills import FORCE_TAG, LAUNCHED_BY_TAG, launch_backfill, run_failure_reason
    from climb_assets.cli import backfill_driver as driver

    defs = _definitions().defs
    daemon = driver.daemon_serves(instance)
    _check_executor(instance, config, daemon)
    graph = defs.resolve_asset_graph()
    keys = selected_keys(defs, until, select)
    shards, removed = sync_shards(instance, config)
    if not daemon:
        driver.abandon_orphans(instance, _echo)
    subset = plan_subset(instance, config, graph, keys, shards, removed, force)
    if subset is None:
        return shard_totals(instance, defs)
    names = ", ".join(k.to_user_string() for k in graph.toposorted_asset_keys if k in subset.asset_keys)
    tags = {LAUNCHED_BY_TAG: "cli", driver.DRIVER_TAG: driver.driver_tag(), **({FORCE_TAG: "true"} if force else {})}
    backfill_id = launch_backfill(instance, subset, tags=tags,
                                  title="climb run", description=_command_line(until, select, force))
    _echo(f"climb: backfill {backfill_id} of {names} over {len(shards)} shard(s); storage {config.storage_root}")
    _echo("  carried out by this instance's Dagster daemon" if daemon else "  carried out in this process")
    failed = []

    def on_run(run) -> None:
        record = instance.get_run_record_by_id(run.run_id)
        took = (record.end_time or 0) - (record.start_time or 0) if record else 0.0
        if run.status == dg.DagsterRunStatus.SUCCESS:
            _echo(f"  {_run_label(run)}: ok in {took:.1f} s (run {run.run_id[:8]})")
            return
        failed.append(f"{_run_label(run)}: {run_failure_reason(instance, run.run_id)} (run {run.run_id[:8]})")
        _echo(f"  {failed[-1]}")

    log = logging.getLogger("climb.backfill")
    status = driver.follow(instance, backfill_id, on_run) if daemon else driver.drive(backfill_id, on_run, log)
    # A backfill can complete while some of its runs failed (a blocking check stops its run, not the backfill).
    if status != driver.BulkActionStatus.COMPLETED_SUCCESS or failed:
        error = instance.get_backfill(backfill_id).error
        why = f"; first: {failed[0]}" if failed else (f": {error.message.strip().splitlines()[0]}" if error else "")
        raise ClimbError(f"backfill {backfill_id} ended {status.value}: {len(failed)} run(s) failed{why}")
    return shard_totals(instance, defs)


def shard_totals(instance, defs) -> dict:
    """The `documents` asset's latest metadata: the corpus-wide document counts."""
    from climb_assets.status import asset_status

    return asset_status(instance, defs, only={dg.AssetKey("documents")})["assets"].get("documents", {}).get(
        "metadata", {})


def cmd_demo(args: argparse.Namespace) -> int:
    """Write the demo corpus (unless already there for this seed), run the whole pipeline on it, summarise."""
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
    print_summary(config, totals)
    _print_search(config, planted=DemoManifest.load(demo_dir).target_mixture, record=demo_dir / PLANTED_FILE)
    return 0


PLANTED_FILE = "planted_verification.json"  # beside the demo corpus: the planted answer, verified like the search's


def _print_search(config, planted: dict[str, float] | None = None, record: Path | None = None) -> None:
    """The committed optimal mixture against the baselines; for the demo, its planted answer verified too (and
    written to `record`)."""
    from climb.core import Storage
    from climb.search import OPTIMAL, verify_mixtures

    storage = Storage(config.storage_root)
    if storage.partition_path(OPTIMAL) is None:
        return
    references = None
    if planted:
        from climb.demo import planted_weights

        weights = planted_weights(storage, planted)
        references = verify_mixtures(storage=storage, config=config, mixtures={"planted target": weights})
        if record is not None:
            temporary = record.with_suffix(".tmp")
            temporary.write_text(json.dumps(references["planted target"], indent=1))
            temporary.replace(record)
    print_search(storage.read_json(OPTIMAL, "optimal_mixture.json"), references, root=storage.root)


def cmd_run(args: argparse.Namespace) -> int:
    """Materialise the configured pipeline (or --until / --select), then summarise."""
    config, instance = prepare_environment(args.config, args.home)
    totals = run_pipeline(instance, config, until=args.until, select=args.select, force=args.force)
    print_summary(config, totals)
    _print_search(config)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Each asset's state, latest metadata and check results."""
    from climb_assets.status import asset_status

    config, instance = prepare_environment(args.config, args.home)
    print_status(asset_status(instance, _definitions().defs), args.json)
    if not args.json:
        _print_search(config)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Sample ClimbLab at the optimal mixture into --out (atomically), in the chosen formats, with its card."""
    import logging

    from climb.climbmix import ExportSettings, export_to_directory
    from climb.climbmix.hub import HubUnavailable, check_hub_access, push_export
    from climb.core import Storage

    config = load_config(args.config, home=args.home)  # no code location here: loaded once, by this command
    formats = export_formats(args)
    settings = ExportSettings.from_config(config.export, tokens=args.tokens, seed=args.seed, formats=formats,
                                          tokenizer=args.tokenizer, config_dir=config.config_dir)
    log = logging.getLogger("climb.export")
    log.addHandler(logging.NullHandler())  # warnings are echoed below, once
    started = time.perf_counter()
    try:
        token = check_hub_access(args.push_to_hub) if args.push_to_hub else None  # before anything is written
        summary = export_to_directory(storage=Storage(config.storage_root), settings=settings, out=args.out,
                                      overwrite=args.overwrite, config=config.model_dump(mode="json"), log=log)
    except (FileNotFoundError, FileExistsError, ValueError, HubUnavailable) as err:
        raise ClimbError(str(err)) from err
    print_export(summary, settings.formats, time.perf_counter() - started)
    if token:
        try:
            url = push_export(summary["path"], repo_id=args.push_to_hub, token=token)
        except HubUnavailable as err:
            raise ClimbError(f"{err}; the export is in {summary['path']}") from err
        _echo(f"climb: pushed to the dataset repository {args.push_to_hub}: {url}")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    """Replace this process with `dagster dev` on the same configuration, root and instance."""
    prepare_environment(args.config, args.home)
    workspace = Path(os.environ["DAGSTER_HOME"]) / "workspace.yaml"
    workspace.write_text(WORKSPACE)
    command = ["dagster", "dev", "-w", str(workspace), "-h", args.host, "-p", str(args.port)]
    _echo(f"climb: {' '.join(command)} (DAGSTER_HOME={os.environ['DAGSTER_HOME']})")
    os.execvp(command[0], command)
    return 0  # not reached

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
from climb_assets.cli.printing import _echo, print_export, print_search, print_status, print_summary
from climb_assets.phases import plan_phases

# No executor here: the code location's (deployment.executor; auto: $CLIMB_EXECUTOR, else multiprocess from 8 CPUs).
RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}

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
    if not settings.exists():
        settings.write_text("telemetry:\n  enabled: false\n")
    return config, dg.DagsterInstance.get()


def _definitions():
    # Imported after prepare_environment: loading the code location reads CLIMB_CONFIG and CLIMB_HOME.
    from climb_assets import definitions

    return definitions


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
    job = {"shards": definitions.shard_job, "corpus": definitions.corpus_job}[kind]
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
    keys = selected_keys(defs, until, select)
    shards = sync_shards(instance, config)
    names = ", ".join(k.to_user_string() for k in graph.toposorted_asset_keys if k in keys)
    _echo(f"climb: materialising {names} over {len(shards)} shard(s); storage {config.storage_root}")
    for phase_kind, members in plan_phases(graph, keys):
        label = ", ".join(k.to_user_string() for k in members)
        if phase_kind == "corpus":
            _execute(instance, members, None, label, "corpus")
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
    """The `documents` asset's latest metadata: the corpus-wide document counts."""
    from climb_assets.status import asset_status

    return asset_status(instance, defs)["assets"].get("documents", {}).get("metadata", {})


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
    print_search(storage.read_json(OPTIMAL, "optimal_mixture.json"), references)


def cmd_run(args: argparse.Namespace) -> int:
    """Materialise the configured pipeline (or --until / --select), then summarise."""
    config, instance = prepare_environment(args.config, args.home)
    totals = run_pipeline(instance, config, until=args.until, select=args.select)
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
    from climb.core import Storage

    config = load_config(args.config, home=args.home)  # no code location here: loaded once, by this command
    formats = export_formats(args)
    settings = ExportSettings.from_config(config.export, tokens=args.tokens, seed=args.seed, formats=formats)
    log = logging.getLogger("climb.export")
    log.addHandler(logging.NullHandler())  # warnings are echoed below, once
    started = time.perf_counter()
    try:
        summary = export_to_directory(storage=Storage(config.storage_root), settings=settings, out=args.out,
                                      overwrite=args.overwrite, config=config.model_dump(mode="json"), log=log)
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        raise ClimbError(str(err)) from err
    print_export(summary, settings.formats, time.perf_counter() - started)
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

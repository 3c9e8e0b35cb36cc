"""`climb`: run the pipeline as real Dagster materialisations against a persistent instance.

    climb demo                 the whole pipeline on the built-in demo corpus, then a summary
    climb run [--config FILE] [--until ASSET] [--select SELECTION] [--force]
    climb status [--json]
    climb export --out DIR [--tokens N] [--format parquet,jsonl,megatron] [--seed S] [--overwrite]
                 [--tokenizer NAME_OR_PATH] [--push-to-hub REPO]
    climb eval --tasks LIST [--model PATH] [--limit N] [--out FILE]
                               lm-evaluation-harness on a saved proxy, offline, over local benchmark files
    climb ui [--port PORT]     the Dagster UI on what the CLI materialised (loopback only)

The instance lives in `$DAGSTER_HOME`, else `<storage root>/dagster`, so `dagster dev -w workspace.yaml`
(or `dg dev`) with the same DAGSTER_HOME, CLIMB_CONFIG and CLIMB_HOME shows every run the CLI made.
Exit status: 0 on success, 1 with a one-line reason on failure.

The package: `parsing` (arguments and their validation), `running` (the environment, the Dagster runs and
the command handlers), `printing` (everything the command writes), `evaluating` (`climb eval`).
"""

import os

from climb.core import ConfigError


class ClimbError(RuntimeError):
    """A failure reported to the user in one line."""


# After ClimbError: the submodules import it from here.
from climb_assets.cli.parsing import build_parser  # noqa: E402
from climb_assets.cli.printing import print_error  # noqa: E402
from climb_assets.cli.evaluating import cmd_eval  # noqa: E402
from climb_assets.cli.running import (  # noqa: E402
    _check_executor, cmd_demo, cmd_export, cmd_run, cmd_status, cmd_ui, prepare_environment, run_pipeline,
    shard_totals, sync_shards,
)

# `os` stays reachable as climb_assets.cli.os (tests stand in for os.execvp through it).
__all__ = ["ClimbError", "_check_executor", "build_parser", "cmd_demo", "cmd_eval", "cmd_export", "cmd_run",
           "cmd_status", "cmd_ui", "main", "os", "prepare_environment", "run_pipeline", "shard_totals", "sync_shards"]

COMMANDS = {"demo": cmd_demo, "run": cmd_run, "status": cmd_status, "ui": cmd_ui, "export": cmd_export,
            "eval": cmd_eval}


def main(argv: list[str] | None = None) -> int:
    """Run one `climb` command; return its exit status (1 after printing a one-line reason)."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ConfigError, ClimbError) as err:
        print_error(err)
        return 1


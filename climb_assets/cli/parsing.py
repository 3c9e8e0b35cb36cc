"""The `climb` command line: its parser, and the checks on arguments argparse cannot make alone."""

import argparse

import dagster as dg

from climb_assets.cli import ClimbError


def build_parser() -> argparse.ArgumentParser:
    """The parser; `args.command` names the subcommand (climb_assets.cli.COMMANDS maps it to its handler)."""
    import climb_assets.cli as package  # the package's docstring is the command's description

    parser = argparse.ArgumentParser(prog="climb", description=package.__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="the whole pipeline on the built-in demo corpus")
    demo.add_argument("--home", help="storage root (default $CLIMB_HOME, else ./climb_home)")
    demo.add_argument("--seed", type=int, default=0, help="demo corpus seed")
    for name, text in (("run", "materialise the configured pipeline"),
                       ("status", "each asset's state and latest metadata"),
                       ("ui", "open the Dagster UI on this project's instance")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--config", help="configuration file (default $CLIMB_CONFIG, else the demo's)")
        sub.add_argument("--home", help="storage root (overrides the file and $CLIMB_HOME)")
        if name == "run":
            sub.add_argument("--until", metavar="ASSET", help="this asset and everything upstream")
            sub.add_argument("--select", metavar="SELECTION", help="Dagster asset-selection syntax")
            sub.add_argument("--force", action="store_true",
                             help="re-materialise every selected partition, fresh or not (default: missing and stale)")
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
    export.add_argument("--tokenizer", metavar="NAME_OR_PATH",
                        help="Hugging Face tokenizer (folder or hub name) of the JSONL and Megatron ids "
                             "(default: export.tokenizer, else ClimbLab's own)")
    export.add_argument("--push-to-hub", metavar="REPO",
                        help="then upload the folder to this Hugging Face dataset repository (needs a token)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing non-empty --out")
    export.add_argument("--config", help="configuration file (default $CLIMB_CONFIG, else the demo's)")
    export.add_argument("--home", help="storage root (overrides the file and $CLIMB_HOME)")
    _add_eval(commands)
    return parser


def _add_eval(commands) -> None:
    """`climb eval`: lm-evaluation-harness on a saved proxy, offline, over local benchmark files."""
    sub = commands.add_parser("eval", help="score a saved proxy with lm-evaluation-harness on local benchmark files")
    sub.add_argument("--model", metavar="PATH",
                     help="a causal LM folder (default: the verified proxy of the optimal mixture)")
    sub.add_argument("--tasks", required=True, metavar="LIST",
                     help="comma-separated: names of target.benchmarks, or NAME=FORMAT:PATH (formats: piqa, arc, "
                          "hellaswag, winogrande, mosaic, mmlu)")
    sub.add_argument("--limit", type=int, metavar="N", help="the first N items of each task (default: all)")
    sub.add_argument("--batch-size", type=int, default=16, metavar="B")
    sub.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    sub.add_argument("--out", metavar="FILE", help="also write the results as JSON")
    sub.add_argument("--task-dir", metavar="DIR", help="keep the lm-eval task files here (default: a temporary folder)")
    sub.add_argument("--config", help="configuration file (default $CLIMB_CONFIG, else the demo's)")
    sub.add_argument("--home", help="storage root (overrides the file and $CLIMB_HOME)")


def selected_keys(defs: dg.Definitions, until: str | None, select: str | None) -> set[dg.AssetKey]:
    """The asset keys `--until ASSET` (it and everything upstream) or `--select SELECTION` name; all by default."""
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


def export_formats(args: argparse.Namespace) -> list[str] | None:
    """Check `climb export`'s --format and --tokens; return the formats asked for (None: the file's)."""
    from climb.climbmix import FORMATS

    formats = None
    if args.format is not None:
        formats = [f.strip() for f in args.format.split(",") if f.strip()]
        if not formats or any(f not in FORMATS for f in formats):
            raise ClimbError(f"--format {args.format}: a comma-separated subset of {','.join(FORMATS)}")
    if args.tokens is not None and args.tokens < 1:
        raise ClimbError(f"--tokens must be >= 1, got {args.tokens}")
    return formats

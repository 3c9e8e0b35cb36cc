"""Everything `climb` writes: one echo helper, the run summary, asset status, the export report, errors."""

import json
import os
import sys

SHARD_COUNTS = ("input_records", "kept", "filtered", "duplicates", "quarantined")


def _echo(message: str, *, error: bool = False) -> None:
    """Print one line now: to stdout, or to stderr for an error."""
    print(message, file=sys.stderr if error else sys.stdout, flush=True)


def print_error(err: Exception) -> None:
    """The one-line failure reason on stderr (a multi-line message joined with ' | ')."""
    _echo(f"climb: error: {' | '.join(str(err).splitlines())}", error=True)


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


def print_summary(config, totals: dict) -> None:
    """After a run: the document counts, whether they balance, ClimbMix, and how to open the UI on it."""
    counts = ", ".join(f"{name} {totals.get(name, 0):,}" for name in SHARD_COUNTS)
    _echo(f"documents: {counts}")
    balanced = totals.get("input_records") == sum(totals.get(n, 0) for n in SHARD_COUNTS[1:])
    _echo(f"accounting {'balances' if balanced else 'DOES NOT BALANCE'}; outputs under {config.storage_root}")
    climbmix = _climbmix_line(config)
    if climbmix:
        _echo(climbmix)
    _echo(
        "UI: DAGSTER_HOME={home} CLIMB_CONFIG={cfg} CLIMB_HOME={root} dagster dev -w workspace.yaml".format(
            home=os.environ["DAGSTER_HOME"], cfg=config.config_path, root=config.storage_root,
        )
    )


def _mixture(weights: dict, labels: dict) -> str:
    """`label 0.70, label 0.30` by descending weight; clusters under 1% left out."""
    ranked = sorted(((w, labels.get(cid, cid)) for cid, w in weights.items() if w >= 0.01), reverse=True)
    return ", ".join(f"{label} {w:.2f}" for w, label in ranked) or "(empty)"


def print_search(result: dict, references: dict | None = None, root: str | None = None) -> None:
    """The optimal mixture by super-cluster label, how it was chosen, and every method's verified holdout score
    (higher is better) beside it; `references` (name -> verified mixture) are shown with their gap; the kept
    verification proxy of the answer under the storage `root`."""
    labels = {cid: f"[{cid}] {label}" for cid, label in result["labels"].items()}
    _echo(f"optimal mixture ({result['rule']}, {result['proxy_runs']} proxy runs, predictor "
          f"{result['predictor_family']}): {_mixture(result['weights'], labels)}")
    rows = [(r["method"], dict(zip(result["labels"], r["weights"])), r) for r in result["comparison"]]
    rows += [(name, dict(zip(result["labels"], r["weights"])), r) for name, r in (references or {}).items()]
    best = max(r["holdout_score"] for _, _, r in rows)
    seeds = len(rows[0][2].get("holdout_scores", [0]))
    _echo(f"verified on the held-apart target (mean token log-likelihood, higher is better; mean of {seeds} proxy "
          f"seed(s)):")
    for name, weights, r in sorted(rows, key=lambda row: -row[2]["holdout_score"]):
        _echo(f"  {name:<18} {r['holdout_score']:8.4f} ± {r.get('holdout_std', 0.0):.3f} "
              f"({r['holdout_score'] - best:+.3f} to the best)  {_mixture(weights, labels)}")
    if result.get("verified_proxy") and root is not None:
        _echo(f"verified proxy (`climb eval` scores it): {root}/{result['verified_proxy']}")


def print_status(status: dict, as_json: bool) -> None:
    """`climb status`: the whole status as JSON, or one line per asset (state, short metadata, checks)."""
    if as_json:
        _echo(json.dumps(status, indent=2, sort_keys=True))
        return
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


def print_export(summary: dict, formats, seconds: float) -> None:
    """`climb export`: where ClimbMix went, its size against the budget, each super-cluster, any warnings."""
    totals = summary["totals"]
    _echo(f"climb: ClimbMix in {summary['path']}: {totals['tokens']:,} tokens ({totals['budget_error']:+.2%} of "
          f"{totals['budget']:,}), {totals['documents']:,} documents; {', '.join(formats)} and README.md "
          f"({seconds:.1f} s)")
    tokenizer = summary["tokenizer"]
    if summary["settings"]["tokenizer"] and tokenizer["exported_tokens"]:  # the budget counted ClimbLab's tokens
        _echo(f"  tokenizer {tokenizer['source']} (sha256 {tokenizer['sha256'][:12]}...): "
              f"{sum(tokenizer['exported_tokens'].values()):,} tokens in the tokenized files")
    for row in summary["clusters"]:
        if row["weight"] or row["tokens"]:
            _echo(f"  super-cluster {row['cluster_id']} ({row['label']}): weight {row['weight']:.4f} -> "
                  f"{row['realised_weight']:.4f}, {row['tokens']:,} tokens, {row['epochs']:.2f} epochs")
    for warning in summary["warnings"]:
        _echo(f"  warning: {warning}")

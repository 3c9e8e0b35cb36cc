"""ClimbMix stage (paper step 7): ClimbLab sampled at the optimal mixture up to the export budget."""

import dagster as dg

from climb.climbmix import ExportSettings, materialise_climbmix
from climb.core import markdown_table
from climb_assets.climblab.assets import climblab
from resources import ProjectResource


def _clusters_markdown(rows: list[dict]) -> str:
    return markdown_table(
        ["super-cluster", "label", "weight", "realised", "tokens", "epochs", "shortfall", "limit"],
        [[r["cluster_id"], r["label"], f"{r['weight']:.4f}", f"{r['realised_weight']:.4f}", f"{r['tokens']:,}",
          f"{r['epochs']:.2f}", f"{r['shortfall']:,}", r["limit"] or ""] for r in rows],
        numeric=[False, False, True, True, True, True, True, False])


@dg.asset(group_name="climbmix", kinds={"parquet", "huggingface"}, deps=["optimal_mixture", climblab],
          automation_condition=dg.AutomationCondition.eager())
def climbmix(context: dg.AssetExecutionContext, project: ProjectResource) -> dg.MaterializeResult:
    """ClimbMix: whole documents drawn from ClimbLab's super-clusters at the optimal mixture's weights up to
    `export.tokens`, as Parquet (`text`, `cluster_id`), tokenized JSONL (the released ClimbMix layout) and
    Megatron-LM indexed datasets with a blend, plus a dataset card with sha256 checksums. A cluster short of
    tokens repeats at most `export.max_epochs` times; its shortfall is reported, never topped up.
    Deterministic for `export.seed`. The JSONL and Megatron ids are ClimbLab's tokenizer's, or those of the
    Hugging Face tokenizer `export.tokenizer` names (the budget counts ClimbLab's tokens either way).
    `climb export --out DIR` writes the same elsewhere.
    """
    config, storage = project.config(), project.storage()
    try:
        settings = ExportSettings.from_config(config.export, config_dir=config.config_dir)
        summary = materialise_climbmix(storage=storage, settings=settings, config=config.model_dump(mode="json"),
                                       log=context.log)
    except (FileNotFoundError, ValueError) as err:
        raise dg.Failure(description=str(err)) from err
    totals, rows = summary["totals"], summary["clusters"]
    return dg.MaterializeResult(metadata={
        "tokens": totals["tokens"], "budget": totals["budget"], "budget_error": totals["budget_error"],
        "documents": totals["documents"], "dagster/row_count": totals["documents"],
        "formats": ", ".join(summary["settings"]["formats"]), "seconds": summary["seconds"],
        "clusters": dg.MetadataValue.md(_clusters_markdown(rows)),
        "realised_weights": dg.MetadataValue.json({str(r["cluster_id"]): r["realised_weight"] for r in rows}),
        "epochs": dg.MetadataValue.json({str(r["cluster_id"]): r["epochs"] for r in rows}),
        "shortfalls": dg.MetadataValue.json({str(r["cluster_id"]): r["shortfall"] for r in rows if r["shortfall"]}),
        "warnings": dg.MetadataValue.json(summary["warnings"]),
        "card": dg.MetadataValue.path(f"{summary['path']}/README.md"),
        "path": dg.MetadataValue.path(summary["path"]),
    })

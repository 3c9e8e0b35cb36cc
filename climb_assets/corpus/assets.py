"""Corpus stage: input shards become accounted documents."""

import dagster as dg

from climb.core import ConfigError, markdown_table
from climb.corpus import COUNT_FIELDS, UnreadableFileError, config_shards, locate_shard, write_documents
from climb.quality import rater_specs, trained_raters, write_quality_scores
from climb_assets.freshness import SOURCE_VERSION
from climb_assets.partitions import SHARDS, shards_partitions
from resources import EmbedderResource, ProjectResource


def _reasons_table(reasons: dict[str, int]) -> dg.MetadataValue:
    return dg.MetadataValue.md(markdown_table(["reason", "records"],
                                              [[f"`{r}`", f"{n:,}"] for r, n in sorted(reasons.items())],
                                              numeric=[False, True],
                                              empty="no record was filtered, duplicated or quarantined"))


@dg.asset(
    partitions_def=shards_partitions,
    group_name="corpus",
    kinds={"parquet", "duckdb"},
)
def documents(context: dg.AssetExecutionContext, project: ProjectResource) -> dg.MaterializeResult:
    """The documents of one input shard: read, Unicode-normalised, length-filtered and deduplicated
    across all shards, first occurrence in (shard key, row) order winning: exact copies by content hash,
    near-duplicates by MinHash LSH confirmed by the exact Jaccard of word 5-grams (the `dedup` section).

    Every input record is accounted for: kept, filtered (`filter:*`), duplicate (`duplicate:exact`,
    `duplicate:near` naming its twin and the Jaccard) or quarantined (`quarantine:*`, with file, row and
    reason in `quarantine.parquet`). Only a file that cannot be read at all fails the run.
    """
    config, storage = project.config(), project.storage()
    registered = set(context.instance.get_dynamic_partitions(SHARDS))
    try:
        shard = locate_shard(config, context.partition_key)
        earlier = [s for s in config_shards(config) if s.key < shard.key and s.key in registered]
        report = write_documents(shard, config=config, storage=storage, earlier_shards=earlier, log=context.log)
    except (ConfigError, UnreadableFileError) as err:
        raise dg.Failure(description=str(err)) from err
    account = report.account
    context.log.info(
        f"{shard.key}: {account.input_records:,} records -> kept {account.kept:,}, filtered {account.filtered:,}, "
        f"duplicates {account.duplicates:,}, quarantined {account.quarantined:,} in {report.seconds:.1f} s"
    )
    return dg.MaterializeResult(
        data_version=dg.DataVersion(report.data_version),  # the file and settings, not the clock: re-runs agree
        metadata={
            SOURCE_VERSION: report.data_version,  # what `climb run` compares with the files now
            **{name: getattr(account, name) for name in COUNT_FIELDS},
            "dagster/row_count": account.kept,
            "reasons": _reasons_table(dict(account.reasons)),
            "file": dg.MetadataValue.path(shard.uri),
            "format": shard.format,
            "path": dg.MetadataValue.path(report.path),
            "seconds": round(report.seconds, 3),
            "records_per_second": round(account.input_records / max(report.seconds, 1e-9), 1),
        },
    )


def _histogram_table(histograms: dict[str, list[int]]) -> dg.MetadataValue:
    raters = list(histograms)
    bins = len(next(iter(histograms.values()), []))
    rows = [[f"{5 * b / bins:.1f}-{5 * (b + 1) / bins:.1f}", *(f"{histograms[r][b]:,}" for r in raters)]
            for b in range(bins)]
    return dg.MetadataValue.md(markdown_table(["score", *raters], rows, numeric=[False] + [True] * len(raters)))


@dg.asset(
    partitions_def=shards_partitions,
    group_name="corpus",
    kinds={"lightgbm", "parquet"},
    deps=[documents, "embeddings"],
)
def quality_scores(context: dg.AssetExecutionContext, project: ProjectResource,
                   embedder: EmbedderResource) -> dg.MaterializeResult:
    """The paper's four quality raters on its 0-5 scale for every kept document of the shard:
    `quality`, `educational_value`, `informational_value` and `advertisement` (higher = less promotional).

    Each rater is the built-in heuristic (Gopher / C4 / FineWeb signals), a fastText model with a
    label-to-score mapping, a LightGBM rater trained on a labelled file over the document
    embeddings (fitted once, cached, cross-validated), or a pretrained Hugging Face classifier
    (a regression head, or labels mapped to scores; loaded once per process, on the GPU where
    there is one), as the `quality` section says.
    """
    config, storage = project.config(), project.storage()
    specs = rater_specs(config)
    try:
        trained = trained_raters(specs, storage=storage, embedder=lambda: embedder.embedder(config.embedding),
                                 log=context.log)
        report = write_quality_scores(context.partition_key, storage=storage, specs=specs, trained=trained,
                                      log=context.log)
    except (ValueError, FileNotFoundError) as err:  # a bad labelled file or model, or a model unfit for its spec
        raise dg.Failure(description=str(err)) from err
    context.log.info(f"{context.partition_key}: rated {report.count:,} documents; means {report.means}")
    return dg.MaterializeResult(
        metadata={
            "count": report.count,
            "dagster/row_count": report.count,
            **{f"mean_{name}": value for name, value in report.means.items()},
            "raters": dg.MetadataValue.json(report.kinds),
            "histograms": _histogram_table(report.histograms),
            "cross_validation": dg.MetadataValue.json(report.cross_validation),
            "placements": dg.MetadataValue.json(report.placements),
            "path": dg.MetadataValue.path(report.path),
        }
    )

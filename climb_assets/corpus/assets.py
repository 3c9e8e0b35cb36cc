"""Corpus stage: input shards become accounted documents."""

import dagster as dg

from climb_assets.engines import ProjectResource
from climb_assets.partitions import SHARDS, shards_partitions
from resources.config import ConfigError
from resources.documents import COUNT_FIELDS, config_shards, locate_shard, write_documents
from resources.readers import UnreadableFileError


def _reasons_table(reasons: dict[str, int]) -> dg.MetadataValue:
    lines = ["| reason | records |", "|---|---:|"] + [f"| `{r}` | {n:,} |" for r, n in sorted(reasons.items())]
    return dg.MetadataValue.md("\n".join(lines) if reasons else "no record was filtered, duplicated or quarantined")


@dg.asset(
    partitions_def=shards_partitions,
    group_name="corpus",
    kinds={"parquet", "duckdb"},
)
def documents(context: dg.AssetExecutionContext, project: ProjectResource) -> dg.MaterializeResult:
    """The documents of one input shard: read, Unicode-normalised, length-filtered and deduplicated
    by content hash across all shards (first occurrence in shard-key order wins).

    Every input record is accounted for: kept, filtered (`filter:*`), duplicate (`duplicate:exact`)
    or quarantined (`quarantine:*`, with file, row and reason in `quarantine.parquet`). Only a file
    that cannot be read at all fails the run.
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
        metadata={
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

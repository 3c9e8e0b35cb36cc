"""Semantic stage: documents become vectors (paper step 1)."""

import dagster as dg

from climb_assets.corpus.assets import documents
from climb_assets.engines import EmbedderResource, ProjectResource
from climb_assets.partitions import shards_partitions
from resources.vectors import write_embeddings


@dg.asset(
    partitions_def=shards_partitions,
    group_name="semantic",
    kinds={"pytorch", "numpy"},
    deps=[documents],
    pool="gpu",
)
def embeddings(context: dg.AssetExecutionContext, project: ProjectResource,
               embedder: EmbedderResource) -> dg.MaterializeResult:
    """One L2-normalised float16 vector per kept document of the shard, in the documents' order
    (`embeddings.npy` beside `ids.parquet`), from the configured encoder pooled as the model defines it.

    Recomputed from the documents on every materialisation (nothing cached), so vectors always match
    the current documents; the same documents and settings give identical vectors.
    """
    config, storage = project.config(), project.storage()
    model = embedder.embedder(config.embedding)
    context.log.info(f"embedding with {config.embedding.model} on {model.placement.name}, "
                     f"max_length {model.max_length}, dtype {model.placement.dtype}")
    report = write_embeddings(context.partition_key, storage=storage, embedder=model, log=context.log)
    context.log.info(f"{context.partition_key}: {report.count:,} vectors of dim {report.dim} in {report.seconds:.1f} s "
                     f"({report.docs_per_second:,.1f} docs/s, {report.tokens_per_second:,.0f} tokens/s)")
    return dg.MaterializeResult(
        metadata={
            "count": report.count,
            "dim": report.dim,
            "model": report.model,
            "device": report.device,
            "dtype": report.dtype,
            "max_length": report.max_length,
            "docs_per_second": report.docs_per_second,
            "tokens_per_second": report.tokens_per_second,
            "tokens": report.tokens,
            "seconds": report.seconds,
            "dagster/row_count": report.count,
            "path": dg.MetadataValue.path(report.path),
        }
    )

"""Semantic stage (paper steps 1-4): documents become vectors, centroids, assignments, profiled and pruned
clusters, and super-clusters."""

import dagster as dg

from climb_assets.corpus.assets import documents
from climb_assets.backfills import FORCE_TAG
from climb_assets.corpus_shards import corpus_shards
from climb_assets.deployment import GPU_POOL
from climb_assets.partitions import shards_partitions
from climb.climblab import count_tokens, project_tokenizer
from climb.core import as_markdown, cluster_sizes, markdown_table
from climb.semantic import (MergeSettings, SemanticSettings, embedder_settings, fit_centroids, reusable_embeddings,
                            write_assignments, write_cluster_profiles, write_embeddings, write_semantic_duplicates,
                            write_super_clusters)
from resources import EmbedderResource, ProjectResource


def gpu_steps(op_tags: dict | None = None) -> tuple[dg.AssetsDefinition, dg.AssetsDefinition]:
    """`embeddings` and `centroids`, the stage's GPU steps, with `op_tags` giving them a GPU pod on
    Kubernetes (climb_assets.deployment.gpu_op_tags, from the configuration the code location loads once)."""
    return (_embeddings(op_tags), _centroids(op_tags))


def _embeddings(op_tags: dict | None) -> dg.AssetsDefinition:
    @dg.asset(name="embeddings", partitions_def=shards_partitions, group_name="semantic", kinds={"pytorch", "numpy"},
              deps=[documents], pool=GPU_POOL, op_tags=op_tags)
    def embeddings(context: dg.AssetExecutionContext, project: ProjectResource,
                   embedder: EmbedderResource) -> dg.MaterializeResult:
        """One L2-normalised float16 vector per kept document of the shard, in the documents' order
        (`embeddings.npy` beside `ids.parquet`), from the configured encoder pooled as the model defines it.

        The committed vectors are kept where they came from the same documents and model settings (a shard
        re-ingested unchanged, after an earlier shard was edited), unless the run is forced (`climb run
        --force`); otherwise recomputed. The same documents and settings give identical vectors.
        """
        config, storage = project.config(), project.storage()
        settings = embedder_settings(config.embedding)
        forced = context.run.tags.get(FORCE_TAG) == "true"
        report = None if forced else reusable_embeddings(context.partition_key, storage=storage, settings=settings)
        reused = report is not None
        if reused:
            context.log.info(f"{context.partition_key}: documents and model settings unchanged; "
                             f"kept the committed {report.count:,} vectors")
        else:
            model = embedder.embedder(config.embedding)
            context.log.info(f"embedding with {config.embedding.model} on {model.placement.name}, "
                             f"max_length {model.max_length}, dtype {model.placement.dtype}")
            report = write_embeddings(context.partition_key, storage=storage, embedder=model, log=context.log)
            context.log.info(f"{context.partition_key}: {report.count:,} vectors of dim {report.dim} in "
                             f"{report.seconds:.1f} s ({report.docs_per_second:,.1f} docs/s, "
                             f"{report.tokens_per_second:,.0f} tokens/s)")
        return dg.MaterializeResult(
            metadata={
                "reused": reused,
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

    return embeddings


def _centroids(op_tags: dict | None) -> dg.AssetsDefinition:
    @dg.asset(name="centroids", group_name="semantic", kinds={"faiss", "numpy"}, deps=["embeddings"], pool=GPU_POOL,
              op_tags=op_tags)
    def centroids(context: dg.AssetExecutionContext, project: ProjectResource) -> dg.MaterializeResult:
        """Spherical K-means centroids (paper step 2: K_init = 1000, faiss), fitted on a memory-bounded sample
        drawn across every shard's embeddings, on the GPU when faiss's GPU build and CUDA are present.

        K is reduced, with a warning, when the corpus is too small for `k_init` (every centroid needs
        enough points to be estimated).
        """
        config, storage = project.config(), project.storage()
        shard_keys = corpus_shards(context, storage, needs=("embeddings",))
        report = fit_centroids(storage=storage, shard_keys=shard_keys, config=config.clustering, log=context.log)
        context.log.info(f"K-means: K {report.k} on {report.sample_size:,} of {report.documents:,} documents "
                         f"in {report.seconds:.1f} s on {report.device}")
        sizes = cluster_sizes(report.sample_cluster_sizes, title=f"sample documents per centroid (K {report.k})")
        return dg.MaterializeResult(metadata={
            "k": report.k, "k_requested": report.k_requested, "inertia": report.inertia,
            "mean_distance": report.mean_distance, "sample_size": report.sample_size, "documents": report.documents,
            "fit_seconds": report.seconds,
            "device": report.device, "warning": report.warning or "",
            "cluster_sizes": dg.MetadataValue.md(as_markdown(sizes, "cluster sizes")),
            "path": dg.MetadataValue.path(report.path),
        })

    return centroids


@dg.asset(partitions_def=shards_partitions, group_name="semantic", kinds={"faiss", "parquet"},
          deps=["embeddings", "centroids", "tokenizer"])
def cluster_assignments(context: dg.AssetExecutionContext, project: ProjectResource) -> dg.MaterializeResult:
    """The nearest centroid and its distance for every kept document of the shard, with the document's
    token count under the project tokenizer (the unit of ClimbLab's token accounting).

    The mean distance is the drift signal that re-clustering watches.
    """
    config, storage = project.config(), project.storage()
    texts = storage.read_table("documents", "documents.parquet", context.partition_key, columns=["text"])
    token_counts = count_tokens(project_tokenizer(storage), texts.column("text").to_pylist())
    stats = write_assignments(context.partition_key, storage=storage, token_counts=token_counts,
                              use_gpu=config.clustering.use_gpu)
    context.log.info(f"{context.partition_key}: {stats['count']:,} documents over {stats['clusters_touched']} clusters, "
                     f"mean distance {stats['mean_distance']}")
    return dg.MaterializeResult(metadata={
        "count": stats["count"], "dagster/row_count": stats["count"], "tokens": stats["tokens"],
        "mean_distance": stats["mean_distance"], "clusters_touched": stats["clusters_touched"],
        "centroids_version": stats["centroids_version"], "path": dg.MetadataValue.path(stats["path"]),
    })


@dg.asset(group_name="semantic", kinds={"duckdb", "parquet"}, deps=[cluster_assignments, "quality_scores"])
def clusters(context: dg.AssetExecutionContext, project: ProjectResource) -> dg.MaterializeResult:
    """Fine-cluster profiles (paper step 3): documents, tokens, the four raters' means, top keywords
    (class-based TF-IDF) and the pruning decision with its reason (`clustering.prune`: paper,
    reference, none or per-rater thresholds). Computed with DuckDB over the per-shard Parquet files.
    """
    config, storage = project.config(), project.storage()
    shard_keys = corpus_shards(context, storage, needs=("cluster_assignments", "quality_scores"))
    try:
        report = write_cluster_profiles(storage=storage, shard_keys=shard_keys, prune=config.clustering.prune,
                                        log=context.log)
    except ValueError as err:  # pruning removed everything
        raise dg.Failure(description=str(err)) from err
    context.log.info(f"{report.kept} of {report.k} clusters kept; pruned {report.documents_pruned:,} documents "
                     f"({report.reasons})")
    return dg.MaterializeResult(metadata={
        "k": report.k, "kept": report.kept, "pruned": report.pruned, "documents_kept": report.documents_kept,
        "documents_pruned": report.documents_pruned, "tokens_kept": report.tokens_kept,
        "tokens_pruned": report.tokens_pruned, "prune_reasons": dg.MetadataValue.json(report.reasons),
        "cluster_sizes": dg.MetadataValue.md(as_markdown(report.sizes_png, "cluster sizes")),
        "quality_per_cluster": dg.MetadataValue.md(as_markdown(report.quality_png, "quality per cluster")),
        "path": dg.MetadataValue.path(report.path),
    })


@dg.asset(group_name="semantic", kinds={"scipy", "parquet"}, deps=[clusters, "centroids"])
def super_clusters(context: dg.AssetExecutionContext, project: ProjectResource) -> dg.MaterializeResult:
    """Super-clusters (paper step 4): Ward linkage over the surviving centroids, cut at
    `merge_threshold` (1.5 on unit centroids) or at `target_super_clusters`, with a collapse guard
    (`max_token_share`) that cuts deeper and warns when one super-cluster would swallow the corpus.
    Ids are stable (by descending tokens); labels come from class-based TF-IDF keywords.
    """
    config, storage = project.config(), project.storage()
    shard_keys = corpus_shards(context, storage, needs=("cluster_assignments",))
    c = config.clustering
    settings = MergeSettings(threshold=c.merge_threshold, target=c.target_super_clusters,
                             max_token_share=c.max_token_share)
    report = write_super_clusters(storage=storage, shard_keys=shard_keys, settings=settings, log=context.log)
    table = markdown_table(
        ["cluster_id", "label", "documents", "tokens", "token_share", "fine_clusters"],
        [[r["cluster_id"], r["label"], r["documents"], r["tokens"], round(r["token_share"], 4), len(r["fine_clusters"])]
         for r in report.table], numeric=[True, False, True, True, True, True])
    context.log.info(f"{report.k} super-clusters at threshold {report.threshold_used}")
    return dg.MaterializeResult(metadata={
        "k": report.k, "threshold_used": report.threshold_used, "warnings": dg.MetadataValue.json(list(report.warnings)),
        "super_clusters": dg.MetadataValue.md(table),
        "projection": dg.MetadataValue.md(as_markdown(report.projection_png, "centroids by super-cluster")),
        "path": dg.MetadataValue.path(report.path),
    })


@dg.asset(group_name="semantic", kinds={"numpy", "parquet"}, deps=[cluster_assignments, "embeddings", "quality_scores"])
def semantic_duplicates(context: dg.AssetExecutionContext, project: ProjectResource) -> dg.MaterializeResult:
    """Semantic duplicates (SemDeDup) inside each fine cluster: documents whose stored embeddings have cosine
    > 1 - `dedup.semantic.eps` with one ranked before them (nearest the centroid, or best rated). ClimbLab leaves
    them out as `duplicate:semantic`. Off by default (`dedup.semantic: null`): the table is then empty."""
    config, storage = project.config(), project.storage()
    needs = ("embeddings", "cluster_assignments", "quality_scores")
    shard_keys = corpus_shards(context, storage, needs=needs)
    section = config.dedup.semantic
    settings = None if section is None else SemanticSettings(eps=section.eps, keep=section.keep)
    info = write_semantic_duplicates(storage=storage, shard_keys=shard_keys, settings=settings, log=context.log)
    context.log.info(f"semantic duplicates: {info['duplicates']:,} in {info['clusters_with_duplicates']:,} fine "
                     f"clusters" if settings else "semantic duplicates: off (dedup.semantic is null)")
    return dg.MaterializeResult(metadata={
        "duplicates": info["duplicates"], "clusters_with_duplicates": info["clusters_with_duplicates"],
        "settings": dg.MetadataValue.json(info["settings"] or {"off": True}), "path": dg.MetadataValue.path(info["path"])})


embeddings, centroids = gpu_steps()  # without pod settings: tests and local materialisations

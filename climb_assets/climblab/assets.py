"""ClimbLab stage: the tokenizer and the clustered, pruned corpus with its token stores (paper step 5)."""

import dagster as dg

from climb.climblab import build_tokenizer, documents_path, project_tokenizer, write_climblab
from climb.core import markdown_table
from climb.search import contaminated_documents
from climb.semantic import semantic_duplicates
from climb_assets.corpus_shards import corpus_shards
from climb_assets.semantic.assets import super_clusters
from resources import ProjectResource


@dg.asset(group_name="climblab", kinds={"huggingface"}, deps=["documents"])
def tokenizer(context: dg.AssetExecutionContext, project: ProjectResource) -> dg.MaterializeResult:
    """The tokenizer of ClimbLab's token stores and of the proxy models: a byte-level BPE trained on a
    deterministic sample of the kept documents (`tokenizer.train_vocab_size`), or the user's own
    (`tokenizer.path`). Saved so that `AutoTokenizer.from_pretrained` loads it.
    """
    config, storage = project.config(), project.storage()
    shard_keys = corpus_shards(context, storage, needs=("documents",))
    try:
        info = build_tokenizer(storage=storage, shard_keys=shard_keys, config=config.tokenizer,
                               seed=config.clustering.seed, log=context.log)
    except ValueError as err:  # a tokenizer path that does not load names itself
        raise dg.Failure(description=str(err)) from err
    context.log.info(f"tokenizer: {info['source']}, vocabulary {info['vocab_size']:,}")
    return dg.MaterializeResult(metadata={
        "source": info["source"], "vocab_size": info["vocab_size"], "eos_id": info["eos_id"],
        "sample_documents": info["sample_documents"], "seconds": info["seconds"],
        "path": dg.MetadataValue.path(info["path"]),
    })


@dg.asset(group_name="climblab", kinds={"parquet", "numpy"},
          deps=[super_clusters, tokenizer, "target_set", "semantic_duplicates", "cluster_assignments", "quality_scores",
                "documents"])
def climblab(context: dg.AssetExecutionContext, project: ProjectResource) -> dg.MaterializeResult:
    """ClimbLab: every kept, unpruned, uncontaminated document under its super-cluster as Parquet
    (`data/cluster_<n>/part-*.parquet`: `pandas.read_parquet` and pyarrow read all of `climblab/` or `data/` in
    one call, DuckDB and `datasets` all of `data/`), the super-cluster profiles in `_profiles/clusters.parquet`,
    what it leaves out in `_profiles/pruned.parquet` with the reason (`prune:*`; `contamination:target` for a
    document overlapping the target, found by `target_set`; `duplicate:semantic`, found by
    `semantic_duplicates`), and one memory-mapped token store per super-cluster for proxy training.
    """
    storage = project.storage()
    shard_keys = corpus_shards(context, storage, needs=("documents", "cluster_assignments", "quality_scores"))
    report = write_climblab(storage=storage, shard_keys=shard_keys, tokenizer=project_tokenizer(storage),
                            removed=[contaminated_documents(storage), semantic_duplicates(storage)], log=context.log)
    total = max(report.tokens, 1)
    table = markdown_table(["id", "label", "documents", "tokens", "share"],
                           [[c["cluster_id"], c["label"], f"{c['documents']:,}", f"{c['tokens']:,}",
                             f"{c['tokens'] / total:.3f}"] for c in report.clusters],
                           numeric=[False, False, True, True, True])
    context.log.info(f"ClimbLab: {report.documents:,} documents, {report.tokens:,} tokens in "
                     f"{len(report.clusters)} super-clusters; {report.pruned_documents:,} pruned, "
                     f"{report.removed.get('contamination:target', 0):,} overlapping the target, "
                     f"{report.removed.get('duplicate:semantic', 0):,} semantic duplicates")
    return dg.MaterializeResult(metadata={
        "documents": report.documents, "pruned_documents": report.pruned_documents,
        "contaminated_documents": report.removed.get("contamination:target", 0),
        "semantic_duplicates": report.removed.get("duplicate:semantic", 0), "tokens": report.tokens,
        "super_clusters": len(report.clusters), "seconds": report.seconds,
        "tokens_per_cluster": dg.MetadataValue.json({str(c["cluster_id"]): c["tokens"] for c in report.clusters}),
        "clusters": dg.MetadataValue.md(table),
        "path": dg.MetadataValue.path(report.path),
        "documents_path": dg.MetadataValue.path(documents_path(storage)),
    })

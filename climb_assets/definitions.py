"""The code location: every asset, check, job and resource of the project.

Loading validates the configuration (`$CLIMB_CONFIG`, else the demo's file), so a broken file shows
up as a load error naming the key, in `dg check defs` and in the UI.
"""

import dagster as dg

from climb_assets.corpus.assets import documents, quality_scores
from climb_assets.corpus.checks import accounting_balances, scores_in_range
from climb_assets.engines import EmbedderResource, ProjectResource
from climb_assets.search.assets import build_search_assets
from climb_assets.climblab.assets import climblab, tokenizer
from climb_assets.climblab.checks import climblab_accounted
from climb_assets.semantic.assets import centroids, cluster_assignments, clusters, embeddings, super_clusters
from climb_assets.semantic.checks import assignments_complete, embeddings_aligned_and_normalised
from resources.config import load_config

PIPELINE_JOB = "climb_pipeline"


def build_definitions() -> dg.Definitions:
    config = load_config()  # fail at load, naming the key, rather than in the first run
    search = build_search_assets(len(config.search.rounds))
    search_assets = [a for a in search if isinstance(a, dg.AssetsDefinition) and not a.is_asset_check]
    search_checks = [a for a in search if a not in search_assets]
    return dg.Definitions(
        assets=[documents, embeddings, quality_scores, centroids, cluster_assignments, clusters, super_clusters,
                tokenizer, climblab, *search_assets],
        asset_checks=[accounting_balances, embeddings_aligned_and_normalised, scores_in_range, assignments_complete,
                      climblab_accounted, *search_checks],
        jobs=[dg.define_asset_job(PIPELINE_JOB, selection=dg.AssetSelection.all(), description="The whole pipeline")],
        # Empty fields: the file and root are read from the environment when a run starts.
        resources={"project": ProjectResource(), "embedder": EmbedderResource()},
    )


defs = build_definitions()


def pipeline_job() -> dg.JobDefinition:
    """The pipeline job, reconstructable by the CLI (`dg.reconstructable(pipeline_job)`)."""
    return defs.resolve_job_def(PIPELINE_JOB)

"""The code location: every asset, check, job, sensor and resource of the project.

The configuration (`$CLIMB_CONFIG`, else the demo's file) is loaded once, here: a broken file shows up as
a load error naming the key, in `dg check defs` and in the UI. It decides the number of search rounds, the
executor and the GPU pods; the resources read it again (cached) when a run starts.
"""

import os

import dagster as dg

from climb.core import ClimbConfig, load_config
from climb_assets.climblab.assets import climblab, tokenizer
from climb_assets.climblab.checks import climblab_accounted
from climb_assets.climbmix.assets import climbmix
from climb_assets.climbmix.checks import climbmix_matches_mixture
from climb_assets.corpus.assets import documents, quality_scores
from climb_assets.corpus.checks import accounting_balances, scores_in_range
from climb_assets.corpus.sensors import new_shards_sensor
from climb_assets.deployment import executor_for, gpu_op_tags
from climb_assets.partitions import CORPUS_JOB, SHARD_JOB, shards_partitions
from climb_assets.search.assets import build_search_assets
from climb_assets.semantic.assets import cluster_assignments, clusters, gpu_steps, semantic_duplicates, super_clusters
from climb_assets.semantic.checks import assignments_complete, embeddings_aligned_and_normalised
from climb_assets.semantic.sensors import build_recluster_sensor
from climb_assets.versions import with_code_versions
from resources import EmbedderResource, ProjectResource, ProxyTrainerResource, StepOutputsIOManager
from resources.embedder import DEVICE_ENV as EMBEDDING_DEVICE_ENV
from resources.project import CONFIG_ENV, HOME_ENV
from resources.proxy_trainer import DEVICE_ENV as PROXY_DEVICE_ENV
from resources.proxy_trainer import WORKERS_ENV


def _of_partitioning(assets: list, partitioning) -> dg.AssetSelection:
    """The assets of one partitioning (shards_partitions or None), with their checks."""
    return dg.AssetSelection.assets(*[a for a in assets if a.partitions_def == partitioning])


def _from_env(name: str, default=""):
    """`dg.EnvVar(name)` where the environment sets it (the UI then shows the variable), else the default."""
    return dg.EnvVar(name) if os.environ.get(name) else default


def build_resources() -> dict[str, dg.ConfigurableResource]:
    """The resources; empty fields fall back to the environment or the file when a run starts."""
    project = ProjectResource(config_path=_from_env(CONFIG_ENV), home=_from_env(HOME_ENV))
    return {
        "project": project,
        "embedder": EmbedderResource(device=_from_env(EMBEDDING_DEVICE_ENV)),
        "proxy_trainer": ProxyTrainerResource(device=_from_env(PROXY_DEVICE_ENV),
                                              workers=dg.EnvVar.int(WORKERS_ENV) if os.environ.get(WORKERS_ENV) else 0),
        # Step outputs (a round's candidate indexes and trained keys) as JSON under the storage root: every
        # step process or pod reads what the others wrote, locally or on object storage.
        "io_manager": StepOutputsIOManager(project=project),
    }


def build_definitions(config: ClimbConfig) -> dg.Definitions:
    gpu_tags = gpu_op_tags(config.deployment)
    embeddings, centroids = gpu_steps(gpu_tags)
    search = build_search_assets(config.search.rounds, gpu_op_tags=gpu_tags)
    search_checks = [a for a in search if isinstance(a, dg.AssetChecksDefinition)]
    assets = with_code_versions([documents, embeddings, quality_scores, centroids, cluster_assignments, clusters,
                                 super_clusters, semantic_duplicates, tokenizer, climblab, *[a for a in search if a not in search_checks],
                                 climbmix], config)
    jobs = [
        dg.define_asset_job(SHARD_JOB, selection=_of_partitioning(assets, shards_partitions),
                            description="Per-shard assets of one shard: ingest, embed, rate, assign"),
        dg.define_asset_job(CORPUS_JOB, selection=_of_partitioning(assets, None),
                            description="Corpus-wide assets: centroids, clusters, ClimbLab, the search rounds, the "
                            "optimal mixture, ClimbMix"),
    ]
    return dg.Definitions(
        assets=assets,
        asset_checks=[accounting_balances, embeddings_aligned_and_normalised, scores_in_range, assignments_complete,
                      climblab_accounted, *search_checks, climbmix_matches_mixture],
        jobs=jobs,
        sensors=[new_shards_sensor, build_recluster_sensor()],
        executor=executor_for(config.deployment),  # every job's, and the UI's materialisations
        resources=build_resources(),
    )


defs = build_definitions(load_config())  # fail at load, naming the key, rather than in the first run


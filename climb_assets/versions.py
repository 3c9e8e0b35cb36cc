"""Code versions Dagster sees (docs/architecture.md, versions and staleness).

An asset's `code_version` is its engine's version, bumped by hand when the engine would write something
else from the same inputs, joined to a hash of the configuration it reads that decides its output. Changing
the embedding model changes the code version of `embeddings` alone; Dagster marks it stale, and what reads
it turns stale through data versions. Settings of where and how fast a step runs (devices, threads, batch
sizes, workers, the re-clustering thresholds, the corpus globs) are left out: changing them changes no
output, so nothing turns stale.
"""

from collections.abc import Callable

import dagster as dg

from climb.core import ClimbConfig, content_hash
from climb.search import saves

# Bump an engine's number when, for the same inputs and configuration, it would write different output.
ENGINE_VERSIONS = {
    "documents": 2, "quality_scores": 1, "embeddings": 1, "centroids": 1, "cluster_assignments": 1,
    "clusters": 1, "super_clusters": 1, "semantic_duplicates": 1, "tokenizer": 1, "climblab": 3, "target_set": 2,
    "candidate_mixtures": 1, "proxy_runs": 1, "predictor": 1, "optimal_mixture": 2, "climbmix": 1,
}
EXECUTION_FIELDS = {"batch_size", "device", "threads", "use_gpu", "workers", "recluster", "paths"}
SEARCH = ("search", "proxy", "target")  # a round, and the optimal mixture, depend on all three


def _settings(config: ClimbConfig, section: str, fields: tuple[str, ...] | None = None) -> dict:
    values = getattr(config, section).model_dump(mode="json")
    return {k: v for k, v in values.items() if k not in EXECUTION_FIELDS and (fields is None or k in fields)}


def _sections(config: ClimbConfig, *sections: str) -> dict:
    return {section: _settings(config, section) for section in sections}


def _search(config: ClimbConfig, *, answer: bool = False) -> dict:
    """The search's sections. `proxy.save` changes no score, only which checkpoints are kept: the answer's JSON
    names its verification proxies (kept or not), the rounds record nothing of it."""
    settings = _sections(config, *SEARCH)
    del settings["proxy"]["save"]
    if answer:
        settings["verification_proxies_kept"] = saves(config.proxy.save, verification=True)
    return settings


# What each engine reads of the configuration (clustering field by field: the fit, then the pruning and the
# merging, so a new merge threshold leaves the centroids fresh).
SETTINGS: dict[str, Callable[[ClimbConfig], dict]] = {
    "documents": lambda c: {**_sections(c, "corpus"), "dedup": _settings(c, "dedup", ("near",))},
    "quality_scores": lambda c: _sections(c, "quality"),
    "embeddings": lambda c: _sections(c, "embedding"),
    "centroids": lambda c: _settings(c, "clustering", ("k_init", "iterations", "sample_per_centroid", "seed")),
    "cluster_assignments": lambda c: {},
    "clusters": lambda c: _settings(c, "clustering", ("prune",)),
    "super_clusters": lambda c: _settings(c, "clustering", ("merge_threshold", "target_super_clusters",
                                                            "max_token_share")),
    "semantic_duplicates": lambda c: _settings(c, "dedup", ("semantic",)),
    "tokenizer": lambda c: _sections(c, "tokenizer"),
    "climblab": lambda c: {},
    "target_set": lambda c: {**_sections(c, "target"), "dedup": _settings(c, "dedup", ("contamination",))},
    "candidate_mixtures": lambda c: _search(c),
    "proxy_runs": lambda c: _search(c),
    "predictor": lambda c: _search(c),
    "optimal_mixture": lambda c: _search(c, answer=True),
    "climbmix": lambda c: _sections(c, "export"),
}


def engine_of(key: dg.AssetKey) -> str:
    """`search/round_2/proxy_runs` -> `proxy_runs`: the rounds share their engine's version."""
    return key.path[-1]


def code_version(key: dg.AssetKey, config: ClimbConfig) -> str:
    engine = engine_of(key)
    settings = SETTINGS[engine](config)
    if len(key.path) == 3 and key.path[1].startswith("round_"):  # round r reads the sizes of rounds 1..r only
        settings["search"]["rounds"] = settings["search"]["rounds"][:int(key.path[1].removeprefix("round_"))]
    return f"{ENGINE_VERSIONS[engine]}-{content_hash(settings, length=12)}"


def with_code_versions(assets: list[dg.AssetsDefinition], config: ClimbConfig) -> list[dg.AssetsDefinition]:
    """The assets, each spec given its code version under `config`."""
    return [a.map_asset_specs(lambda spec: spec.replace_attributes(code_version=code_version(spec.key, config)))
            for a in assets]

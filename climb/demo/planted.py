"""The demo's planted answer: its target's domain mixture expressed over ClimbLab's super-clusters.

The demo draws its target from a known mixture of domains (70% medicine, 30% cooking by default) and keeps
each document's true domain in the `domain` metadata column. A super-cluster stands for the domain most of its
documents came from; the planted mixture gives each domain's target share to its super-cluster (split evenly
when a domain's majority spans several). `climb demo` verifies this mixture beside the search's answer, so a
user sees how far the search got from the best-known answer.
"""

from __future__ import annotations

from climb.core.storage import Storage

CLIMBLAB, DOCUMENTS = "climblab", "documents"
CLIMBLAB_FILES = "data/*/*.parquet"  # ClimbLab's documents (climb/climblab/build.py; demo imports only core)


def cluster_domains(storage: Storage) -> dict[int, str]:
    """Super-cluster id -> the domain most of its documents came from (the demo's `domain` column)."""
    climblab = storage.uri(storage.require(CLIMBLAB))
    documents = [storage.uri(f"{storage.require(DOCUMENTS, key)}/documents.parquet")
                 for key in storage.committed_partitions(DOCUMENTS)]
    rows = storage.duckdb().sql(
        f"SELECT c.cluster_id, d.domain, count(*) AS n FROM read_parquet('{climblab}/{CLIMBLAB_FILES}') c "
        f"JOIN read_parquet({documents!r}) d USING (id) GROUP BY 1, 2").fetchall()
    best: dict[int, tuple[int, str]] = {}
    for cluster_id, domain, n in rows:
        if cluster_id not in best or (n, domain) > best[cluster_id]:
            best[cluster_id] = (n, domain)
    return {cluster_id: domain for cluster_id, (_, domain) in best.items()}


def planted_weights(storage: Storage, target_mixture: dict[str, float]) -> dict[int, float]:
    """Super-cluster id -> the planted weight (0 for clusters of domains the target does not use).

    Raises ValueError when a domain of the target has no super-cluster of its own.
    """
    domains = cluster_domains(storage)
    weights = {cluster_id: 0.0 for cluster_id in domains}
    for domain, share in target_mixture.items():
        clusters = [c for c, d in domains.items() if d == domain]
        if share > 0 and not clusters:
            raise ValueError(f"the target's domain {domain!r} is no super-cluster's majority: {domains}")
        for cluster_id in clusters:
            weights[cluster_id] += share / len(clusters)
    return weights

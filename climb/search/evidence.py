"""Search evidence across re-clusterings (docs/architecture.md, partitions and sensors): the document -> super-cluster membership every
search ran on, and earlier proxy runs translated to the current super-clusters through it
(the maths is climb.search.translation).

`<root>/cluster_membership/<data version>/membership.parquet`: id, cluster_id, token_count of every ClimbLab
document at that search-space data version. The search writes it once per data version, when the first
proxy runs on it are committed, so the membership that evidence was gathered on outlives ClimbLab's
re-materialisation. Translation joins it with the current ClimbLab by document id (DuckDB, streamed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow.parquet as pq

from climb.core.hashing import content_hash
from climb.climblab.build import documents_sql
from climb.search.translation import MIN_MAPPED_SHARE, ClusterOverlap, cluster_overlap, translate_runs
from climb.search.proxy import ProxyConfig, learnt_settings
from climb.core.storage import Storage

MEMBERSHIP = "cluster_membership"
NO_MEMBERSHIP = "translation:no_membership"


@dataclass(frozen=True)
class EvidenceSource:
    """Observed (mixture, score) pairs expressed over the super-clusters of one data version."""

    origin: str  # where they were read, e.g. "proxy_runs[2]"
    data_version: str  # the search space whose super-clusters the weights' columns are
    cluster_ids: tuple[int, ...]
    weights: np.ndarray  # (n, K)
    scores: np.ndarray  # (n,)
    keys: tuple[str, ...]  # (n,) the proxy runs' content addresses: a run is translated once


@dataclass(frozen=True)
class EvidenceTranslation:
    """Every source's runs over the current super-clusters, and what happened to each source."""

    weights: np.ndarray  # (n, K_current)
    scores: np.ndarray  # (n,)
    keys: list[str]  # (n,) the proxy run of each row
    origins: list[str]  # (n,) the source of each row
    mapped_share: np.ndarray  # (n,) share of each translated run's weight that mapped
    report: dict


def proxy_fingerprint(settings: ProxyConfig) -> str:
    """What proxy scores depend on (every setting but device and threads): scores compare only within one."""
    return content_hash(learnt_settings(settings), length=16)


def _quoted(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def snapshot_membership(storage: Storage, *, data_version: str) -> bool:
    """Keep ClimbLab's document membership under its data version, once; True when written now.

    Args:
        storage: holds `climblab` and receives `cluster_membership/<data_version>`.
        data_version: the search space's data version (climb.search.rounds.search_space) of the current ClimbLab.
    """
    if storage.partition_path(MEMBERSHIP, data_version) is not None:
        return False
    con = storage.duckdb()
    batches = con.sql(f"SELECT id, cluster_id, token_count FROM {documents_sql(storage)}").to_arrow_reader()
    with storage.write_partition(MEMBERSHIP, data_version) as writer:
        with storage.fs.open(writer.file("membership.parquet"), "wb") as handle, \
                pq.ParquetWriter(handle, batches.schema) as out:
            for batch in batches:
                out.write_batch(batch)
    con.close()
    return True


def overlap_with_current(storage: Storage, *, source_version: str, source_cluster_ids: Sequence[int],
                         cluster_ids: Sequence[int]) -> ClusterOverlap:
    """Tokens of each old super-cluster's documents per current super-cluster (None: the document is gone).

    Args:
        storage: holds the source's membership snapshot and the current `climblab`.
        source_version: data version of the old membership.
        source_cluster_ids: the old super-clusters, in the order of the old weights' columns.
        cluster_ids: the current super-clusters, in the order of the current weights' columns.
    """
    old = f"{storage.uri(storage.require(MEMBERSHIP, source_version))}/membership.parquet"
    con = storage.duckdb()
    rows = con.execute(
        f"SELECT o.cluster_id, n.cluster_id, sum(o.token_count) FROM read_parquet({_quoted(old)}) o "
        f"LEFT JOIN (SELECT id, cluster_id FROM {documents_sql(storage)}) n USING (id) GROUP BY 1, 2"
    ).fetchall()
    con.close()
    return cluster_overlap(rows, old_cluster_ids=source_cluster_ids, new_cluster_ids=cluster_ids)


def translate_evidence(storage: Storage, *, sources: Sequence[EvidenceSource], data_version: str,
                       cluster_ids: Sequence[int], min_mapped_share: float = MIN_MAPPED_SHARE) -> EvidenceTranslation:
    """Earlier runs re-expressed over the current super-clusters, with a report per source.

    Args:
        storage: holds the sources' membership snapshots and the current `climblab`.
        sources: evidence gathered on other data versions, or already translated to this one (kept as it is).
        data_version: the current search space's data version.
        cluster_ids: the current super-clusters (columns of the result).
        min_mapped_share: runs that kept less of their weight are dropped (climb.search.translation).
    """
    overlaps: dict[str, ClusterOverlap | None] = {}
    weights, scores, keys, origins, mapped, per_source = [], [], [], [], [], []
    reasons: Counter = Counter()
    for source in sources:
        if source.data_version == data_version:  # translated by an earlier round 1 on these super-clusters
            assert tuple(source.cluster_ids) == tuple(cluster_ids), "one data version, one set of super-clusters"
            weights.append(source.weights)
            scores.append(source.scores)
            keys += list(source.keys)
            origins += [source.origin] * len(source.scores)
            mapped.append(np.ones(len(source.scores)))
            per_source.append({"origin": source.origin, "from_version": source.data_version,
                               "runs": len(source.scores), "translated": len(source.scores), "token_mass_mapped": 1.0})
            continue
        if source.data_version not in overlaps:
            known = storage.partition_path(MEMBERSHIP, source.data_version) is not None
            overlaps[source.data_version] = overlap_with_current(
                storage, source_version=source.data_version, source_cluster_ids=source.cluster_ids,
                cluster_ids=cluster_ids) if known else None
        overlap = overlaps[source.data_version]
        if overlap is None:
            reasons[NO_MEMBERSHIP] += len(source.scores)
            per_source.append({"origin": source.origin, "from_version": source.data_version,
                               "runs": len(source.scores), "translated": 0, "token_mass_mapped": None})
            continue
        result = translate_runs(source.weights, source.scores, overlap, min_mapped_share=min_mapped_share)
        reasons.update(result.reasons)
        weights.append(result.weights)
        scores.append(result.scores)
        keys += [source.keys[i] for i in result.kept]
        origins += [source.origin] * len(result.scores)
        mapped.append(result.mapped_share[result.kept])
        per_source.append({"origin": source.origin, "from_version": source.data_version,
                           "runs": len(source.scores), "translated": len(result.scores),
                           "token_mass_mapped": round(overlap.mapped_share, 4),
                           "mean_run_mapped_share": round(float(result.mapped_share.mean()), 4)
                           if len(source.scores) else None})
    k = len(cluster_ids)
    report = {"runs": sum(s["runs"] for s in per_source), "translated": sum(s["translated"] for s in per_source),
              "reasons": dict(reasons), "sources": per_source}
    return EvidenceTranslation(
        weights=np.concatenate(weights) if weights else np.zeros((0, k)),
        scores=np.concatenate(scores) if scores else np.zeros(0), keys=keys, origins=origins,
        mapped_share=np.concatenate(mapped) if mapped else np.zeros(0), report=report)

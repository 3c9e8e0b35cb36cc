"""Phases: the order in which `climb run` and `recluster_sensor` materialise assets of mixed partitionings.

A Dagster run materialises assets of one partitioning, so a selection spanning per-shard and corpus-wide assets
is cut into phases, each one job (`climb_shards`, `climb_corpus`); within a run Dagster orders the steps itself
(the search rounds included). An asset backfill (the UI's "Materialize all") plans the same order on its own.
"""

from climb_assets.partitions import shards_partitions


def plan_phases(graph, keys: set) -> list[tuple[str, list]]:
    """Group the selected assets into phases of one partitioning each, in dependency order.

    An asset's level is the number of changes of partitioning on its longest path from a root
    (per-shard -> corpus-wide -> per-shard ...); phases run level by level, corpus-wide first
    within a level. Returns [(kind, [asset keys])], kind "shards" or "corpus".
    """

    def kind(key) -> str:
        partitions = graph.get(key).partitions_def
        if partitions is None:
            return "corpus"
        if partitions != shards_partitions:
            raise ValueError(f"{key.to_user_string()}: partitioned by {partitions}, neither by shard nor unpartitioned")
        return "shards"

    level: dict = {}
    for key in graph.toposorted_asset_keys:
        parents = [p for p in graph.get(key).parent_keys if p in graph.get_all_asset_keys()]
        level[key] = max((level[p] + (kind(p) != kind(key)) for p in parents), default=0)
    phases: list[tuple[str, list]] = []
    for lvl in sorted({level[k] for k in keys}):
        for phase_kind in ("corpus", "shards"):
            members = [k for k in graph.toposorted_asset_keys if k in keys and level[k] == lvl and kind(k) == phase_kind]
            if members:
                phases.append((phase_kind, members))
    return phases

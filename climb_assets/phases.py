"""Phases: the order in which `climb run` and `recluster_sensor` materialise assets of mixed partitionings.

A Dagster run materialises assets of one partitioning, so a selection spanning shards, the corpus and the
search rounds is cut into phases, each one job (`climb_shards`, `climb_corpus`, `climb_search_rounds`).
"""

from climb_assets.partitions import shards_partitions


def plan_phases(graph, keys: set) -> list[tuple[str, list]]:
    """Group the selected assets into phases of one partitioning each, in dependency order.

    An asset's level is the number of changes of partitioning on its longest path from a root
    (per-shard -> corpus-wide -> per-shard ...); phases run level by level, corpus-wide first
    within a level. Returns [(kind, [asset keys])], kind "shards", "corpus" or "rounds" (search rounds,
    run one after the other).
    """

    def kind(key) -> str:
        partitions = graph.get(key).partitions_def
        if partitions is None:
            return "corpus"
        return "shards" if partitions == shards_partitions else "rounds"

    level: dict = {}
    for key in graph.toposorted_asset_keys:
        parents = [p for p in graph.get(key).parent_keys if p in graph.get_all_asset_keys()]
        level[key] = max((level[p] + (kind(p) != kind(key)) for p in parents), default=0)
    phases: list[tuple[str, list]] = []
    for lvl in sorted({level[k] for k in keys}):
        for phase_kind in ("corpus", "shards", "rounds"):
            members = [k for k in graph.toposorted_asset_keys if k in keys and level[k] == lvl and kind(k) == phase_kind]
            if members:
                phases.append((phase_kind, members))
    return phases

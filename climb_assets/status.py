"""What the instance knows about each asset: materialised or not, latest metadata, check results.

Shape (also `climb status --json`):
    {"assets": {"<asset>": {"materialized": bool, "metadata": {...},
                            "partitions": {"<key>": {"metadata": {...}}}, "checks": {...}}}}
For a partitioned asset, the top-level `metadata` sums the integer fields over the latest
materialisation of each partition, and `materialized` means every partition is.
"""

from typing import Any

import dagster as dg

NOT_SUMMED = ("dagster/",)  # Dagster's own fields are reported per partition only
# Fields that add up over partitions; other numbers (dim, max_length) are kept when all partitions agree.
COUNT_FIELDS = {"input_records", "kept", "filtered", "duplicates", "quarantined", "count", "tokens", "documents",
                "rows", "seconds"}


def plain(value: Any) -> Any:
    """A metadata value as a plain JSON value."""
    if isinstance(value, dg.TableMetadataValue):
        return [dict(record.data) for record in value.records]
    if isinstance(value, dg.JsonMetadataValue):
        return value.data
    if isinstance(value, dg.MetadataValue):
        value = value.value
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return str(value)


def _metadata(record) -> dict[str, Any]:
    materialization = record.asset_materialization
    return {name: plain(value) for name, value in sorted(materialization.metadata.items())}


def aggregate_partitions(partitions: dict[str, dict]) -> dict[str, Any]:
    """Corpus-wide metadata from the latest metadata of each partition: count fields and seconds are
    summed, rates (`*_per_second`) are totals over total seconds, means (`mean_*`) are weighted by
    `count`, and a field every partition agrees on (dim, model, device) is kept as is."""
    values: dict[str, list[Any]] = {}
    for entry in partitions.values():
        for name, value in entry["metadata"].items():
            if not name.startswith(NOT_SUMMED):
                values.setdefault(name, []).append(value)
    seconds = values.get("seconds", [])
    out: dict[str, Any] = {}
    for name, found in sorted(values.items()):
        if len(found) != len(partitions):
            continue
        if name in COUNT_FIELDS:
            out[name] = round(sum(found), 3) if any(isinstance(v, float) for v in found) else sum(found)
        elif name.startswith("mean_") and len(values.get("count", [])) == len(found):
            weights = values["count"]
            out[name] = round(sum(m * w for m, w in zip(found, weights)) / max(sum(weights), 1), 4)
        elif name.endswith("_per_second") and len(seconds) == len(found):
            total = sum(seconds)
            out[name] = round(sum(r * t for r, t in zip(found, seconds)) / total, 2) if total else None
        elif all(isinstance(v, (int, float, str, bool)) for v in found) and len(set(found)) == 1:
            out[name] = found[0]
    return out


def _checks(instance: dg.DagsterInstance, check_keys, key: dg.AssetKey, run_ids: list[str]) -> dict[str, Any]:
    """For each check: how the evaluations in the runs of the latest materialisations went."""
    out: dict[str, Any] = {}
    for check_key in sorted(check_keys, key=lambda k: k.name):
        if check_key.asset_key != key:
            continue
        history = instance.event_log_storage.get_asset_check_execution_history(check_key, limit=10_000)
        status_by_run = {e.run_id: e.status.value for e in history if e.status.value != "PLANNED"}
        statuses = [status_by_run.get(run_id, "MISSING") for run_id in run_ids]
        out[check_key.name] = {
            "passed": statuses.count("SUCCEEDED"),
            "failed": statuses.count("FAILED"),
            "not_evaluated": statuses.count("MISSING"),
        }
    return out


def latest_materializations(instance: dg.DagsterInstance, key: dg.AssetKey, partitions: list[str],
                            chunk: int = 500) -> dict[str, Any]:
    """Each partition's latest materialisation record, in two bulk queries per `chunk` partitions (not one
    query per partition: a corpus has thousands)."""
    ids = instance.event_log_storage.get_latest_storage_id_by_partition(
        key, dg.DagsterEventType.ASSET_MATERIALIZATION, partitions=set(partitions))
    ordered, records = sorted(ids.values()), {}
    for start in range(0, len(ordered), chunk):
        batch = ordered[start:start + chunk]
        for record in instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key, storage_ids=batch), limit=len(batch)).records:
            records[record.partition_key] = record
    return records


def asset_status(instance: dg.DagsterInstance, defs: dg.Definitions,
                 only: set[dg.AssetKey] | None = None) -> dict[str, Any]:
    """Every asset's (or `only` those assets') state, latest metadata and check results."""
    graph = defs.resolve_asset_graph()
    assets: dict[str, Any] = {}
    for key in graph.toposorted_asset_keys:
        node = graph.get(key)
        if not node.is_materializable or (only is not None and key not in only):
            continue
        entry: dict[str, Any] = {"materialized": False, "metadata": {}}
        run_ids: list[str] = []
        if node.partitions_def is not None:
            keys = node.partitions_def.get_partition_keys(dynamic_partitions_store=instance)
            latest = latest_materializations(instance, key, keys)
            partitions = {}
            for partition in keys:
                if partition in latest:
                    partitions[partition] = {"metadata": _metadata(latest[partition])}
                    run_ids.append(latest[partition].run_id)
            entry.update(
                materialized=bool(keys) and len(partitions) == len(keys),
                metadata=aggregate_partitions(partitions),
                partitions=partitions,
                partitions_total=len(keys),
                partitions_materialized=len(partitions),
            )
        else:
            records = instance.fetch_materializations(key, limit=1).records
            if records:
                entry.update(materialized=True, metadata=_metadata(records[0]))
                run_ids.append(records[0].run_id)
        entry["checks"] = _checks(instance, graph.asset_check_keys, key, run_ids)
        assets[key.to_user_string()] = entry
    return {"assets": assets}

"""What `climb run` re-materialises: the missing and stale asset partitions (docs/architecture.md, versions and
staleness).

An asset partition is re-run when it was never materialised; when its code version changed; when its latest
blocking check failed; when what it read changed since (a parent's data version differs from the one its
materialisation recorded, a shard was added or removed); when a parent is itself re-run in this backfill; and,
for the assets that read files outside Dagster (`documents`: its file, an earlier shard, the reading settings;
`target_set`: the target files), when those files changed since (`source_version`). Everything else is fresh.

Dagster's own stale status stops following partitioned parents at 100 partitions (a corpus has thousands), so
the parents read across all shards are compared here with a few bulk event-log queries: every shard's data
version now against its version when the child read it (the child's recorded input event pointer).

The fits `centroids` and `tokenizer` follow new and changed shards only when re-clustering asks
(`recluster_sensor`'s thresholds) or `--force`: a new shard is assigned to the clusters there are. A new code
version upstream (another embedding model) refits them.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from hashlib import sha256

import dagster as dg
from dagster._core.definitions.data_version import (
    CODE_VERSION_TAG, DATA_VERSION_TAG, get_input_data_version_tag, get_input_event_pointer_tag)
from dagster._core.definitions.events import AssetKeyPartitionKey

from climb_assets.gates import failed_blocking_checks
from climb_assets.status import latest_materializations

MATERIALIZATION = dg.DagsterEventType.ASSET_MATERIALIZATION
FITS = frozenset({dg.AssetKey("centroids"), dg.AssetKey("tokenizer")})
SOURCE_VERSION = "source_version"  # metadata of an asset that reads files outside Dagster: their version then


@dataclass(frozen=True)
class Cause:
    """Why an asset partition is re-run; `code` when a code version changed there or upstream."""

    text: str
    code: bool = False
    origin: str = ""  # where it began ("embeddings[news_4.jsonl]"); empty for the asset partition itself

    def upstream(self, origin: str) -> "Cause":
        """This cause as it reaches a reader: re-run because `origin` (or where it began) is."""
        return Cause(self.text, self.code, self.origin or origin)

    def __str__(self) -> str:
        return f"upstream {self.origin}: {self.text}" if self.origin else self.text


@dataclass
class Plan:
    """The asset partitions to run, each with its cause, and how many selected ones are fresh."""

    run: dict[AssetKeyPartitionKey, Cause]
    fresh: dict[dg.AssetKey, int]

    def summary(self, keys: Iterable[dg.AssetKey]) -> list[str]:
        """One line per asset: how many partitions run (and the first one's cause), how many are fresh."""
        lines = []
        for key in keys:
            causes = [c for k, c in self.run.items() if k.asset_key == key]
            fresh = self.fresh.get(key, 0)
            if causes:
                lines.append(f"{key.to_user_string()}: {len(causes)} to run ({causes[0]})"
                             + (f", {fresh} fresh" if fresh else ""))
            elif fresh:
                lines.append(f"{key.to_user_string()}: fresh")
        return lines


def _label(key: dg.AssetKey, partition: str | None) -> str:
    return key.to_user_string() + (f"[{partition}]" if partition else "")


class FreshnessPlanner:
    """Plans one backfill; every event-log query is made once per asset (per parent, for corpus-wide readers)."""

    def __init__(self, instance: dg.DagsterInstance, graph, shards: list[str],
                 source_versions: Mapping[AssetKeyPartitionKey, str], removed_shards: Iterable[str] = ()):
        """`source_versions`: the current version of what each file-reading asset partition reads (the
        `documents` of every shard, the `target_set`), compared with the `source_version` it recorded."""
        self.instance, self.graph, self.shards = instance, graph, sorted(shards)
        self.source_versions = source_versions
        self.removed = sorted(removed_shards)
        self._latest: dict[dg.AssetKey, dict[str | None, Mapping[str, str]]] = {}

    def plan(self, keys: Iterable[dg.AssetKey]) -> Plan:
        keys = set(keys)
        plan = Plan(run={}, fresh={})
        failed: dict[AssetKeyPartitionKey, str] = {}  # one query for every blocking check of the selection
        for check, partition in failed_blocking_checks(self.instance, self.graph, keys):
            failed.setdefault(AssetKeyPartitionKey(check.asset_key, partition), check.name)
        for key in (k for k in self.graph.toposorted_asset_keys if k in keys):
            for partition in self._partitions(key):
                cause = self._cause(key, partition, plan.run, failed)
                if cause is None:
                    plan.fresh[key] = plan.fresh.get(key, 0) + 1
                else:
                    plan.run[AssetKeyPartitionKey(key, partition)] = cause
        return plan

    def _partitions(self, key: dg.AssetKey) -> list[str | None]:
        return self.shards if self.graph.get(key).is_partitioned else [None]

    def _cause(self, key, partition, planned, failed_checks) -> Cause | None:
        node = self.graph.get(key)
        tags = self.latest(key).get(partition)
        if tags is None:
            return Cause("missing")
        if node.code_version and tags.get(CODE_VERSION_TAG) != node.code_version:
            return Cause("new code version", code=True)
        check = failed_checks.get(AssetKeyPartitionKey(key, partition))
        if check is not None:
            return Cause(f"blocking check {check} failed")
        source = self.source_versions.get(AssetKeyPartitionKey(key, partition))
        if source is not None and tags.get(SOURCE_VERSION) != source:
            return Cause("the files it reads changed")
        for parent in sorted(node.parent_keys):
            cause = self._parent_cause(key, partition, tags, parent, planned)
            if cause is not None and (key not in FITS or cause.code):
                return cause
        return None

    def _parent_cause(self, key, partition, tags, parent, planned) -> Cause | None:
        """Whether `parent`, as `key[partition]` reads it, is re-run now or changed since it was read."""
        if not self.graph.get(parent).is_partitioned:
            upstream = planned.get(AssetKeyPartitionKey(parent, None))
            if upstream is not None:
                return upstream.upstream(parent.to_user_string())
            now = self.latest(parent).get(None, {}).get(DATA_VERSION_TAG)
            if now != tags.get(get_input_data_version_tag(parent)):
                return Cause(f"{parent.to_user_string()} changed since")
            return None
        if partition is not None:  # the same shard of a per-shard parent
            upstream = planned.get(AssetKeyPartitionKey(parent, partition))
            if upstream is not None:
                return upstream.upstream(_label(parent, partition))
            now = self.latest(parent).get(partition, {}).get(DATA_VERSION_TAG)
            # Dagster records a partitioned input's version as the sha256 of its partitions' versions, joined.
            recorded = tags.get(get_input_data_version_tag(parent))
            if now is None or recorded != sha256(now.encode()).hexdigest():
                return Cause(f"{_label(parent, partition)} changed since")
            return None
        return self._every_shard_cause(tags, parent, planned)

    def _every_shard_cause(self, tags, parent, planned) -> Cause | None:
        """A corpus-wide reader of a per-shard parent: any shard re-run, added, removed or changed since."""
        upstream = [(s, planned[AssetKeyPartitionKey(parent, s)]) for s in self.shards
                    if AssetKeyPartitionKey(parent, s) in planned]
        if upstream:
            shard, cause = next(((s, c) for s, c in upstream if c.code), upstream[0])
            return cause.upstream(_label(parent, shard))
        if self.removed:
            return Cause(f"shard {self.removed[0]} was removed")
        pointer = tags.get(get_input_event_pointer_tag(parent))
        if pointer is None:
            return Cause(f"no record of which {parent.to_user_string()} it read")
        # The shards' data versions as they were read (Dagster indexes only the data version tag), and the code
        # version of the parent's materialisation the pointer names (the latest one, when it was read).
        then = self.instance.event_log_storage.get_latest_tags_by_partition(
            parent, MATERIALIZATION, [DATA_VERSION_TAG], asset_partitions=self.shards, before_cursor=int(pointer) + 1)
        read = self.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=parent, storage_ids=[int(pointer)]), limit=1).records
        code_then = read[0].asset_materialization.tags.get(CODE_VERSION_TAG) if read else None
        now, changed = self.latest(parent), None
        for shard in self.shards:
            before, after = then.get(shard), now.get(shard, {})
            if code_then is not None and after.get(CODE_VERSION_TAG) not in (None, code_then):
                return Cause(f"{_label(parent, shard)} has a new code version", code=True)  # refits the fits too
            if changed is None and before is None:
                changed = Cause(f"new shard {shard}")
            elif changed is None and before.get(DATA_VERSION_TAG) != after.get(DATA_VERSION_TAG):
                changed = Cause(f"{_label(parent, shard)} changed since")
        return changed

    def latest(self, key: dg.AssetKey) -> dict[str | None, Mapping[str, str]]:
        """The tags of each partition's latest materialisation (None: the unpartitioned asset's)."""
        if key not in self._latest:
            if self.graph.get(key).is_partitioned:
                records = latest_materializations(self.instance, key, self.shards).values()
            else:
                records = self.instance.fetch_materializations(key, limit=1).records
            self._latest[key] = {r.partition_key: _recorded(r.asset_materialization) for r in records}
        return self._latest[key]


def _recorded(materialization: dg.AssetMaterialization) -> dict[str, str]:
    """Its tags (versions, input versions and pointers) and the `source_version` of its metadata."""
    recorded = dict(materialization.tags or {})
    source = materialization.metadata.get(SOURCE_VERSION)
    if source is not None:
        recorded[SOURCE_VERSION] = source.value
    return recorded

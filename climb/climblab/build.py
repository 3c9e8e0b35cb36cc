"""ClimbLab: the clustered, pruned corpus (paper step 5), and the project tokenizer it is tokenized with.

`<root>/climblab/`:
- `data/cluster_<n>/part-<shard index>.parquet`: id, text, cluster_id (int32), fine_cluster_id, the four
  raters, token_count. These are the only Parquet files pyarrow's discovery sees (it skips names starting with
  `_` or `.`), so one call on `climblab/` or on `data/` reads every document once:
  `pandas.read_parquet(".../climblab")`, `pyarrow.dataset.dataset(".../climblab")`, DuckDB
  `read_parquet('.../data/*/*.parquet')`, `datasets.load_dataset("parquet", data_dir=".../data")`. The folder
  names are not Hive keys (`cluster_id=<n>`) on purpose: pandas types such a key dictionary<int32>, which
  clashes with the int32 column in the files, and `datasets` ignores Hive keys, so the id lives in the files
  alone (docs/architecture.md, exports);
- `_profiles/`: `clusters.parquet` (one row per super-cluster: id, label, keywords, documents, tokens, rater
  means, member fine clusters) and `pruned.parquet` (every kept document ClimbLab leaves out: id, shard, fine
  cluster, reason, detail): those removed by an asset before it (`contamination:target` from `target_set`,
  `duplicate:semantic` from `semantic_duplicates`; such a reason wins over pruning, so both assets report the
  same count), then those of pruned fine clusters (`prune:*`);
- `_token_stores/cluster_<n>/`: memory-mapped token ids with document offsets (climb.climblab.token_store);
- `_manifest.json`: the storage layer's commit record (climb.core.storage), outside `data/`, where
  `datasets` would try to read it as Parquet.
`<root>/tokenizer/`: the tokenizer (trained byte-level BPE or the user's), loadable with AutoTokenizer.
"""

from __future__ import annotations

import functools
from collections import Counter
import logging
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from climb.core.config import TokenizerConfig
from climb.semantic.pruning import RATERS
from climb.core.storage import Storage
from climb.core.tables import sql_list, sql_string
from climb.climblab.token_store import TokenStore, TokenStoreWriter
from climb.climblab.tokenization import encode_batch, eos_id, load_tokenizer, save_tokenizer, train_bpe

CLIMBLAB = "climblab"
DATA = "data"  # the documents' folder inside climblab/
TOKENIZER = "tokenizer"
TOKEN_STORES = "_token_stores"
PROFILES = "_profiles"  # `_`: out of sight of pandas and pyarrow.dataset reading climblab/
CLUSTERS_FILE = f"{PROFILES}/clusters.parquet"  # one row per super-cluster
PRUNED_FILE = f"{PROFILES}/pruned.parquet"  # every kept document ClimbLab leaves out, with the reason
SHARE_TOLERANCE = 1e-9
PRUNED_SCHEMA = pa.schema([("id", pa.string()), ("shard", pa.string()), ("fine_cluster_id", pa.int32()),
                          ("reason", pa.string()), ("detail", pa.string())])


def cluster_folder(cluster_id: int) -> str:
    """A super-cluster's folder under `data/` and `_token_stores/` (a plain name, not a Hive key)."""
    return f"cluster_{cluster_id}"


def documents_path(storage: Storage) -> str:
    """The committed `climblab/data/` folder: every ClimbLab document, one folder per super-cluster."""
    return f"{storage.require(CLIMBLAB)}/{DATA}"


def documents_sql(storage: Storage, *, filename: bool = False) -> str:
    """ClimbLab's documents as a DuckDB table expression (every Parquet file under `data/`); with `filename`,
    each row also carries the path of its file."""
    files = storage.uri(documents_path(storage)) + "/*/*.parquet"
    return "read_parquet('" + files.replace("'", "''") + "'" + (", filename=true)" if filename else ")")


@dataclass(frozen=True)
class ClimbLabReport:
    clusters: list[dict]
    documents: int
    pruned_documents: int  # of pruned fine clusters
    removed: dict[str, int]  # documents left out by an earlier asset, per reason
    tokens: int
    seconds: float
    path: str


# ---- tokenizer ---------------------------------------------------------------------------------------
def _sample_texts(storage: Storage, shard_keys: Sequence[str], *, seed: int, limit: int) -> list[str]:
    """The texts of `limit` kept documents, taken by a hash of their id salted with the seed."""
    files = sql_list(storage.uri(f"{storage.require('documents', k)}/documents.parquet") for k in sorted(shard_keys))
    order = f"hash(id || {sql_string(str(seed))}), id"
    # The sample is chosen from the ids alone, then only its texts are read: ordering (id, text) rows held the
    # corpus's texts (523 MB at 1,000,000 short documents, docs/architecture.md).
    con = storage.duckdb()
    try:
        return [r[0] for r in con.execute(
            f"WITH sample AS (SELECT id FROM read_parquet({files}) ORDER BY {order} LIMIT {int(limit)}) "
            f"SELECT d.text FROM sample JOIN read_parquet({files}) d USING (id) ORDER BY {order}"
        ).fetchall()]
    finally:
        con.close()


def build_tokenizer(*, storage: Storage, shard_keys: Sequence[str], config: TokenizerConfig, seed: int = 0,
                    log: logging.Logger | None = None) -> dict:
    """Train a byte-level BPE on a sample of the kept documents, or load the configured one; commit it.

    Args:
        storage: holds `documents` and receives `tokenizer`.
        shard_keys: the shards to sample from.
        config: vocabulary size and sample size, or a path.
        seed: orders the sample (documents are taken by a hash of their id salted with the seed).
        log: progress messages.
    """
    started = time.perf_counter()
    if config.path:
        tokenizer, source, sample = load_tokenizer(config.path), config.path, 0
    else:
        texts = _sample_texts(storage, shard_keys, seed=seed, limit=config.sample_documents)
        tokenizer = train_bpe(texts, vocab_size=config.train_vocab_size, min_frequency=config.min_frequency)
        source, sample = f"byte-level BPE trained on {len(texts):,} documents", len(texts)
    local = tempfile.mkdtemp(prefix="climb-tokenizer-")
    try:
        save_tokenizer(tokenizer, local)
        with storage.write_partition(TOKENIZER) as writer:
            writer.put_folder(local)
            info = {"source": source, "vocab_size": tokenizer.get_vocab_size(), "eos_id": eos_id(tokenizer),
                    "sample_documents": sample, "seconds": round(time.perf_counter() - started, 3)}
            writer.write_json("stats.json", info)
    finally:
        shutil.rmtree(local, ignore_errors=True)
    return {**info, "path": storage.require(TOKENIZER)}


@functools.lru_cache(maxsize=4)
def _load_committed(path: str, version: str):
    return load_tokenizer(path)


def project_tokenizer(storage: Storage):
    """The committed tokenizer (cached per committed version)."""
    path = storage.require(TOKENIZER)
    if not storage.is_local:
        local = tempfile.mkdtemp(prefix="climb-tokenizer-")
        storage.fs.get(path + "/", local, recursive=True)
        path = local
    return _load_committed(path, storage.manifest(TOKENIZER)["version"])


# ---- ClimbLab ----------------------------------------------------------------------------------------
def _shard_rows(storage: Storage, key: str, fine_to_super: np.ndarray) -> pa.Table:
    """The kept documents of a shard with their fine and super cluster, raters and token count (aligned by order)."""
    documents = storage.read_table("documents", "documents.parquet", key, columns=["id", "text"])
    assignments = storage.read_table("cluster_assignments", "assignments.parquet", key)
    quality = storage.read_table("quality_scores", "quality_scores.parquet", key)
    if not (documents.column("id").equals(assignments.column("id")) and documents.column("id").equals(quality.column("id"))):
        raise ValueError(f"{key}: documents, cluster_assignments and quality_scores are not aligned; "
                         "re-materialise the shard")
    fine = assignments.column("fine_cluster_id").to_numpy()
    return pa.table({
        "id": documents.column("id"), "text": documents.column("text"),
        "cluster_id": pa.array(fine_to_super[fine], pa.int32()), "fine_cluster_id": assignments.column("fine_cluster_id"),
        **{r: quality.column(r) for r in RATERS}, "token_count": assignments.column("token_count"),
    })


def _first_reason(removed: Sequence[pa.Table]) -> pa.Table:
    """(id, reason, detail) of the documents to leave out, one row per id: the earliest table's wins."""
    rows, seen = [], set()
    for table in removed:
        for row in table.select(["id", "reason", "detail"]).to_pylist():
            if row["id"] not in seen:
                seen.add(row["id"])
                rows.append(row)
    return pa.Table.from_pylist(rows, schema=pa.schema([("id", pa.string()), ("reason", pa.string()),
                                                        ("detail", pa.string())]))


def _left_out(rows: pa.Table, key: str, reasons: dict[int, str],
              removed: pa.Table) -> tuple[pa.Table, pa.Table, list[dict]]:
    """(the rows ClimbLab keeps, the removed rows, a PRUNED_FILE row for each row left out); a removed document
    keeps its reason even in a pruned cluster, so the asset that removed it and climblab count the same."""
    hit = pc.is_in(rows.column("id"), value_set=removed.column("id"))
    gone, rows = rows.filter(hit), rows.filter(pc.invert(hit))
    why = {r["id"]: r for r in removed.to_pylist()}
    out = [{"id": r["id"], "shard": key, "fine_cluster_id": r["fine_cluster_id"], "reason": why[r["id"]]["reason"],
            "detail": why[r["id"]]["detail"]} for r in gone.select(["id", "fine_cluster_id"]).to_pylist()]
    out += [{"id": r["id"], "shard": key, "fine_cluster_id": r["fine_cluster_id"],
             "reason": reasons[r["fine_cluster_id"]], "detail": None}
            for r in rows.filter(pc.equal(rows.column("cluster_id"), -1)).select(["id", "fine_cluster_id"]).to_pylist()]
    return rows, gone, out


def _recount(supers: list[dict], removed: dict[int, list[int]]) -> None:
    """Documents, tokens and token shares of the super-clusters after the removed documents left."""
    for s in supers:
        gone = removed.get(s["cluster_id"], [])
        s["documents"], s["tokens"] = s["documents"] - len(gone), s["tokens"] - sum(gone)
    total = sum(s["tokens"] for s in supers)
    for s in supers:
        s["token_share"] = s["tokens"] / total if total else 0.0


def write_climblab(*, storage: Storage, shard_keys: Sequence[str], tokenizer, removed: Sequence[pa.Table] = (),
                   log: logging.Logger | None = None) -> ClimbLabReport:
    """Write ClimbLab: Parquet per super-cluster and shard, token stores, the profiles (`_profiles/`).

    Args:
        storage: holds every upstream asset and receives `climblab`.
        shard_keys: the shards of the corpus.
        tokenizer: the project tokenizer (token stores).
        removed: tables of documents to leave out, with `id`, `reason` and `detail` columns (the target set's
            contaminated documents, the semantic duplicates); a document in several keeps the earliest table's
            reason. Super-cluster documents, tokens and token shares are recounted without them.
        log: progress per shard.
    """
    log = log or logging.getLogger(__name__)
    started = time.perf_counter()
    mapping = storage.read_table("super_clusters", "fine_to_super.parquet").to_pylist()
    fine_to_super = np.full(len(mapping), -1, dtype=np.int32)
    for row in mapping:
        if row["super_cluster_id"] is not None:
            fine_to_super[row["fine_cluster_id"]] = row["super_cluster_id"]
    supers = storage.read_table("super_clusters", "super_clusters.parquet").to_pylist()
    reasons = {r["fine_cluster_id"]: r["prune_reason"] for r in storage.read_table("clusters", "clusters.parquet").to_pylist()}
    local = None if storage.is_local else tempfile.mkdtemp(prefix="climb-token-stores-")
    removed = _first_reason(removed)
    pruned: list[dict] = []
    gone_tokens: dict[int, list[int]] = {}  # super-cluster -> token counts of its removed documents
    with storage.write_partition(CLIMBLAB) as writer:
        base = f"{writer.path if local is None else local}/{TOKEN_STORES}"
        stores = {s["cluster_id"]: TokenStoreWriter(f"{base}/{cluster_folder(s['cluster_id'])}",
                                                    vocab_size=tokenizer.get_vocab_size(), eos_id=eos_id(tokenizer))
                  for s in supers}
        for index, key in enumerate(sorted(shard_keys)):
            rows, gone, left_out = _left_out(_shard_rows(storage, key, fine_to_super), key, reasons, removed)
            pruned += left_out
            for sid, tokens in zip(gone.column("cluster_id").to_pylist(), gone.column("token_count").to_pylist()):
                gone_tokens.setdefault(sid, []).append(tokens)
            cluster = rows.column("cluster_id").to_numpy()
            for sid in np.unique(cluster[cluster >= 0]):
                part = rows.filter(pc.equal(rows.column("cluster_id"), int(sid)))
                writer.write_table(f"{DATA}/{cluster_folder(sid)}/part-{index:05d}.parquet", part)
                for ids in encode_batch(tokenizer, part.column("text").to_pylist()):
                    stores[int(sid)].add(ids)
            log.info(f"climblab: {key} done ({index + 1}/{len(shard_keys)})")
        infos = {sid: store.close() for sid, store in stores.items()}
        if local is not None:
            writer.put_folder(local)
        else:  # written in place: record the files in the manifest
            writer.files.extend(f"{TOKEN_STORES}/{cluster_folder(sid)}/{name}" for sid in infos
                                for name in ("tokens.bin", "offsets.npy", "meta.json"))
        _recount(supers, gone_tokens)
        for s in supers:
            s["store_tokens"] = infos[s["cluster_id"]].n_tokens  # includes one end-of-text token per document
        writer.write_table(CLUSTERS_FILE, pa.Table.from_pylist(supers))
        writer.write_table(PRUNED_FILE, pa.Table.from_pylist(pruned, schema=PRUNED_SCHEMA))
    if local is not None:
        shutil.rmtree(local, ignore_errors=True)
    by_reason = dict(Counter(r["reason"] for r in pruned if not r["reason"].startswith("prune:")))
    return ClimbLabReport(clusters=supers, documents=sum(s["documents"] for s in supers),
                          pruned_documents=len(pruned) - sum(by_reason.values()), removed=by_reason,
                          tokens=sum(s["tokens"] for s in supers), seconds=round(time.perf_counter() - started, 3),
                          path=storage.require(CLIMBLAB))


def token_store(storage: Storage, cluster_id: int) -> TokenStore:
    """The memory-mapped token store of one super-cluster (local storage)."""
    return TokenStore(f"{storage.require(CLIMBLAB)}/{TOKEN_STORES}/{cluster_folder(cluster_id)}")


def verify_climblab(storage: Storage, shard_keys: Sequence[str]) -> tuple[bool, dict]:
    """Every kept document in exactly one super-cluster or in PRUNED_FILE (pruned, contaminated, semantic
    duplicate), each in its super-cluster's folder (the export reads a cluster by its folder); shares sum to 1."""
    documents = documents_sql(storage)
    con = storage.duckdb()
    counts = dict(con.execute(f"SELECT cluster_id, count(*) FROM {documents} GROUP BY 1").fetchall())
    unique_ids = con.execute(f"SELECT count(DISTINCT id), count(*) FROM {documents}").fetchone()
    placed = con.execute(f"SELECT filename, cluster_id, count(*) FROM {documents_sql(storage, filename=True)} "
                         "GROUP BY 1, 2").fetchall()
    misplaced = sum(n for name, cid, n in placed if f"/{DATA}/{cluster_folder(cid)}/" not in name)
    con.close()
    clusters = storage.read_table(CLIMBLAB, CLUSTERS_FILE).to_pylist()
    left_out = storage.read_table(CLIMBLAB, PRUNED_FILE, columns=["reason"]).column("reason").to_pylist()
    pruned = len(left_out)
    by_reason = Counter(left_out)
    kept_documents = sum(storage.read_json("documents", "stats.json", key)["kept"] for key in shard_keys)
    share = sum(c["token_share"] for c in clusters)
    per_cluster = all(counts.get(c["cluster_id"], 0) == c["documents"] for c in clusters)
    details = {"documents_in_climblab": int(unique_ids[1]), "distinct_ids": int(unique_ids[0]),
               "pruned": sum(n for r, n in by_reason.items() if r.startswith("prune:")),
               "contaminated": by_reason["contamination:target"], "semantic_duplicates": by_reason["duplicate:semantic"],
               "kept_documents": kept_documents, "token_share_sum": round(share, 12),
               "cluster_counts_match_profiles": per_cluster, "documents_outside_their_folder": int(misplaced)}
    passed = (unique_ids[0] == unique_ids[1] and unique_ids[1] + pruned == kept_documents and per_cluster
              and misplaced == 0
              and abs(share - 1.0) <= SHARE_TOLERANCE * max(1, len(clusters)) * 10)
    return passed, details

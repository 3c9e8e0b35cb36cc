"""ClimbMix export (paper step 7): ClimbLab sampled at the optimal mixture, written in three formats.

Layout of an export folder (every file deterministic for a seed: same inputs, byte-identical files):
    README.md                             dataset card (climb/climbmix/card.py), sha256 of every file
    climbmix.json                         settings, per-cluster table, tokenizer, provenance, config, sha256s
    parquet/part-<n>.parquet              text, cluster_id, token_count (`load_dataset("parquet", data_dir=...)`)
    jsonl/part_<n>.tokenized.jsonl        cluster_id, tokens, token_count (the released ClimbMix layout)
    megatron/cluster_<k>_text_document.{bin,idx}   one Megatron indexed dataset per super-cluster, + blend.json
Parquet and JSONL hold every drawn document in one seeded interleaved order; each Megatron dataset holds
its cluster's documents in draw order, each ending with the end-of-text id (preprocess_data.py --append-eod).
Token ids come from ClimbLab's token stores (climb/climblab/token_store.py), checked against `token_count`,
or from re-tokenizing the drawn texts with `settings.tokenizer` (climb/climbmix/retokenize.py).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
import uuid
from dataclasses import asdict
from pathlib import Path

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from climb.climblab.build import CLIMBLAB, CLUSTERS_FILE, DATA, TOKEN_STORES, cluster_folder
from climb.climbmix.plan import (LIMIT_DOCUMENT_SIZE, WEIGHT_TOLERANCE, ExportSettings, MixturePlan, check_plan,
                                plan_mixture, plan_rows)
from climb.climbmix.card import card_checksums, render_card
from climb.climbmix.formats import (IndexedDataset, megatron_data_path, sha256_of, write_indexed_dataset,
                                        write_tokenized_jsonl)
from climb.climbmix.retokenize import climblab_tokenizer, exported_tokens, load_export_tokenizer, retokenize
from climb.core.storage import MANIFEST, Storage
from climb.climblab.token_store import TokenStore

OPTIMAL, CLIMBMIX = "optimal_mixture", "climbmix"
SUMMARY, CARD = "climbmix.json", "README.md"
FORMAT, FORMAT_VERSION = "climbmix", 1
NOT_DATA = (SUMMARY, CARD, MANIFEST)  # files of the folder that climbmix.json's checksums do not cover


# ---- inputs ------------------------------------------------------------------------------------------
def read_optimal_mixture(storage: Storage) -> tuple[dict[int, float], dict]:
    """The optimal mixture's weights by super-cluster and its provenance; FileNotFoundError before a search."""
    if storage.partition_path(OPTIMAL) is None:
        raise FileNotFoundError(f"no optimal mixture under {storage.root}: run the search first (climb run)")
    result = storage.read_json(OPTIMAL, "optimal_mixture.json")
    provenance = {"predictor_family": result.get("predictor_family"),
                  "observed_holdout_score": result.get("observed_holdout_score"),
                  "version": storage.manifest(OPTIMAL)["version"], "labels": result.get("labels", {})}
    return {int(k): float(w) for k, w in result["weights"].items()}, provenance


class _Cluster:
    """One super-cluster of ClimbLab: token counts (and texts, where drawn from) with its token store, aligned."""

    def __init__(self, storage: Storage, path: str, cluster_id: int, store_root: str, *, with_text: bool):
        files = sorted(storage.fs.glob(f"{path}/{DATA}/{cluster_folder(cluster_id)}/*.parquet"))  # the store's order
        columns = ["text", "token_count"] if with_text else ["token_count"]
        tables = []
        for name in files:
            with storage.fs.open(name, "rb") as handle:
                tables.append(pq.read_table(handle, columns=columns))
        table = pa.concat_tables(tables) if tables else pa.table({"text": pa.array([], pa.string()),
                                                                  "token_count": pa.array([], pa.int64())})
        self.texts = table.column("text") if with_text else None  # weight 0: never drawn, never loaded
        self.counts = table.column("token_count").to_numpy().astype(np.int64)
        self.store = TokenStore(f"{store_root}/{cluster_folder(cluster_id)}")
        if self.store.n_documents != len(self.counts) or not np.array_equal(np.diff(self.store.offsets) - 1,
                                                                            self.counts):
            raise ValueError(f"{path}: super-cluster {cluster_id}'s token store does not match its Parquet rows "
                             f"({self.store.n_documents} vs {len(self.counts)} documents): re-materialise climblab")

    def ids(self, i: int) -> np.ndarray:
        return self.store.document(int(i))

    def ids_with_eos(self, i: int) -> np.ndarray:
        return self.store.tokens[self.store.offsets[i] : self.store.offsets[i + 1]]


def _sources(storage: Storage, scratch: str, weights: dict[int, float]) -> tuple[dict[int, _Cluster], dict[int, str]]:
    path = storage.require(CLIMBLAB)
    store_root = f"{path}/{TOKEN_STORES}"
    if not storage.is_local:  # token stores are memory-mapped: bring them here
        storage.fs.get(store_root + "/", f"{scratch}/{TOKEN_STORES}", recursive=True)
        store_root = f"{scratch}/{TOKEN_STORES}"
    rows = storage.read_table(CLIMBLAB, CLUSTERS_FILE, columns=["cluster_id", "label"]).to_pylist()
    return ({r["cluster_id"]: _Cluster(storage, path, r["cluster_id"], store_root,
                                       with_text=weights.get(r["cluster_id"], 0) > 0) for r in rows},
            {r["cluster_id"]: r["label"] for r in rows})


# ---- writing -----------------------------------------------------------------------------------------
def _write_parts(folder: Path, plan: MixturePlan, sources: dict[int, _Cluster], tokens: dict) -> dict:
    clusters, documents = plan.interleaved()
    per_file, formats = plan.settings.documents_per_file, plan.settings.formats
    order = [cid for cid in sorted(sources) if sources[cid].texts is not None]  # the clusters drawn from
    # one text array over them: a part is one vectorised take
    bases = np.cumsum([0] + [len(sources[cid].counts) for cid in order[:-1]]).astype(np.int64)
    texts = pa.chunked_array([c for cid in order for c in sources[cid].texts.chunks], pa.string())
    token_counts = np.concatenate([sources[cid].counts for cid in order] + [np.zeros(0, np.int64)])
    written: dict[str, list[str]] = {f: [] for f in formats if f != "megatron"}
    for part, start in enumerate(range(0, max(len(documents), 1), per_file)):
        cids, docs = clusters[start : start + per_file], documents[start : start + per_file]
        if "parquet" in formats:
            rows = bases[np.searchsorted(order, cids)] + docs
            name = f"parquet/part-{part:05d}.parquet"
            (folder / "parquet").mkdir(exist_ok=True)
            pq.write_table(pa.table({"text": texts.take(pa.array(rows, pa.int64())),
                                     "cluster_id": pa.array(cids, pa.int32()),
                                     "token_count": pa.array(token_counts[rows], pa.int64())}), folder / name)
            written["parquet"].append(name)
        if "jsonl" in formats:
            name = f"jsonl/part_{part:05d}.tokenized.jsonl"
            (folder / "jsonl").mkdir(exist_ok=True)
            write_tokenized_jsonl(folder / name, ((c, tokens[c].ids(d)) for c, d in zip(cids, docs)))
            written["jsonl"].append(name)
    return written


def _write_megatron(folder: Path, plan: MixturePlan, sources: dict[int, _Cluster]) -> dict:
    (folder / "megatron").mkdir(exist_ok=True)
    realised, entries, datasets = plan.realised_weights(), [], []
    for draw in plan.clusters:
        if not len(draw.documents):
            continue
        prefix = f"megatron/cluster_{draw.cluster_id}_text_document"
        source = sources[draw.cluster_id]
        info = write_indexed_dataset(folder / prefix, (source.ids_with_eos(d) for d in draw.documents),
                                     vocab_size=source.store.vocab_size)
        entries.append((realised[draw.cluster_id], prefix))
        datasets.append({"cluster_id": draw.cluster_id, "prefix": prefix, "weight": round(realised[draw.cluster_id], 6),
                         "documents": info["sequences"], "tokens_with_eod": info["tokens"], "dtype": info["dtype"]})
    blend = {"data_path": megatron_data_path(entries), "datasets": datasets,
             "note": "weights are realised token shares; prefixes are relative to the export folder"}
    (folder / "megatron" / "blend.json").write_text(json.dumps(blend, indent=2, sort_keys=True) + "\n")
    return blend


def write_export(*, storage: Storage, settings: ExportSettings, folder: str | Path, config: dict | None = None,
                 log: logging.Logger | None = None) -> dict:
    """Sample ClimbLab at the optimal mixture and write every requested format, climbmix.json and the card.

    Args:
        storage: holds climblab, tokenizer and optimal_mixture.
        settings: budget, formats, seed, epoch cap, documents per file, tokenizer, license, language.
        folder: an existing, empty local folder that receives the files.
        config: the project configuration (saved in climbmix.json and the card).
        log: progress and shortfall warnings.
    """
    log = log or logging.getLogger(__name__)
    started, folder = time.perf_counter(), Path(folder)
    weights, provenance = read_optimal_mixture(storage)
    user_tokenizer = load_export_tokenizer(settings.tokenizer) if settings.tokenizer else None  # fails early
    tokenized = {"jsonl", "megatron"} & set(settings.formats)
    scratch = tempfile.mkdtemp(prefix="climbmix-")
    try:
        sources, labels = _sources(storage, scratch, weights)
        plan = plan_mixture(weights=weights, token_counts={cid: s.counts for cid, s in sources.items()},
                            settings=settings)
        tokens = sources if user_tokenizer is None or not tokenized else retokenize(
            plan=plan, texts={cid: s.texts for cid, s in sources.items()}, tokenizer=user_tokenizer, scratch=scratch)
        outputs = _write_parts(folder, plan, sources, tokens)
        if "megatron" in settings.formats:
            outputs["megatron"] = _write_megatron(folder, plan, tokens)
        tokenizer = climblab_tokenizer(storage) if user_tokenizer is None else user_tokenizer.describe()
        tokenizer["exported_tokens"] = exported_tokens(plan, tokens) if tokenized else {}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    warnings = [f"super-cluster {c.cluster_id} ({labels.get(c.cluster_id, '')}): {c.limit}, " + (
        f"realised weight {c.tokens / max(plan.tokens, 1):.4f} for {c.weight:.4f}: whole documents cannot come "
        f"within {WEIGHT_TOLERANCE}" if c.limit == LIMIT_DOCUMENT_SIZE else
        f"short by {c.shortfall:,} tokens ({c.epochs:.2f} epochs of its {c.available_tokens:,})")
        for c in plan.clusters if c.limit]
    searched = {int(k): v for k, v in provenance["labels"].items()}
    if searched and searched != labels:  # content, not timestamps: an identical re-materialisation is fine
        warnings.append("ClimbLab's super-clusters changed since the search (labels differ): re-run the search")
    for line in warnings:
        log.warning(f"climbmix: {line}")
    data_files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    summary = {
        "format": FORMAT, "version": FORMAT_VERSION, "settings": asdict(settings),
        "totals": {"tokens": plan.tokens, "documents": plan.documents, "budget": settings.tokens,
                   "budget_error": round((plan.tokens - settings.tokens) / settings.tokens, 6)},
        "clusters": plan_rows(plan, labels), "warnings": warnings, "outputs": outputs,
        "tokenizer": tokenizer,
        "optimal_mixture": {**{k: v for k, v in provenance.items() if k != "labels"},
                            "weights": {str(k): w for k, w in sorted(weights.items())}},
        "climblab_version": storage.manifest(CLIMBLAB)["version"], "config": config or {},
        "files": {name: {"sha256": sha256_of(folder / name), "bytes": (folder / name).stat().st_size}
                  for name in data_files},
    }
    (folder / SUMMARY).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    (folder / CARD).write_text(render_card(summary, summary_sha256=sha256_of(folder / SUMMARY)))
    log.info(f"climbmix: {plan.tokens:,} tokens ({plan.documents:,} documents) of a {settings.tokens:,} budget in "
             f"{', '.join(settings.formats)} ({time.perf_counter() - started:.1f} s)")
    return {**summary, "seconds": round(time.perf_counter() - started, 3),
            "files_written": data_files + [SUMMARY, CARD]}


def export_to_directory(*, storage: Storage, settings: ExportSettings, out: str | Path, overwrite: bool = False,
                        config: dict | None = None, log: logging.Logger | None = None) -> dict:
    """`write_export` into `out` atomically: a staging sibling folder renamed into place when complete.

    Args:
        out: a local folder; an existing non-empty one is refused (FileExistsError) unless `overwrite`.
        overwrite: replace an existing folder (it is removed only after the new one is in place).
        storage, settings, config, log: as for `write_export`.
    """
    out = Path(out).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} exists and is not empty: pass --overwrite to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.staging-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    try:
        summary = write_export(storage=storage, settings=settings, folder=staging, config=config, log=log)
        trash = out.parent / f".{out.name}.replaced-{uuid.uuid4().hex[:12]}"
        if out.exists():
            out.rename(trash)
        staging.rename(out)
        shutil.rmtree(trash, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {**summary, "path": str(out)}


def materialise_climbmix(*, storage: Storage, settings: ExportSettings, config: dict | None = None,
                         log: logging.Logger | None = None) -> dict:
    """`write_export` into `<root>/climbmix/`, committed whole by the storage (climb/core/storage.py).

    Args:
        storage, settings, config, log: as for `write_export`.
    """
    local = None if storage.is_local else tempfile.mkdtemp(prefix="climbmix-out-")
    try:
        with storage.write_partition(CLIMBMIX) as writer:
            folder = writer.path if local is None else local
            summary = write_export(storage=storage, settings=settings, folder=folder, config=config, log=log)
            if local is None:  # written in place: record the files in the manifest
                writer.files.extend(summary["files_written"])
            else:
                writer.put_folder(local)
    finally:
        if local is not None:
            shutil.rmtree(local, ignore_errors=True)
    return {**summary, "path": storage.require(CLIMBMIX)}


# ---- verification ------------------------------------------------------------------------------------
def _recount(folder: str, summary: dict, fs) -> dict[str, dict[int, int]]:
    """Tokens per super-cluster in each written format, read back from the files."""
    counts: dict[str, dict[int, int]] = {}
    outputs = summary["outputs"]
    for name in outputs.get("parquet", []):
        with fs.open(f"{folder}/{name}", "rb") as handle:
            table = pq.read_table(handle, columns=["cluster_id", "token_count"])
        grouped = table.group_by("cluster_id").aggregate([("token_count", "sum")]).to_pylist()
        for row in grouped:
            counts.setdefault("parquet", {}).setdefault(row["cluster_id"], 0)
            counts["parquet"][row["cluster_id"]] += int(row["token_count_sum"])
    for name in outputs.get("jsonl", []):
        with fs.open(f"{folder}/{name}", "r") as handle:
            for line in handle:
                row = json.loads(line)
                if len(row["tokens"]) != row["token_count"]:
                    raise ValueError(f"{name}: token_count {row['token_count']} != {len(row['tokens'])} tokens")
                counts.setdefault("jsonl", {}).setdefault(row["cluster_id"], 0)
                counts["jsonl"][row["cluster_id"]] += row["token_count"]
    for entry in outputs.get("megatron", {}).get("datasets", []):
        dataset = IndexedDataset.read(f"{folder}/{entry['prefix']}", opener=fs.open)
        counts.setdefault("megatron", {})[entry["cluster_id"]] = int(dataset.sizes.sum()) - len(dataset)  # minus EODs
    return counts


def verify_export(folder: str, fs=None) -> tuple[bool, dict]:
    """Checksums match, each format holds the tokens climbmix.json reports, and the plan meets its tolerances.

    Args:
        folder: an export folder (a `climbmix` partition or a `climb export --out`).
        fs: its fsspec filesystem (default: local).
    """
    if fs is None:
        fs, folder = fsspec.core.url_to_fs(str(folder))
    folder = str(folder).rstrip("/")
    with fs.open(f"{folder}/{SUMMARY}", "r") as handle:
        summary = json.load(handle)
    with fs.open(f"{folder}/{CARD}", "r") as handle:
        card = handle.read()
    present = sorted(p[len(folder) + 1 :] for p in fs.find(folder))
    listed = {**{n: f["sha256"] for n, f in summary["files"].items()}, **card_checksums(card)}
    bad = sorted(n for n, sha in listed.items() if n not in present or sha256_of(f"{folder}/{n}", fs.open) != sha)
    unlisted = sorted(set(present) - set(summary["files"]) - set(NOT_DATA))
    recounted = _recount(folder, summary, fs)
    reported = {r["cluster_id"]: r["tokens"] for r in summary["clusters"]}  # ClimbLab tokens, as in Parquet
    exported = {int(k): n for k, n in summary["tokenizer"].get("exported_tokens", {}).items()} or reported
    mismatched = sorted(fmt for fmt, per in recounted.items() if {k: v for k, v in per.items() if v} != {
        k: v for k, v in (reported if fmt == "parquet" else exported).items() if v})
    plan_ok, details = check_plan(summary["clusters"], budget=summary["settings"]["tokens"])
    passed = plan_ok and not bad and not unlisted and not mismatched and SUMMARY in card_checksums(card)
    return passed, {**details, "bad_checksums": bad, "unlisted_files": unlisted, "formats_disagreeing": mismatched,
                    "files_checked": len(listed), "formats": sorted(recounted)}

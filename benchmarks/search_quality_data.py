"""Corpora, held-apart targets and ClimbLabs for benchmarks/search_quality.py, built with the engines, cached.

A corpus is the six-source labelled corpus, AG News (benchmarks/labelled_corpora.py) or the project's demo
corpus (climb.demo.generate_demo_corpus, label = each document's `domain`). Each target takes documents of one
or two labels out of the corpus before anything is built (never seen by the embedder, the clustering, the
tokenizer or the proxies); the demo's target is its own planted target file (70% medicine, 30% cooking), which
the corpus never held. Either is split by document into a search half and a held-apart verification half
(climb.search.targets.split_holdout) cut into token windows. A target's composition (label -> documents) is
kept with it: the planted mixture of benchmarks/search_quality_lib.planted_mixture maps it onto super-clusters.

A ClimbLab here is what the search needs of paper steps 1-5 without Dagster: embeddings (all-MiniLM-L6-v2,
max_length 128) -> spherical K-means (climb.semantic.kmeans) -> Ward merge (climb.semantic.merging, the paper's
threshold cut or a target count) -> a byte-level BPE (climb.climblab.tokenization) -> one token store per
super-cluster (climb.climblab.token_store). Everything lands under <cache>/<corpus>-<settings hash>/, so reruns
skip it; a merge cut is a subfolder, so the super-cluster ablation reuses the embeddings and fine clusters.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.labelled_corpora import LabelledDocument, ag_news, source_labelled

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TargetSpec:
    """A target made of held-apart documents: (label, documents) parts, e.g. 50/50 wikitext2 + federalist."""

    name: str
    parts: tuple[tuple[str, int], ...]
    external: bool = False  # the corpus's own target file (the demo's), not documents held apart; parts unused


@dataclass(frozen=True)
class CorpusSpec:
    name: str  # "sources" | "ag_news" | "demo"
    documents_per_label: int  # six sources: documents per source; AG News: per class (both before holding apart)
    targets: tuple[TargetSpec, ...]
    words_per_document: int = 150  # six sources only: chunk size of the long texts
    k_init: int = 32  # K-means K asked for (effective_k lowers it on small corpora)
    vocab_size: int = 4096  # BPE trained on the corpus (small vocabulary: the tiny proxy's softmax is its cost)
    sequence_length: int = 128  # target windows (the proxies' sequence length)
    holdout_fraction: float = 0.5  # of each target's documents, kept for verification
    max_windows: int = 128  # per target split: evaluation noise falls with more target tokens
    seed: int = 0  # corpus sample, held-apart documents, K-means, target split: fixed across benchmark seeds


@dataclass(frozen=True)
class Lab:
    """One ClimbLab: super-clusters with token stores, and the targets' window files."""

    name: str  # corpus and cut, e.g. "sources/threshold", "sources/k6"
    cluster_ids: tuple[int, ...]
    store_folders: dict[int, str]
    store_tokens: np.ndarray  # (K,) tokens per store (EOS included): availability caps
    token_shares: np.ndarray  # (K,) Dirichlet prior and token-proportional mixture
    vocab_size: int
    data_version: str  # hash of the stores' sizes and the cut: part of every proxy key
    targets: dict[str, str]  # target name -> folder with search.npy, holdout.npy, target.json
    target_ids: dict[str, str] = field(default_factory=dict)  # target name -> hash of its windows
    composition: list[dict] = field(default_factory=list)  # per super-cluster: label -> documents
    target_compositions: dict[str, dict[str, int]] = field(default_factory=dict)  # target -> label -> documents


DEMO_SEED = 0  # climb.demo.generate_demo_corpus(out, seed=0): the demo's own corpus and target


def _demo_records(path: Path) -> list[dict]:
    """The records of one demo shard (jsonl, jsonl.gz, parquet or csv); lines that do not parse are skipped."""
    import csv
    import gzip

    import pyarrow.parquet as pq

    if path.name.endswith(".parquet"):
        return pq.read_table(path).to_pylist()
    if path.name.endswith(".csv"):
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    text = gzip.decompress(path.read_bytes()).decode("utf-8") if path.name.endswith(".gz") else path.read_text("utf-8")
    records = []
    for line in text.splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def demo_documents(folder: Path, seed: int = DEMO_SEED) -> tuple[list[LabelledDocument], list[LabelledDocument]]:
    """(the demo corpus's clean documents, its target documents), label = `domain`; generated into `folder` once.

    The clean corpus is what the pipeline's ingestion keeps: the manifest's defect records (malformed, empty,
    non-text, duplicate and too-short ones) are dropped by id, leaving the manifest's `clean` count.
    """
    from climb.demo import generate_demo_corpus
    from climb.demo.corpus import MANIFEST_FILE, SHARD_NAMES, TARGET_FILE, TARGET_SUBDIR, CORPUS_SUBDIR

    if not (folder / MANIFEST_FILE).exists():
        generate_demo_corpus(folder, seed=seed)
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    defects = {i for d in manifest["defects"] for i in d["ids"]}
    corpus = [LabelledDocument(r["text"], r["domain"], f"demo/{name}:{r['id']}")
              for name in SHARD_NAMES for r in _demo_records(folder / CORPUS_SUBDIR / name)
              if r.get("id") not in defects and isinstance(r.get("text"), str) and r["text"].strip()]
    if len(corpus) != manifest["expected"]["clean"]:
        raise ValueError(f"demo corpus: {len(corpus)} clean documents, the manifest expects "
                         f"{manifest['expected']['clean']}")
    target = [LabelledDocument(r["text"], r["domain"], f"demo/target:{r['id']}")
              for r in _demo_records(folder / TARGET_SUBDIR / TARGET_FILE)]
    return corpus, target


def corpus_documents(spec: CorpusSpec, data_dir: Path,
                     cache: Path | None = None) -> tuple[list[LabelledDocument], list[LabelledDocument]]:
    """(the corpus's documents, its own target documents: the demo's target file, else none)."""
    if spec.name == "sources":
        return source_labelled(data_dir, per_source=spec.documents_per_label,
                               words_per_document=spec.words_per_document, seed=spec.seed), []
    if spec.name == "ag_news":
        return ag_news(data_dir, limit=4 * spec.documents_per_label, seed=spec.seed), []
    if spec.name == "demo":
        if cache is None:
            raise ValueError("the demo corpus is generated under the benchmark's cache: pass cache")
        return demo_documents(cache / f"demo-corpus-seed{DEMO_SEED}")
    raise ValueError(f"unknown corpus {spec.name!r}: sources, ag_news or demo")


def target_composition(target: TargetSpec, external: list[LabelledDocument]) -> dict[str, int]:
    """label -> documents of a target: its parts, or the labels of the corpus's own target documents."""
    if not target.external:
        return {label: count for label, count in target.parts}
    counts: dict[str, int] = {}
    for doc in external:
        counts[doc.label] = counts.get(doc.label, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def hold_apart(documents: list[LabelledDocument], targets: tuple[TargetSpec, ...],
               seed: int) -> tuple[list[LabelledDocument], dict[str, list[str]]]:
    """(corpus without any held-apart document, target name -> held-apart texts); disjoint slices per target.

    Args:
        documents: the labelled corpus.
        targets: each part takes that many documents of its label, after a seeded shuffle of the label's documents.
        seed: the shuffle.
    """
    by_label: dict[str, list[int]] = {}
    for i, doc in enumerate(documents):
        by_label.setdefault(doc.label, []).append(i)
    order = {label: [rows[j] for j in np.random.default_rng([seed, zlib.crc32(label.encode())]).permutation(len(rows))]
             for label, rows in by_label.items()}
    taken: set[int] = set()
    texts: dict[str, list[str]] = {}
    for target in targets:
        texts[target.name] = []
        if target.external:
            continue
        for label, count in target.parts:
            if label not in order:
                raise ValueError(f"target {target.name!r}: no documents labelled {label!r} (labels: {sorted(order)})")
            free = [i for i in order[label] if i not in taken]
            if count > len(free) // 2:
                raise ValueError(f"target {target.name!r} holds apart {count} of {label}'s {len(free)} free "
                                 f"documents: the corpus would keep less than half")
            taken.update(free[:count])
            texts[target.name] += [documents[i].text for i in free[:count]]
    return [d for i, d in enumerate(documents) if i not in taken], texts


def _digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _array_hash(path: Path) -> str:
    return hashlib.sha256(np.load(path).tobytes()).hexdigest()[:16]


def _prepare_fine(spec: CorpusSpec, documents: list[LabelledDocument], folder: Path) -> dict:
    """Embeddings, fine clusters, tokenizer and per-document token counts (cached in `folder`)."""
    from climb.semantic.kmeans import KMeansSettings, assign, fit_kmeans
    from climb.semantic.embedding import Embedder, EmbedderSettings
    from climb.climblab.tokenization import count_tokens, save_tokenizer, train_bpe

    done = folder / "fine.json"
    if not done.exists():
        texts = [d.text for d in documents]
        embeddings = Embedder(EmbedderSettings(max_length=128)).embed(texts)
        log.info(f"{spec.name}: embedded {len(texts):,} documents in {embeddings.seconds:.0f} s")
        fit = fit_kmeans(embeddings.vectors, settings=KMeansSettings(k=spec.k_init, seed=spec.seed))
        fine, _ = assign(embeddings.vectors, fit.centroids)
        tokenizer = train_bpe(texts, vocab_size=spec.vocab_size)
        save_tokenizer(tokenizer, str(folder / "tokenizer"))
        np.save(folder / "centroids.npy", fit.centroids)
        np.save(folder / "fine.npy", fine.astype(np.int64))
        np.save(folder / "tokens.npy", count_tokens(tokenizer, texts).astype(np.int64))
        done.write_text(json.dumps({"documents": len(texts), "k": fit.k, "embed_seconds": round(embeddings.seconds, 1),
                                    "spec": asdict(spec)}, indent=1))
    return json.loads(done.read_text())


def _write_targets(spec: CorpusSpec, texts: dict[str, list[str]], folder: Path, tokenizer) -> tuple[dict, dict]:
    from climb.search.targets import split_holdout, text_windows
    from climb.climblab.tokenization import eos_id

    folders, ids = {}, {}
    for name, docs in texts.items():
        out = folder / f"targets-{spec.sequence_length}x{spec.max_windows}" / name.replace("/", "_")
        if not (out / "target.json").exists():
            out.mkdir(parents=True, exist_ok=True)
            sizes = {}
            for split, part in zip(("search", "holdout"), split_holdout(docs, holdout_fraction=spec.holdout_fraction,
                                                                          seed=spec.seed)):
                windows = text_windows(part, tokenizer, length=spec.sequence_length, eos_id=eos_id(tokenizer))
                if len(windows) > spec.max_windows:
                    rng = np.random.default_rng(spec.seed)
                    windows = windows[np.sort(rng.choice(len(windows), spec.max_windows, replace=False))]
                np.save(out / f"{split}.npy", windows)
                sizes[split] = {"documents": len(part), "windows": len(windows)}
            target_id = _digest(name, [_array_hash(out / f"{s}.npy") for s in ("search", "holdout")])
            info = {"name": name, "target_id": target_id, "sizes": sizes}
            (out / "target.json").write_text(json.dumps(info, indent=1))
        folders[name], ids[name] = str(out), json.loads((out / "target.json").read_text())["target_id"]
    return folders, ids


def build_labs(spec: CorpusSpec, *, data_dir: Path, cache: Path,
               cuts: tuple[int | None, ...] = (None,)) -> dict[str, Lab]:
    """One Lab per merge cut (None: the paper's threshold 1.5; n: n super-clusters), built once and cached.

    Args:
        spec: the corpus, its targets and the build settings (the cache folder is named by their hash).
        data_dir: ../shared/data.
        cache: the benchmark's cache root.
        cuts: merge cuts wanted.
    """
    from climb.semantic.merging import MergeSettings, merge_clusters
    from climb.climblab.token_store import TokenStoreWriter
    from climb.climblab.tokenization import encode_batch, eos_id, load_tokenizer

    documents, external = corpus_documents(spec, data_dir, cache)
    documents, texts = hold_apart(documents, spec.targets, spec.seed)
    for target in spec.targets:
        if target.external:
            texts[target.name] = [d.text for d in external]
    compositions = {t.name: target_composition(t, external) for t in spec.targets}
    # The window settings only cut the targets: the embeddings, clusters and stores are shared across them.
    built = {k: v for k, v in asdict(spec).items() if k not in ("sequence_length", "max_windows")}
    folder = cache / f"{spec.name}-{_digest(built)}"
    folder.mkdir(parents=True, exist_ok=True)
    _prepare_fine(spec, documents, folder)
    tokenizer = load_tokenizer(str(folder / "tokenizer"))
    target_folders, target_ids = _write_targets(spec, texts, folder, tokenizer)
    centroids, fine = np.load(folder / "centroids.npy"), np.load(folder / "fine.npy")
    doc_tokens = np.load(folder / "tokens.npy")
    labs = {}
    for cut in cuts:
        cut_name = "threshold" if cut is None else f"k{cut}"
        lab_folder = folder / cut_name
        if not (lab_folder / "lab.json").exists():
            per_fine = np.bincount(fine, weights=doc_tokens, minlength=len(centroids))
            settings = MergeSettings() if cut is None else MergeSettings(target=cut)
            merged = merge_clusters(centroids, per_fine, settings=settings)
            supers = merged.super_of_fine[fine]  # (n,) super-cluster per document
            clusters = []
            for sid in range(merged.k):
                rows = np.flatnonzero(supers == sid)
                store = lab_folder / "stores" / f"cluster_id={sid}"
                with TokenStoreWriter(str(store), vocab_size=tokenizer.get_vocab_size(), eos_id=eos_id(tokenizer)) as w:
                    for ids in encode_batch(tokenizer, [documents[i].text for i in rows]):
                        w.add(ids)
                labels: dict[str, int] = {}
                for i in rows:
                    labels[documents[i].label] = labels.get(documents[i].label, 0) + 1
                clusters.append({"cluster_id": sid, "documents": len(rows), "store_tokens": w.close().n_tokens,
                                 "folder": str(store), "labels": dict(sorted(labels.items(), key=lambda kv: -kv[1]))})
            info = {"cut": cut_name, "k": merged.k, "warnings": list(merged.warnings), "clusters": clusters,
                    "vocab_size": tokenizer.get_vocab_size()}
            (lab_folder / "lab.json").write_text(json.dumps(info, indent=1))
            log.info(f"{spec.name}/{cut_name}: {merged.k} super-clusters, {merged.warnings or 'no warnings'}")
        info = json.loads((lab_folder / "lab.json").read_text())
        clusters = info["clusters"]
        tokens = np.array([c["store_tokens"] for c in clusters], dtype=float)
        labs[cut_name] = Lab(
            name=f"{spec.name}/{cut_name}", cluster_ids=tuple(c["cluster_id"] for c in clusters),
            store_folders={c["cluster_id"]: c["folder"] for c in clusters}, store_tokens=tokens,
            token_shares=tokens / tokens.sum(), vocab_size=info["vocab_size"],
            data_version=_digest(folder.name, cut_name, tokens.tolist()), targets=target_folders,
            target_ids=target_ids, composition=[c["labels"] for c in clusters], target_compositions=compositions)
    return labs

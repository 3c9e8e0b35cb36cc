"""Labelled corpora from ../shared/data, cut into documents, and the clustering quality bar measured on them.

CLIMB's clusters are only as good as the embedder + K-means + Ward merge behind them (docs/method.md,
steps 1-4). These loaders give real text whose true grouping is known, so the pipeline's super-clusters can
be scored against it (`evaluate`: purity and NMI):

- `ag_news`: AG's News test split, label = topic (World, Sports, Business, Sci/Tech); docs/test_data.md A1.
- `source_labelled`: six public sources, label = the source (Wikipedia, Shakespeare, 19th-century novels,
  the Federalist papers, PubMed abstracts, GSM8K math); docs/test_data.md A2. Long texts are cut on paragraph
  boundaries into documents of about `words_per_document` whitespace words.

Every loader is deterministic for its seed; samples keep the files' order. torch and faiss are imported
only by `evaluate`, through the engines.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import time
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

AG_NEWS_CLASSES = {"1": "World", "2": "Sports", "3": "Business", "4": "Sci/Tech"}
SOURCES = ("wikitext2", "tinyshakespeare", "gutenberg_fiction", "federalist_papers", "pubmedqa", "gsm8k")
GUTENBERG_BOOKS = ("pride_prejudice.txt", "moby_dick.txt", "sherlock_holmes.txt")
WIKI_TITLE = re.compile(r"^ = [^=].* = $")  # " = Title = " (one '='); sections are " = = Sec = = "
WIKI_HEADING = re.compile(r"^ = = .* = = $")  # " = = Sec = = ", " = = = Sub = = = "
FEDERALIST_START = re.compile(r"^FEDERALIST No\. (\d+)\s*$", re.MULTILINE)
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class LabelledDocument:
    text: str
    label: str  # the true class (AG News topic) or source (folder name)
    source_id: str  # file and position, e.g. "ag_news/test.csv:17", "wikitext2/valid.txt#3.2"


def data_dir_default() -> Path:
    """$CLIMB_SHARED_DATA, else <repo>/../shared/data."""
    env = os.environ.get("CLIMB_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _sample(items: Sequence, count: int | None, seed: int, name: str) -> list:
    """`count` items drawn without replacement (seeded by seed and name), in their original order."""
    if count is None or count >= len(items):
        return list(items)
    if count < 0:
        raise ValueError(f"sample size must be >= 0, not {count}")
    rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
    return [items[i] for i in np.sort(rng.choice(len(items), size=count, replace=False))]


def ag_news(data_dir: Path, *, limit: int | None = None, seed: int = 0) -> list[LabelledDocument]:
    """AG News test split: text = title + "\\n\\n" + description, label = topic.

    Args:
        data_dir: the shared data folder (holding ag_news/test.csv).
        limit: a class-balanced sample of this many rows (limit // 4 per class, the remainder to the first
            classes), seeded; None: all 7,600.
        seed: the sampling seed.
    """
    path = Path(data_dir) / "ag_news" / "test.csv"
    by_class: dict[str, list[LabelledDocument]] = {label: [] for label in AG_NEWS_CLASSES.values()}
    with path.open(newline="", encoding="utf-8") as handle:
        for row_number, (klass, title, description) in enumerate(csv.reader(handle), start=1):
            text = f"{title.strip()}\n\n{description.strip()}".strip()
            label = AG_NEWS_CLASSES[klass]
            by_class[label].append(LabelledDocument(text, label, f"ag_news/test.csv:{row_number}"))
    if limit is not None:
        share, extra = divmod(limit, len(by_class))
        by_class = {label: _sample(docs, share + (i < extra), seed, f"ag_news/{label}")
                    for i, (label, docs) in enumerate(by_class.items())}
    chosen = [doc for docs in by_class.values() for doc in docs]
    return sorted(chosen, key=lambda d: int(d.source_id.rsplit(":", 1)[1]))


def chunk_paragraphs(paragraphs: Iterable[str], words_per_document: int) -> list[str]:
    """Consecutive paragraphs joined ("\\n\\n") into chunks of about `words_per_document` words.

    A chunk closes once it reaches the target, or before a paragraph that would carry it past 1.5x the
    target when it already holds half of it; a paragraph over 1.5x the target is first split into equal
    runs of words; a last chunk under half the target joins the one before. So chunks hold about 0.5x to
    2.5x the target, and most close to it.
    """
    if words_per_document < 1:
        raise ValueError(f"words_per_document must be >= 1, not {words_per_document}")
    target = words_per_document
    pieces: list[tuple[str, int]] = []
    for paragraph in paragraphs:
        words = paragraph.split()
        if not words:
            continue
        if len(words) <= 1.5 * target:
            pieces.append((paragraph.strip(), len(words)))
            continue
        parts = math.ceil(len(words) / target)
        bounds = np.linspace(0, len(words), parts + 1).round().astype(int)
        pieces.extend((" ".join(words[a:b]), b - a) for a, b in zip(bounds[:-1], bounds[1:]))
    chunks: list[tuple[list[str], int]] = []
    current, count = [], 0
    for text, n in pieces:
        if current and count + n > 1.5 * target and count >= 0.5 * target:
            chunks.append((current, count))
            current, count = [], 0
        current.append(text)
        count += n
        if count >= target:
            chunks.append((current, count))
            current, count = [], 0
    if current:
        if chunks and count < 0.5 * target:
            chunks[-1] = (chunks[-1][0] + current, chunks[-1][1] + count)
        else:
            chunks.append((current, count))
    return ["\n\n".join(parts) for parts, _ in chunks]


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in PARAGRAPH_BREAK.split(text) if p.strip()]


def _wikitext(root: Path, words: int) -> list[LabelledDocument]:
    """Articles from ' = Title = ' to the next title; paragraph lines (headings dropped), chunked."""
    docs = []
    for split in ("valid.txt", "test.txt"):
        articles: list[list[str]] = []
        for line in (root / "wikitext2" / split).read_text(encoding="utf-8").split("\n"):
            if WIKI_TITLE.match(line):
                articles.append([])
            elif articles and line.strip() and not WIKI_HEADING.match(line):
                articles[-1].append(line.strip())
        for a, article in enumerate(articles):
            docs += [LabelledDocument(chunk, "wikitext2", f"wikitext2/{split}#{a}.{c}")
                     for c, chunk in enumerate(chunk_paragraphs(article, words))]
    return docs


def _tinyshakespeare(root: Path, words: int) -> list[LabelledDocument]:
    speeches = _paragraphs((root / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8"))
    return [LabelledDocument(chunk, "tinyshakespeare", f"tinyshakespeare/input.txt#{c}")
            for c, chunk in enumerate(chunk_paragraphs(speeches, words))]


def _gutenberg(root: Path, words: int) -> list[LabelledDocument]:
    docs = []
    for book in GUTENBERG_BOOKS:
        text = (root / "gutenberg_fiction" / book).read_text(encoding="utf-8")
        paragraphs = [" ".join(p.split()) for p in _paragraphs(text)]  # unwrap the hard-wrapped lines
        docs += [LabelledDocument(chunk, "gutenberg_fiction", f"gutenberg_fiction/{book}#{c}")
                 for c, chunk in enumerate(chunk_paragraphs(paragraphs, words))]
    return docs


def _federalist(root: Path, words: int) -> list[LabelledDocument]:
    """The 85 papers, each from its 'FEDERALIST No. N' line to the next (the book's preamble dropped), chunked."""
    text = (root / "federalist_papers" / "federalist_papers.txt").read_text(encoding="utf-8")
    starts = list(FEDERALIST_START.finditer(text))
    docs = []
    for start, end in zip(starts, starts[1:] + [None]):
        paper = text[start.start() : end.start() if end else len(text)]
        paragraphs = [" ".join(p.split()) for p in _paragraphs(paper)]
        docs += [LabelledDocument(chunk, "federalist_papers", f"federalist_papers/federalist_papers.txt#{start[1]}.{c}")
                 for c, chunk in enumerate(chunk_paragraphs(paragraphs, words))]
    return docs


def _pubmedqa(root: Path) -> list[LabelledDocument]:
    records = json.loads((root / "pubmedqa" / "ori_pqal.json").read_text(encoding="utf-8"))
    return [LabelledDocument(" ".join(c.strip() for c in value["CONTEXTS"]), "pubmedqa", f"pubmedqa/ori_pqal.json#{pmid}")
            for pmid, value in records.items()]


def _gsm8k(root: Path) -> list[LabelledDocument]:
    docs = []
    with (root / "gsm8k" / "train.jsonl").open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if line.strip():
                record = json.loads(line)
                docs.append(LabelledDocument(f"{record['question'].strip()}\n{record['answer'].strip()}", "gsm8k",
                                             f"gsm8k/train.jsonl:{line_number}"))
    return docs


def source_labelled(data_dir: Path, *, per_source: int | None = None, words_per_document: int = 200,
                    seed: int = 0) -> list[LabelledDocument]:
    """Documents of the six sources of docs/test_data.md A2, label = the source's folder name, in `SOURCES` order.

    Args:
        data_dir: the shared data folder.
        per_source: a seeded sample of this many documents per source (all of a source with fewer); None: all.
        words_per_document: the chunk size for wikitext2, tinyshakespeare, gutenberg_fiction and
            federalist_papers (pubmedqa: one abstract, gsm8k: one problem per document).
        seed: the sampling seed.
    """
    root = Path(data_dir)
    loaders = {
        "wikitext2": lambda: _wikitext(root, words_per_document),
        "tinyshakespeare": lambda: _tinyshakespeare(root, words_per_document),
        "gutenberg_fiction": lambda: _gutenberg(root, words_per_document),
        "federalist_papers": lambda: _federalist(root, words_per_document),
        "pubmedqa": lambda: _pubmedqa(root),
        "gsm8k": lambda: _gsm8k(root),
    }
    docs = []
    for source in SOURCES:
        docs += _sample([d for d in loaders[source]() if d.text.strip()], per_source, seed, source)
    return docs


def purity(labels: Sequence[str], clusters: np.ndarray) -> float:
    """Sum over clusters of the count of their majority label, over the number of documents."""
    counts = Counter(zip(clusters.tolist(), labels))
    best: dict[int, int] = {}
    for (cluster, _), n in counts.items():
        best[cluster] = max(best.get(cluster, 0), n)
    return sum(best.values()) / len(labels)


def _scores(labels: Sequence[str], clusters: np.ndarray) -> dict:
    from sklearn.metrics import normalized_mutual_info_score

    composition = []
    for cluster in np.unique(clusters):
        members = Counter(label for label, c in zip(labels, clusters.tolist()) if c == cluster)
        composition.append(dict(members.most_common()))
    return {"n_clusters": int(len(np.unique(clusters))), "purity": round(purity(labels, clusters), 4),
            "nmi": round(float(normalized_mutual_info_score(labels, clusters)), 4), "composition": composition}


def evaluate(documents: list[LabelledDocument], *, k_init: int, target: int | None, seed: int = 0,
             embeddings=None) -> dict:
    """Purity and NMI of the pipeline's clusters against the true labels (docs/method.md, steps 1, 2 and 4).

    Embeds with the default embedder (`EmbedderSettings(max_length=128)`), fits spherical K-means with
    K = effective_k(k_init, n) on every document, assigns every document, Ward-merges the centroids with the
    default MergeSettings (threshold 1.5, max_token_share 0.5; tokens = whitespace words per fine cluster)
    and, when `target` is given, also at `target` super-clusters.

    Args:
        documents: the labelled corpus.
        k_init: K asked for (reduced by effective_k on a small corpus).
        target: a second cut at this many super-clusters (the number of true classes); None: threshold only.
        seed: K-means seed.
        embeddings: an `Embeddings` of these documents' texts already computed (tests share one); None: embed.

    Returns:
        n, labels, K, fine-cluster scores, embedding and clustering seconds, and per cut ("threshold", "target")
        the number of super-clusters, purity, NMI, largest token share, merge warnings and the label
        composition of every super-cluster.
    """
    from climb.semantic.kmeans import KMeansSettings, assign, effective_k, fit_kmeans
    from climb.semantic.embedding import Embedder, EmbedderSettings
    from climb.semantic.merging import MergeSettings, merge_clusters

    labels = [d.label for d in documents]
    if embeddings is None:
        embeddings = Embedder(EmbedderSettings(max_length=128)).embed([d.text for d in documents])
    if len(embeddings.vectors) != len(documents):
        raise ValueError(f"{len(embeddings.vectors)} embeddings for {len(documents)} documents")
    settings = KMeansSettings(k=k_init, seed=seed)
    k, _ = effective_k(k_init, len(documents), min_points_per_centroid=settings.min_points_per_centroid)
    started = time.perf_counter()
    fit = fit_kmeans(embeddings.vectors, settings=settings)
    fine, _ = assign(embeddings.vectors, fit.centroids)
    cluster_seconds = time.perf_counter() - started
    assert fit.k == k, (fit.k, k)
    words = np.bincount(fine, weights=[len(d.text.split()) for d in documents], minlength=k)  # (k,)
    cuts = {"threshold": MergeSettings()}
    if target is not None:
        cuts["target"] = MergeSettings(target=target)
    result = {
        "n": len(documents), "labels": dict(Counter(labels)), "k_init": k_init, "k": k, "seed": seed,
        "tokens_embedded": int(embeddings.n_tokens.sum()), "embed_seconds": round(embeddings.seconds, 2),
        "cluster_seconds": round(cluster_seconds, 2), "cuts": {},
        "fine": {key: value for key, value in _scores(labels, fine).items() if key != "composition"},
    }
    for name, merge_settings in cuts.items():
        merged = merge_clusters(fit.centroids, words, settings=merge_settings)
        scores = _scores(labels, merged.super_of_fine[fine])
        result["cuts"][name] = {
            "settings": {"threshold": merge_settings.threshold, "target": merge_settings.target,
                         "max_token_share": merge_settings.max_token_share},
            "n_super_clusters": merged.k, "purity": scores["purity"], "nmi": scores["nmi"],
            "non_empty_super_clusters": scores["n_clusters"], "max_token_share": round(float(merged.token_share.max()), 4),
            "threshold_used": None if merged.threshold_used is None else round(merged.threshold_used, 4),
            "warnings": list(merged.warnings), "composition": scores["composition"],
        }
    return result

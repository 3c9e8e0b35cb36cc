"""Target decontamination: training documents that overlap the search target never reach the proxies
(docs/method.md, decontamination).

A near-duplicate of a target document in the training data lets a proxy memorise what it is scored on, and one of
a holdout document makes the verification dishonest. In the style of GPT-3's and Llama's decontamination, the
target is small, so the exact word n-grams of every target document are held in memory and each training
document's n-grams are looked up in them. Each target document is cut into windows of `window` words (stride
half a window; a shorter document is one window), and a training document is contaminated when it holds at least
`threshold` of the distinct n-grams of some window. N-grams found in several target documents (`boilerplate_documents`)
are markup or footers, not content, and are left out of every window. A containment measure, unlike Jaccard, also catches a
training document that carries one target paragraph inside a longer text, or a long target cut into pieces.

Words are those of climb.corpus.near_duplicates.shingles (lower-cased, punctuation dropped), so a changed
capital or comma changes nothing; a changed word removes the n n-grams that span it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from climb.corpus.near_duplicates import shingles

__all__ = ["CONTAMINATED_FILE", "CONTAMINATION", "CONTAMINATION_SCHEMA", "ContaminationSettings", "TargetDocument",
           "TargetIndex", "find_contamination"]

CONTAMINATION = "contamination:target"
CONTAMINATED_FILE = "contaminated.parquet"
CONTAMINATION_SCHEMA = pa.schema([
    ("id", pa.string()), ("shard", pa.string()), ("reason", pa.string()), ("detail", pa.string()),
    ("target_document", pa.string()), ("split", pa.string()), ("overlap", pa.float64())])
_WORD = re.compile(r"\w+")  # the words of near_duplicates.shingles


@dataclass(frozen=True)
class ContaminationSettings:
    ngram: int = 8  # words per n-gram
    window: int = 50  # words per target window
    threshold: float = 0.5  # share of a window's distinct n-grams a training document must hold
    boilerplate_documents: int | None = 2  # an n-gram in this many target documents is ignored; None: never


@dataclass(frozen=True)
class TargetDocument:
    name: str  # where it comes from: "<file> row <row>"
    split: str  # "search" | "holdout"
    text: str


@dataclass(frozen=True)
class Overlap:
    """A training document's strongest overlap with a target window."""

    target: TargetDocument
    shared: int  # distinct n-grams of the window found in the training document
    window_ngrams: int  # distinct n-grams of the window

    @property
    def share(self) -> float:
        return self.shared / self.window_ngrams

    def detail(self, settings: ContaminationSettings) -> str:
        return (f"overlaps target {self.target.name} ({self.target.split} split): {self.shared}/{self.window_ngrams} "
                f"word {settings.ngram}-grams of a {settings.window}-word window ({self.share:.2f})")


def _ngrams(text: str, ngram: int) -> list[str]:
    """The text's word n-grams in order; a text of at most `ngram` words is one n-gram (as `shingles`)."""
    words = _WORD.findall(text.lower())
    if len(words) <= ngram:
        return [" ".join(words)]
    return [" ".join(words[i:i + ngram]) for i in range(len(words) - ngram + 1)]


def _window_starts(positions: int, width: int) -> list[int]:
    """Starts of windows of `width` n-gram positions over `positions`, stride half a window, the last flush."""
    last = max(positions - width, 0)
    starts = list(range(0, last + 1, max(width // 2, 1)))
    return starts if starts[-1] == last else [*starts, last]


def _boilerplate(grams_of: Sequence[Sequence[str]], documents: int | None) -> set[str]:
    """The n-grams found in at least `documents` target documents: a site's footer or markup (AG News's Washington
    Post articles all end in the same 40-word HTML), which would otherwise tie unrelated articles to a target."""
    if documents is None:
        return set()
    counts = Counter(gram for grams in grams_of for gram in set(grams))
    return {gram for gram, count in counts.items() if count >= documents}


class TargetIndex:
    """Every target document's windows and, for each n-gram, the windows holding it."""

    def __init__(self, documents: Sequence[TargetDocument], settings: ContaminationSettings):
        self.settings = settings
        grams_of = [_ngrams(document.text, settings.ngram) for document in documents]
        boilerplate = _boilerplate(grams_of, settings.boilerplate_documents)
        postings: dict[str, list[int]] = {}
        owners, sizes = [], []
        width = max(settings.window - settings.ngram + 1, 1)  # n-gram positions in a window of `window` words
        for doc_index, grams in enumerate(grams_of):
            for start in _window_starts(len(grams), width):
                distinct = set(grams[start:start + width]) - boilerplate
                if not distinct:  # a window of boilerplate alone says nothing about contamination
                    continue
                for gram in distinct:
                    postings.setdefault(gram, []).append(len(owners))
                owners.append(doc_index)
                sizes.append(len(distinct))
        self.documents = list(documents)
        self.postings = {gram: np.asarray(ids, dtype=np.int64) for gram, ids in postings.items()}
        self.owners = np.asarray(owners, dtype=np.int64)  # (W,) target document of each window
        self.sizes = np.asarray(sizes, dtype=np.int64)  # (W,) distinct n-grams of each window

    def strongest(self, text: str) -> Overlap | None:
        """The window of which the text holds the largest share of n-grams, if it holds any."""
        hits = shingles(text, self.settings.ngram) & self.postings.keys()
        if not hits:
            return None
        windows, shared = np.unique(np.concatenate([self.postings[g] for g in hits]), return_counts=True)
        best = int(np.argmax(shared / self.sizes[windows]))  # ties: the earliest window
        window = windows[best]
        return Overlap(self.documents[self.owners[window]], int(shared[best]), int(self.sizes[window]))


def find_contamination(shards: Iterable[tuple[str, Sequence[str], Sequence[str]]], index: TargetIndex) -> pa.Table:
    """The training documents that overlap a target window by at least the threshold (CONTAMINATION_SCHEMA).

    Args:
        shards: (shard key, document ids, texts) of every shard of the corpus, in any order.
        index: the target documents' n-gram windows (TargetIndex).

    Returns:
        One row per contaminated document: id, shard, reason `contamination:target`, a detail naming the target
        document, its split and the overlap, and those three as columns (`overlap`: the share, in (0, 1]).
    """
    rows = []
    for key, ids, texts in shards:
        for doc_id, text in zip(ids, texts):
            overlap = index.strongest(text)
            if overlap is not None and overlap.share >= index.settings.threshold:
                rows.append({"id": doc_id, "shard": key, "reason": CONTAMINATION,
                             "detail": overlap.detail(index.settings), "target_document": overlap.target.name,
                             "split": overlap.target.split, "overlap": round(overlap.share, 6)})
    return pa.Table.from_pylist(rows, schema=CONTAMINATION_SCHEMA)

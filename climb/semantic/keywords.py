"""Human-readable cluster labels from class-based TF-IDF (the c-TF-IDF of BERTopic, Grootendorst 2022).

CLIMB's clusters and super-clusters are numbered; a label such as "league · coach · goals" lets a user
read the cluster-size and mixture-weight plots. All texts of a class are treated as one document:

    c-TF-IDF(term, class) = tf(term, class) * log(1 + A / f(term))

with tf the term's count in the class divided by the class's total word count, A the average number of
words per class, and f(term) the term's count over all classes. Words are lowercase letter runs of at
least 3 characters, English stop words removed (scikit-learn's CountVectorizer and its stop list).
At most `max_documents_per_class` texts per class are read (a seeded sample), so labelling a corpus of
millions of documents costs about as much as labelling K * that many.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["TOKEN_PATTERN", "class_tfidf_keywords", "label_from_keywords"]

TOKEN_PATTERN = r"(?u)\b[^\W\d_]{3,}\b"  # letters only (any script), at least 3 of them
LABEL_SEPARATOR = " · "


def _sample_per_class(labels: np.ndarray, classes: np.ndarray, *, limit: int, seed: int) -> list[np.ndarray]:
    """Row indices per class (in `classes` order), at most `limit` each, sampled with one seeded generator."""
    rng = np.random.default_rng(seed)
    order = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[order], classes, side="left")
    stops = np.searchsorted(labels[order], classes, side="right")
    rows = []
    for start, stop in zip(starts, stops):
        members = order[start:stop]  # ascending row order (stable sort)
        if members.size > limit:
            members = np.sort(rng.choice(members, size=limit, replace=False))
        rows.append(members)
    return rows


def class_tfidf_keywords(texts: Sequence[str], labels: Sequence[int] | np.ndarray, *, top_k: int = 10,
                         max_documents_per_class: int = 2000, seed: int = 0) -> dict[int, list[str]]:
    """The top terms of each class by c-TF-IDF: cluster keywords for labels and reports.

    Args:
        texts: the documents, one string each.
        labels: the class (cluster or super-cluster id) of each text, same length as `texts`.
        top_k: terms returned per class (>= 1).
        max_documents_per_class: at most this many texts per class are read (>= 1), sampled with `seed`.
        seed: seed of the per-class sample; the result is a function of (texts, labels, settings).

    Returns:
        {class: up to top_k terms, best first}, for every class present in `labels`, in ascending
        class order. Equal scores are ordered alphabetically; a class with no usable word gets [].
    """
    from sklearn.feature_extraction.text import CountVectorizer  # lazy: keeps definition loading light

    if top_k < 1 or max_documents_per_class < 1:
        raise ValueError(f"top_k ({top_k}) and max_documents_per_class ({max_documents_per_class}) must be >= 1")
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != len(texts):
        raise ValueError(f"labels must be one class per text: {labels.shape} labels for {len(texts)} texts")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {labels.dtype}")
    classes = np.unique(labels)
    rows = _sample_per_class(labels, classes, limit=max_documents_per_class, seed=seed)
    # One document per class (BERTopic joins a class's texts); counts are additive, so this equals summing rows.
    class_docs = [" ".join(texts[i] for i in members) for members in rows]
    vectorizer = CountVectorizer(lowercase=True, stop_words="english", token_pattern=TOKEN_PATTERN)
    try:
        counts = vectorizer.fit_transform(class_docs).tocsr().astype(np.float64)  # (C, V), V alphabetical
    except ValueError as error:  # raised only when no class has a single usable word
        if "empty vocabulary" not in str(error):
            raise
        return {int(c): [] for c in classes}
    terms = vectorizer.get_feature_names_out()
    words_per_class = np.asarray(counts.sum(axis=1)).ravel()  # (C,)
    term_totals = np.asarray(counts.sum(axis=0)).ravel()  # (V,) f(term), > 0 for every vocabulary term
    idf = np.log1p(words_per_class.mean() / term_totals)  # (V,) log(1 + A / f(term))
    keywords: dict[int, list[str]] = {}
    for i, c in enumerate(classes):
        start, stop = counts.indptr[i], counts.indptr[i + 1]
        columns, tf = counts.indices[start:stop], counts.data[start:stop]
        if columns.size == 0:
            keywords[int(c)] = []
            continue
        scores = tf / words_per_class[i] * idf[columns]
        best = np.lexsort((columns, -scores))[:top_k]  # by score, then column = alphabetical term order
        keywords[int(c)] = [str(terms[j]) for j in columns[best]]
    return keywords


def label_from_keywords(keywords: Sequence[str], *, n: int = 3) -> str:
    """A short label from the best keywords, e.g. "league · coach · goals".

    Args:
        keywords: terms best first (from `class_tfidf_keywords`).
        n: how many to join (>= 1).

    Returns:
        The first n keywords joined by " · "; "" when there are none (the caller shows the cluster id).
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return LABEL_SEPARATOR.join(keywords[:n])

"""What does SemDeDup's eps remove on real news? (docs/method.md, deduplication)

    python benchmarks/semantic_duplicates.py [--documents 2000] [--out PATH]   # results/semantic_duplicates.json

AG News test articles embedded with the default embedder (all-MiniLM-L6-v2, max_length 128), clustered by
spherical K-means (K = documents // 40, as the pipeline's floor), then `earlier_twins` inside each cluster
(nearest the centroid kept) at several eps. For each eps: documents removed, how many of those are lexical
near-copies of their twin too (Jaccard of word 5-grams >= 0.5), the topic agreement of the pairs, and a few
pairs to judge by eye.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.labelled_corpora import ag_news, data_dir_default  # noqa: E402
from climb.corpus.near_duplicates import jaccard, shingles  # noqa: E402
from climb.semantic.embedding import Embedder, EmbedderSettings  # noqa: E402
from climb.semantic.kmeans import KMeansSettings, assign, fit_kmeans  # noqa: E402
from climb.semantic.semdedup import earlier_twins  # noqa: E402

EPS = (0.02, 0.05, 0.1, 0.15, 0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=data_dir_default())
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "semantic_duplicates.json")
    args = parser.parse_args()
    docs = ag_news(args.data_dir, limit=args.documents)
    texts, labels = [d.text for d in docs], [d.label for d in docs]
    started = time.perf_counter()
    vectors = Embedder(EmbedderSettings(max_length=128)).embed(texts).vectors.astype(np.float32)
    embed_seconds = time.perf_counter() - started
    k = max(1, len(texts) // 40)
    centroids = fit_kmeans(vectors, settings=KMeansSettings(k=k, iterations=20, seed=0)).centroids
    fine, distance = assign(vectors, centroids)
    rows = []
    for eps in EPS:
        pairs, started = [], time.perf_counter()
        for cluster in np.unique(fine):
            members = np.flatnonzero(fine == cluster)
            members = members[np.argsort(distance[members], kind="stable")]
            duplicate, twin, cosine = earlier_twins(vectors[members], eps=eps)
            pairs += [(int(members[i]), int(members[twin[i]]), float(cosine[i])) for i in np.flatnonzero(duplicate)]
        seconds = time.perf_counter() - started
        lexical = sum(jaccard(shingles(texts[a], 5), shingles(texts[b], 5)) >= 0.5 for a, b, _ in pairs)
        same_topic = sum(labels[a] == labels[b] for a, b, _ in pairs)
        rng = np.random.default_rng(0)
        examples = [pairs[i] for i in rng.choice(len(pairs), size=min(3, len(pairs)), replace=False)] if pairs else []
        rows.append({"eps": eps, "removed": len(pairs), "share": round(len(pairs) / len(texts), 4),
                     "lexical_near_copies": int(lexical), "same_topic": int(same_topic), "seconds": round(seconds, 3),
                     "examples": [{"cosine": round(c, 4), "removed": texts[a][:200], "kept": texts[b][:200]}
                                  for a, b, c in examples]})
        print({k: v for k, v in rows[-1].items() if k != "examples"}, flush=True)
    result = {"documents": len(texts), "k": k, "embed_seconds": round(embed_seconds, 1), "rows": rows}
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

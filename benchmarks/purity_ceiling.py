"""How pure can super-clusters of topical news get with the default embedder? (a 0.85 purity bar)

    python benchmarks/purity_ceiling.py [--seeds 0 1] [--out PATH]      # results/purity_ceiling.json

AG News test (4 topics, 7,600 articles) embedded once with the default embedder (all-MiniLM-L6-v2,
max_length 128), then clustered under variants that could plausibly lift purity: larger K, faiss
restarts (nredo), mean-centred vectors (sentence embeddings are anisotropic), PCA whitening, TF-IDF/LSA
vectors alone and concatenated with MiniLM, and the issue's trial size (2,250 articles, K 48).
For each: fine-cluster purity (the ceiling any merge can reach) and super-cluster purity/NMI at the
default Ward cut (threshold 1.5) and at 4 super-clusters.
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

from benchmarks.labelled_corpora import ag_news, data_dir_default, purity  # noqa: E402
from climb.semantic.merging import MergeSettings, merge_clusters  # noqa: E402


def unit(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray((x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32))


def cluster_scores(vectors, labels, words, *, k: int, seed: int, nredo: int = 1) -> dict:
    """Spherical K-means (faiss, as the pipeline) + the default Ward cut and a 4-way cut."""
    import faiss
    from sklearn.metrics import normalized_mutual_info_score

    kmeans = faiss.Kmeans(vectors.shape[1], k, niter=20, seed=seed, spherical=True, nredo=nredo, verbose=False,
                          min_points_per_centroid=39, max_points_per_centroid=256)
    kmeans.train(vectors)
    fine = kmeans.index.search(vectors, 1)[1][:, 0]  # (n,)
    tokens = np.bincount(fine, weights=words, minlength=k)
    scores = {"k": k, "fine_purity": round(purity(labels, fine), 4)}
    for name, settings in (("threshold_1.5", MergeSettings()), ("target_4", MergeSettings(target=4))):
        merged = merge_clusters(kmeans.centroids, tokens, settings=settings).super_of_fine[fine]
        scores[name] = {"super_clusters": int(len(np.unique(merged))), "purity": round(purity(labels, merged), 4),
                        "nmi": round(float(normalized_mutual_info_score(labels, merged)), 4)}
    return scores


def variants(texts: list[str], minilm: np.ndarray) -> dict[str, np.ndarray]:
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    centred = minilm - minilm.mean(0)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(centred.T))
    whitened = centred @ eigenvectors / np.sqrt(eigenvalues + 1e-3 * eigenvalues.max())
    tfidf = TfidfVectorizer(sublinear_tf=True, stop_words="english", min_df=2).fit_transform(texts)
    lsa = unit(TruncatedSVD(128, random_state=0).fit_transform(tfidf))
    return {"minilm": unit(minilm), "centred": unit(centred), "whitened": unit(whitened), "lsa_128": lsa,
            "minilm+lsa (0.7/0.3)": unit(np.hstack([np.sqrt(0.7) * minilm, np.sqrt(0.3) * lsa]))}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "purity_ceiling.json")
    args = parser.parse_args(argv)
    from climb.semantic.embedding import Embedder, EmbedderSettings

    documents = ag_news(data_dir_default())
    texts, labels = [d.text for d in documents], [d.label for d in documents]
    words = np.array([len(t.split()) for t in texts], dtype=np.float64)
    minilm = Embedder(EmbedderSettings(max_length=128)).embed(texts).vectors.astype(np.float32)
    rows = []
    trial = np.sort(np.random.default_rng(0).choice(len(texts), 2250, replace=False))  # the trial size

    def record(name, vectors, k, seed, nredo=1, subset=None):
        idx = np.arange(len(texts)) if subset is None else subset
        scores = cluster_scores(np.ascontiguousarray(vectors[idx]), [labels[i] for i in idx], words[idx],
                                k=k, seed=seed, nredo=nredo)
        rows.append({"variant": name, "n": len(idx), "seed": seed, "nredo": nredo, **scores})
        print(json.dumps(rows[-1]), flush=True)

    for name, vectors in variants(texts, minilm).items():
        for seed in args.seeds:
            record(name, vectors, 64, seed)
    for seed in args.seeds:
        record("minilm", unit(minilm), 48, seed, subset=trial)
        record("minilm", unit(minilm), 64, seed, nredo=5)
        for k in (96, 128):
            record("minilm", unit(minilm), k, seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "corpus": "AG News test, 7,600",
                                    "embedder": "all-MiniLM-L6-v2, max_length 128", "rows": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

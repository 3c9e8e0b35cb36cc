"""Clustering quality: purity and NMI of the super-clusters against true labels (docs/method.md, steps 1, 2 and 4).

    python benchmarks/cluster_quality.py [--ag-news-limit N] [--per-source N] [--k-init 64] [--out PATH]

Corpora (../shared/data or $CLIMB_SHARED_DATA; see benchmarks/labelled_corpora.py): AG News test split
(4 topics; all 7,600 rows, or a seeded class-balanced subset of N) and the six-source corpus of docs/test_data.md A2
(label = source; long texts cut into ~200-word documents; a seeded sample of N documents per source). Each is
embedded with the default embedder at max_length 128, clustered by spherical K-means at
K = effective_k(k_init, n), and Ward-merged twice: the default MergeSettings (threshold 1.5, collapse guard
0.5 of the tokens, tokens = whitespace words) and target = the number of true classes. Purity = sum over
super-clusters of the majority-label count / n; NMI = sklearn's normalized_mutual_info_score (arithmetic).
Writes benchmarks/results/cluster_quality.json (or --out) and prints a Markdown row per corpus and cut.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.labelled_corpora import ag_news, data_dir_default, evaluate, source_labelled  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"


def markdown_rows(name: str, result: dict) -> list[str]:
    rows = []
    for cut_name, cut in result["cuts"].items():
        cut_label = f"threshold {cut['settings']['threshold']:g}" if cut_name == "threshold" \
            else f"target {cut['settings']['target']}"
        rows.append(f"| {name} | {result['n']:,} | {len(result['labels'])} | {result['k_init']} | {result['k']} | "
                    f"{result['fine']['purity']:.3f} | {cut_label} | {cut['n_super_clusters']} | {cut['purity']:.3f} | "
                    f"{cut['nmi']:.3f} | {cut['max_token_share']:.2f} | {result['embed_seconds']:.1f} | "
                    f"{result['cluster_seconds']:.2f} |")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ag-news-limit", type=int, default=None, help="balanced AG News subset (default: all 7,600)")
    parser.add_argument("--per-source", type=int, default=1000, help="documents per source (default 1000)")
    parser.add_argument("--words-per-document", type=int, default=200)
    parser.add_argument("--k-init", type=int, default=64, help="K asked for; effective_k may reduce it")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS / "cluster_quality.json")
    args = parser.parse_args(argv)
    data_dir = args.data_dir or data_dir_default()
    corpora = {
        "ag_news": ag_news(data_dir, limit=args.ag_news_limit, seed=args.seed),
        "source_labelled": source_labelled(data_dir, per_source=args.per_source,
                                           words_per_document=args.words_per_document, seed=args.seed),
    }
    results = {}
    for name, documents in corpora.items():
        started = time.perf_counter()
        n_classes = len({d.label for d in documents})
        results[name] = evaluate(documents, k_init=args.k_init, target=n_classes, seed=args.seed)
        print(f"{name}: {len(documents):,} documents evaluated in {time.perf_counter() - started:.1f} s", flush=True)
    import torch

    from climb.core.device import resolve_placement

    placement = resolve_placement()
    report = {
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "device": placement.name,
                    "dtype": placement.dtype, "torch": torch.__version__},
        "args": {"ag_news_limit": args.ag_news_limit, "per_source": args.per_source,
                 "words_per_document": args.words_per_document, "k_init": args.k_init, "seed": args.seed,
                 "embedder": "all-MiniLM-L6-v2, max_length 128"},
        "date": time.strftime("%Y-%m-%d"), "corpora": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out} ({placement.name}, {placement.dtype})\n")
    print("| corpus | n | classes | K_init | K | fine purity | cut | super-clusters | purity | NMI | "
          "largest token share | embed s | cluster s |")
    print("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for name, result in results.items():
        print("\n".join(markdown_rows(name, result)))


if __name__ == "__main__":
    main()

"""Which decontamination measure? Planted overlaps and real news, n-gram containment against Jaccard.

    python benchmarks/contamination.py [--out PATH]      # results/contamination.json

Target: 500 AG News test articles (title and description, ~40 words) and 100 PubMedQA abstracts (~200 words).
Training: the other 7,100 AG News articles, plus 100 planted documents: 50 target articles with 1-3 words changed
(`edited`) and 50 documents holding one paragraph of a target abstract between two unrelated articles
(`embedded`). For each measure: planted documents found, unrelated articles flagged (whose text, when found,
is printed to judge by eye) and documents checked per second. Jaccard is near dedup's (word 5-grams against
the whole target document, 0.8).
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
from climb.search.contamination import ContaminationSettings, TargetDocument, TargetIndex  # noqa: E402

MEASURES = [{"ngram": n, "window": 50, "threshold": t, "boilerplate_documents": b}
            for b in (None, 2) for n in (5, 8, 13) for t in (0.3, 0.5)]


def _edit(text: str, edits: int) -> str:
    words = text.split()
    at = {(k + 1) * len(words) // (edits + 1) for k in range(edits)}
    return " ".join("changed" if i in at else w for i, w in enumerate(words))


def build(data_dir: Path, seed: int = 0):
    rng = np.random.default_rng(seed)
    news = [d.text for d in ag_news(data_dir)]
    order = rng.permutation(len(news))
    target_news, training_news = [news[i] for i in order[:500]], [news[i] for i in order[500:]]
    pubmed = json.loads((data_dir / "pubmedqa" / "ori_pqal.json").read_text())
    abstracts = [e["CONTEXTS"] for e in pubmed.values() if len(e["CONTEXTS"]) >= 2][:100]
    targets = ([TargetDocument(f"news {i}", "search", t) for i, t in enumerate(target_news)]
               + [TargetDocument(f"pubmed {i}", "holdout", "\n\n".join(p)) for i, p in enumerate(abstracts)])
    planted = {f"edited {i}": _edit(target_news[i], 1 + i % 3) for i in range(50)}
    planted |= {f"embedded {i}": f"{training_news[2 * i]}\n\n{abstracts[i][1]}\n\n{training_news[2 * i + 1]}"
                for i in range(50)}
    unrelated = {f"news-train {i}": t for i, t in enumerate(training_news)}
    return targets, planted, unrelated


def run_measure(targets, training: dict[str, str], settings: dict) -> tuple[set[str], float]:
    index = TargetIndex(targets, ContaminationSettings(**settings))
    started = time.perf_counter()
    found = {key for key, text in training.items()
             if (o := index.strongest(text)) is not None and o.share >= settings["threshold"]}
    return found, len(training) / (time.perf_counter() - started)


def run_jaccard(targets, training: dict[str, str]) -> set[str]:
    target_sets = [shingles(t.text, 5) for t in targets]
    return {key for key, text in training.items()
            if any(jaccard(s, t) >= 0.8 for t in target_sets for s in [shingles(text, 5)])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=data_dir_default())
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "contamination.json")
    args = parser.parse_args()
    targets, planted, unrelated = build(args.data_dir)
    training = planted | unrelated
    rows = []
    for settings in MEASURES:
        found, rate = run_measure(targets, training, settings)
        rows.append({**settings, "edited": sum(k.startswith("edited") for k in found),
                     "embedded": sum(k.startswith("embedded") for k in found),
                     "unrelated_flagged": sorted(k for k in found if k in unrelated), "documents_per_s": round(rate)})
        print(rows[-1], flush=True)
    found = run_jaccard(targets, training)
    rows.append({"measure": "jaccard 5-grams >= 0.8", "edited": sum(k.startswith("edited") for k in found),
                 "embedded": sum(k.startswith("embedded") for k in found),
                 "unrelated_flagged": sorted(k for k in found if k in unrelated)})
    print(rows[-1])
    flagged = sorted({k for r in rows for k in r["unrelated_flagged"]})
    result = {"targets": len(targets), "planted": len(planted), "unrelated": len(unrelated), "rows": rows,
              "flagged_texts": {k: unrelated[k] for k in flagged}}
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""Near-duplicate removal measured: planted copies in real text, the MinHash libraries' speed here, and the
near-duplicate rate of a ClimbMix export by an independent exact-Jaccard check.

    python benchmarks/dedup.py planted            # AG News and PubMed abstracts: recall, precision per setting
    python benchmarks/dedup.py libraries          # MinHash signatures per second, each library importable here
    python benchmarks/dedup.py climbmix DIR       # an export's near-duplicate rate (DIR: the export folder)
    python benchmarks/dedup.py scale [--shards 6 --docs-per-shard 50000]   # ingest seconds per shard
    python benchmarks/dedup.py table              # the Markdown tables of BENCHMARKS.md

`planted`: the originals are real documents (AG News test articles, "title. description", ~38 words; PubMed
abstracts, ~200 words) of which no two are near-duplicates themselves by the independent check below (word-set
Jaccard >= 0.5: AG News holds ~170 wire stories filed twice, which are left out rather than counted either way).
A fifth of them get one planted copy, one edit kind each in turn: word edits (1-10% of the words replaced, the
share drawn per copy), inserted boilerplate (a short real-world line at the start or the end), a trimmed ending
(the last 5-20% of the words dropped) and a changed header (title words recased, one replaced, another separator;
AG News only). Originals and copies are spread over four JSONL shards, each copy after its original in the global
order, and ingested by the project's own `write_documents` (no Dagster) at each setting of the grid: recall = the
planted copies removed as `duplicate:near`; precision = the share of `duplicate:near` removals that are planted
copies (an original removed is a false positive).

The independent check (`independent_pairs`) shares no code with the project's detector: datasketch's MinHash LSH
at a lower threshold proposes pairs and the exact Jaccard of the shingle sets decides.
Results merge into benchmarks/results/dedup.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results" / "dedup.json"
SHARDS = 4
PLANTED_SHARE = 0.2
GRID = [(ngram, threshold) for ngram in (2, 3, 5) for threshold in (0.7, 0.75, 0.8, 0.85, 0.9)]
BOILERPLATE = [
    "Copyright 2004 Reuters. All rights reserved.",
    "Click here for more stories.",
    "(AP Photo)",
    "Share this article:",
    "Reporting by staff writers; editing by the news desk.",
    "Advertisement",
]
EDIT_WORDS = "the report said new market year week government company people officials group".split()
_WORD = re.compile(r"\w+")


# ---- the corpora ---------------------------------------------------------------------------------------
def ag_news() -> list[str]:
    with open(DATA / "ag_news" / "test.csv", newline="", encoding="utf-8") as handle:
        return [f"{title}. {description}" for _, title, description in csv.reader(handle)]


def pubmed() -> list[str]:
    with open(DATA / "pubmedqa" / "ori_pqal.json", encoding="utf-8") as handle:
        return [" ".join(entry["CONTEXTS"]) for entry in json.load(handle).values()]


def independent_shingles(text: str, ngram: int) -> set[str]:
    words = _WORD.findall(text.lower())
    return {" ".join(words[i:i + ngram]) for i in range(max(1, len(words) - ngram + 1))}


def independent_pairs(texts: list[str], ngram: int, threshold: float) -> list[tuple[int, int, float]]:
    """Every pair (i < j) of texts at word n-gram Jaccard >= threshold: datasketch LSH tuned ~0.15 below the
    threshold proposes (128 permutations), the exact Jaccard decides. Independent of climb's detector."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=max(0.3, threshold - 0.15), num_perm=128)
    sets, pairs = [], []
    for i, text in enumerate(texts):
        sets.append(independent_shingles(text, ngram))
        minhash = MinHash(num_perm=128, seed=1)
        minhash.update_batch([s.encode("utf-8") for s in sets[i]])
        for j in lsh.query(minhash):
            similarity = len(sets[i] & sets[j]) / len(sets[i] | sets[j])
            if similarity >= threshold:
                pairs.append((min(i, j), max(i, j), similarity))
        lsh.insert(i, minhash)
    return sorted(pairs)


def distinct_originals(texts: list[str]) -> tuple[list[str], int]:
    """The texts with every member of a near-duplicate pair (word-set Jaccard >= 0.5) or exact repeat left out."""
    unique = list(dict.fromkeys(texts))
    involved = {k for i, j, _ in independent_pairs(unique, ngram=1, threshold=0.5) for k in (i, j)}
    return [t for k, t in enumerate(unique) if k not in involved], len(texts) - len(unique) + len(involved)


# ---- planting ------------------------------------------------------------------------------------------
def edit_words(text: str, share: float, rng: random.Random) -> str:
    words = text.split()
    for i in rng.sample(range(len(words)), max(1, round(share * len(words)))):
        words[i] = rng.choice([w for w in EDIT_WORDS if w != words[i].lower()])
    return " ".join(words)


def change_header(text: str, rng: random.Random) -> str:
    """A reworded headline: words recased, one replaced, ' - ' instead of '. ' before the body."""
    title, _, body = text.partition(". ")
    words = [w.upper() if rng.random() < 0.3 else w.lower() for w in title.split()]
    words[rng.randrange(len(words))] = rng.choice(EDIT_WORDS)
    return " ".join(words) + " - " + body


def plant(originals: list[str], has_headers: bool, seed: int = 0, max_edit_percent: int = 10) -> list[dict]:
    """One copy for PLANTED_SHARE of the originals: {"original": index, "kind", "detail", "text"}."""
    rng = random.Random(seed)
    kinds = ["edit", "boilerplate", "trim"] + (["header"] if has_headers else [])
    chosen = sorted(rng.sample(range(len(originals)), round(PLANTED_SHARE * len(originals))))
    copies = []
    for n, index in enumerate(chosen):
        kind, text = kinds[n % len(kinds)], originals[index]
        if kind == "edit":
            percent = rng.randint(1, max_edit_percent)
            copy, detail = edit_words(text, percent / 100, rng), f"{percent}%"
        elif kind == "boilerplate":
            line = rng.choice(BOILERPLATE)
            at_end = rng.random() < 0.5
            copy, detail = (f"{text} {line}" if at_end else f"{line} {text}"), "end" if at_end else "start"
        elif kind == "trim":
            words = text.split()
            percent = rng.randint(5, 20)
            copy, detail = " ".join(words[: len(words) - max(1, round(percent / 100 * len(words)))]), f"{percent}%"
        else:
            copy, detail = change_header(text, rng), ""
        copies.append({"original": index, "kind": kind, "detail": detail, "text": copy})
    return copies


def layout(originals: list[str], copies: list[dict], seed: int = 0) -> list[list[dict]]:
    """SHARDS shards of {"id", "text"}: originals round-robin, each copy appended to its original's shard or a
    later one, so the original always comes first in the global order."""
    rng = random.Random(seed + 1)
    shards: list[list[dict]] = [[] for _ in range(SHARDS)]
    home = {}
    for index, text in enumerate(originals):
        home[index] = index % SHARDS
        shards[home[index]].append({"id": f"o{index}", "text": text})
    for n, copy in enumerate(copies):
        shards[rng.randint(home[copy["original"]], SHARDS - 1)].append({"id": f"c{n}", "text": copy["text"]})
    return shards


# ---- running the project's detector ------------------------------------------------------------------
def detect(shards: list[list[dict]], near: dict, work: Path) -> dict:
    """Ingest the shards with the project's `write_documents` under `dedup.near: near`; the near removals."""
    from climb.core.config import load_config
    from climb.core.storage import Storage
    from climb.corpus.documents import ASSET, config_shards, write_documents

    (work / "data").mkdir(parents=True)
    for k, rows in enumerate(shards):
        (work / "data" / f"part_{k}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (work / "climb.yaml").write_text("corpus:\n  paths: [data/*.jsonl]\n  id_field: id\n"
                                     f"dedup:\n  near: {json.dumps(near)}\n")
    config = load_config(work / "climb.yaml", home=str(work / "home"))
    storage = Storage(config.storage_root)
    ordered = sorted(config_shards(config))
    started = time.perf_counter()
    for k, shard in enumerate(ordered):
        write_documents(shard, config=config, storage=storage, earlier_shards=ordered[:k])
    seconds = time.perf_counter() - started
    removed = [r for s in ordered for r in storage.read_table(ASSET, "removed.parquet", s.key).to_pylist()
               if r["reason"] == "duplicate:near"]
    return {"seconds": seconds, "removed": {r["id"]: r["detail"] for r in removed}}


def score(copies: list[dict], removed: dict[str, str]) -> dict:
    found = Counter(c["kind"] for n, c in enumerate(copies) if f"c{n}" in removed)
    planted = Counter(c["kind"] for c in copies)
    edits = {band: [n for n, c in enumerate(copies) if c["kind"] == "edit" and lo <= int(c["detail"][:-1]) <= hi]
             for band, (lo, hi) in {"1-3%": (1, 3), "4-6%": (4, 6), "7-10%": (7, 10)}.items()}
    false_positives = sorted(i for i in removed if i.startswith("o"))
    true_positives = len(removed) - len(false_positives)
    return {
        "recall": true_positives / len(copies),
        "precision": true_positives / len(removed) if removed else 1.0,
        "recall_by_kind": {kind: found[kind] / planted[kind] for kind in sorted(planted)},
        "recall_by_edit_share": {band: sum(f"c{n}" in removed for n in ns) / len(ns)
                                 for band, ns in edits.items() if ns},
        "false_positives": [f"{i}: {removed[i]}" for i in false_positives[:5]],
        "false_positive_count": len(false_positives),
    }


def run_planted() -> dict:
    rows = []
    for corpus, texts, has_headers in (("ag_news", ag_news(), True), ("pubmed", pubmed(), False)):
        originals, left_out = distinct_originals(texts)
        copies = plant(originals, has_headers)
        shards = layout(originals, copies)
        print(f"{corpus}: {len(originals)} originals ({left_out} left out), {len(copies)} planted copies", flush=True)
        for ngram, threshold in GRID:
            with tempfile.TemporaryDirectory() as work:
                result = detect(shards, {"ngram": ngram, "threshold": threshold}, Path(work))
            row = {"corpus": corpus, "ngram": ngram, "threshold": threshold, "originals": len(originals),
                   "left_out": left_out, "copies": len(copies), "seconds": round(result["seconds"], 2),
                   "docs_per_second": round((len(originals) + len(copies)) / result["seconds"]),
                   **score(copies, result["removed"])}
            rows.append(row)
            print(f"  n={ngram} t={threshold}: recall {row['recall']:.3f} precision {row['precision']:.4f} "
                  f"{row['recall_by_kind']} {row['recall_by_edit_share']} {row['seconds']} s", flush=True)
    return {"rows": rows}


# ---- libraries ------------------------------------------------------------------------------------------
def run_libraries(documents: int = 3000, num_perm: int = 112, ngram: int = 5) -> dict:
    """MinHash signatures of AG News articles' ready word 5-gram sets, per library importable here."""
    sets = [sorted(independent_shingles(t, ngram)) for t in ag_news()[:documents]]
    timings = {}

    def rensa_signatures():
        import rensa

        for s in sets:
            minhash = rensa.RMinHash(num_perm=num_perm, seed=0)
            minhash.update(s)
            minhash.digest()

    def datasketch_signatures():
        from datasketch import MinHash

        MinHash.bulk([[x.encode("utf-8") for x in s] for s in sets], num_perm=num_perm)

    def datatrove_signatures():
        import numpy as np
        from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
        from datatrove.utils.hashing import create_hash_func

        config = MinhashConfig(num_buckets=14, hashes_per_bucket=num_perm // 14)
        # Its signing step alone: the block's constructor wants spaCy for word splitting, not needed here.
        signer = MinhashDedupSignature.__new__(MinhashDedupSignature)
        signer.config, signer.num_hashes, signer._parameters = config, num_perm, None
        hash_function = create_hash_func(config.hash_config)
        for s in sets:
            signer.get_signature(np.fromiter((hash_function(x.encode("utf-8")) for x in s), dtype=np.uint64).reshape(-1, 1))

    for name, run in (("rensa", rensa_signatures), ("datasketch", datasketch_signatures),
                      ("datatrove", datatrove_signatures)):
        try:
            started = time.perf_counter()
            run()
            timings[name] = round(documents / (time.perf_counter() - started))
        except ImportError as err:
            timings[name] = f"not importable here ({err.name})"
        print(f"{name}: {timings[name]} documents/s", flush=True)
    return {"documents": documents, "num_perm": num_perm, "ngram": ngram, "documents_per_second": timings}


# ---- scale ----------------------------------------------------------------------------------------------
def run_scale(shards: int, per_shard: int) -> dict:
    """`write_documents` seconds per shard, in key order, on benchmarks/scale.py's corpus (an AG News title
    joined to another article's description, so descriptions recur: a flood of near-threshold candidates,
    the hard case for the verification) with the default near-duplicate settings."""
    from scale import write_corpus

    from climb.core.config import load_config
    from climb.core.storage import Storage
    from climb.corpus.documents import config_shards, write_documents

    rows = []
    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        write_corpus(root, shards * per_shard, shards)
        (root / "climb.yaml").write_text("corpus: {paths: [corpus/*.jsonl], id_field: id}\n")
        config = load_config(root / "climb.yaml", home=str(root / "home"))
        storage, ordered = Storage(config.storage_root), sorted(config_shards(config))
        for k, shard in enumerate(ordered):
            started = time.perf_counter()
            report = write_documents(shard, config=config, storage=storage, earlier_shards=ordered[:k])
            rows.append({"shard": k, "seconds": round(time.perf_counter() - started, 1),
                         "near_duplicates": report.account.reasons.get("duplicate:near", 0)})
            print(rows[-1], flush=True)
    return {"shards": shards, "documents_per_shard": per_shard, "rows": rows}


# ---- ClimbMix ---------------------------------------------------------------------------------------------
def run_climbmix(export: Path) -> dict:
    """The export's Parquet texts: repeats (a super-cluster's epochs > 1 repeat whole documents, as the card
    says) counted apart; among distinct texts, the share with an earlier near-duplicate at word 5-gram Jaccard
    >= 0.7 (the castorini/cmass measure of the released ClimbMix: 38.9%), 5-grams at 0.8 and 2-grams at 0.7."""
    import pyarrow.parquet as pq

    texts = [t for f in sorted((export / "parquet").glob("*.parquet")) for t in pq.read_table(f).column("text").to_pylist()]
    distinct = list(dict.fromkeys(texts))
    out = {"export": str(export), "documents": len(texts), "distinct": len(distinct),
           "repeats": len(texts) - len(distinct)}
    for ngram, threshold in ((5, 0.7), (5, 0.8), (2, 0.7)):  # cmass's, datatrove's, dedup.near's default
        pairs = independent_pairs(distinct, ngram=ngram, threshold=threshold)
        duplicates = {j for _, j, _ in pairs}  # the later member of each pair
        out[f"near_duplicate_rate_{ngram}gram_{threshold}"] = len(duplicates) / len(distinct)
        out[f"pairs_{ngram}gram_{threshold}"] = len(pairs)
    print(json.dumps(out, indent=1))
    return out


def table(results: dict) -> str:
    lines = ["| corpus | n-gram | threshold | recall | precision | edits 1-3% | 4-6% | 7-10% | boilerplate | trim | header |"
             " docs/s |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    nan = float("nan")
    for r in results.get("planted", {}).get("rows", []):
        kinds, edits = r["recall_by_kind"], r["recall_by_edit_share"]
        lines.append(f"| {r['corpus']} | {r['ngram']} | {r['threshold']} | {r['recall']:.3f} | {r['precision']:.4f} | "
                     f"{edits.get('1-3%', nan):.2f} | {edits.get('4-6%', nan):.2f} | {edits.get('7-10%', nan):.2f} | {kinds['boilerplate']:.2f} | "
                     f"{kinds['trim']:.2f} | {kinds.get('header', nan):.2f} | {r['docs_per_second']:,} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("case", choices=["planted", "libraries", "climbmix", "scale", "table"])
    parser.add_argument("export", nargs="?", type=Path, help="climbmix: the export folder")
    parser.add_argument("--shards", type=int, default=6)
    parser.add_argument("--docs-per-shard", type=int, default=50_000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    if args.case == "table":
        print(table(results))
        return
    sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]
    run = {"planted": run_planted, "libraries": run_libraries, "climbmix": lambda: run_climbmix(args.export),
           "scale": lambda: run_scale(args.shards, args.docs_per_shard)}[args.case]
    key = f"scale-{args.shards}x{args.docs_per_shard}" if args.case == "scale" else args.case
    results[key] = {**run(), "machine": f"{platform.node()} ({os.cpu_count()} cores)", "date": time.strftime("%Y-%m-%d")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""Known-answer test of the mixture search on real text: six sources of ../shared/data, with a target of
held-apart PubMed abstracts; the optimal mixture must put at least half its weight on PubMed's clusters
(uniform would give about 1/6). One `climb run` of the whole pipeline, as a user runs it."""

import json
import os
import random
import subprocess
import sys

import duckdb
import pytest

from tests.conftest import shared_data

CONFIG = """
corpus: {paths: ["corpus/*.jsonl"], id_field: id, metadata_fields: [source]}
embedding: {max_length: 128}
clustering: {k_init: 32, prune: none}
tokenizer: {train_vocab_size: 4096}
search: {rounds: [8, 4, 2], pool_size: 20000, top_n: 40, baselines: [uniform, token_proportional],
         final_verify_runs: 2}
proxy: {preset: tiny, tokens: 40000, sequence_length: 128}   # 40k tokens: the benchmark finds PubMed at 12k
export: {tokens: 100000}
target: {text: ["target/*.jsonl"], holdout_fraction: 0.3, max_windows: 128}
"""


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    from benchmarks.labelled_corpora import source_labelled

    root = tmp_path_factory.mktemp("sources")
    docs = source_labelled(shared_data(), per_source=200, words_per_document=150, seed=0)
    by_source: dict[str, list] = {}
    for doc in docs:
        by_source.setdefault(doc.label, []).append(doc)
    (root / "corpus").mkdir()
    (root / "target").mkdir()
    rng = random.Random(0)
    for source, items in by_source.items():
        rng.shuffle(items)
        if source == "pubmedqa":  # 80 abstracts held apart as the target, never in the corpus
            target, items = items[:80], items[80:]
            (root / "target" / "pubmed.jsonl").write_text(
                "".join(json.dumps({"id": f"t{i}", "text": d.text}) + "\n" for i, d in enumerate(target)))
        (root / "corpus" / f"{source}.jsonl").write_text("".join(
            json.dumps({"id": f"{source}-{i}", "text": d.text, "source": source}) + "\n" for i, d in enumerate(items)))
    (root / "climb.yaml").write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if k not in ("CLIMB_CONFIG", "CLIMB_HOME", "DAGSTER_HOME")}
    done = subprocess.run([sys.executable, "-m", "climb_assets.cli", "run", "--config", str(root / "climb.yaml"),
                           "--home", str(root / "home")], env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    return root / "home"


def test_weight_lands_on_the_target_source(searched):
    """At least half of the optimal mixture's weight is on the super-clusters whose majority is PubMed."""
    result = json.loads((searched / "optimal_mixture" / "optimal_mixture.json").read_text())
    counts = duckdb.sql(
        f"SELECT c.cluster_id, d.source, count(*) AS n FROM read_parquet('{searched}/climblab/data/*/*.parquet') c "
        f"JOIN read_parquet('{searched}/documents/*/documents.parquet') d USING (id) GROUP BY 1, 2 ORDER BY 3").fetchall()
    majority = {str(cluster): source for cluster, source, _ in counts}  # largest count last wins
    on_pubmed = sum(w for cluster, w in result["weights"].items() if majority[cluster] == "pubmedqa")
    assert on_pubmed >= 0.5, (result["weights"], majority)


def test_climb_beats_uniform_on_the_holdout(searched):
    """The searched mixture's proxy has a better held-apart target score than uniform and token-proportional."""
    result = json.loads((searched / "optimal_mixture" / "optimal_mixture.json").read_text())
    scores = {row["method"]: row["holdout_score"] for row in result["comparison"]}
    assert scores["climb"] > scores["uniform"] and scores["climb"] > scores["token_proportional"]

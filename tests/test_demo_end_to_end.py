"""The whole pipeline on the demo corpus, as `climb demo` runs it: one real run, then its outputs."""

import json
import os
import subprocess
import sys
from collections import Counter

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from resources.demo_corpus import DemoManifest
from resources.token_store import TokenStore


def climb(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "climb_assets.cli", *args], env=env, capture_output=True,
                          text=True, timeout=1200)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    home = tmp_path_factory.mktemp("demo_home")
    env = {k: v for k, v in os.environ.items() if k not in ("CLIMB_CONFIG", "CLIMB_HOME", "DAGSTER_HOME")}
    env["CLIMB_HOME"] = str(home)
    done = climb("demo", env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return {"home": home, "env": env, "stdout": done.stdout, "manifest": DemoManifest.load(home / "demo")}


def test_summary_balances(demo):
    """`climb demo` prints a balanced account of every input record and where the UI is."""
    expected = demo["manifest"].expected
    assert f"input_records {expected['input_records']:,}" in demo["stdout"]
    assert "accounting balances" in demo["stdout"] and "dagster dev" in demo["stdout"]
    assert (demo["home"] / "dagster" / "history" / "runs.db").exists()


def test_every_asset_materialised_and_checked(demo):
    """`climb status --json` shows every asset materialised and no failed check."""
    status = json.loads(climb("status", "--json", env=demo["env"]).stdout)["assets"]
    assert all(entry["materialized"] for entry in status.values()), [k for k, v in status.items() if not v["materialized"]]
    blocking = [r for e in status.values() for name, r in e["checks"].items() if name != "predictor_ranks_mixtures"]
    assert blocking and all(r["failed"] == 0 and r["passed"] > 0 for r in blocking)
    assert status["embeddings"]["metadata"]["dim"] == 384
    assert status["embeddings"]["metadata"]["count"] == demo["manifest"].n_documents


def test_climblab_layout_and_domains(demo):
    """ClimbLab is Hive-partitioned Parquet whose super-clusters are the demo's six domains."""
    root = demo["home"] / "climblab"
    dataset = ds.dataset(root, format="parquet", partitioning="hive")
    table = dataset.to_table()
    assert {"id", "text", "cluster_id", "fine_cluster_id", "quality", "educational_value", "informational_value",
            "advertisement", "token_count"} <= set(table.column_names)
    clusters = pq.read_table(root / "clusters.parquet").to_pylist()
    assert len(clusters) == 6 and abs(sum(c["token_share"] for c in clusters) - 1) < 1e-9
    assert all(c["label"] and c["keywords"] for c in clusters)
    domains = duckdb.sql(
        f"SELECT c.cluster_id, d.domain FROM read_parquet('{root}/cluster_id=*/*.parquet') c "
        f"JOIN read_parquet('{demo['home']}/documents/*/documents.parquet') d USING (id)").fetchall()
    by_cluster: dict[int, Counter] = {}
    for cluster_id, domain in domains:
        by_cluster.setdefault(cluster_id, Counter())[domain] += 1
    purity = sum(c.most_common(1)[0][1] for c in by_cluster.values()) / len(domains)
    assert purity >= 0.98, by_cluster
    assert {c.most_common(1)[0][0] for c in by_cluster.values()} == set(demo["manifest"].domain_counts)


def test_token_stores_match_clusters(demo):
    """Each super-cluster has a token store holding its documents, one end-of-text token per document."""
    root = demo["home"] / "climblab"
    for cluster in pq.read_table(root / "clusters.parquet").to_pylist():
        store = TokenStore(str(root / "_token_stores" / f"cluster_id={cluster['cluster_id']}"))
        assert store.n_documents == cluster["documents"]
        assert store.n_tokens == cluster["tokens"] + cluster["documents"]


def test_rerun_keeps_cluster_ids(demo):
    """Re-materialising the clustering (centroids down to ClimbLab) gives the same super-cluster ids and labels."""
    root = demo["home"] / "climblab"
    before = pq.read_table(root / "clusters.parquet").select(["cluster_id", "label", "documents"]).to_pylist()
    done = climb("run", "--select", "key:centroids or key:cluster_assignments or key:clusters or key:super_clusters "
                 "or key:climblab", env=demo["env"])
    assert done.returncode == 0, done.stderr[-3000:]
    after = pq.read_table(root / "clusters.parquet").select(["cluster_id", "label", "documents"]).to_pylist()
    assert after == before


def test_search_finds_the_planted_target(demo):
    """The optimal mixture puts most weight on the target's domains (70% medicine + 30% cooking) and
    beats uniform and token-proportional weights on the held-apart target text."""
    result = json.loads((demo["home"] / "optimal_mixture" / "optimal_mixture.json").read_text())
    domain_of = {}
    root = demo["home"] / "climblab"
    rows = duckdb.sql(
        f"SELECT c.cluster_id, d.domain, count(*) FROM read_parquet('{root}/cluster_id=*/*.parquet') c "
        f"JOIN read_parquet('{demo['home']}/documents/*/documents.parquet') d USING (id) GROUP BY 1, 2").fetchall()
    for cluster_id, domain, count in sorted(rows, key=lambda r: r[2]):
        domain_of[str(cluster_id)] = domain  # the majority domain wins (largest count last)
    on_target = sum(w for cid, w in result["weights"].items() if domain_of[cid] in ("medicine", "cooking"))
    assert on_target >= 0.7, (result["weights"], domain_of)
    scores = {row["method"]: row["holdout_score"] for row in result["comparison"]}
    assert set(scores) == {"climb", "uniform", "token_proportional", "best_of_n", "regmix"}
    assert scores["climb"] > scores["uniform"] and scores["climb"] > scores["token_proportional"]


def test_search_rounds_reported(demo):
    """Each round's predictor reports its cross-validated Spearman; rounds have the demo's 8/4/2 runs."""
    status = json.loads(climb("status", "--json", env=demo["env"]).stdout)["assets"]
    rounds = status["predictor"]["partitions"]
    assert sorted(rounds) == ["1", "2", "3"]
    assert all("cv_spearman" in p["metadata"] for p in rounds.values())
    assert [status["proxy_runs"]["partitions"][r]["metadata"]["runs"] for r in ("1", "2", "3")] == [8, 4, 2]
    assert status["optimal_mixture"]["metadata"]["weights"]

"""The whole pipeline on the demo corpus, as `climb demo` runs it: one real run, then its outputs."""

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from climb.demo.corpus import DemoManifest
from climb.climblab.build import CLUSTERS_FILE, DATA, TOKEN_STORES, cluster_folder
from climb.climblab.token_store import TokenStore


def climb(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "climb_assets.cli", *args], env=env, capture_output=True,
                          text=True, timeout=2400)


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
    """ClimbLab's data/ is one Parquet dataset whose super-clusters are the demo's six domains."""
    root = demo["home"] / "climblab"
    dataset = ds.dataset(root / DATA, format="parquet", partitioning="hive")
    table = dataset.to_table()
    assert {"id", "text", "cluster_id", "fine_cluster_id", "quality", "educational_value", "informational_value",
            "advertisement", "token_count"} <= set(table.column_names)
    clusters = pq.read_table(root / CLUSTERS_FILE).to_pylist()
    assert len(clusters) == 6 and abs(sum(c["token_share"] for c in clusters) - 1) < 1e-9
    assert all(c["label"] and c["keywords"] for c in clusters)
    domains = duckdb.sql(
        f"SELECT c.cluster_id, d.domain FROM read_parquet('{root}/{DATA}/*/*.parquet') c "
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
    for cluster in pq.read_table(root / CLUSTERS_FILE).to_pylist():
        store = TokenStore(str(root / TOKEN_STORES / cluster_folder(cluster["cluster_id"])))
        assert store.n_documents == cluster["documents"]
        assert store.n_tokens == cluster["tokens"] + cluster["documents"]


def test_rerun_keeps_cluster_ids(demo):
    """After the demo nothing is stale: `climb run` materialises nothing. Re-materialising the clustering
    (centroids down to ClimbLab, forced) gives the same super-cluster ids and labels."""
    root = demo["home"] / "climblab"
    unchanged = climb("run", env=demo["env"])
    assert unchanged.returncode == 0, unchanged.stderr[-3000:]
    assert "0 asset partition(s) to materialise" in unchanged.stdout and "optimal_mixture: fresh" in unchanged.stdout
    before = pq.read_table(root / CLUSTERS_FILE).select(["cluster_id", "label", "documents"]).to_pylist()
    done = climb("run", "--force", "--select", "key:centroids or key:cluster_assignments or key:clusters or "
                 "key:super_clusters or key:climblab", env=demo["env"])
    assert done.returncode == 0, done.stderr[-3000:]
    after = pq.read_table(root / CLUSTERS_FILE).select(["cluster_id", "label", "documents"]).to_pylist()
    assert after == before


def test_search_finds_the_planted_target(demo):
    """The answer holds at least 0.5 medicine and 0.15 cooking (the target is drawn 70/30 from them), verified on the
    held-apart target (mean over the demo's 3 proxy seeds) within 0.1 nat of the planted 70/30 blend, no worse than
    RegMix one-shot at the same budget, and better than uniform and token-proportional weights."""
    result = json.loads((demo["home"] / "optimal_mixture" / "optimal_mixture.json").read_text())
    domain_of = {}
    root = demo["home"] / "climblab"
    rows = duckdb.sql(
        f"SELECT c.cluster_id, d.domain, count(*) FROM read_parquet('{root}/{DATA}/*/*.parquet') c "
        f"JOIN read_parquet('{demo['home']}/documents/*/documents.parquet') d USING (id) GROUP BY 1, 2").fetchall()
    for cluster_id, domain, count in sorted(rows, key=lambda r: r[2]):
        domain_of[str(cluster_id)] = domain  # the majority domain wins (largest count last)
    weight = {d: sum(w for cid, w in result["weights"].items() if domain_of[cid] == d) for d in domain_of.values()}
    assert weight["medicine"] >= 0.5 and weight["cooking"] >= 0.15, (result["weights"], domain_of)
    scores = {row["method"]: row["holdout_score"] for row in result["comparison"]}
    assert set(scores) == {"climb", "uniform", "token_proportional", "best_of_n", "regmix"}
    assert all(len(row["holdout_scores"]) == 3 for row in result["comparison"])
    planted = json.loads((demo["home"] / "demo" / "planted_verification.json").read_text())
    assert scores["climb"] >= planted["holdout_score"] - 0.1, (scores, planted)
    assert scores["climb"] >= scores["regmix"], scores
    assert scores["climb"] > scores["uniform"] and scores["climb"] > scores["token_proportional"]
    assert "planted target" in demo["stdout"] and "optimal mixture (verified" in demo["stdout"]


def test_search_rounds_reported(demo):
    """Each round is its own assets; each round's predictor reports its cross-validated Spearman; rounds have
    the demo's 8/4/2 runs."""
    status = json.loads(climb("status", "--json", env=demo["env"]).stdout)["assets"]
    rounds = sorted(key.split("/")[1] for key in status if key.startswith("search/round_") and key.endswith("/predictor"))
    assert rounds == ["round_1", "round_2", "round_3"]
    assert all("cv_spearman" in status[f"search/{r}/predictor"]["metadata"] for r in rounds)
    assert [status[f"search/{r}/proxy_runs"]["metadata"]["runs"] for r in rounds] == [8, 4, 2]
    assert status["optimal_mixture"]["metadata"]["weights"]


EXPORT_TOKENS = 50_000  # any demo mixture can meet it: the smallest super-cluster (~30k tokens) x 4 epochs


@pytest.fixture(scope="module")
def export(demo, tmp_path_factory):
    """`climb export --out X --tokens N` after the demo's search."""
    out = tmp_path_factory.mktemp("exports") / "climbmix"
    done = climb("export", "--out", str(out), "--tokens", str(EXPORT_TOKENS), env=demo["env"])
    assert done.returncode == 0, done.stderr[-3000:]
    return {"out": out, "stdout": done.stdout}


def test_demo_materialises_climbmix(demo):
    """The demo ends with the climbmix asset at the export budget, its blocking check passed, named in the summary."""
    assert "ClimbMix: " in demo["stdout"] and "climb export --out DIR" in demo["stdout"]
    status = json.loads(climb("status", "--json", env=demo["env"]).stdout)["assets"]["climbmix"]
    assert status["materialized"] and status["checks"]["climbmix_matches_mixture"]["passed"] > 0
    assert abs(status["metadata"]["tokens"] - 100_000) <= 1_000  # the demo file's export.tokens


def test_export_writes_every_format_and_the_card(export):
    """Parquet, tokenized JSONL and Megatron (.bin/.idx per cluster + blend) are written with a card whose
    sha256 lines match every file."""
    out = export["out"]
    assert list((out / "parquet").glob("part-*.parquet")) and list((out / "jsonl").glob("part_*.tokenized.jsonl"))
    blend = json.loads((out / "megatron" / "blend.json").read_text())
    for entry in blend["datasets"]:
        assert (out / f"{entry['prefix']}.bin").exists() and (out / f"{entry['prefix']}.idx").exists()
    card = (out / "README.md").read_text()
    sums = dict(line.split("  ")[::-1] for line in card.splitlines() if len(line.split("  ")[0]) == 64)
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {"README.md"}
    assert set(sums) == files
    assert all(hashlib.sha256((out / name).read_bytes()).hexdigest() == sha for name, sha in sums.items())
    assert "ClimbMix in" in export["stdout"]


def test_export_meets_budget_and_weights(demo, export):
    """Total tokens within 1% of N; each realised weight within 0.02 of the optimal mixture's; both Parquet
    and JSONL hold those tokens."""
    out = export["out"]
    optimal = json.loads((demo["home"] / "optimal_mixture" / "optimal_mixture.json").read_text())["weights"]
    parquet = duckdb.sql(f"SELECT cluster_id, sum(token_count) FROM read_parquet('{out}/parquet/*.parquet') "
                         "GROUP BY 1").fetchall()
    tokens = {str(cid): int(n) for cid, n in parquet}
    total = sum(tokens.values())
    assert abs(total - EXPORT_TOKENS) <= 0.01 * EXPORT_TOKENS
    assert all(abs(tokens.get(cid, 0) / total - w) <= 0.02 for cid, w in optimal.items()), (tokens, optimal)
    jsonl = sum(json.loads(line)["token_count"] for p in (out / "jsonl").glob("*.jsonl")
                for line in p.read_text().splitlines())
    assert jsonl == total
    assert not json.loads((out / "climbmix.json").read_text())["warnings"]


def test_export_loads_with_datasets(export, tmp_path):
    """`datasets.load_dataset("parquet", data_dir=...)` loads the export with `text` and `cluster_id`."""
    datasets = pytest.importorskip("datasets")
    loaded = datasets.load_dataset("parquet", data_dir=str(export["out"] / "parquet"), cache_dir=str(tmp_path))
    assert {"text", "cluster_id"} <= set(loaded["train"].column_names) and loaded["train"].num_rows > 0


def test_export_refuses_a_non_empty_out_unless_overwrite(demo, export):
    """A second export into the same folder is refused in one line; --overwrite replaces it."""
    out = export["out"]
    refused = climb("export", "--out", str(out), env=demo["env"])
    assert refused.returncode == 1 and "not empty: pass --overwrite" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    replaced = climb("export", "--out", str(out), "--tokens", "20000", "--format", "parquet", "--seed", "1",
                     "--overwrite", env=demo["env"])
    assert replaced.returncode == 0, replaced.stderr[-3000:]
    summary = json.loads((out / "climbmix.json").read_text())
    assert summary["settings"]["seed"] == 1 and summary["settings"]["formats"] == ["parquet"]
    assert not (out / "jsonl").exists() and abs(summary["totals"]["tokens"] - 20_000) <= 200

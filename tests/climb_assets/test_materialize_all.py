"""The UI's "Materialize all", end to end: `dagster dev` (webserver and daemon) on loopback over a small real
labelled news corpus with a held-apart target of one topic. The shards are registered, the asset backfill the UI
launches for every asset and partition is launched over GraphQL, and the daemon runs it from an empty instance
to ClimbMix. Asserted: no failed run; every asset materialised; the four search rounds in order; at least half
of the optimal weight on the target topic; and the same optimal weights as `climb run` on the same
configuration."""

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.climb_assets.test_ui_end_to_end import LOCATION, _free_port, _wait_until_loaded, graphql
from tests.conftest import REPO, shared_data

CONFIG = """
corpus: {paths: ["corpus/*.jsonl"], id_field: id, metadata_fields: [label]}
embedding: {max_length: 64}
clustering: {k_init: 16, prune: none}
tokenizer: {train_vocab_size: 2048}
search: {rounds: [4, 2, 2, 2], pool_size: 5000, top_n: 20, baselines: [uniform], final_verify_runs: 1}
proxy: {preset: tiny, tokens: 16384, sequence_length: 64, batch_size: 16}
export: {tokens: 20000}
target: {text: ["target/*.jsonl"], holdout_fraction: 0.3, max_windows: 48}
"""
BACKFILL_SECONDS = 1500
LAUNCH_BACKFILL = """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""
BACKFILL = """query($id: String!) { partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill {
  status } ... on PythonError { message } } }"""
RUNS = """query($id: String!) { runsOrError(filter: {tags: [{key: "dagster/backfill", value: $id}]}) {
  ... on Runs { results { runId status } } } }"""
ASSET_KEYS = """query { assetNodes { assetKey { path } isPartitioned } }"""
MATERIALISED = """query($path: [String!]!) { assetOrError(assetKey: {path: $path}) { ... on Asset {
  assetMaterializations(limit: 100) { timestamp partition } } } }"""


def _corpus(root: Path) -> None:
    """600 AG News articles in two shards; 60 held-apart Sports articles are the target (never in the corpus)."""
    import csv

    rows = list(csv.reader(open(shared_data("ag_news", "test.csv"), newline="", encoding="utf-8")))
    labels = {"1": "World", "2": "Sports", "3": "Business", "4": "Sci/Tech"}
    rng = random.Random(0)
    rng.shuffle(rows)
    by_label: dict[str, list] = {}
    for label, title, description in rows:
        by_label.setdefault(labels[label], []).append(f"{title}\n\n{description}")
    target, docs = by_label["Sports"][:60], []
    for label, texts in by_label.items():
        docs += [(label, text) for text in texts[60 if label == "Sports" else 0:][:150]]
    rng.shuffle(docs)
    (root / "corpus").mkdir(parents=True)
    (root / "target").mkdir()
    for shard in range(2):
        (root / "corpus" / f"news_{shard}.jsonl").write_text("".join(
            json.dumps({"id": f"n{shard}-{i}", "text": text, "label": label}) + "\n"
            for i, (label, text) in enumerate(docs[shard::2])))
    (root / "target" / "sports.jsonl").write_text(
        "".join(json.dumps({"id": f"t{i}", "text": text}) + "\n" for i, text in enumerate(target)))
    (root / "climb.yaml").write_text(CONFIG)


def _dagster_dev(root: Path, env: dict):
    binary = shutil.which("dagster", path=str(Path(sys.executable).parent)) or shutil.which("dagster")
    if binary is None:
        pytest.skip("dagster is not installed")
    port = _free_port()
    log = root / "dagster_dev.log"
    with open(log, "wb") as sink:
        server = subprocess.Popen([binary, "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
                                  cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    return server, f"http://127.0.0.1:{port}/graphql", log


@pytest.fixture(scope="module")
def materialised_all(tmp_path_factory):
    """Everything materialised by one "Materialize all" backfill, then `climb run` on the same configuration."""
    root = tmp_path_factory.mktemp("materialize_all")
    _corpus(root)
    (root / "dagster_home").mkdir()
    (root / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "CLIMB_HOME": str(root / "ui_home"), "CLIMB_CONFIG": str(root / "climb.yaml"),
           "DAGSTER_HOME": str(root / "dagster_home"), "CLIMB_EXECUTOR": "in_process"}
    server, url, log = _dagster_dev(root, env)
    try:
        _wait_until_loaded(url, server, log)
        for shard in ("news_0.jsonl", "news_1.jsonl"):
            added = graphql(url, """mutation($key: String!, $repo: RepositorySelector!) {
                addDynamicPartition(partitionKey: $key, partitionsDefName: "shards", repositorySelector: $repo) {
                __typename } }""", key=shard, repo=LOCATION)["addDynamicPartition"]
            assert added["__typename"] == "AddDynamicPartitionSuccess", added
        keys = [node["assetKey"] for node in graphql(url, ASSET_KEYS)["assetNodes"]]
        launched = graphql(url, LAUNCH_BACKFILL, params={"assetSelection": keys, "allPartitions": True})
        backfill = launched["launchPartitionBackfill"]
        assert backfill["__typename"] == "LaunchBackfillSuccess", backfill
        deadline = time.monotonic() + BACKFILL_SECONDS
        while time.monotonic() < deadline:
            status = graphql(url, BACKFILL, id=backfill["backfillId"])["partitionBackfillOrError"]["status"]
            if status not in ("REQUESTED",):
                break
            time.sleep(5)
        runs = graphql(url, RUNS, id=backfill["backfillId"])["runsOrError"]["results"]
        events = {"/".join(k["path"]): graphql(url, MATERIALISED, path=k["path"])["assetOrError"]
                  ["assetMaterializations"] for k in keys}
        # After "Materialize all" nothing is stale: `climb run` has nothing to do. Forced, on the instance the
        # daemon serves, it hands its backfill to the daemon and follows it.
        fresh = subprocess.run([sys.executable, "-m", "climb_assets.cli", "run", "--select", "climbmix"],
                               env=env, capture_output=True, text=True, timeout=600)
        followed = subprocess.run([sys.executable, "-m", "climb_assets.cli", "run", "--select", "climbmix",
                                   "--force"], env=env, capture_output=True, text=True, timeout=600)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    # The same configuration by `climb run`, killed (SIGKILL) three times on the way and resumed each time.
    cli_env = {k: v for k, v in env.items() if k not in ("DAGSTER_HOME", "CLIMB_HOME")}
    command = [sys.executable, "-m", "climb_assets.cli", "run", "--config", str(root / "climb.yaml"),
               "--home", str(root / "cli_home")]
    resumed = [_run_until_killed(command, cli_env, pattern) for pattern in KILL_POINTS]
    done = subprocess.run(command, env=cli_env, capture_output=True, text=True, timeout=BACKFILL_SECONDS)
    assert done.returncode == 0, done.stderr[-3000:]
    return {"root": root, "status": status, "runs": runs, "events": events, "log": log, "followed": followed,
            "fresh": fresh, "resumed": resumed, "done": done.stdout + done.stderr}  # Dagster logs to stderr


# Where the interrupted `climb run` is killed: while the second shard is embedded, while ClimbLab is being written
# (one shard of two done), and inside round 1 of the search (one proxy of the round trained).
KILL_POINTS = ["embeddings - embedding with", "climblab - climblab: news_0.jsonl done", "search score"]


def _run_until_killed(command: list[str], env: dict, pattern: str) -> str:
    """Run `command` until a line of its output matches `pattern` (the second time for the embedder, which
    logs once per shard), then SIGKILL its process group; its output up to then."""
    wanted = 2 if pattern.startswith("embeddings") else 1
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    lines, seen = [], 0
    for line in process.stdout:
        lines.append(line)
        seen += pattern in line
        if seen == wanted:
            os.killpg(process.pid, signal.SIGKILL)
            break
    process.wait(timeout=60)
    output = "".join(lines)
    assert process.returncode == -signal.SIGKILL, f"never reached {pattern!r}:\n{output[-3000:]}"
    return output


def test_climb_run_follows_the_daemon_serving_its_instance(materialised_all):
    """With `dagster dev` up on the same instance, `climb run` finds nothing stale after "Materialize all";
    `--force` launches its backfill there and follows it."""
    fresh = materialised_all["fresh"]
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    assert "climbmix: fresh" in fresh.stdout and "0 asset partition(s) to materialise" in fresh.stdout
    followed = materialised_all["followed"]
    assert followed.returncode == 0, followed.stderr[-3000:]
    assert "carried out by this instance's Dagster daemon" in followed.stdout
    assert "climbmix: ok in" in followed.stdout


def test_a_killed_run_resumes_where_it_stopped(materialised_all):
    """Each resumed `climb run` re-runs only what the killed one had not committed: the second shard (the first
    shard's embeddings are fresh), then ClimbLab alone (the clustering before it is fresh), then round 1's proxy
    runs, whose finished proxies come from the cache."""
    first, second, third = materialised_all["resumed"]  # killed mid-embedding, mid-ClimbLab, mid-round
    assert "embeddings: 2 to run (missing)" in first
    assert "embeddings: 1 to run (missing), 1 fresh" in second and "documents: fresh" in second
    assert "climblab: 1 to run (missing)" in third and "super_clusters: fresh" in third
    done = materialised_all["done"]
    assert "search/round_1/proxy_runs: 1 to run (missing)" in done and "climblab: fresh" in done
    assert "search/round_1/candidate_mixtures: fresh" in done
    reused = [int(m) for m in re.findall(r"round 1: \d+ runs \((\d+) reused\)", done)]
    assert reused and reused[0] >= 1, done[-3000:]


PROVENANCE = {"storage_root", "version", "climblab_version"}  # where and which commit: differ between two homes


def _data_files(folder: Path) -> dict[str, bytes]:
    """Every file of a storage folder but the commit manifests, the timing statistics and ClimbMix's card (it
    lists the provenance file's checksum); ClimbMix's provenance without the storage root and commit ids."""
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.name in ("_manifest.json", "stats.json", "README.md"):
            continue
        data = path.read_bytes()
        if path.name == "climbmix.json":
            data = json.dumps(_without(json.loads(data), PROVENANCE), sort_keys=True).encode()
        files[str(path.relative_to(folder))] = data
    return files


def _without(value, keys: set[str]):
    if isinstance(value, dict):
        return {k: _without(v, keys) for k, v in value.items() if k not in keys}
    return [_without(v, keys) for v in value] if isinstance(value, list) else value


@pytest.mark.parametrize("asset", ["climblab", "optimal_mixture", "climbmix"])
def test_the_resumed_run_writes_the_same_bytes_as_the_uninterrupted_one(materialised_all, asset):
    """ClimbLab (Parquet and token stores), the optimal mixture and ClimbMix (its Parquet shards and provenance)
    of the killed-and-resumed `climb run` are byte for byte those of the uninterrupted "Materialize all"."""
    root = materialised_all["root"]
    ui, cli = _data_files(root / "ui_home" / asset), _data_files(root / "cli_home" / asset)
    assert ui and sorted(ui) == sorted(cli)
    assert [name for name in ui if ui[name] != cli[name]] == []
    if asset == "climbmix":
        assert any(name.endswith(".parquet") for name in ui)


def _optimal(home: Path) -> dict:
    return json.loads((home / "optimal_mixture" / "optimal_mixture.json").read_text())


def test_backfill_completes_without_a_failed_run(materialised_all):
    runs = materialised_all["runs"]
    assert materialised_all["status"] == "COMPLETED_SUCCESS", materialised_all["log"].read_text()[-3000:]
    assert runs and all(r["status"] == "SUCCESS" for r in runs), runs


def test_every_asset_materialised_climbmix_included(materialised_all):
    events = materialised_all["events"]
    assert all(events.values()), [key for key, found in events.items() if not found]
    assert {e["partition"] for e in events["documents"]} == {"news_0.jsonl", "news_1.jsonl"}
    assert events["climbmix"] and (materialised_all["root"] / "ui_home" / "climbmix" / "README.md").exists()


def test_rounds_ran_in_order(materialised_all):
    """Four rounds in the lineage; each round's candidates after the previous round's predictor, the optimal
    mixture after the last one (materialisation timestamps)."""
    events = materialised_all["events"]
    rounds = sorted({key.split("/")[1] for key in events if key.startswith("search/round_")})
    assert rounds == ["round_1", "round_2", "round_3", "round_4"]

    def at(key: str) -> float:
        return min(float(e["timestamp"]) for e in events[key])

    for r in range(2, 5):
        assert at(f"search/round_{r}/candidate_mixtures") > at(f"search/round_{r - 1}/predictor")
    assert at("optimal_mixture") > at("search/round_4/predictor") and at("climbmix") > at("optimal_mixture")


def test_answer_finds_the_topic_and_matches_climb_run(materialised_all):
    """At least half of the optimal weight on the Sports super-clusters; `climb run` gives the same weights."""
    root = materialised_all["root"]
    ui, cli = _optimal(root / "ui_home"), _optimal(root / "cli_home")
    assert ui["weights"] == cli["weights"]
    counts = duckdb.sql(
        f"SELECT c.cluster_id, d.label, count(*) AS n FROM read_parquet('{root}/ui_home/climblab/data/*/*.parquet') c "
        f"JOIN read_parquet('{root}/ui_home/documents/*/documents.parquet') d USING (id) GROUP BY 1, 2 ORDER BY 3"
    ).fetchall()
    majority = {str(cluster): label for cluster, label, _ in counts}  # the largest count last wins
    on_sports = sum(w for cluster, w in ui["weights"].items() if majority[cluster] == "Sports")
    assert on_sports >= 0.5, (ui["weights"], majority)

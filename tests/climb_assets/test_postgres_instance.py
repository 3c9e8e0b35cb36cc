"""The production instance, locally: a private PostgreSQL server holds the run, event and schedule storage
(dagster-postgres, as the Helm chart configures it), runs go through the QueuedRunCoordinator's queue, steps run
in the multiprocess executor, and the `gpu` pool is limited to 1 by the instance's `concurrency` block.
`climb run` materialises a small demo pipeline there. Asserted: every run queued and successful; every asset
materialised; no two steps of the `gpu` pool overlapped (event-log timestamps), while one did wait for the pool;
`climb status` reads the same materialisations from PostgreSQL.

The server (initdb in a temporary folder, a free loopback port) is stopped at the end. The test skips, saying
why, where PostgreSQL is not installed (`.ci/run` installs it on Debian) or does not start."""

import glob
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import dagster as dg
import pytest

from climb.demo.corpus import generate_demo_corpus
from climb_assets.deployment import GPU_POOL
from tests.climb_assets.test_ui_end_to_end import _free_port
from tests.conftest import REPO

pytest.importorskip("dagster_postgres", reason="dagster-postgres is not installed")

SHARD = "news_00.jsonl"  # one shard of a 600-document demo corpus (120 documents: three super-clusters)
CONFIG = """
corpus: {{paths: ["{corpus}/{shard}"], id_field: id, metadata_fields: [domain]}}
embedding: {{max_length: 32}}
clustering: {{k_init: 8, prune: none, target_super_clusters: 3}}
tokenizer: {{train_vocab_size: 512}}
search: {{rounds: [3], pool_size: 100, top_n: 5, baselines: [uniform], final_verify_runs: 1}}
proxy: {{preset: tiny, tokens: 2048, sequence_length: 32, batch_size: 8}}
export: {{tokens: 20000}}
target: {{text: ["{target}/*.jsonl"], holdout_fraction: 0.3, max_windows: 8}}
deployment: {{executor: multiprocess, max_concurrent: 2}}
"""
# The sections deploy/helm/values.yaml makes the chart write (deploy/README.md), with this server's address: the
# psycopg2 scheme (SQLAlchemy 2.1 defaults to psycopg 3, which dagster-postgres's NOTIFY does not work with), the
# run limit in `concurrency.runs` (Dagster refuses it in the queued coordinator's config beside this block).
INSTANCE = """telemetry: {{enabled: false}}
storage:
  postgres:
    postgres_db: {{username: {user}, password: "", hostname: 127.0.0.1, port: {port}, db_name: dagster,
                  scheme: postgresql+psycopg2}}
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
concurrency:
  pools: {{default_limit: 1, granularity: op}}
  runs: {{max_concurrent_runs: 4}}
"""
PG_USER = "climb"
# The code location as this configuration loads it (rounds are assets: the test process's own import of the
# definitions may hold another configuration): its assets and the ops of the `gpu` pool.
DEFINITIONS = """import json
from climb_assets.definitions import defs
from climb_assets.deployment import GPU_POOL
graph = defs.resolve_asset_graph()
print(json.dumps({"assets": [k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).is_materializable],
                  "gpu_ops": sorted({op.name for node in graph.assets_defs for op in node.node_def.iterate_op_defs()
                                     if op.pool == GPU_POOL})}))
"""
STARTED = {dg.DagsterEventType.STEP_START}
ENDED = {dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}


def _postgres_bin() -> Path:
    """The server's binaries: initdb's folder (links resolved) if on PATH, else Debian's newest
    /usr/lib/postgresql/<version>/bin (Debian puts only wrappers on PATH)."""
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    on_path = [str(Path(shutil.which("initdb")).resolve())] if shutil.which("initdb") else []
    for initdb in on_path + debian[::-1]:
        if all((Path(initdb).parent / tool).exists() for tool in ("pg_ctl", "createdb")):
            return Path(initdb).parent
    pytest.skip("PostgreSQL is not installed (no initdb, pg_ctl and createdb; on Debian: apt-get install postgresql)")


def _server_user() -> dict:
    """postgres refuses to run as root: as root, run it as the `postgres` user the Debian package creates."""
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root, and there is no `postgres` user to run the PostgreSQL server as")
    return {"user": "postgres", "group": pwd.getpwnam("postgres").pw_gid}


@pytest.fixture(scope="module")
def postgres():
    """A private server on a free loopback port (trust authentication, fsync off), database `dagster` created;
    stopped and deleted afterwards."""
    bin_dir, as_user = _postgres_bin(), _server_user()
    root = Path(tempfile.mkdtemp(prefix="climb-pg-"))  # not under pytest's tmp: the server's user must enter it
    if as_user:
        os.chown(root, pwd.getpwnam("postgres").pw_uid, as_user["group"])
    data, port = root / "data", _free_port()

    def pg(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(bin_dir / args[0]), *args[1:]], capture_output=True, text=True, timeout=120,
                              **as_user)

    started = None
    try:
        made = pg("initdb", "-D", str(data), "-U", PG_USER, "--auth=trust", "-E", "UTF8", "--no-sync")
        if made.returncode == 0:
            started = pg("pg_ctl", "-D", str(data), "-l", str(root / "server.log"), "-w", "-t", "60", "-o",
                         f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        if made.returncode or started.returncode:
            log = (root / "server.log").read_text()[-1500:] if (root / "server.log").exists() else ""
            pytest.skip(f"PostgreSQL did not start: {(made.stderr + (started.stderr if started else ''))[-800:]}"
                        f"{log}")
        created = pg("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", PG_USER, "dagster")
        assert created.returncode == 0, created.stderr
        yield {"port": port, "user": PG_USER}
    finally:
        if started is not None and started.returncode == 0:
            pg("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def _climb(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "climb_assets.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def pipeline(postgres, tmp_path_factory):
    """The small demo pipeline by `climb run` on the PostgreSQL instance, then `climb status --json`."""
    root = tmp_path_factory.mktemp("postgres_instance")
    demo = root / "demo"
    generate_demo_corpus(demo, seed=0, n_documents=600, n_target_documents=20)
    (root / "climb.yaml").write_text(CONFIG.format(corpus=demo / "corpus", shard=SHARD, target=demo / "target"))
    (root / "dagster_home").mkdir()
    (root / "dagster_home" / "dagster.yaml").write_text(INSTANCE.format(**postgres))
    env = {k: v for k, v in os.environ.items() if k not in ("CLIMB_CONFIG", "CLIMB_HOME", "CLIMB_EXECUTOR")}
    env["DAGSTER_HOME"] = str(root / "dagster_home")
    common = ["--config", str(root / "climb.yaml"), "--home", str(root / "home")]
    done = _climb("run", *common, env=env)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    status = _climb("status", "--json", *common, env=env)
    assert status.returncode == 0, status.stderr[-3000:]
    loaded = subprocess.run([sys.executable, "-c", DEFINITIONS], cwd=REPO, capture_output=True, text=True, timeout=300,
                            env={**env, "CLIMB_CONFIG": str(root / "climb.yaml"), "CLIMB_HOME": str(root / "home")})
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    return {"root": root, "run": done.stdout, "status": json.loads(status.stdout)["assets"],
            "definitions": json.loads(loaded.stdout)}


@pytest.fixture(scope="module")
def instance(pipeline):
    from dagster._core.instance.ref import InstanceRef

    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(pipeline["root"] / "dagster_home"))) as opened:
        yield opened


def _gpu_steps(instance, gpu_ops: list[str]) -> list[tuple[float, float, str]]:
    """(start, end, step key) of every step of the `gpu` pool, in every run, from the event log."""
    spans = []
    for run in instance.get_runs():
        times: dict[str, dict] = {}
        for record in instance.get_records_for_run(run.run_id, of_type=STARTED | ENDED).records:
            entry = record.event_log_entry
            side = "start" if entry.dagster_event.event_type in STARTED else "end"
            times.setdefault(entry.step_key, {})[side] = entry.timestamp
        for step, at in times.items():
            if step.split(".")[-1].split("[")[0] in gpu_ops:  # search__round_1__proxy_runs.train_round_1[0]
                spans.append((at["start"], at["end"], step))
    return sorted(spans)


def test_the_instance_is_postgres_with_a_gpu_pool_of_one(instance):
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
    assert instance.event_log_storage.get_concurrency_info(GPU_POOL).slot_count == 1


def test_every_run_went_through_the_queue_and_succeeded(instance, pipeline):
    runs = instance.get_runs()
    assert len(runs) == 4, pipeline["run"]  # the shard, clustering, its assignments, the rest
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs), pipeline["run"]
    for run in runs:
        assert instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_ENQUEUED).records, run.run_id
    assert "carried out in this process" in pipeline["run"]


def test_every_asset_materialised(pipeline):
    status = pipeline["status"]
    assert set(status) == set(pipeline["definitions"]["assets"])
    assert [name for name, entry in status.items() if not entry["materialized"]] == []
    assert (pipeline["root"] / "home" / "climbmix" / "README.md").exists()


def test_no_two_gpu_steps_overlapped(instance, pipeline):
    """Embeddings, centroids, each proxy run and the optimal mixture's verification held the pool's one slot in
    turn; the proxy runs were ready together (max_concurrent 2), so the pool, not chance, kept them apart."""
    gpu_ops = pipeline["definitions"]["gpu_ops"]
    assert gpu_ops == ["centroids", "embeddings", "optimal_mixture", "train_round_1"]
    spans = _gpu_steps(instance, gpu_ops)
    assert {step.split(".")[-1].split("[")[0] for _, _, step in spans} == set(gpu_ops), spans
    assert sum(".train_round_1[" in step for _, _, step in spans) == 3
    overlaps = [(a[2], b[2]) for a, b in zip(spans, spans[1:]) if b[0] < a[1]]
    assert overlaps == [], spans
    blocked = [record for run in instance.get_runs() for record in instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT).records
        if f"blocked by limit for pool {GPU_POOL}" in (record.event_log_entry.dagster_event.message or "")]
    assert blocked, "no step ever waited for the gpu pool: the test would pass without a limit"


def test_climb_status_reads_the_same_materialisations(instance, pipeline):
    """`climb status --json` (its own process, the same dagster.yaml) reports what the PostgreSQL event log holds:
    each asset's latest metadata names, the shard partition, passed checks."""
    status = pipeline["status"]
    for name, entry in status.items():
        key = dg.AssetKey.from_user_string(name)
        latest = instance.fetch_materializations(key, limit=1).records
        assert latest, name
        if "partitions" in entry:
            assert list(entry["partitions"]) == [SHARD]
            assert set(entry["partitions"][SHARD]["metadata"]) == set(latest[0].asset_materialization.metadata)
        else:
            assert set(entry["metadata"]) == set(latest[0].asset_materialization.metadata), name
    failed = {f"{name}:{check}" for name, entry in status.items() for check, result in entry["checks"].items()
              if result["failed"] and check != "predictor_ranks_mixtures"}  # a warning on 3 points, not a failure
    assert failed == set()

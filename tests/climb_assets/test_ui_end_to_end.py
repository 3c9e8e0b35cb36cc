"""The Dagster UI end to end: a real `dagster-webserver` on `workspace.yaml`, driven over GraphQL as the
UI drives it. Shards are registered, `documents` is launched for two demo shards, and the stored
materialisations and `accounting_balances` results must match what the demo corpus was built with."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from climb.core.config import DEFAULT_CONFIG_PATH
from climb.demo.corpus import SHARD_NAMES, generate_demo_corpus

REPO = Path(__file__).resolve().parents[2]
LOCATION = {"repositoryLocationName": "climb", "repositoryName": "__repository__"}
# Launched runs start at once (the default queued coordinator needs the daemon, which this test does not run).
INSTANCE_YAML = """telemetry:
  enabled: false
run_coordinator:
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
"""
DEFECTS, DUPLICATES = SHARD_NAMES[0], SHARD_NAMES[4]  # quarantined records; duplicates and short texts
LAUNCHED = (DEFECTS, DUPLICATES)
STARTUP_SECONDS, RUN_SECONDS = 90, 150

LAUNCH_RUN = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on RunConfigValidationInvalid { errors { message } } ... on InvalidSubsetError { message } } }"""
RUN_STATUS = """query($runId: ID!) { runOrError(runId: $runId) { ... on Run { status } } }"""
RUN_LOGS = """query($runId: ID!) { logsForRun(runId: $runId, limit: 1000) { ... on EventConnection {
  events { ... on MessageEvent { message } ... on ExecutionStepFailureEvent { error { message } } } } } }"""
MATERIALISATIONS = """query { assetOrError(assetKey: {path: ["documents"]}) { ... on Asset {
  assetMaterializations { partition runId
    metadataEntries { label ... on IntMetadataEntry { intValue } } } } } }"""
CHECK_EXECUTIONS = """query { assetCheckExecutions(assetKey: {path: ["documents"]},
  checkName: "accounting_balances", limit: 10) { partition runId status evaluation { success } } }"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(url: str, query: str, **variables) -> dict:
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.load(response)
    assert not answer.get("errors"), answer["errors"]
    return answer["data"]


def _wait_until_loaded(url: str, server: subprocess.Popen, log: Path) -> None:
    """The server answers and the `climb` code location has loaded (or the test fails with its log)."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        assert server.poll() is None, f"dagster-webserver exited: {log.read_text()[-3000:]}"
        try:
            data = graphql(url, """query { workspaceOrError { ... on Workspace { locationEntries {
                name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }""")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
            continue
        entries = {e["name"]: e for e in data["workspaceOrError"]["locationEntries"]}
        entry = entries.get("climb")
        if entry and entry["loadStatus"] == "LOADED":
            assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry
            return
        time.sleep(0.5)
    pytest.fail(f"the code location did not load in {STARTUP_SECONDS} s: {log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    """`dagster-webserver -w workspace.yaml` on a free loopback port, with the demo corpus and a fresh instance."""
    beside_python = shutil.which("dagster-webserver", path=str(Path(sys.executable).parent))
    binary = beside_python or shutil.which("dagster-webserver")
    if binary is None:
        pytest.skip("dagster-webserver is not installed")
    root = tmp_path_factory.mktemp("ui")
    manifest = generate_demo_corpus(root / "home" / "demo", seed=0, n_documents=200, n_target_documents=20)
    (root / "dagster_home").mkdir()
    (root / "dagster_home" / "dagster.yaml").write_text(INSTANCE_YAML)
    env = {**os.environ, "CLIMB_HOME": str(root / "home"), "CLIMB_CONFIG": str(DEFAULT_CONFIG_PATH),
           "DAGSTER_HOME": str(root / "dagster_home"), "CLIMB_EXECUTOR": "in_process"}
    port = _free_port()
    log = root / "webserver.log"
    with open(log, "wb") as sink:
        server = subprocess.Popen(
            [binary, "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/graphql"
    try:
        _wait_until_loaded(url, server, log)
        yield {"url": url, "port": port, "manifest": manifest}
    finally:
        server.terminate()  # the webserver stops its code server on SIGTERM
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
            server.wait()


@pytest.fixture(scope="module")
def launched(webserver):
    """Register every demo shard, launch `documents` (with its checks) for two of them, wait for both."""
    url = webserver["url"]
    for shard in SHARD_NAMES:
        added = graphql(url, """mutation($key: String!, $repo: RepositorySelector!) {
            addDynamicPartition(partitionKey: $key, partitionsDefName: "shards", repositorySelector: $repo) {
            __typename ... on PythonError { message } } }""", key=shard, repo=LOCATION)["addDynamicPartition"]
        assert added["__typename"] == "AddDynamicPartitionSuccess", added
    runs = {}
    for shard in LAUNCHED:
        params = {"selector": {**LOCATION, "jobName": "climb_shards", "assetSelection": [{"path": ["documents"]}]},
                  "executionMetadata": {"tags": [{"key": "dagster/partition", "value": shard}]}}
        result = graphql(url, LAUNCH_RUN, params=params)["launchRun"]
        assert result["__typename"] == "LaunchRunSuccess", result
        runs[shard] = result["run"]["runId"]
    deadline = time.monotonic() + RUN_SECONDS
    pending = dict(runs)
    while pending and time.monotonic() < deadline:
        for shard, run_id in list(pending.items()):
            status = graphql(url, RUN_STATUS, runId=run_id)["runOrError"]["status"]
            if status in ("FAILURE", "CANCELED"):
                events = graphql(url, RUN_LOGS, runId=run_id)["logsForRun"]["events"]
                messages = [e.get("message") or (e.get("error") or {}).get("message") for e in events if e]
                pytest.fail(f"run for {shard} ended {status}:\n" + "\n".join(m for m in messages if m)[-4000:])
            if status == "SUCCESS":
                del pending[shard]
        time.sleep(0.5)
    assert not pending, f"runs still going after {RUN_SECONDS} s: {pending}"
    return runs


def _listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as the kernel writes them) of the sockets listening on `port`."""
    addresses = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                addresses.add(address)
    return addresses


def test_server_binds_loopback_only(webserver):
    """Every socket the webserver listens on is bound to 127.0.0.1 (or ::1), none to all interfaces."""
    if not os.path.exists("/proc/net/tcp"):
        pytest.skip("needs Linux's /proc/net/tcp to read bound addresses")
    addresses = _listening_addresses(webserver["port"])
    loopback = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1 and ::1, little-endian words
    assert addresses and addresses <= loopback, addresses


def test_materialisations_report_the_shards_accounting(webserver, launched):
    """Each launched shard has one materialisation whose counts are the demo corpus's: every record
    accounted, the four broken ones quarantined, the three copies and two short texts set aside."""
    assets = graphql(webserver["url"], MATERIALISATIONS)["assetOrError"]["assetMaterializations"]
    by_partition = {m["partition"]: m for m in assets}
    assert set(by_partition) == set(LAUNCHED)
    expected, written = webserver["manifest"].expected, webserver["manifest"].shards
    wanted = {
        DEFECTS: {"input_records": written[DEFECTS], "kept": written[DEFECTS] - expected["quarantined"],
                  "filtered": 0, "duplicates": 0, "quarantined": expected["quarantined"]},
        DUPLICATES: {"input_records": written[DUPLICATES], "filtered": expected["short"],
                     "duplicates": expected["duplicates"], "quarantined": 0,
                     "kept": written[DUPLICATES] - expected["short"] - expected["duplicates"]},
    }
    for shard, counts in wanted.items():
        materialisation = by_partition[shard]
        assert materialisation["runId"] == launched[shard]
        metadata = {e["label"]: e.get("intValue") for e in materialisation["metadataEntries"]}
        assert {k: metadata[k] for k in counts} == counts, (shard, metadata)
        assert metadata["dagster/row_count"] == counts["kept"]


def test_accounting_check_passed_in_each_run(webserver, launched):
    """The blocking `accounting_balances` check ran in the same run as each materialisation and passed."""
    executions = graphql(webserver["url"], CHECK_EXECUTIONS)["assetCheckExecutions"]
    by_partition = {e["partition"]: e for e in executions}
    assert set(by_partition) == set(LAUNCHED), executions
    for shard, run_id in launched.items():
        execution = by_partition[shard]
        assert execution["runId"] == run_id
        assert execution["status"] == "SUCCEEDED" and execution["evaluation"]["success"] is True, execution

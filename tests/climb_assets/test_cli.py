"""The `climb` command as a user runs it: real subprocesses, a persistent instance, exit codes."""

import csv
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest


COUNTS = ("input_records", "kept", "filtered", "duplicates", "quarantined")


def climb(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "climb_assets.cli", *args], env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture()
def user_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("CLIMB_CONFIG", "CLIMB_HOME", "DAGSTER_HOME")}
    env["CLIMB_HOME"] = str(tmp_path / "home")
    return env


def _mixed_folder(root):
    """Valid and broken JSONL, JSONL.gz, Parquet and CSV files; returns the number of broken rows."""
    root.mkdir()
    good = [{"id": f"g{i}", "text": f"a perfectly ordinary news article number {i} with words"} for i in range(30)]
    lines = [json.dumps(d) for d in good[:10]] + [
        '{"id": "bad1", "text": "unterminated',        # malformed_json
        '["a", "list"]',                               # not_an_object
        '{"id": "bad3"}',                              # missing_text
        '{"id": "bad4", "text": 12}',                  # non_string_text
        '{"id": "bad5", "text": "   "}',               # empty_text
    ]
    (root / "a.jsonl").write_text("\n".join(lines) + "\n")
    gz_lines = [json.dumps(d).encode() for d in good[10:20]] + [b'{"id": "bad6", "text": "caf\xe9 au lait in latin-1"}']
    (root / "b.jsonl.gz").write_bytes(gzip.compress(b"\n".join(gz_lines) + b"\n"))   # undecodable_bytes
    pq.write_table(pa.Table.from_pylist(good[20:25] + [{"id": "bad7", "text": None}]), root / "c.parquet")
    with open(root / "d.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        for d in good[25:30]:
            writer.writerow([d["id"], d["text"]])
        writer.writerow(["bad8", "too", "many", "fields"])                            # malformed_csv
    return 8


def test_run_until_documents_on_mixed_broken_files(tmp_path, user_env):
    """`climb run --until documents` quarantines every broken row and status balances; a rerun materialises
    nothing, an edited file re-runs its shard alone (the last in key order), `--force` re-runs every shard."""
    broken = _mixed_folder(tmp_path / "corpus")
    config = tmp_path / "climb.yaml"
    config.write_text("corpus:\n  paths: ['corpus/*']\n  id_field: id\n")
    first = climb("run", "--config", str(config), "--until", "documents", env=user_env)
    assert first.returncode == 0, first.stderr
    status = json.loads(climb("status", "--json", "--config", str(config), env=user_env).stdout)
    documents = status["assets"]["documents"]
    totals = documents["metadata"]
    assert documents["materialized"] and len(documents["partitions"]) == 4
    assert totals["input_records"] == totals["kept"] + totals["filtered"] + totals["duplicates"] + totals["quarantined"]
    assert (totals["kept"], totals["quarantined"]) == (30, broken)
    reasons = []
    for shard in ("a.jsonl", "b.jsonl.gz", "c.parquet", "d.csv"):
        table = pq.read_table(f"{user_env['CLIMB_HOME']}/documents/{shard}/quarantine.parquet").to_pylist()
        reasons += [(shard, r["reason"], r["row"]) for r in table]
    assert sorted(reasons) == sorted([
        ("a.jsonl", "quarantine:malformed_json", 11), ("a.jsonl", "quarantine:not_an_object", 12),
        ("a.jsonl", "quarantine:missing_text", 13), ("a.jsonl", "quarantine:non_string_text", 14),
        ("a.jsonl", "quarantine:empty_text", 15), ("b.jsonl.gz", "quarantine:undecodable_bytes", 11),
        ("c.parquet", "quarantine:missing_text", 5), ("d.csv", "quarantine:malformed_csv", 7),
    ])
    assert documents["checks"]["accounting_balances"]["failed"] == 0
    _assert_one_backfill_per_run(user_env["CLIMB_HOME"], shards=[["a.jsonl", "b.jsonl.gz", "c.parquet", "d.csv"]])
    second = climb("run", "--config", str(config), "--until", "documents", env=user_env)
    assert second.returncode == 0, second.stderr
    assert "documents: fresh" in second.stdout and "0 asset partition(s) to materialise" in second.stdout
    again = json.loads(climb("status", "--json", "--config", str(config), env=user_env).stdout)
    assert {k: again["assets"]["documents"]["metadata"][k] for k in COUNTS} == {k: totals[k] for k in COUNTS}
    with open(tmp_path / "corpus" / "d.csv", "a", newline="") as handle:
        csv.writer(handle).writerow(["g30", "one more ordinary news article with enough words in it"])
    edited = climb("run", "--config", str(config), "--until", "documents", env=user_env)
    assert edited.returncode == 0, edited.stderr
    assert "documents: 1 to run (the files it reads changed), 3 fresh" in edited.stdout
    forced = climb("run", "--config", str(config), "--until", "documents", "--force", env=user_env)
    assert forced.returncode == 0, forced.stderr
    _assert_one_backfill_per_run(user_env["CLIMB_HOME"], shards=[["a.jsonl", "b.jsonl.gz", "c.parquet", "d.csv"],
                                                                  ["d.csv"], ["a.jsonl", "b.jsonl.gz", "c.parquet",
                                                                              "d.csv"]])
    final = json.loads(climb("status", "--json", "--config", str(config), env=user_env).stdout)
    assert final["assets"]["documents"]["metadata"]["kept"] == totals["kept"] + 1


def _assert_one_backfill_per_run(home: str, *, shards: list[list[str]]) -> None:
    """Each `climb run` that had something to do is one asset backfill on the instance (as the UI's
    "Materialize changed and missing"), completed, with one Dagster run per shard it re-ran (`shards`, oldest
    backfill first), tagged as launched from the CLI."""
    import dagster as dg

    from climb_assets.backfills import backfill_runs

    with dg.DagsterInstance.from_config(f"{home}/dagster") as instance:
        # the instance `climb` created keeps every run's events in one database, not one per run
        assert type(instance.event_log_storage).__name__ == "ClimbSqliteEventLogStorage"
        assert not (Path(home) / "dagster" / "history" / "runs").exists()
        backfills = sorted(instance.get_backfills(), key=lambda b: b.backfill_timestamp)
        assert len(backfills) == len(shards)
        for backfill, expected in zip(backfills, shards):
            assert backfill.status.value == "COMPLETED_SUCCESS" and backfill.tags["climb/launched_by"] == "cli"
            partitions = [r.tags.get("dagster/partition") for r in backfill_runs(instance, backfill.backfill_id)]
            assert sorted(partitions) == expected


def test_an_existing_instance_keeps_its_settings(tmp_path, monkeypatch):
    """`climb` writes dagster.yaml for a new instance only: one a user (or an older climb) made is left as is."""
    from climb_assets.cli.running import prepare_environment

    for name in ("CLIMB_CONFIG", "CLIMB_HOME"):  # prepare_environment sets them: restored after the test
        monkeypatch.setenv(name, "")
    (tmp_path / "climb.yaml").write_text("corpus:\n  paths: ['*.jsonl']\n")
    existing, new = tmp_path / "existing", tmp_path / "new"
    existing.mkdir()
    (existing / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    for home in (existing, new):
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        prepare_environment(str(tmp_path / "climb.yaml"), str(tmp_path / "climb_home"))
    assert (existing / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"
    assert "ClimbSqliteEventLogStorage" in (new / "dagster.yaml").read_text()
    assert "ClimbSqliteRunStorage" in (new / "dagster.yaml").read_text()


@pytest.mark.parametrize(
    "args, config_text, message",
    [
        (["run", "--until", "nonsense"], "corpus:\n  paths: ['*.jsonl']\n", "--until nonsense: no such asset"),
        (["run"], "corpus:\n  paths: ['nowhere/*.jsonl']\n", "corpus.paths[0]: 'nowhere/*.jsonl'"),
        (["run"], "corpus:\n  paths: ['*.jsonl']\n  filters: {min_chars: ten}\n", "corpus.filters.min_chars"),
        (["status"], "corpuz:\n  paths: ['*.jsonl']\n", "corpuz: unknown key; did you mean 'corpus'?"),
    ],
)
def test_errors_exit_nonzero_with_one_line(tmp_path, user_env, args, config_text, message):
    """Bad input exits 1 with a one-line reason naming the key or argument."""
    (tmp_path / "x.jsonl").write_text('{"text": "hello there, a document long enough"}\n')
    config = tmp_path / "climb.yaml"
    config.write_text(config_text)
    done = climb(*args, "--config", str(config), env=user_env)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("climb: error:") and message in lines[0], done.stderr


def test_unreadable_shard_fails_alone(tmp_path, user_env):
    """A wholly unreadable file fails its shard and the command (exit 1, naming it); other shards land."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a_broken.parquet").write_bytes(b"PAR1 not really parquet")
    (corpus / "b_good.jsonl").write_text('{"text": "a good document with enough words in it"}\n')
    config = tmp_path / "climb.yaml"
    config.write_text("corpus:\n  paths: ['corpus/*']\n")
    done = climb("run", "--config", str(config), env=user_env)
    assert done.returncode == 1
    assert "a_broken.parquet: not a readable Parquet file" in done.stderr.strip().splitlines()[-1]
    status = json.loads(climb("status", "--json", "--config", str(config), env=user_env).stdout)
    documents = status["assets"]["documents"]
    assert list(documents["partitions"]) == ["b_good.jsonl"] and documents["metadata"]["kept"] == 1
    assert documents["checks"]["accounting_balances"] == {"passed": 1, "failed": 0, "not_evaluated": 0}


class _Exec(Exception):
    """Raised by the stand-in for os.execvp, carrying the command line `climb ui` would run."""


@pytest.mark.parametrize("extra, host", [([], "127.0.0.1"), (["--host", "0.0.0.0"], "0.0.0.0")])
def test_ui_binds_loopback_unless_host_given(tmp_path, monkeypatch, extra, host):
    """`climb ui` runs `dagster dev` bound to 127.0.0.1; only an explicit --host widens it."""
    from climb_assets import cli

    (tmp_path / "x.jsonl").write_text('{"text": "hello there, a document long enough"}\n')
    config = tmp_path / "climb.yaml"
    config.write_text("corpus:\n  paths: ['*.jsonl']\n")
    for name, value in (("CLIMB_CONFIG", config), ("CLIMB_HOME", tmp_path / "home"),
                        ("DAGSTER_HOME", tmp_path / "dagster_home")):
        monkeypatch.setenv(name, str(value))  # cmd_ui exports these; monkeypatch restores them

    def execvp(program, command):
        raise _Exec(command)

    monkeypatch.setattr(cli.os, "execvp", execvp)
    with pytest.raises(_Exec) as launched:
        cli.main(["ui", "--port", "3123", *extra])
    command = launched.value.args[0]
    assert command[:2] == ["dagster", "dev"]
    assert command[command.index("-h") + 1] == host and command[command.index("-p") + 1] == "3123"
    assert (tmp_path / "dagster_home" / "workspace.yaml").exists()

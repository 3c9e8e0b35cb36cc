"""The local instance's storages: Dagster's SQLite run storage and consolidated event log, one engine per process."""

import time

import dagster as dg
import pytest
import sqlalchemy as db
from dagster._core.events import DagsterEvent, DagsterEventType, EngineEventData
from dagster._core.events.log import EventLogEntry

from climb_assets.instance_storage import ClimbSqliteEventLogStorage, ClimbSqliteRunStorage, instance_settings


def _engine_event(run_id: str, message: str) -> EventLogEntry:
    return EventLogEntry(error_info=None, level=20, user_message=message, run_id=run_id, timestamp=time.time(),
                         dagster_event=DagsterEvent(DagsterEventType.ENGINE_EVENT.value, "job",
                                                    event_specific_data=EngineEventData()))


def test_events_of_every_run_are_stored_and_read_back_in_order(tmp_path):
    storage = ClimbSqliteEventLogStorage(str(tmp_path))
    for i in range(6):
        storage.store_event(_engine_event(f"run-{i % 2}", f"event {i}"))
    assert [e.user_message for e in storage.get_logs_for_run("run-0")] == ["event 0", "event 2", "event 4"]
    assert [e.user_message for e in storage.get_logs_for_run("run-1")] == ["event 1", "event 3", "event 5"]
    # a second storage on the same folder (another process, the UI) sees them: one database, not one per run
    assert len(ClimbSqliteEventLogStorage(str(tmp_path)).get_logs_for_run("run-1")) == 3
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".db"] == ["event_log.db"]


@pytest.mark.parametrize("make", [lambda d: ClimbSqliteEventLogStorage(d), lambda d: ClimbSqliteRunStorage.from_local(d)],
                         ids=["event_log", "runs"])
def test_one_engine_per_process_in_wal_with_normal_sync(tmp_path, monkeypatch, make):
    storage = make(str(tmp_path))
    engine = storage._shared_engine()
    assert storage._shared_engine() is engine
    with storage._transaction() as connection:
        assert connection.execute(db.text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(db.text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    monkeypatch.setattr("os.getpid", lambda: -1)  # as in a forked step process: its own engine
    assert storage._shared_engine() is not engine


def test_an_instance_with_these_settings_runs_and_records_a_job(tmp_path):
    (tmp_path / "dagster.yaml").write_text(instance_settings(tmp_path))

    @dg.asset
    def numbers() -> list[int]:
        return [1, 2, 3]

    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert type(instance.run_storage).__name__ == "ClimbSqliteRunStorage"
        assert type(instance.event_log_storage).__name__ == "ClimbSqliteEventLogStorage"
        result = dg.materialize([numbers], instance=instance)
        assert result.success
        assert instance.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.SUCCESS
        assert instance.get_latest_materialization_event(dg.AssetKey("numbers")).run_id == result.run_id
    assert (tmp_path / "history" / "runs.db").exists() and (tmp_path / "event_log" / "event_log.db").exists()

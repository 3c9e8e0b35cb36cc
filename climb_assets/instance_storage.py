"""The local instance's storages: Dagster's SQLite run storage and consolidated event log, with two changes for
a pipeline that stores ~30 events and a few run updates per shard (docs/architecture.md, runs and backfills).

- one SQLAlchemy engine per process, instead of a new engine for every transaction;
- `synchronous=NORMAL` on their WAL databases, so a commit does not wait for the disk (SQLite's documented
  setting for WAL: the database stays consistent; a power cut, not a killed process, can lose the last
  events, and `climb run` re-plans from the storage root, not from the event log).

A cluster uses PostgreSQL instead (deploy/README.md).
"""

import json
import os
from contextlib import contextmanager
from pathlib import Path

from dagster._core.storage.event_log import ConsolidatedSqliteEventLogStorage
from dagster._core.storage.runs import SqliteRunStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy import event
from sqlalchemy.pool import NullPool


def _relaxed_sync(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class _OneEnginePerProcess:
    """Transactions on `self._conn_string` through one engine, made again in a forked process."""

    _engine, _engine_pid = None, None

    def _shared_engine(self):
        if self._engine is None or self._engine_pid != os.getpid():
            engine = create_engine(self._conn_string, poolclass=NullPool,
                                   connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
            event.listen(engine, "connect", _relaxed_sync)
            self._engine, self._engine_pid = engine, os.getpid()
        return self._engine

    @contextmanager
    def _transaction(self):
        with self._shared_engine().connect() as connection:
            with connection.begin():
                yield connection


class ClimbSqliteEventLogStorage(_OneEnginePerProcess, ConsolidatedSqliteEventLogStorage):
    """Every run's events in one SQLite database (`<base_dir>/event_log.db`)."""

    def _connect(self):
        return self._transaction()


class ClimbSqliteRunStorage(_OneEnginePerProcess, SqliteRunStorage):
    """Runs, backfills and daemon heartbeats in `<base_dir>/runs.db`, as Dagster's default run storage."""

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls.from_local(inst_data=inst_data, **config_value)

    def connect(self):
        return self._transaction()


# A new local instance: every run's events in one SQLite database, Dagster's default opening one per run (created
# and migrated when the run starts), which costs more than a small shard's own steps.
SETTINGS = """telemetry:
  enabled: false
run_storage:
  module: climb_assets.instance_storage
  class: ClimbSqliteRunStorage
  config:
    base_dir: {history}
event_log_storage:
  module: climb_assets.instance_storage
  class: ClimbSqliteEventLogStorage
  config:
    base_dir: {event_log}
"""


def instance_settings(dagster_home: Path) -> str:
    """The dagster.yaml of a new local instance: its runs in `history/` (Dagster's default place), events in
    `event_log/`."""
    home = dagster_home.resolve()
    return SETTINGS.format(history=json.dumps(str(home / "history")), event_log=json.dumps(str(home / "event_log")))

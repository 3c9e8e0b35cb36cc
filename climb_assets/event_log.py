"""The local instance's event log (docs/architecture.md, runs and backfills).

Dagster's consolidated SQLite event log, with two changes for a pipeline that stores ~30 events per shard:
one SQLAlchemy engine per process instead of one per statement batch, and `synchronous=NORMAL` on its WAL
database, so a commit no longer waits for the disk (SQLite's documented setting for WAL: the database stays
consistent; a power cut, not a killed process, can lose the last events, and `climb run` re-plans from the
storage root, not from the event log). A cluster uses PostgreSQL instead (deploy/README.md).
"""

import os
from contextlib import contextmanager

from dagster._core.storage.event_log import ConsolidatedSqliteEventLogStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy import event
from sqlalchemy.pool import NullPool


def _relaxed_sync(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class ClimbSqliteEventLogStorage(ConsolidatedSqliteEventLogStorage):
    """Every run's events in one SQLite database, written through one engine per process."""

    _engine, _engine_pid = None, None

    def _shared_engine(self):
        if self._engine is None or self._engine_pid != os.getpid():  # a forked step process makes its own
            engine = create_engine(self._conn_string, poolclass=NullPool,
                                   connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
            event.listen(engine, "connect", _relaxed_sync)
            self._engine, self._engine_pid = engine, os.getpid()
        return self._engine

    @contextmanager
    def _connect(self):
        with self._shared_engine().connect() as connection:
            with connection.begin():
                yield connection

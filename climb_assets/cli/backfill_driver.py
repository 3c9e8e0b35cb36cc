"""`climb run`'s asset backfill, carried out (docs/architecture.md, runs and backfills).

The backfill is the one the UI's "Materialize all" launches, on the same instance, so a CLI run shows in the
UI as one backfill with its runs. Where a Dagster daemon serves the instance (`dagster dev`, `climb ui`, a
cluster's daemon), the daemon carries it out and this process follows it. Elsewhere this process does the
daemon's work: Dagster's backfill iteration, back to back, then the run queue's dequeue (with the instance's
QueuedRunCoordinator, Dagster's default: its run limits apply); the runs launched go to `DeferredRunLauncher` and are
executed here right after (the code location's executor inside each run). Same planner, same queue, same runs, no
30 s daemon tick.
"""

import os
import socket
import sys
import time
from collections.abc import Callable

import dagster as dg
from dagster._core.execution.backfill import BulkActionStatus, BulkActionsFilter
from dagster._core.execution.api import execute_run
from dagster._core.instance.ref import InstanceRef
from dagster._core.launcher import LaunchRunContext, RunLauncher
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.backfill import execute_backfill_iteration
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon
from dagster._serdes import ConfigurableClass
from dagster._utils.hosted_user_process import recon_job_from_origin

from climb_assets.backfills import LAUNCHED_BY_TAG, TERMINAL, backfill_runs

LOCATION_NAME = "climb"  # as in workspace.yaml, so the UI lists these runs under the same code location
DRIVER_TAG = "climb/driver"  # host:pid of the `climb run` carrying a backfill out
FOLLOW_POLL_SECONDS = 2.0


class DeferredRunLauncher(RunLauncher, ConfigurableClass):
    """Launching a run only queues it: `drive` executes it in this process once the backfill iteration that
    requested it has returned (outside the iteration's event loop)."""

    def __init__(self, inst_data=None):
        self._inst_data, self.pending = inst_data, []
        super().__init__()

    @property
    def inst_data(self):
        return self._inst_data

    @classmethod
    def config_type(cls):
        return {}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data)

    def launch_run(self, context: LaunchRunContext) -> None:
        self.pending.append(context.dagster_run)

    def terminate(self, run_id: str) -> bool:
        return False  # a run executing in this process stops with the process (Ctrl-C)

    def execute_pending(self, instance: dg.DagsterInstance) -> None:
        while self.pending:
            run = self.pending.pop(0)
            execute_run(recon_job_from_origin(run.job_code_origin), run, instance)


# Runs are launched into DeferredRunLauncher by the instance's own run coordinator: queued, then dequeued by `drive`.
IN_PROCESS_OVERRIDES = {"run_launcher": {"module": __name__, "class": DeferredRunLauncher.__name__}}


def driver_tag() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def daemon_serves(instance: dg.DagsterInstance) -> bool:
    """A Dagster daemon with a live backfill loop is heartbeating on this instance."""
    status = instance.get_daemon_statuses(["BACKFILL"]).get("BACKFILL")
    return bool(status and status.healthy)


def _alive(driver: str | None) -> bool:
    host, _, pid = (driver or "").partition(":")
    if host != socket.gethostname():
        return bool(driver)  # another machine's driver: not ours to judge
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def abandon_orphans(instance: dg.DagsterInstance, echo: Callable[[str], None]) -> None:
    """Cancel CLI backfills whose `climb run` died (killed, machine restarted), failing their unfinished runs, so
    the UI does not show them in progress forever. A daemon would carry them on, so this runs only without one."""
    requested = instance.get_backfills(filters=BulkActionsFilter(statuses=[BulkActionStatus.REQUESTED]))
    for backfill in requested:
        if backfill.tags.get(LAUNCHED_BY_TAG) != "cli" or _alive(backfill.tags.get(DRIVER_TAG)):
            continue
        for run in backfill_runs(instance, backfill.backfill_id):
            if not run.is_finished:
                instance.report_run_failed(run, "the `climb run` process carrying it out is gone")
        instance.update_backfill(backfill.with_status(BulkActionStatus.CANCELED).with_end_timestamp(time.time()))
        echo(f"climb: cancelled backfill {backfill.backfill_id}: the `climb run` that drove it is gone")


def _in_process_instance() -> dg.DagsterInstance:
    """$DAGSTER_HOME's instance (its storage: the UI sees everything), launching runs here, synchronously."""
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(os.environ["DAGSTER_HOME"],
                                                            overrides=IN_PROCESS_OVERRIDES))


def _code_location() -> InProcessWorkspaceLoadTarget:
    return InProcessWorkspaceLoadTarget(InProcessCodeLocationOrigin(LoadableTargetOrigin(
        executable_path=sys.executable, module_name="climb_assets.definitions", attribute="defs",
        working_directory=os.getcwd()), location_name=LOCATION_NAME))


class _Reporter:
    """Calls `on_run` once for each run of the backfill that has finished."""

    def __init__(self, instance, backfill_id: str, on_run: Callable):
        self.instance, self.backfill_id, self.on_run, self.seen = instance, backfill_id, on_run, set()

    def __call__(self) -> int:
        runs = [r for r in backfill_runs(self.instance, self.backfill_id) if r.is_finished and r.run_id not in self.seen]
        for run in runs:
            self.seen.add(run.run_id)
            self.on_run(run)
        return len(runs)


def drive(backfill_id: str, on_run: Callable, log) -> BulkActionStatus:
    """Carry the backfill out in this process; Ctrl-C cancels it (the run in progress ends as Dagster ends it)."""
    instance = _in_process_instance()
    report = _Reporter(instance, backfill_id, on_run)
    queued = isinstance(instance.run_coordinator, QueuedRunCoordinator)
    try:
        with WorkspaceProcessContext(instance, _code_location()) as context, \
                QueuedRunCoordinatorDaemon(interval_seconds=0) as queue:
            while (backfill := instance.get_backfill(backfill_id)).status not in TERMINAL:
                for _ in execute_backfill_iteration(context, log):
                    pass  # errors are logged, counted and, past Dagster's retries, fail the backfill
                for _ in queue.run_iteration(context) if queued else ():
                    pass  # launches the queued runs its limits allow (DeferredRunLauncher holds them)
                instance.run_launcher.execute_pending(instance)
                if not report():
                    time.sleep(0.2)  # nothing finished: the backfill is settling (or retrying an error)
    except KeyboardInterrupt:
        backfill = instance.get_backfill(backfill_id)
        instance.update_backfill(backfill.with_status(BulkActionStatus.CANCELED).with_end_timestamp(time.time()))
        raise
    report()
    return backfill.status


def follow(instance: dg.DagsterInstance, backfill_id: str, on_run: Callable) -> BulkActionStatus:
    """Wait while the instance's daemon carries the backfill out, reporting runs as they finish."""
    report = _Reporter(instance, backfill_id, on_run)
    while (backfill := instance.get_backfill(backfill_id)).status not in TERMINAL:
        report()
        time.sleep(FOLLOW_POLL_SECONDS)
    report()
    return backfill.status

"""The deployment is restored from an earlier backup while changes continue: Convex now holds
older team revisions than the ones the daemon's deltas are based on (or no team at all for the
ones made since), so the deltas come back "mismatch" or "unknown", and the daemon reconciles
each such team. Nothing observed before the backup is lost, nothing is recorded twice or out
of order, and every team ends as its files are.

What Convex lost with the restore (the changes recorded between the backup and the restore, and
a state current at the restore that is replaced before the daemon sent its teams again) is gone
for good: for the comparison, that window (from the backup until the daemon has caught up after
the restore) counts as time the daemon was not watching, so only states on disk for half a second
outside it must have reached Convex."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tina.dev.backend import BackendProcess
from tina.dev.sim.sandbox import Laptop

from .harness import ChangeStream, Sizes, Uptime, record_figures, settle, wait_ready

pytestmark = pytest.mark.timeout(600)


def _idle_outbox(laptop: Laptop, timeout: float = 30.0) -> float:
    """Wait until the daemon has nothing pending (everything observed so far is in Convex)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = laptop.status()
        if status is not None and status["info"].get("outbox") == 0:
            return time.monotonic()
        time.sleep(0.01)
    raise AssertionError(f"the daemon never caught up within {timeout} s:\n{laptop.log_tail(40)}")


def _saved_after(state_file: Path, moment: float, timeout: float = 10.0) -> None:
    """Wait until the backend saved its state file after `moment` (wall clock)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if state_file.exists() and state_file.stat().st_mtime > moment:
            return
        time.sleep(0.02)
    raise AssertionError("the backend did not save its state file")


def test_a_deployment_restored_from_a_backup_is_reconciled_without_loss_or_duplicates(
    backend: BackendProcess,
    laptop_factory: Callable[[str], Laptop],
    chaos: Sizes,
    tmp_path: Path,
) -> None:
    state_file = tmp_path / "convex-state.json"
    backup = tmp_path / "backup.json"
    laptop = laptop_factory("resync")
    uptime = Uptime()
    laptop.start_daemon(wait=False)
    uptime.up(wait_ready(laptop))
    # Plain teams only: the restore also takes back orchestration events, which are not what
    # this test is about.
    stream = ChangeStream(laptop, 10**6, seed=11, lanes=chaos.lanes, orchestrations=0, pace=0.25)
    stream.start()
    try:
        time.sleep(4)  # teams come and go, tasks move
        # The backup: taken once everything observed so far is in Convex (and saved).
        caught_up = _idle_outbox(laptop)
        wall = time.time()
        _saved_after(state_file, wall)
        shutil.copyfile(state_file, backup)
        uptime.down(caught_up)
        before = stream.budget.used
        time.sleep(4)  # more changes, recorded in Convex, then lost by the restore
        during = stream.budget.used - before
        backend.stop()
        shutil.copyfile(backup, state_file)
        backend.start()
        back = time.monotonic()
        while (laptop.status() or {}).get("info", {}).get("connection") != "connected":
            assert time.monotonic() - back < 30, laptop.log_tail()
            time.sleep(0.02)
        # Until the daemon has sent again what it knows, a state that was current at the
        # restore (the daemon had sent it, Convex lost it) and is replaced meanwhile is lost
        # with the restore: the window ends once the daemon has caught up.
        uptime.up(_idle_outbox(laptop))
        time.sleep(4)  # and work goes on against the restored deployment
    finally:
        stream.stop()
    stream.join()

    verdict = settle(backend, stream, uptime, laptop, timeout=90)
    assert not verdict.problems, "\n".join(verdict.problems[:40])
    assert verdict.lost == verdict.duplicates == verdict.reordered == verdict.phantoms == 0
    resyncs = [e for e in laptop.log_events() if e.get("event") == "sync.team_resync"]
    statuses = {e["status"] for e in resyncs}
    assert during > 0 and statuses, (during, statuses)
    assert statuses <= {"mismatch", "unknown"}, statuses
    record_figures(
        "resync",
        {
            "changes": stream.budget.used,
            "changes_lost_by_the_restore": during,
            "teams_resynced": len(resyncs),
            "resync_statuses": sorted(statuses),
            **verdict.figures(),
        },
    )

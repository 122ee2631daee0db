"""The daemon is suspended (SIGSTOP, as a sleeping laptop or a stuck process) for longer than the
offline threshold while changes go on, then resumed: the dashboard shows the laptop offline,
then online again, and nothing is lost."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tina.dev.backend import BackendProcess
from tina.dev.sim.sandbox import Laptop

from .harness import (
    Api,
    ChangeStream,
    Sizes,
    Uptime,
    daemon_pid,
    eventually,
    record_figures,
    settle,
    stopped_process,
    wait_ready,
)

pytestmark = pytest.mark.timeout(600)


def node(owner: Api, name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(n for n in owner.query("nodes:listNodes") if n["name"] == name)
    return found


def test_sigstop_longer_than_the_offline_threshold_shows_offline_then_online_and_loses_nothing(
    backend: BackendProcess,
    laptop_factory: Callable[[str], Laptop],
    owner: Api,
    chaos: Sizes,
) -> None:
    # Offline shows at the last heartbeat + the threshold (the stored status a second later), so
    # at most that long after the stop.
    assert chaos.suspend_secs * 1000 > chaos.offline_after_ms + 3000
    laptop = laptop_factory("suspend")
    uptime = Uptime()
    laptop.start_daemon(wait=False, env={"TINA_HEARTBEAT_SECS": str(chaos.heartbeat_secs)})
    uptime.up(wait_ready(laptop))
    eventually(lambda: node(owner, "suspend")["online"])
    stream = ChangeStream(laptop, 10**6, seed=11, lanes=3, orchestrations=1, pace=chaos.pace)
    stream.start()
    try:
        time.sleep(2)
        with stopped_process(daemon_pid(laptop)):
            stopped = time.monotonic()
            uptime.down(stopped)
            offline_after = eventually(
                lambda: not node(owner, "suspend")["online"] and time.monotonic() - stopped,
                timeout=chaos.suspend_secs,
            )
            stored = eventually(
                lambda: (
                    next(n for n in backend.dump("nodes")["nodes"] if n["name"] == "suspend")[
                        "status"
                    ]
                    == "offline"
                ),
                timeout=chaos.suspend_secs,
            )
            assert stored
            before = stream.budget.used
            time.sleep(max(0.0, chaos.suspend_secs - (time.monotonic() - stopped)))
            written_while_stopped = stream.budget.used - before
        resumed = time.monotonic()
        uptime.up(resumed)
        online_after = eventually(
            lambda: node(owner, "suspend")["online"] and time.monotonic() - resumed, timeout=30
        )
        time.sleep(2)
    finally:
        stream.stop()
    stream.join()

    verdict = settle(backend, stream, uptime, laptop, timeout=60)
    assert not verdict.problems, "\n".join(verdict.problems[:40])
    assert verdict.lost == verdict.duplicates == verdict.reordered == verdict.phantoms == 0
    assert written_while_stopped > 0
    assert laptop.daemon is not None and laptop.daemon.poll() is None, (
        "the resumed daemon must keep running"
    )
    assert online_after < chaos.heartbeat_secs + 5, online_after
    record_figures(
        "sigstop",
        {
            "suspended_secs": chaos.suspend_secs,
            "offline_threshold_ms": chaos.offline_after_ms,
            "heartbeat_secs": chaos.heartbeat_secs,
            "shown_offline_after_secs": round(offline_after, 3),
            "shown_online_after_resume_secs": round(online_after, 3),
            "changes": stream.budget.used,
            "changes_while_stopped": written_while_stopped,
            **verdict.figures(),
        },
    )

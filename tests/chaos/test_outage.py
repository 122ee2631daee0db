"""The backend goes away while changes continue, and the daemon is killed and restarted in the
middle of the outage; then the backend comes back: everything arrives (what the first daemon
observed survives in its durable outbox), the daemon reconnects within 2 s of the backend's
return, and its memory stays bounded meanwhile."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tina.dev.backend import BackendProcess
from tina.dev.sim.sandbox import Laptop

from .harness import (
    ChangeStream,
    RssSampler,
    Sizes,
    Uptime,
    daemon_pid,
    kill_daemon,
    record_figures,
    settle,
    wait_ready,
    wait_watching,
)

pytestmark = pytest.mark.timeout(600)

RECONNECT_WITHIN = 2.0
RSS_BOUND = 150 * 1024 * 1024


def test_backend_outage_with_a_daemon_crash_loses_nothing_and_reconnects_fast(
    backend: BackendProcess,
    laptop_factory: Callable[[str], Laptop],
    chaos: Sizes,
) -> None:
    laptop = laptop_factory("outage")
    uptime = Uptime()
    laptop.start_daemon(wait=False)
    uptime.up(wait_ready(laptop))
    stream = ChangeStream(laptop, 10**6, seed=7, lanes=chaos.lanes, pace=chaos.pace)
    stream.start()
    depth = 0
    peaks: list[int] = []

    def ride_out(until: float) -> None:
        """Watch the cut-off daemon until `until`: never connected, its outbox holding the work."""
        nonlocal depth
        with RssSampler(daemon_pid(laptop)) as rss:
            while time.monotonic() < until:
                status = laptop.status()
                assert status is not None, laptop.log_tail()
                assert status["info"]["connection"] != "connected"
                depth = max(depth, int(status["info"]["outbox"]))
                time.sleep(0.25)
        peaks.append(rss.peak)

    try:
        time.sleep(3)  # work is flowing
        before = stream.budget.used
        backend.stop()
        went_down = time.monotonic()
        ride_out(went_down + chaos.outage_secs / 2)
        # The daemon dies mid-outage; a new one starts, still cut off, and picks up its outbox.
        uptime.down(time.monotonic())
        kill_daemon(laptop)
        laptop.start_daemon(wait=False)
        uptime.up(wait_watching(laptop))
        ride_out(went_down + chaos.outage_secs)
        during = stream.budget.used - before
        backend.start()
        back = time.monotonic()
        while (laptop.status() or {}).get("info", {}).get("connection") != "connected":
            assert time.monotonic() - back < 30, laptop.log_tail()
            time.sleep(0.02)
        reconnect = time.monotonic() - back
        time.sleep(3)  # and work goes on after the outage
    finally:
        stream.stop()
    stream.join()

    verdict = settle(backend, stream, uptime, laptop, timeout=90)
    assert not verdict.problems, "\n".join(verdict.problems[:40])
    assert verdict.lost == verdict.duplicates == verdict.reordered == verdict.phantoms == 0
    assert verdict.lost_orchestration_events == verdict.duplicate_orchestration_events == 0
    assert during > 0 and depth > 0, (during, depth)
    restored = [e for e in laptop.log_events() if e.get("event") == "outbox.restored"]
    assert restored and restored[-1]["records"] > 0, "the restarted daemon found nothing to replay"
    assert reconnect <= RECONNECT_WITHIN, (
        f"reconnected {reconnect:.2f} s after the backend returned"
    )
    assert 0 < max(peaks) < RSS_BOUND, f"peak RSS {max(peaks) / 2**20:.0f} MiB during the outage"
    record_figures(
        "outage",
        {
            "outage_secs": chaos.outage_secs,
            "changes": stream.budget.used,
            "changes_during_outage": during,
            "peak_outbox_depth": depth,
            "outbox_records_replayed": restored[-1]["records"],
            "reconnect_secs": round(reconnect, 3),
            "peak_rss_mib": round(max(peaks) / 2**20, 1),
            **verdict.figures(),
        },
    )

"""The supervision core, on trio's virtual clock with pure-trio children."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.lowlevel
import trio.testing

from tina.supervision import (
    Backoff,
    ChildSpec,
    ChildState,
    DynamicSupervisor,
    Intensity,
    Restart,
    Supervisor,
    TooManyRestarts,
)

NO_JITTER = Backoff(initial=1.0, factor=2.0, cap=8.0, jitter=0.0, healthy_after=100.0)


class Probe:
    """Records what happens to children, in order."""

    def __init__(self) -> None:
        self.log: list[tuple[float, str]] = []

    def note(self, what: str) -> None:
        self.log.append((trio.current_time(), what))

    def events(self) -> list[str]:
        return [w for _, w in self.log]


def worker(
    probe: Probe,
    name: str,
    *,
    crash_after: float | None = None,
    crash_times: int = 10**9,
    exit_after: float | None = None,
    ready_delay: float = 0.0,
) -> Callable[..., Any]:
    runs = 0

    async def run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        nonlocal runs
        runs += 1
        await trio.sleep(ready_delay)
        probe.note(f"start {name}")
        task_status.started()
        try:
            if crash_after is not None and runs <= crash_times:
                await trio.sleep(crash_after)
                probe.note(f"crash {name}")
                raise RuntimeError(f"{name} broke")
            if exit_after is not None:
                await trio.sleep(exit_after)
                probe.note(f"exit {name}")
                return
            await trio.sleep_forever()
        except trio.Cancelled:
            probe.note(f"stop {name}")
            raise

    return run


async def test_children_start_in_order_and_stop_in_reverse(
    autojump_clock: trio.testing.MockClock,
) -> None:
    probe = Probe()
    sup = Supervisor(
        "root",
        [
            ChildSpec(id="a", run=worker(probe, "a", ready_delay=1)),
            ChildSpec(id="b", run=worker(probe, "b", ready_delay=1)),
            ChildSpec(id="c", run=worker(probe, "c", ready_delay=1)),
        ],
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        # Each child was ready before the next began: readiness is a barrier.
        assert probe.log == [(1.0, "start a"), (2.0, "start b"), (3.0, "start c")]
        assert [s.state for s in sup.statistics()] == [ChildState.RUNNING] * 3
        nursery.cancel_scope.cancel()
    assert probe.events()[3:] == ["stop c", "stop b", "stop a"]
    assert [s.state for s in sup.statistics()] == [ChildState.STOPPED] * 3


async def test_a_crashing_child_restarts_alone_with_backoff(
    autojump_clock: trio.testing.MockClock,
) -> None:
    probe = Probe()
    sup = Supervisor(
        "root",
        [
            ChildSpec(id="steady", run=worker(probe, "steady")),
            ChildSpec(id="flaky", run=worker(probe, "flaky", crash_after=0.5, crash_times=3)),
        ],
        backoff=NO_JITTER,
        intensity=Intensity(max_restarts=10, within=60),
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(30.25)
        nursery.cancel_scope.cancel()
    flaky_starts = [t for t, w in probe.log if w == "start flaky"]
    # crash at +0.5, then waits 1, 2, 4 (doubling) before each restart.
    assert flaky_starts == [0.0, 1.5, 4.0, 8.5]
    assert probe.events().count("start steady") == 1
    assert "stop steady" in probe.events()
    flaky = {s.id: s for s in sup.statistics()}["flaky"]
    assert flaky.restarts == 3
    assert flaky.last_error == "RuntimeError: flaky broke"


async def test_backoff_is_capped_and_jittered() -> None:
    b = Backoff(initial=1.0, factor=2.0, cap=8.0, jitter=0.5)
    rng = random.Random(7)
    delays = [b.delay(n, rng) for n in range(1, 9)]
    for n, d in enumerate(delays, start=1):
        base = min(8.0, 2.0 ** (n - 1))
        assert base * 0.5 <= d <= base * 1.5
    assert len({round(d, 6) for d in delays}) == len(delays)  # jitter spreads them


async def test_backoff_resets_after_a_healthy_run(autojump_clock: trio.testing.MockClock) -> None:
    probe = Probe()
    backoff = Backoff(initial=1.0, factor=2.0, cap=64.0, jitter=0.0, healthy_after=10.0)
    sup = Supervisor(
        "root",
        [ChildSpec(id="x", run=worker(probe, "x", crash_after=20.0))],
        backoff=backoff,
        intensity=Intensity(max_restarts=100, within=1),
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(70)
        nursery.cancel_scope.cancel()
    starts = [t for t, w in probe.log if w == "start x"]
    # Every run was healthy (20 s >= 10 s), so each restart waits the initial 1 s.
    assert starts == [0.0, 21.0, 42.0, 63.0]


async def test_restart_types(autojump_clock: trio.testing.MockClock) -> None:
    probe = Probe()
    sup = Supervisor(
        "root",
        [
            ChildSpec(
                id="perm-exit", run=worker(probe, "pe", exit_after=1.0), restart=Restart.PERMANENT
            ),
            ChildSpec(
                id="trans-exit", run=worker(probe, "te", exit_after=1.0), restart=Restart.TRANSIENT
            ),
            ChildSpec(
                id="trans-crash",
                run=worker(probe, "tc", crash_after=1.0, crash_times=1),
                restart=Restart.TRANSIENT,
            ),
            ChildSpec(
                id="temp-crash", run=worker(probe, "xc", crash_after=1.0), restart=Restart.TEMPORARY
            ),
        ],
        backoff=NO_JITTER,
        intensity=Intensity(max_restarts=100, within=60),
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(10.5)
        states = {s.id: s.state for s in sup.statistics()}
        nursery.cancel_scope.cancel()
    ev = probe.events()
    assert ev.count("start pe") > 2  # permanent: restarted even after a normal exit
    assert ev.count("start te") == 1  # transient: a normal exit ends it
    assert ev.count("start tc") == 2  # transient: a crash restarts it
    assert ev.count("start xc") == 1  # temporary: never restarted
    assert states["trans-exit"] is ChildState.STOPPED
    assert states["temp-crash"] is ChildState.FAILED
    assert states["trans-crash"] is ChildState.RUNNING


async def test_exceeding_the_intensity_escalates_after_stopping_the_others(
    autojump_clock: trio.testing.MockClock,
) -> None:
    probe = Probe()
    sup = Supervisor(
        "root",
        [
            ChildSpec(id="steady", run=worker(probe, "steady")),
            ChildSpec(id="bad", run=worker(probe, "bad", crash_after=0.1)),
        ],
        backoff=Backoff(initial=0.1, jitter=0.0),
        intensity=Intensity(max_restarts=3, within=10),
    )
    with pytest.raises(TooManyRestarts) as info:
        await sup.run()
    assert info.value.child == "bad"
    assert probe.events().count("start bad") == 4  # first run + 3 restarts
    assert probe.events()[-1] == "stop steady"


async def test_the_intensity_window_is_shared_by_all_children(
    autojump_clock: trio.testing.MockClock,
) -> None:
    probe = Probe()
    sup = Supervisor(
        "root",
        [
            ChildSpec(id="a", run=worker(probe, "a", crash_after=1.0)),
            ChildSpec(id="b", run=worker(probe, "b", crash_after=1.0)),
        ],
        backoff=Backoff(initial=0.1, jitter=0.0),
        intensity=Intensity(max_restarts=3, within=60),
    )
    with pytest.raises(TooManyRestarts):
        await sup.run()
    # 2 + 2 restarts > 3 in one window, though each child alone restarted only twice.
    assert probe.events().count("crash a") + probe.events().count("crash b") == 4


async def test_the_intensity_window_slides_so_spread_out_restarts_never_escalate(
    autojump_clock: trio.testing.MockClock,
) -> None:
    probe = Probe()
    sup = Supervisor(
        "root",
        [ChildSpec(id="x", run=worker(probe, "x", crash_after=4.5))],
        # Each run lasts 4.5 s (healthy), so every restart waits 1 s: one restart every 5.5 s,
        # at most 2 within any 10 s, under the limit of 3 however many there are in all.
        backoff=Backoff(initial=1.0, jitter=0.0, healthy_after=4.0),
        intensity=Intensity(max_restarts=3, within=10),
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(61)  # crashes at 4.5, 10, 15.5, ..., 59.5 (11), started again at 60.5
        assert sup.statistics()[0].restarts == 11
        assert sup.statistics()[0].state is ChildState.RUNNING
        nursery.cancel_scope.cancel()
    assert probe.events().count("start x") == 12


async def test_a_child_that_fails_to_start_makes_start_raise(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def never_ready(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        raise OSError("cannot bind")

    sup = Supervisor(
        "root",
        [ChildSpec(id="x", run=never_ready)],
        backoff=Backoff(initial=0.1, jitter=0.0),
        intensity=Intensity(max_restarts=2, within=60),
    )
    async with trio.open_nursery() as nursery:
        with pytest.raises(TooManyRestarts):
            await nursery.start(sup.run)
    assert sup.statistics()[0].last_error == "OSError: cannot bind"


async def test_a_child_slow_to_stop_is_waited_for_at_most_its_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    probe = Probe()

    async def stubborn(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await trio.sleep(3)  # cleanup that takes a while
                probe.note("stubborn cleaned up")

    sup = Supervisor(
        "root",
        [
            ChildSpec(id="first", run=worker(probe, "first")),
            ChildSpec(id="stubborn", run=stubborn, shutdown_timeout=1.0),
        ],
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        nursery.cancel_scope.cancel()
    # The supervisor moved on to "first" after 1 s; the nursery still waited for the cleanup.
    assert probe.log[-2:] == [(1.0, "stop first"), (3.0, "stubborn cleaned up")]


@pytest.mark.parametrize("helper", [False, True], ids=["alone", "with a helper task"])
async def test_a_stop_that_comes_as_the_last_child_reports_ready_stops_every_child(
    autojump_clock: trio.testing.MockClock, helper: bool
) -> None:
    # The daemon is stopped (a SIGHUP, say) just as its last actor reports ready. The
    # supervisor must still stop every child and return. It once shielded that child anyway:
    # behind the shield the child's own nursery took the stop's Cancelled for its own, so the
    # child ended as if it had returned ("exit last", and a permanent child was restarted),
    # and trio, which does not move a task started under a cancelled scope into the
    # supervisor's nursery, left the supervisor waiting for it.
    probe = Probe()
    outer = trio.CancelScope()

    async def last(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            if helper:
                nursery.start_soon(trio.sleep_forever)
                await trio.lowlevel.checkpoint()  # the helper waits: the stop reaches it first
            probe.note("start last")
            task_status.started()
            outer.cancel()
            try:
                await trio.sleep_forever()
            except trio.Cancelled:
                probe.note("stop last")
                raise
        # Reached only when the nursery swallowed the stop (the bug): the child is temporary,
        # so it is not restarted and the bug fails the test instead of hanging it.
        probe.note("exit last")

    sup = Supervisor(
        "root",
        [
            ChildSpec(id="first", run=worker(probe, "first")),
            ChildSpec(id="last", run=last, restart=Restart.TEMPORARY),
        ],
        backoff=NO_JITTER,
    )
    with outer:
        await sup.run()
    assert probe.events() == ["start first", "start last", "stop last", "stop first"]
    assert [s.state for s in sup.statistics()] == [ChildState.STOPPED, ChildState.STOPPED]


async def test_a_child_that_crashes_as_it_reports_ready_is_restarted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Its crash cancels the nursery it runs in before the supervisor has seen it ready: a
    # crash, not a stop of the supervisor, so it is restarted like any other.
    probe = Probe()
    runs = 0
    again = trio.Event()

    async def hasty(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        nonlocal runs
        runs += 1
        probe.note("start hasty")
        task_status.started()
        if runs == 1:
            raise RuntimeError("hasty broke")
        again.set()
        await trio.sleep_forever()

    sup = Supervisor("root", [ChildSpec(id="hasty", run=hasty)], backoff=NO_JITTER)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        with trio.fail_after(60):  # virtual time: a child never restarted fails at once
            await again.wait()
        await trio.testing.wait_all_tasks_blocked()  # its supervisor has seen it ready again
        (status,) = sup.statistics()
        nursery.cancel_scope.cancel()
    assert probe.events() == ["start hasty", "start hasty"]
    assert (status.state, status.restarts) == (ChildState.RUNNING, 1)
    assert status.last_error == "RuntimeError: hasty broke"


async def test_dynamic_children(autojump_clock: trio.testing.MockClock) -> None:
    probe = Probe()
    dyn = DynamicSupervisor("worktrees", backoff=NO_JITTER)
    root = Supervisor("root", [ChildSpec(id="worktrees", run=dyn.run, children=dyn.statistics)])
    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        await dyn.start_child(ChildSpec(id="wt-a", run=worker(probe, "a")))
        await dyn.start_child(
            ChildSpec(id="wt-b", run=worker(probe, "b", crash_after=1.0, crash_times=1))
        )
        with pytest.raises(ValueError, match="already running"):
            await dyn.start_child(ChildSpec(id="wt-a", run=worker(probe, "a2")))
        await trio.sleep(5)
        tree = root.statistics()[0]
        assert [c.id for c in tree.children] == ["wt-a", "wt-b"]
        assert {c.id: c.restarts for c in tree.children} == {"wt-a": 0, "wt-b": 1}
        assert await dyn.terminate_child("wt-a") is True
        assert await dyn.terminate_child("nope") is False
        assert dyn.child_ids == ["wt-b"]
        nursery.cancel_scope.cancel()
    assert probe.events().count("stop a") == 1
    assert probe.events()[-1] == "stop b"


async def test_starting_a_child_on_a_stopped_dynamic_supervisor_is_refused_not_a_crash(
    autojump_clock: trio.testing.MockClock,
) -> None:
    probe = Probe()
    dyn = DynamicSupervisor("worktrees", backoff=NO_JITTER)
    assert await dyn.start_child(ChildSpec(id="wt-a", run=worker(probe, "a"))) is False
    async with trio.open_nursery() as nursery:
        await nursery.start(dyn.run)
        assert await dyn.start_child(ChildSpec(id="wt-a", run=worker(probe, "a"))) is True
        nursery.cancel_scope.cancel()
    assert await dyn.start_child(ChildSpec(id="wt-b", run=worker(probe, "b"))) is False
    assert probe.events() == ["start a", "stop a"]


async def test_a_dynamic_supervisor_that_crashes_while_a_sibling_starts_a_child_restarts_alone(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # As in the daemon: the worktrees supervisor crashes while discovery, its sibling, waits
    # for a worktree watcher to be ready. Discovery learns the child was not started and goes
    # on (it starts its watchers again once worktrees is back); only worktrees restarts.
    probe = Probe()
    dyn = DynamicSupervisor("worktrees", backoff=NO_JITTER)
    outcome: list[bool] = []
    runs = 0

    async def worktrees(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        nonlocal runs
        runs += 1
        async with trio.open_nursery() as inner:
            await inner.start(dyn.run)
            task_status.started()
            if runs == 1:
                await trio.sleep(1)
                raise RuntimeError("worktrees broke")

    async def discovery(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        slow = ChildSpec(id="wt-slow", run=worker(probe, "slow", ready_delay=5))
        outcome.append(await dyn.start_child(slow))
        probe.note("discovery ready")
        task_status.started()
        await trio.sleep_forever()

    root = Supervisor(
        "root",
        [ChildSpec(id="worktrees", run=worktrees), ChildSpec(id="discovery", run=discovery)],
        backoff=NO_JITTER,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(root.run)
        await trio.sleep(10)
        restarts = {s.id: s.restarts for s in root.statistics()}
        nursery.cancel_scope.cancel()
    assert outcome == [False]
    assert probe.log == [(1.0, "discovery ready")]  # the slow child never got ready
    assert restarts == {"worktrees": 1, "discovery": 0}


async def test_status_detail_probe_errors_do_not_break_the_tree(
    autojump_clock: trio.testing.MockClock,
) -> None:
    probe = Probe()

    def broken() -> dict[str, Any]:
        raise KeyError("gone")

    sup = Supervisor(
        "root",
        [
            ChildSpec(id="a", run=worker(probe, "a"), detail=lambda: {"queue": 3}),
            ChildSpec(id="b", run=worker(probe, "b"), detail=broken),
        ],
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        stats = {s.id: s for s in sup.statistics()}
        nursery.cancel_scope.cancel()
    assert stats["a"].detail == {"queue": 3}
    assert "KeyError" in stats["b"].detail["detail_error"]
    assert stats["a"].to_json()["state"] == "running"


async def test_crashes_restarts_and_cancellation_are_logged(
    autojump_clock: trio.testing.MockClock, logs: list[dict[str, Any]]
) -> None:
    probe = Probe()
    sup = Supervisor(
        "root",
        [ChildSpec(id="x", run=worker(probe, "x", crash_after=1.0, crash_times=1))],
        backoff=NO_JITTER,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(5)
        nursery.cancel_scope.cancel()
    events = [(e["event"], e.get("actor")) for e in logs]
    assert events == [("actor.crashed", "x"), ("actor.restarting", "x"), ("actor.cancelled", "x")]
    assert logs[0]["log_level"] == "error"
    assert logs[2]["log_level"] == "info"

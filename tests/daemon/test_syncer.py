"""The syncer over the in-memory FakeGateway, on trio's virtual clock."""

from __future__ import annotations

from typing import Any

import pytest
import structlog
import trio
import trio.testing

from tina.convex import LatestValue
from tina.convex.gateway import GatewayProtocol
from tina.daemon.sync.coalescer import Sequencer
from tina.daemon.sync.syncer import Syncer
from tina.dev.fakes import FakeGateway, refused
from tina.messages import EventRecord, OrchestrationSnapshot, TaskSnapshot, TeamSnapshot


def orch(status: str = "planning", started: float = 1.7e12) -> OrchestrationSnapshot:
    return OrchestrationSnapshot(
        feature_name="f",
        spec_doc_path="/s",
        branch="b",
        worktree_path="/w",
        total_phases=2,
        current_phase=1,
        status=status,
        started_at=started,
    )


def team(d: str) -> TeamSnapshot:
    return TeamSnapshot(dir_name=d, team_name=d)


def task(i: str, status: str = "pending") -> TaskSnapshot:
    return TaskSnapshot(task_id=i, subject=i, description="", status=status)


def event(i: int) -> EventRecord:
    return EventRecord(
        idempotency_key=f"evt-{i:08d}",
        event_type="info",
        source="t",
        summary=str(i),
        recorded_at=1.7e12 + i,
    )


@pytest.fixture
def fake() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def cell(fake: FakeGateway) -> LatestValue[GatewayProtocol | None]:
    return LatestValue(fake)


async def until(predicate: Any, timeout: float = 30) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.01)


async def test_bursts_coalesce_to_one_mutation_per_key(
    autojump_clock: trio.testing.MockClock,
    fake: FakeGateway,
    cell: LatestValue[GatewayProtocol | None],
) -> None:
    syncer = Syncer(cell)
    for i in range(100):
        syncer.put_team("t1", team("t1"), [], [task("1", "in_progress" if i % 2 else "pending")])
    syncer.put_team("t2", team("t2"), [], [task("1")])
    async with trio.open_nursery() as n:
        await n.start(syncer.run)
        await until(lambda: syncer.depth == 0 and fake.count("sync_team") == 2)
        n.cancel_scope.cancel()
    assert fake.teams["t1"][2] == [task("1", "in_progress")]  # the newest value (i = 99)
    assert syncer.sent == 2


async def test_events_wait_for_their_orchestration_and_go_in_order(
    autojump_clock: trio.testing.MockClock,
    fake: FakeGateway,
    cell: LatestValue[GatewayProtocol | None],
) -> None:
    syncer = Syncer(cell)
    syncer.put_events("/w", [event(i) for i in range(450)])
    async with trio.open_nursery() as n:
        await n.start(syncer.run)
        await trio.sleep(1)
        assert fake.count("record_events") == 0  # no orchestration id yet
        syncer.put_orchestration("/w", orch(), [])
        await until(lambda: syncer.depth == 0)
        n.cancel_scope.cancel()
    ((_oid, got),) = fake.events.items()
    assert [e.summary for e in got] == [str(i) for i in range(450)]
    assert fake.count("record_events") == 3  # batches of 200


async def test_events_of_different_orchestrations_go_side_by_side(
    autojump_clock: trio.testing.MockClock,
    fake: FakeGateway,
    cell: LatestValue[GatewayProtocol | None],
) -> None:
    # One after the other, a cold start of 200 orchestrations waited on 200 round trips of
    # events (and as many of documents) after their orchestrations were synced.
    fake.latency = 1.0
    syncer = Syncer(cell, max_in_flight=8)
    for w in range(8):
        syncer.put_events(f"/w{w}", [event(i) for i in range(3)])
        syncer.put_orchestration(f"/w{w}", orch(), [])
    async with trio.open_nursery() as n:
        await n.start(syncer.run)
        start = trio.current_time()
        await until(lambda: syncer.depth == 0)
        took = trio.current_time() - start
        n.cancel_scope.cancel()
    assert fake.count("record_events") == 8
    assert took < 4.0  # 1 s of orchestrations, then 1 s of events: not 8 s


async def test_offline_observations_wait_and_flush_in_order_on_reconnect(
    autojump_clock: trio.testing.MockClock,
    fake: FakeGateway,
    cell: LatestValue[GatewayProtocol | None],
) -> None:
    syncer = Syncer(cell)
    fake.fail_next = 5
    async with trio.open_nursery() as n:
        await n.start(syncer.run)
        syncer.put_orchestration("/w", orch("planning"), [])
        await until(lambda: fake.fail_next == 0)
        syncer.put_orchestration("/w", orch("executing"), [])  # newer value while retrying
        await until(lambda: syncer.depth == 0)
        n.cancel_scope.cancel()
    assert fake.orchestrations[("f", 1.7e12)].status == "executing"
    seqs = [c[1][2] for c in fake.calls if c[0] == "sync_orchestration"]
    assert seqs == sorted(seqs)


async def test_a_refused_credential_pauses_sending_without_a_hot_loop(
    autojump_clock: trio.testing.MockClock,
    fake: FakeGateway,
    cell: LatestValue[GatewayProtocol | None],
) -> None:
    syncer = Syncer(cell)
    fake.fail_next, fake.failure = 3, refused()
    with structlog.testing.capture_logs() as logs:
        async with trio.open_nursery() as n:
            await n.start(syncer.run)
            syncer.put_team("t", team("t"), [], [])
            await trio.sleep(100)
            assert fake.count("sync_team") == 2  # at 0 and 60 s: once a minute, not a loop
            assert syncer.blocked_reason is not None
            assert "revoked" in syncer.blocked_reason
            await until(lambda: syncer.depth == 0, timeout=400)
            n.cancel_scope.cancel()
    assert [e["event"] for e in logs].count("sync.credential_refused") == 1
    assert syncer.blocked_reason is None


async def test_bad_data_is_dropped_and_counted(
    autojump_clock: trio.testing.MockClock,
    fake: FakeGateway,
    cell: LatestValue[GatewayProtocol | None],
) -> None:
    syncer = Syncer(cell)
    fake.fail_next, fake.failure = (
        1,
        refused("invalid_argument", "phases.phaseNumber: expected a phase"),
    )
    async with trio.open_nursery() as n:
        await n.start(syncer.run)
        syncer.put_orchestration("/w", orch(), [])
        await until(lambda: syncer.depth == 0)
        n.cancel_scope.cancel()
    assert syncer.failed == 1
    assert fake.count("sync_orchestration") == 1


async def test_team_removal_sends_the_pending_snapshot_first(
    autojump_clock: trio.testing.MockClock,
    fake: FakeGateway,
    cell: LatestValue[GatewayProtocol | None],
) -> None:
    # A team changed and then removed before the change was sent (offline, or in one burst):
    # its last task states still reach Convex, then the removal; one pending item throughout.
    syncer = Syncer(cell)
    syncer.put_team("t", team("t"), [], [task("1", "pending")])
    syncer.put_team("t", team("t"), [], [task("1", "completed")])
    syncer.remove_team("t")
    assert syncer.depth == 1
    async with trio.open_nursery() as n:
        await n.start(syncer.run)
        await until(lambda: syncer.depth == 0)
        n.cancel_scope.cancel()
    assert [c[0] for c in fake.calls] == ["sync_team", "remove_team"]
    _, _, tasks, _, history = fake.calls[0][1]
    assert [t.status for _, t in history] == ["pending"]
    assert [t.status for t in tasks] == ["completed"]


def test_sequence_numbers_are_monotonic_even_if_the_clock_goes_back() -> None:
    times = iter([100.0, 100.0, 99.0, 101.0])
    s = Sequencer(lambda: next(times))
    got = [s.next() for _ in range(4)]
    assert got == sorted(got)
    assert len(set(got)) == 4


async def test_items_in_flight_when_the_actor_stops_are_kept(
    autojump_clock: trio.testing.MockClock,
    fake: FakeGateway,
    cell: LatestValue[GatewayProtocol | None],
) -> None:
    syncer = Syncer(cell)
    fake.latency = 10
    syncer.put_team("t", team("t"), [], [task("1")])
    async with trio.open_nursery() as n:
        await n.start(syncer.run)
        await trio.sleep(1)  # the mutation is in flight
        n.cancel_scope.cancel()
    assert syncer.depth == 1
    fake.latency = 0
    async with trio.open_nursery() as n:
        await n.start(syncer.run)  # a restarted actor sends it
        await until(lambda: "t" in fake.teams)
        n.cancel_scope.cancel()


async def test_the_oldest_unsynced_observation_is_reported_until_the_backlog_drains(
    autojump_clock: trio.testing.MockClock,
    fake: FakeGateway,
    cell: LatestValue[GatewayProtocol | None],
) -> None:
    # The dashboard's backlog: how long the oldest waiting observation has waited, not the
    # time since the last change (an idle laptop with nothing waiting is simply in sync).
    wall = [1000.0]
    syncer = Syncer(cell, clock=lambda: wall[0])
    assert syncer.oldest_unsynced_at is None
    syncer.put_events("/w", [event(1)])  # waits for its orchestration's id
    wall[0] = 1005.0
    syncer.put_team("t1", team("t1"), [], [task("1")])
    assert syncer.oldest_unsynced_at == 1000.0  # the oldest, not the newest
    async with trio.open_nursery() as n:
        await n.start(syncer.run)
        await until(lambda: fake.count("sync_team") == 1)
        await trio.testing.wait_all_tasks_blocked()  # the round is over: the syncer waits
        # The team went; the event still waits: its age is still the oldest's.
        assert syncer.depth == 1
        assert syncer.oldest_unsynced_at == 1000.0
        wall[0] = 1010.0
        syncer.put_orchestration("/w", orch(), [])
        await until(lambda: syncer.depth == 0)
        assert syncer.oldest_unsynced_at is None
        wall[0] = 1020.0
        syncer.put_team("t2", team("t2"), [], [task("1")])
        assert syncer.oldest_unsynced_at == 1020.0  # a new backlog starts now
        n.cancel_scope.cancel()

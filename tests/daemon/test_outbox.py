"""The durable outbox and offline task history, with the FakeGateway and real files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from tina.convex import LatestValue
from tina.convex.gateway import GatewayProtocol
from tina.daemon.messages import TaskSnapshot, TeamSnapshot
from tina.daemon.sync import syncer as syncer_module
from tina.daemon.sync.outbox import Outbox, team_key
from tina.daemon.sync.syncer import Syncer, TeamItem, merge_history
from tina.dev.fakes import FakeGateway


def task(i: str, status: str = "pending", owner: str | None = None) -> TaskSnapshot:
    return TaskSnapshot(task_id=i, subject=f"s{i}", description="", status=status, owner=owner)


TEAM = TeamSnapshot(dir_name="t", team_name="t")


async def until(predicate: Any, timeout: float = 60) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.01)


def test_merge_history_keeps_every_state_that_was_followed_by_another() -> None:
    a = TeamItem(dir_name="t", team=TEAM, members=[], tasks=[task("1"), task("2")], seq=1)
    b = TeamItem(
        dir_name="t", team=TEAM, members=[], tasks=[task("1", "in_progress"), task("2")], seq=2
    )
    c = TeamItem(
        dir_name="t", team=TEAM, members=[], tasks=[task("1", "completed"), task("2")], seq=3
    )
    ab = TeamItem(
        dir_name="t", team=TEAM, members=[], tasks=b.tasks, seq=2, history=merge_history(a, b)
    )
    abc = merge_history(ab, c)
    assert [(s, t.task_id, t.status) for s, t in abc] == [
        (1, "1", "pending"),
        (2, "1", "in_progress"),
    ]
    # A task that went A -> B -> A keeps both earlier states.
    back = TeamItem(dir_name="t", team=TEAM, members=[], tasks=[task("1")], seq=4)
    merged = merge_history(
        TeamItem(dir_name="t", team=TEAM, members=[], tasks=c.tasks, seq=3, history=abc), back
    )
    assert [(t.task_id, t.status) for _, t in merged] == [
        ("1", "pending"),
        ("1", "in_progress"),
        ("1", "completed"),
        ("2", "pending"),  # 2 was seen, then vanished
    ]


async def test_transitions_seen_while_offline_reach_convex_in_order(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    fake = FakeGateway()
    syncer = Syncer(
        LatestValue[GatewayProtocol | None](fake), outbox=Outbox(tmp_path / "outbox.jsonl")
    )
    fake.fail_next = 10**6  # offline
    async with trio.open_nursery() as n:
        await n.start(syncer.run)
        for status in ("pending", "in_progress", "completed"):
            syncer.put_team("t", TEAM, [], [task("1", status, "executor-1")])
            await trio.sleep(2)
        fake.fail_next = 0  # back online
        await until(lambda: syncer.depth == 0)
        n.cancel_scope.cancel()
    last = [c for c in fake.calls if c[0] == "sync_team"][-1][1]
    _, _, tasks, seq, history = last
    assert [t.status for _, t in history] == ["pending", "in_progress"]
    assert tasks[0].status == "completed"
    assert all(s < seq for s, _ in history)


async def test_a_crash_loses_nothing_the_outbox_replays_unacknowledged_observations(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    path = tmp_path / "outbox.jsonl"
    first = Syncer(
        LatestValue[GatewayProtocol | None](None), outbox=Outbox(path)
    )  # never connected
    for status in ("pending", "in_progress", "completed"):
        first.put_team("t", TEAM, [], [task("1", status)])
    first.put_team("u", TEAM.__class__(dir_name="u", team_name="u"), [], [task("9")])
    first.remove_team("u")
    # The process dies here (no close, no fsync): a new syncer reads the same file.
    fake = FakeGateway()
    second = Syncer(LatestValue[GatewayProtocol | None](fake), outbox=Outbox(path))
    assert second.restore() == 5
    async with trio.open_nursery() as n:
        await n.start(second.run)
        await until(lambda: second.depth == 0)
        n.cancel_scope.cancel()
    syncs = [(i, c[1]) for i, c in enumerate(fake.calls) if c[0] == "sync_team"]
    _, _, tasks, _, history = next(call for _, call in syncs if call[0].dir_name == "t")
    assert [t.status for _, t in history] == ["pending", "in_progress"]
    assert tasks[0].status == "completed"
    assert fake.removed_teams == ["u"]
    # The removed team's last observation reached Convex before its removal.
    u_sync = next(i for i, call in syncs if call[0].dir_name == "u")
    assert u_sync < next(i for i, c in enumerate(fake.calls) if c[0] == "remove_team")
    # Acknowledged now: a third start has nothing to replay.
    third = Syncer(LatestValue[GatewayProtocol | None](None), outbox=Outbox(path))
    assert third.restore() == 0


def test_torn_last_line_and_acks(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.jsonl")
    box.append_team(1.0, TEAM, [], [task("1")])
    box.append_team(2.0, TEAM, [], [task("1", "completed")])
    box.ack(team_key("t"), 1.0)
    box.close()
    with (tmp_path / "o.jsonl").open("ab") as f:
        f.write(b'{"t":"team","seq":3,"te')  # a SIGKILL mid-write
    records = Outbox(tmp_path / "o.jsonl").load()
    assert [r["seq"] for r in records] == [2.0]
    assert (tmp_path / "o.jsonl").stat().st_mode & 0o777 == 0o600


async def test_compaction_keeps_only_what_is_pending(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    path = tmp_path / "outbox.jsonl"
    fake = FakeGateway()
    syncer = Syncer(LatestValue[GatewayProtocol | None](fake), outbox=Outbox(path))
    big = [task(str(i)) for i in range(300)]
    async with trio.open_nursery() as n:
        await n.start(syncer.run)
        for i in range(5):
            syncer.put_team(f"t{i}", TeamSnapshot(dir_name=f"t{i}", team_name=f"t{i}"), [], big)
            await until(lambda: syncer.depth == 0)
        await trio.sleep(1)
        n.cancel_scope.cancel()
    assert path.stat().st_size < 64 * 1024  # everything acknowledged: compacted away
    assert Outbox(path).load() == []


def test_compaction_writes_back_every_pending_record(tmp_path: Path) -> None:
    path = tmp_path / "o.jsonl"
    box = Outbox(path)
    box.append_team(1.0, TEAM, [], [task("1")])
    box.ack(team_key("t"), 1.0)
    box.append_team(
        2.0, TEAM, [], [task("1", "completed")], history=[(1.5, task("1", "in_progress"))]
    )
    box.append_removal(3.0, "u")
    pending = box.load()
    assert [(r["t"], r["seq"]) for r in pending] == [("team", 2.0), ("rm", 3.0)]
    box.compact(pending)
    assert Outbox(path).load() == pending  # the pending snapshot and the removal survive
    box.append_team(4.0, TEAM, [], [task("2")])  # appends go on into the compacted file
    box.close()
    assert [r["seq"] for r in Outbox(path).load()] == [2.0, 3.0, 4.0]


async def test_compaction_while_offline_keeps_what_is_waiting_to_be_sent(
    autojump_clock: trio.testing.MockClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(syncer_module, "COMPACT_BYTES", 1)  # compact after every round
    path = tmp_path / "outbox.jsonl"
    box = Outbox(path)
    compactions = 0
    real_compact = box.compact

    def compact(records: Any) -> None:
        nonlocal compactions
        real_compact(records)
        compactions += 1

    monkeypatch.setattr(box, "compact", compact)
    fake = FakeGateway(fail_next=10**6)  # offline
    first = Syncer(LatestValue[GatewayProtocol | None](fake), outbox=box)
    for status in ("pending", "in_progress", "completed"):
        first.put_team("t", TEAM, [], [task("1", status)])
    first.put_team("u", TeamSnapshot(dir_name="u", team_name="u"), [], [task("9")])
    first.remove_team("u")
    async with trio.open_nursery() as n:
        await n.start(first.run)
        await until(lambda: compactions >= 2)  # rewritten after failed rounds, nothing sent
        n.cancel_scope.cancel()
    lines = path.read_text().splitlines()
    assert len(lines) == 3  # t (with its history), u's last snapshot, u's removal
    # The process dies here: a new syncer replays the compacted file to a working Convex.
    online = FakeGateway()
    second = Syncer(LatestValue[GatewayProtocol | None](online), outbox=Outbox(path))
    assert second.restore() == 3
    async with trio.open_nursery() as n:
        await n.start(second.run)
        await until(lambda: second.depth == 0)
        n.cancel_scope.cancel()
    syncs = {c[1][0].dir_name: c[1] for c in online.calls if c[0] == "sync_team"}
    _, _, tasks, _, history = syncs["t"]
    assert [t.status for _, t in history] == ["pending", "in_progress"]
    assert tasks[0].status == "completed"
    assert [t.task_id for t in syncs["u"][2]] == ["9"]
    assert online.removed_teams == ["u"]


@pytest.mark.parametrize("n", [3000])
def test_history_is_bounded(n: int) -> None:
    items = [
        TeamItem(dir_name="t", team=TEAM, members=[], tasks=[task("1", f"s{i}")], seq=float(i))
        for i in range(n)
    ]
    acc = items[0]
    for nxt in items[1:]:
        acc = TeamItem(
            dir_name="t",
            team=TEAM,
            members=[],
            tasks=nxt.tasks,
            seq=nxt.seq,
            history=merge_history(acc, nxt),
        )
    assert len(acc.history) == 2000
    assert acc.history[-1][1].status == f"s{n - 2}"

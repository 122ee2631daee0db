"""The durable outbox and offline task history, with the FakeGateway and real files.

The outbox writes in worker threads, and trio's autojump clock counts a task waiting on a thread
as idle: tests that wait (with a deadline) for something a write must happen first use the real
clock.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
import trio.testing
from waiting import until

from tina.convex import LatestValue
from tina.convex.gateway import GatewayProtocol
from tina.convex.wire import wire_name
from tina.daemon.sync import syncer as syncer_module
from tina.daemon.sync.coalescer import TeamItem, TeamRemoval, merge_history
from tina.daemon.sync.outbox import Ack, Outbox, OutboxFile
from tina.daemon.sync.syncer import Syncer
from tina.dev.fakes import FakeGateway
from tina.messages import MemberSnapshot, TaskSnapshot, TeamSnapshot


def task(i: str, status: str = "pending", owner: str | None = None) -> TaskSnapshot:
    return TaskSnapshot(task_id=i, subject=f"s{i}", description="", status=status, owner=owner)


TEAM = TeamSnapshot(dir_name="t", team_name="t")


def item(
    seq: float,
    tasks: list[TaskSnapshot],
    team: TeamSnapshot = TEAM,
    history: tuple[tuple[float, TaskSnapshot], ...] = (),
) -> TeamItem:
    return TeamItem(
        dir_name=team.dir_name, team=team, members=[], tasks=tasks, seq=seq, history=history
    )


def outbox(path: Path, disk: trio.CapacityLimiter | None = None) -> Outbox:
    return Outbox(path, disk=disk or trio.CapacityLimiter(1))


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


async def test_transitions_seen_while_offline_reach_convex_in_order(tmp_path: Path) -> None:
    fake = FakeGateway()
    syncer = Syncer(LatestValue[GatewayProtocol | None](fake), outbox=outbox(tmp_path / "o.jsonl"))
    fake.fail_next = 10**6  # offline
    async with trio.open_nursery() as n:
        await n.start(syncer.run)
        for status in ("pending", "in_progress", "completed"):
            tried = fake.count("sync_team")
            syncer.put_team("t", TEAM, [], [task("1", status, "executor-1")])
            await until(lambda tried=tried: fake.count("sync_team") > tried)  # tried, failed
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
    box = outbox(path)
    first = Syncer(LatestValue[GatewayProtocol | None](None), outbox=box)  # never connected
    async with trio.open_nursery() as n:
        await n.start(first.run)
        for status in ("pending", "in_progress", "completed"):
            first.put_team("t", TEAM, [], [task("1", status)])
        first.put_team("u", TEAM.__class__(dir_name="u", team_name="u"), [], [task("9")])
        first.remove_team("u")
        await box.written(box.queued)
        # The process dies here (no close): a new syncer reads the same file.
        n.cancel_scope.cancel()
    fake = FakeGateway()
    second = Syncer(LatestValue[GatewayProtocol | None](fake), outbox=outbox(path))
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
    third = Syncer(LatestValue[GatewayProtocol | None](None), outbox=outbox(path))
    assert third.restore() == 0


def test_torn_last_line_and_acks(tmp_path: Path) -> None:
    box = OutboxFile(tmp_path / "o.jsonl")
    box.append(item(1.0, [task("1")]))
    box.append(item(2.0, [task("1", "completed")]))
    box.append(Ack(dir_name="t", seq=1.0))
    box.close()
    with (tmp_path / "o.jsonl").open("ab") as f:
        f.write(b'{"v":2,"t":"team","seq":3,"te')  # a SIGKILL mid-write
    records = OutboxFile(tmp_path / "o.jsonl").load()
    assert [r.seq for r in records] == [2.0]
    assert (tmp_path / "o.jsonl").stat().st_mode & 0o777 == 0o600


async def test_compaction_keeps_only_what_is_pending(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    fake = FakeGateway()
    box = outbox(path)
    syncer = Syncer(LatestValue[GatewayProtocol | None](fake), outbox=box)
    big = [task(str(i)) for i in range(300)]
    async with trio.open_nursery() as n:
        await n.start(syncer.run)
        for i in range(5):
            syncer.put_team(f"t{i}", TeamSnapshot(dir_name=f"t{i}", team_name=f"t{i}"), [], big)
            await until(lambda: syncer.depth == 0)
        await until(lambda: box.size < 64 * 1024)  # everything acknowledged: compacted away
        n.cancel_scope.cancel()
    assert path.stat().st_size < 64 * 1024
    assert path.stat().st_mode & 0o777 == 0o600
    assert OutboxFile(path).load() == []


def test_compaction_writes_back_every_pending_record(tmp_path: Path) -> None:
    path = tmp_path / "o.jsonl"
    box = OutboxFile(path)
    box.append(item(1.0, [task("1")]))
    box.append(Ack(dir_name="t", seq=1.0))
    box.append(item(2.0, [task("1", "completed")], history=((1.5, task("1", "in_progress")),)))
    box.append(TeamRemoval(dir_name="u", seq=3.0))
    pending = box.load()
    assert [(type(r), r.seq) for r in pending] == [(TeamItem, 2.0), (TeamRemoval, 3.0)]
    box.compact(pending)
    assert OutboxFile(path).load() == pending  # the pending snapshot and the removal survive
    assert path.stat().st_mode & 0o777 == 0o600
    box.append(item(4.0, [task("2")]))  # appends go on into the compacted file
    box.close()
    assert [r.seq for r in OutboxFile(path).load()] == [2.0, 3.0, 4.0]


async def test_compaction_while_offline_keeps_what_is_waiting_to_be_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(syncer_module, "COMPACT_BYTES", 1)  # compact after every round
    path = tmp_path / "outbox.jsonl"
    box = outbox(path)
    compactions = 0
    real_compact = box.file.compact

    def compact(records: Any, acked: Any = None) -> None:
        nonlocal compactions
        real_compact(records, acked)
        compactions += 1

    monkeypatch.setattr(box.file, "compact", compact)
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
    second = Syncer(LatestValue[GatewayProtocol | None](online), outbox=outbox(path))
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


# --- the format: versioned, the outbox's own ------------------------------------------------------


def test_an_outbox_written_by_the_previous_version_is_replayed(tmp_path: Path) -> None:
    # Version 1 lines, as the previous daemon wrote them: no "v", snapshots in Convex's
    # camelCase, acknowledgements by key.
    path = tmp_path / "outbox.jsonl"
    v1 = [
        {
            "t": "team",
            "seq": 1.0,
            "team": {"dirName": "t", "teamName": "Team T", "leadAgentId": "lead@t"},
            "members": [{"agentId": "lead@t", "agentName": "lead", "tmuxPaneId": "%1"}],
            "tasks": [
                {
                    "taskId": "1",
                    "subject": "s1",
                    "description": "",
                    "status": "pending",
                    "blocks": [],
                    "blockedBy": [],
                }
            ],
        },
        {"t": "ack", "key": "team:t", "seq": 1.0},
        {
            "t": "team",
            "seq": 3.0,
            "team": {"dirName": "t", "teamName": "Team T", "leadAgentId": "lead@t"},
            "members": [{"agentId": "lead@t", "agentName": "lead", "tmuxPaneId": "%1"}],
            "tasks": [
                {
                    "taskId": "1",
                    "subject": "s1",
                    "description": "",
                    "activeForm": "Finishing",
                    "status": "completed",
                    "owner": "executor-1",
                    "blocks": ["2"],
                    "blockedBy": [],
                }
            ],
            "history": [
                {
                    "seq": 2.0,
                    "task": {
                        "taskId": "1",
                        "subject": "s1",
                        "description": "",
                        "status": "in_progress",
                        "owner": "executor-1",
                        "blocks": [],
                        "blockedBy": [],
                    },
                }
            ],
        },
        {"t": "team", "seq": 4.0, "team": {"dirName": "u", "teamName": "u"}, "members": [],
         "tasks": []},
        {"t": "rm", "seq": 5.0, "dir": "u"},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(line) + "\n" for line in v1))
    path.chmod(0o600)

    records = OutboxFile(path).load()
    assert records == [
        TeamItem(
            dir_name="t",
            team=TeamSnapshot(dir_name="t", team_name="Team T", lead_agent_id="lead@t"),
            members=[MemberSnapshot(agent_id="lead@t", agent_name="lead", tmux_pane_id="%1")],
            tasks=[
                TaskSnapshot(
                    task_id="1",
                    subject="s1",
                    description="",
                    active_form="Finishing",
                    status="completed",
                    owner="executor-1",
                    blocks=("2",),
                )
            ],
            seq=3.0,
            history=(
                (
                    2.0,
                    TaskSnapshot(
                        task_id="1",
                        subject="s1",
                        description="",
                        status="in_progress",
                        owner="executor-1",
                    ),
                ),
            ),
        ),
        TeamItem(
            dir_name="u",
            team=TeamSnapshot(dir_name="u", team_name="u"),
            members=[],
            tasks=[],
            seq=4.0,
        ),
        TeamRemoval(dir_name="u", seq=5.0),
    ]

    # A new daemon appends version 2 lines to the old file; both are read back together.
    box = OutboxFile(path)
    box.append(Ack(dir_name="t", seq=3.0))
    box.close()
    assert [(type(r), r.seq) for r in OutboxFile(path).load()] == [
        (TeamItem, 4.0),
        (TeamRemoval, 5.0),
    ]


async def test_a_restored_version_1_outbox_reaches_convex(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    path = tmp_path / "outbox.jsonl"
    team = {"dirName": "t", "teamName": "t"}
    pending = {"taskId": "1", "subject": "s", "description": "", "status": "pending"}
    done = {**pending, "status": "completed"}
    path.write_text(
        json.dumps({"t": "team", "seq": 1.0, "team": team, "members": [], "tasks": [pending]})
        + "\n"
        + json.dumps({"t": "team", "seq": 2.0, "team": team, "members": [], "tasks": [done]})
        + "\n"
    )
    fake = FakeGateway()
    syncer = Syncer(LatestValue[GatewayProtocol | None](fake), outbox=outbox(path))
    assert syncer.restore() == 2
    assert syncer.restored_dirs == {"t"}
    async with trio.open_nursery() as n:
        await n.start(syncer.run)
        await until(lambda: syncer.depth == 0)
        n.cancel_scope.cancel()
    ((_, (_, _, tasks, seq, history)),) = [c for c in fake.calls if c[0] == "sync_team"]
    assert (seq, [t.status for t in tasks]) == (2.0, ["completed"])
    assert [(s, t.status) for s, t in history] == [(1.0, "pending")]
    assert OutboxFile(path).load() == []  # acknowledged in the new format


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_the_on_disk_format_is_versioned_and_has_no_convex_field_names(tmp_path: Path) -> None:
    team = TeamSnapshot(
        dir_name="t", team_name="t", description="d", lead_agent_id="a", created_at=1.0
    )
    member = MemberSnapshot(
        agent_id="a",
        agent_name="lead",
        agent_type="general",
        model="m",
        joined_at=1.0,
        tmux_pane_id="%1",
        cwd="/w",
    )
    full = TaskSnapshot(
        task_id="1",
        subject="s",
        description="d",
        active_form="doing",
        status="in_progress",
        owner="lead",
        blocks=("2",),
        blocked_by=("3",),
        metadata="{}",
    )
    last = TeamItem(
        dir_name="t", team=team, members=[member], tasks=[full], seq=2.0, history=((1.0, full),)
    )
    box = OutboxFile(tmp_path / "o.jsonl")
    box.append(last)
    box.append(Ack(dir_name="t", seq=2.0))
    box.compact([TeamRemoval(dir_name="t", seq=3.0, last=last)])
    box.append(last)
    box.append(TeamRemoval(dir_name="t", seq=4.0))
    box.append(Ack(dir_name="t", seq=4.0))
    box.close()
    lines = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert [(line["v"], line["t"]) for line in lines] == [
        (2, "team"),
        (2, "rm"),
        (2, "team"),
        (2, "rm"),
        (2, "ack"),
    ]
    keys = set().union(*(_keys(line) for line in lines))
    convex_names = {
        wire_name(f)
        for cls in (TeamSnapshot, MemberSnapshot, TaskSnapshot)
        for f in attrs.fields(cls)
    } - {f.name for cls in (TeamSnapshot, MemberSnapshot, TaskSnapshot) for f in attrs.fields(cls)}
    assert convex_names  # camelCase names exist to be avoided
    assert keys.isdisjoint(convex_names), keys & convex_names
    assert all(key == key.lower() for key in keys), keys  # snake_case throughout
    assert {"dir_name", "agent_id", "tmux_pane_id", "task_id", "blocked_by", "active_form"} <= keys


# --- writes: off the event loop, in order, before the send ---------------------------------------


async def test_outbox_writes_run_in_a_thread_of_the_injected_disk_limiter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "o.jsonl"
    disk = trio.CapacityLimiter(1)
    box = outbox(path, disk)
    loop_thread = threading.get_ident()
    writers: list[int] = []
    real_append = box.file.append

    def append(record: Any) -> None:
        writers.append(threading.get_ident())
        real_append(record)

    monkeypatch.setattr(box.file, "append", append)
    syncer = Syncer(LatestValue[GatewayProtocol | None](None), outbox=box)
    async with trio.open_nursery() as n:
        await n.start(syncer.run)
        async with disk:  # the daemon's disk threads are all busy
            syncer.put_team("t", TEAM, [], [task("1")])
            await until(lambda: disk.statistics().tasks_waiting == 1)  # the writer waits its turn
            assert not path.exists()  # nothing written on the event loop meanwhile
        await box.written(box.queued)
        n.cancel_scope.cancel()
    assert writers, "the record was not written through the outbox file"
    assert loop_thread not in writers
    assert [r.tasks for r in OutboxFile(path).load() if isinstance(r, TeamItem)] == [[task("1")]]


class CheckingGateway(FakeGateway):
    """Checks, as each team is sent, that the outbox file already holds what is sent."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.on_disk_when_sent: list[bool] = []

    async def sync_team(
        self, team: Any, members: Any, tasks: Any, seq: Any = None, history: Any = None
    ) -> Any:
        seqs = {r.seq for r in OutboxFile(self.path).load() if isinstance(r, TeamItem)}
        self.on_disk_when_sent.append(seq in seqs)
        return await super().sync_team(team, members, tasks, seq, history)


async def test_a_team_observation_is_sent_only_once_it_is_in_the_outbox(tmp_path: Path) -> None:
    path = tmp_path / "o.jsonl"
    disk = trio.CapacityLimiter(1)
    fake = CheckingGateway(path=path)
    syncer = Syncer(LatestValue[GatewayProtocol | None](fake), outbox=outbox(path, disk))
    async with trio.open_nursery() as n:
        await n.start(syncer.run)
        async with disk:  # the write has to wait for a disk thread
            for status in ("pending", "in_progress", "completed"):
                syncer.put_team("t", TEAM, [], [task("1", status)])
                syncer.put_team("u", TeamSnapshot(dir_name="u", team_name="u"), [], [task("2")])
            await until(lambda: disk.statistics().tasks_waiting == 1)
            await trio.testing.wait_all_tasks_blocked()  # the round waits for the write too
            assert fake.count("sync_team") == 0
        await until(lambda: syncer.depth == 0)
        n.cancel_scope.cancel()
    assert fake.on_disk_when_sent == [True, True]


async def test_appends_and_compaction_are_applied_in_the_order_they_were_queued(
    tmp_path: Path,
) -> None:
    path = tmp_path / "o.jsonl"
    disk = trio.CapacityLimiter(1)
    box = outbox(path, disk)
    a = item(1.0, [task("1")])
    b = item(2.0, [task("2")], team=TeamSnapshot(dir_name="u", team_name="u"))
    async with trio.open_nursery() as n:
        await n.start(box.run)
        async with disk:  # everything is queued before the writer may run
            box.append(item(0.5, [task("0")], team=TeamSnapshot(dir_name="x", team_name="x")))
            box.append(a)
            box.compact([a])  # what was pending then: x's observation was sent meanwhile
            box.append(b)  # after the rewrite: it must land in the new file
        await box.written(box.queued)
        n.cancel_scope.cancel()
    assert OutboxFile(path).load() == [a, b]


async def test_a_stopping_writer_writes_what_is_queued(tmp_path: Path) -> None:
    path = tmp_path / "o.jsonl"
    syncer = Syncer(LatestValue[GatewayProtocol | None](None), outbox=outbox(path))
    async with trio.open_nursery() as n:
        await n.start(syncer.run)
        for status in ("pending", "in_progress", "completed"):
            syncer.put_team("t", TEAM, [], [task("1", status)])
        n.cancel_scope.cancel()  # at once: the writer has not run yet
    assert [r.tasks[0].status for r in OutboxFile(path).load() if isinstance(r, TeamItem)] == [
        "pending",
        "in_progress",
        "completed",
    ]

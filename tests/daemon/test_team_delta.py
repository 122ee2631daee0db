"""Delta team sync: the syncer sends what changed against what Convex holds, reconciles in pages
when that is not known or not what Convex holds, and every real change is one task event, on the
in-memory FakeGateway (which keeps teams as `teams:syncTeamDelta` / `reconcileTeam` /
`finishReconcile` do) and trio's virtual clock. The planning itself is tested without trio."""

from __future__ import annotations

import itertools
from typing import Any

import attrs
import pytest
import trio
import trio.testing
from waiting import until

from tina.convex import LatestValue
from tina.convex.gateway import GatewayProtocol
from tina.daemon.sync.coalescer import TeamItem
from tina.daemon.sync.delta import (
    ROW_OVERHEAD,
    STORED_PER_CALL,
    TASKS_PER_CALL,
    TEXT_PER_CALL,
    Acked,
    Applied,
    fingerprint,
    members_fingerprint,
    plan_delta,
    plan_reconcile,
    task_text,
)
from tina.daemon.sync.syncer import Syncer
from tina.dev.fakes import FakeGateway
from tina.messages import MemberSnapshot, TaskSnapshot, TeamSnapshot

TEAM = TeamSnapshot(dir_name="t", team_name="t")
LEAD = MemberSnapshot(agent_id="lead@t", agent_name="team-lead")
HELPER = MemberSnapshot(agent_id="helper@t", agent_name="helper")


def task(i: int | str, status: str = "pending", description: str = "") -> TaskSnapshot:
    return TaskSnapshot(task_id=str(i), subject=f"task {i}", description=description, status=status)


def board(n: int, description: str = "") -> list[TaskSnapshot]:
    return [task(i, description=description) for i in range(1, n + 1)]


@pytest.fixture
def fake() -> FakeGateway:
    return FakeGateway(team_deltas=True)


async def synced(syncer: Syncer, fake: FakeGateway) -> None:
    """Run the syncer until nothing is pending."""
    async with trio.open_nursery() as n:
        await n.start(syncer.run)
        await until(lambda: syncer.depth == 0)
        n.cancel_scope.cancel()


def names(fake: FakeGateway) -> list[str]:
    return [name for name, _ in fake.calls]


def deltas(fake: FakeGateway) -> list[Any]:
    return [payload for name, payload in fake.calls if name == "sync_team_delta"]


def events(fake: FakeGateway, team: str = "t") -> list[tuple[str, str, str]]:
    return fake.team_rows[team].events


# --- the syncer ----------------------------------------------------------------------------------


async def test_first_sync_of_a_small_team_is_one_call_then_one_task_change_is_one_small_delta(
    autojump_clock: trio.testing.MockClock, fake: FakeGateway
) -> None:
    syncer = Syncer(LatestValue[GatewayProtocol | None](fake))
    tasks = board(50)
    syncer.put_team("t", TEAM, [LEAD], tasks)
    await synced(syncer, fake)
    # The whole team in one call (it sets the revision deltas follow), not a reconcile's two.
    assert names(fake) == ["sync_team"]
    assert len(events(fake)) == 50  # one "created" each

    fake.calls.clear()
    tasks[7] = task(8, "in_progress")
    syncer.put_team("t", TEAM, [LEAD], tasks)
    await synced(syncer, fake)
    ((_, _, _, states, removed, counts, members),) = deltas(fake)
    assert names(fake) == ["sync_team_delta"]
    assert [t for _, t in states] == [task(8, "in_progress")]
    assert removed == [] and members is None  # the members did not change
    assert (counts.pending, counts.in_progress) == (49, 1)
    assert events(fake)[50:] == [("8", "updated", "in_progress")]
    assert fake.teams["t"][2] == tasks


async def test_members_tasks_removed_and_history_each_once(
    autojump_clock: trio.testing.MockClock, fake: FakeGateway
) -> None:
    syncer = Syncer(LatestValue[GatewayProtocol | None](fake))
    syncer.put_team("t", TEAM, [LEAD], [task(1), task(2)])
    await synced(syncer, fake)
    fake.calls.clear()
    # Offline: task 1 goes through two states, task 2 is deleted, a member joins.
    syncer.put_team("t", TEAM, [LEAD], [task(1, "in_progress"), task(2)])
    syncer.put_team("t", TEAM, [LEAD, HELPER], [task(1, "completed")])
    await synced(syncer, fake)
    ((_, _, _, states, removed, _, members),) = deltas(fake)
    assert [(t.task_id, t.status) for _, t in states] == [("1", "in_progress"), ("1", "completed")]
    assert removed == ["2"]
    assert members == [LEAD, HELPER]
    assert events(fake)[2:] == [
        ("1", "updated", "in_progress"),
        ("1", "updated", "completed"),
        ("2", "removed", "pending"),
    ]
    assert fake.teams["t"][1:] == ([LEAD, HELPER], [task(1, "completed")])


async def test_a_lost_reply_is_replayed_as_a_duplicate_without_a_reconcile(
    autojump_clock: trio.testing.MockClock, fake: FakeGateway
) -> None:
    syncer = Syncer(LatestValue[GatewayProtocol | None](fake))
    syncer.put_team("t", TEAM, [LEAD], [task(1)])
    await synced(syncer, fake)
    fake.calls.clear()
    fake.lose_replies = 1  # applied, but the answer never arrives
    syncer.put_team("t", TEAM, [LEAD], [task(1, "in_progress")])
    await synced(syncer, fake)
    first, replay = deltas(fake)
    assert first == replay  # the same call again: Convex answers "duplicate"
    assert names(fake) == ["sync_team_delta", "sync_team_delta"]
    assert events(fake) == [("1", "created", "pending"), ("1", "updated", "in_progress")]
    assert syncer.reconciles == 1 and syncer.resyncs == 0

    # Holding the revision the lost call left, the next change is a plain delta.
    fake.calls.clear()
    syncer.put_team("t", TEAM, [LEAD], [task(1, "completed")])
    await synced(syncer, fake)
    assert names(fake) == ["sync_team_delta"]
    assert events(fake)[-1] == ("1", "updated", "completed")


async def test_a_lost_reply_then_a_newer_change_adopts_what_convex_holds(
    autojump_clock: trio.testing.MockClock, fake: FakeGateway
) -> None:
    syncer = Syncer(LatestValue[GatewayProtocol | None](fake))
    syncer.put_team("t", TEAM, [LEAD], [task(1), task(2)])
    await synced(syncer, fake)
    fake.calls.clear()
    fake.lose_replies = 1
    fake.fail_next = 0
    syncer.put_team("t", TEAM, [LEAD], [task(1, "in_progress"), task(2)])
    async with trio.open_nursery() as n:
        await n.start(syncer.run)
        await until(lambda: fake.lose_replies == 0)
        # While the lost call waits to be retried, task 2 changes too.
        syncer.put_team("t", TEAM, [LEAD], [task(1, "in_progress"), task(2, "completed")])
        await until(lambda: syncer.depth == 0)
        n.cancel_scope.cancel()
    # The retry (base = the revision before the lost call) is a mismatch on the lost call's
    # revision: Convex holds what that call sent, so only task 2 follows. No reconcile.
    assert "reconcile_team" not in names(fake)
    assert [[t.task_id for _, t in d[3]] for d in deltas(fake)][-1] == ["2"]
    assert events(fake)[2:] == [("1", "updated", "in_progress"), ("2", "updated", "completed")]


async def test_a_reset_backend_or_a_foreign_revision_is_reconciled(
    autojump_clock: trio.testing.MockClock, fake: FakeGateway
) -> None:
    syncer = Syncer(LatestValue[GatewayProtocol | None](fake))
    syncer.put_team("t", TEAM, [LEAD], [task(1), task(2), task(3)])
    await synced(syncer, fake)

    fake.reset_teams()  # the deployment lost the team: "unknown"
    fake.calls.clear()
    syncer.put_team("t", TEAM, [LEAD], [task(1, "in_progress"), task(2), task(3)])
    await synced(syncer, fake)
    assert names(fake) == ["sync_team_delta", "sync_team"]  # a small team: one call
    assert fake.teams["t"][2] == [task(1, "in_progress"), task(2), task(3)]

    # Convex holds another revision (e.g. restored from a backup): "mismatch", and the tasks
    # it has that the laptop does not are removed by the reconcile.
    fake.team_rows["t"].revision = 1.0
    fake.team_rows["t"].apply(task(9))
    fake.calls.clear()
    syncer.put_team("t", TEAM, [LEAD], [task(1, "completed"), task(2), task(3)])
    await synced(syncer, fake)
    assert names(fake) == ["sync_team_delta", "sync_team"]
    assert fake.teams["t"][2] == [task(1, "completed"), task(2), task(3)]
    assert events(fake)[-2:] == [("1", "updated", "completed"), ("9", "removed", "pending")]
    assert syncer.resyncs == 2


async def test_a_big_change_goes_as_chained_deltas_and_a_big_team_reconciles_in_pages(
    autojump_clock: trio.testing.MockClock, fake: FakeGateway
) -> None:
    syncer = Syncer(LatestValue[GatewayProtocol | None](fake))
    tasks = board(1200, description="d" * 10_000)
    syncer.put_team("t", TEAM, [LEAD], tasks)
    await synced(syncer, fake)
    pages = [p for name, p in fake.calls if name == "reconcile_team"]
    # 1200 tasks of 10 KB: 4 MiB of text (less the members') holds 418 of them.
    assert [len(p[2]) for p in pages] == [418, 418, 364]
    assert [p[3] is not None for p in pages] == [True, False, False]  # members on the first
    assert len({p[1] for p in pages}) == 1  # one epoch

    fake.calls.clear()
    changed = [attrs.evolve(t, status="completed") for t in tasks]
    syncer.put_team("t", TEAM, [LEAD], changed)
    await synced(syncer, fake)
    chain = deltas(fake)
    assert [len(d[3]) for d in chain] == [418, 418, 364]
    for before, after in itertools.pairwise(chain):
        assert after[1] == before[2]  # base = the previous call's seq
    assert chain[-1][2] == syncer.acked["t"].revision
    assert len(events(fake)) == 2400
    assert fake.teams["t"][2] == changed


async def test_finish_reconcile_is_called_until_done(
    autojump_clock: trio.testing.MockClock, fake: FakeGateway
) -> None:
    syncer = Syncer(LatestValue[GatewayProtocol | None](fake), whole_states=0)
    syncer.put_team("t", TEAM, [LEAD], board(1300))
    await synced(syncer, fake)
    fake.reset_teams()
    fake.calls.clear()
    # Convex has 1,300 tasks the laptop no longer has (a team that shrank while unknown).
    syncer.put_team("t", TEAM, [LEAD], board(1300))
    await synced(syncer, fake)
    fake.team_rows["t"].revision = 5.0
    fake.calls.clear()
    syncer.put_team("t", TEAM, [LEAD], [task(1)])
    await synced(syncer, fake)
    finishes = [p for name, p in fake.calls if name == "finish_reconcile"]
    assert len(finishes) == 3  # 500 + 500 + 299 removed
    assert fake.teams["t"][2] == [task(1)]


async def test_a_removed_team_made_again_starts_with_a_reconcile(
    autojump_clock: trio.testing.MockClock, fake: FakeGateway
) -> None:
    syncer = Syncer(LatestValue[GatewayProtocol | None](fake))
    syncer.put_team("t", TEAM, [LEAD], [task(1)])
    await synced(syncer, fake)
    syncer.remove_team("t")
    await synced(syncer, fake)
    assert "t" not in syncer.acked
    fake.calls.clear()
    syncer.put_team("t", TEAM, [LEAD], [task(1)])
    await synced(syncer, fake)
    assert names(fake) == ["sync_team"]
    assert fake.teams["t"][2] == [task(1)]


async def test_a_deployment_without_delta_sync_gets_whole_snapshots(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeGateway(team_deltas=False)
    syncer = Syncer(LatestValue[GatewayProtocol | None](fake))
    syncer.put_team("t", TEAM, [LEAD], [task(1)])
    syncer.put_team("u", TeamSnapshot(dir_name="u", team_name="u"), [LEAD], [task(1)])
    await synced(syncer, fake)
    # The two first syncs tried as one batch, which the deployment lacks: each alone, whole.
    assert names(fake) == ["sync_teams", "sync_team", "sync_team"]
    syncer.put_team("t", TEAM, [LEAD], [task(1, "completed")])
    await synced(syncer, fake)
    assert names(fake)[3:] == ["sync_team"]  # no delta: a whole snapshot
    assert syncer.team_deltas is False
    assert syncer.team_batches is False


async def test_restart_filters_history_convex_acknowledged(
    autojump_clock: trio.testing.MockClock, fake: FakeGateway, tmp_path: Any
) -> None:
    # States folded into a newer observation that Convex already acknowledged (the ack is in
    # the outbox) are not sent again by the reconcile after a restart.
    from tina.daemon.sync.outbox import Ack, Outbox, OutboxFile

    path = tmp_path / "outbox.jsonl"
    file = OutboxFile(path)
    older = TeamItem(dir_name="t", team=TEAM, members=[LEAD], tasks=[task(1, "pending")], seq=10.0)
    newer = TeamItem(
        dir_name="t",
        team=TEAM,
        members=[LEAD],
        tasks=[task(1, "completed")],
        seq=30.0,
        history=((10.0, task(1, "pending")), (20.0, task(1, "in_progress"))),
    )
    file.append(older)
    file.append(Ack(dir_name="t", seq=10.0))
    file.append(newer)
    file.close()
    syncer = Syncer(
        LatestValue[GatewayProtocol | None](fake),
        outbox=Outbox(path, disk=trio.CapacityLimiter(1)),
    )
    assert syncer.restore() == 1
    await synced(syncer, fake)
    ((_, _, tasks, seq, history),) = [p for name, p in fake.calls if name == "sync_team"]
    assert [(s, t.status) for s, t in history] == [(20.0, "in_progress")]
    assert ([t.status for t in tasks], seq) == (["completed"], 30.0)


# --- planning (pure) -----------------------------------------------------------------------------


def acked(tasks: list[TaskSnapshot], members: list[MemberSnapshot]) -> Acked:
    return Acked(
        revision=100.0,
        tasks={t.task_id: fingerprint(t) for t in tasks},
        members=members_fingerprint(members),
        applied=Applied(observed=100.0),
    )


def item(tasks: list[TaskSnapshot], members: list[MemberSnapshot], **kw: Any) -> TeamItem:
    return TeamItem(dir_name="t", team=TEAM, members=members, tasks=tasks, seq=200.0, **kw)


def test_an_unchanged_team_is_one_empty_delta_and_removals_come_last() -> None:
    tasks = board(3)
    fresh = iter(range(1000, 2000)).__next__
    (only,) = plan_delta(item(tasks, [LEAD]), acked(tasks, [LEAD]), lambda: float(fresh()))
    assert (only.base, only.seq, only.tasks, only.removed, only.members) == (
        100.0,
        200.0,
        [],
        [],
        None,
    )
    # 1,500 tasks gone and 600 changed: two calls of states, then the removals (1,000 at most
    # a call), the first ones in the last call of states.
    many = board(2100)
    now = [attrs.evolve(t, status="completed") for t in many[:600]]
    calls = plan_delta(item(now, [LEAD]), acked(many, [LEAD]), lambda: float(fresh()))
    assert [(len(c.tasks), len(c.removed)) for c in calls] == [(500, 0), (100, 1000), (0, 500)]
    # Each seq above its base, the last the observation's own (200) when there is room below
    # it; fresh seqs when there is none.
    assert [(c.base, c.seq) for c in calls] == [(100.0, 101.0), (101.0, 102.0), (102.0, 200.0)]
    crowded = attrs.evolve(acked(many, [LEAD]), revision=199.0)
    calls = plan_delta(item(now, [LEAD]), crowded, lambda: float(fresh()))
    assert [(c.base, c.seq) for c in calls] == [(199.0, 1000.0), (1000.0, 1001.0), (1001.0, 1002.0)]


def test_calls_read_at_most_the_rows_a_call_may_replace() -> None:
    # Convex holds 1,000 tasks of 20 KB; 300 change to small ones and 700 are gone: each call
    # reads the rows it replaces or removes, at most 4.5 MiB of them.
    big = board(1000, description="x" * 20_000)
    held = attrs.evolve(acked(big, [LEAD]), sizes={t.task_id: task_text(t) for t in big})
    now = [task(i, "completed") for i in range(1, 301)]
    calls = plan_delta(item(now, [LEAD]), held, lambda: 1000.0 + len(now))
    for c in calls:
        rows = sum(held.sizes[t.task_id] + ROW_OVERHEAD for _, t in c.tasks)
        rows += sum(held.sizes[i] + ROW_OVERHEAD for i in c.removed)
        assert rows <= STORED_PER_CALL
    assert sum(len(c.tasks) for c in calls) == 300
    assert sum(len(c.removed) for c in calls) == 700
    assert len(calls) == 6  # rows of 21 KB, 219 a call: 219 + 81 changed, 219 x 3 + 43 gone
    assert calls[-1].post.tasks.keys() == {t.task_id for t in now}
    assert calls[-1].post.applied == Applied(observed=200.0)


def test_history_already_sent_and_states_equal_to_convex_are_skipped() -> None:
    tasks = [task(1), task(2)]
    states = acked(tasks, [LEAD])
    # Task 1 went pending -> in_progress -> pending (two real changes); task 2's in_progress
    # (seen at 150) was sent by an earlier call of this observation: only its return to pending
    # follows.
    states = attrs.evolve(
        states,
        tasks={**states.tasks, "2": fingerprint(task(2, "in_progress"))},
        applied=Applied(observed=100.0, sent={"2": 150.0}),
    )
    history = ((120.0, task(1, "in_progress")), (150.0, task(2, "in_progress")))
    (call,) = plan_delta(item(tasks, [LEAD], history=history), states, lambda: 1.0)
    assert [(s, t.task_id, t.status) for s, t in call.tasks] == [
        (120.0, "1", "in_progress"),
        (200.0, "1", "pending"),
        (200.0, "2", "pending"),
    ]


def test_reconcile_pages_respect_both_bounds() -> None:
    small = plan_reconcile(item(board(1001), [LEAD]), Applied())
    assert [len(p.tasks) for p in small] == [TASKS_PER_CALL, TASKS_PER_CALL, 1]
    big = plan_reconcile(item(board(30, description="x" * 300_000), [LEAD]), Applied())
    assert all(sum(task_text(t) for _, t in p.tasks) <= TEXT_PER_CALL for p in big)
    assert sum(len(p.tasks) for p in big) == 30


async def test_after_a_restart_states_convex_applied_are_not_sent_again(
    autojump_clock: trio.testing.MockClock, fake: FakeGateway, tmp_path: Any
) -> None:
    # The daemon sent an observation and Convex applied it, but the daemon was killed before
    # the outbox recorded the acknowledgement: the restarted daemon asks Convex which
    # observation it holds, and does not send that one's earlier states again.
    from tina.daemon.sync.outbox import Ack, Outbox, OutboxFile

    def observed(seq: float, status: str) -> TeamItem:
        return TeamItem(dir_name="t", team=TEAM, members=[LEAD], tasks=[task(1, status)], seq=seq)

    records = [
        observed(10.0, "pending"),
        observed(20.0, "in_progress"),
        observed(30.0, "completed"),
    ]
    for run, acked in enumerate([[], [Ack(dir_name="t", seq=10.0)]]):
        path = tmp_path / f"outbox-{run}.jsonl"
        file = OutboxFile(path)
        for record in [records[0], *acked, *records[1:]]:
            file.append(record)
        file.close()
        syncer = Syncer(
            LatestValue[GatewayProtocol | None](fake),
            outbox=Outbox(path, disk=trio.CapacityLimiter(1)),
        )
        syncer.restore()
        await synced(syncer, fake)
    assert events(fake) == [
        ("1", "created", "pending"),
        ("1", "updated", "in_progress"),
        ("1", "updated", "completed"),
    ]
    probes = [p for p in deltas(fake) if p[1] == 0.0]
    assert len(probes) == 2  # each restart asked once (the first found no team)


async def test_killed_between_a_reconcile_and_its_finish_no_state_is_recorded_twice(
    autojump_clock: trio.testing.MockClock, fake: FakeGateway, tmp_path: Any
) -> None:
    # A reconcile's page applied the states of an observation (history included), then the
    # daemon was killed before finishReconcile answered. Convex has no revision during a
    # reconcile, so the restarted daemon could not learn from `_probe` what it holds: the outbox
    # records that the states are in, and the next reconcile does not send them again (each
    # earlier state sent again would be one more event, after a later one).
    from tina.convex import ConvexConnectionLost
    from tina.daemon.sync.outbox import Outbox

    path = tmp_path / "outbox.jsonl"
    fake.inject("finish_reconcile", ConvexConnectionLost("killed"), times=10**6)
    outbox = Outbox(path, disk=trio.CapacityLimiter(1))
    syncer = Syncer(LatestValue[GatewayProtocol | None](fake), outbox=outbox, whole_states=0)
    for status in ("pending", "in_progress", "completed"):
        syncer.put_team("t", TEAM, [LEAD], [task(1, status)])
    async with trio.open_nursery() as n:
        await n.start(syncer.run)
        await until(lambda: fake.count("finish_reconcile") >= 1)
        await outbox.written(outbox.queued)  # what the disk has when the kill comes
        n.cancel_scope.cancel()
    expected = [
        ("1", "created", "pending"),
        ("1", "updated", "in_progress"),
        ("1", "updated", "completed"),
    ]
    assert events(fake) == expected
    assert fake.team_rows["t"].epoch is not None  # the reconcile is not finished

    fake.faults.clear()
    syncer = Syncer(
        LatestValue[GatewayProtocol | None](fake),
        outbox=Outbox(path, disk=trio.CapacityLimiter(1)),
        whole_states=0,
    )
    syncer.restore()
    syncer.put_team("t", TEAM, [LEAD], [task(1, "completed")])  # the watcher's first scan
    await synced(syncer, fake)
    assert events(fake) == expected
    assert fake.team_rows["t"].epoch is None  # finished by the restarted daemon


@pytest.mark.parametrize("whole_states", [0, 500], ids=["paged", "whole"])
async def test_a_reconcile_whose_reply_was_lost_is_sent_again_and_records_each_state_once(
    autojump_clock: trio.testing.MockClock, fake: FakeGateway, whole_states: int
) -> None:
    # The reconcile (a page, or a small team's whole snapshot) was applied, its reply lost. The
    # daemon cannot know and sends the same states again; Convex has no revision to answer a
    # probe with during a reconcile, and skips the earlier states it applied (seenSeq).
    fake.lose_replies = 1
    syncer = Syncer(LatestValue[GatewayProtocol | None](fake), whole_states=whole_states)
    for status in ("pending", "in_progress", "completed"):
        syncer.put_team("t", TEAM, [LEAD], [task(1, status)])
    await synced(syncer, fake)
    sent = "reconcile_team" if whole_states == 0 else "sync_team"
    assert fake.count(sent) == 2  # sent again after the lost reply
    assert events(fake) == [
        ("1", "created", "pending"),
        ("1", "updated", "in_progress"),
        ("1", "updated", "completed"),
    ]


# --- a cold start's small teams in batches (teams:syncTeams) ----------------------------------


def small_team(
    d: str, n: int = 10
) -> tuple[str, TeamSnapshot, list[MemberSnapshot], list[TaskSnapshot]]:
    return d, TeamSnapshot(dir_name=d, team_name=d), [LEAD], board(n)


async def test_first_syncs_of_small_teams_go_in_batches_then_deltas(
    autojump_clock: trio.testing.MockClock, fake: FakeGateway
) -> None:
    syncer = Syncer(LatestValue[GatewayProtocol | None](fake))
    dirs = [f"team-{i}" for i in range(120)]
    for d in dirs:
        syncer.put_team(*small_team(d))
    await synced(syncer, fake)
    # 120 teams of 10 tasks: batches of at most 50 teams and 500 task states.
    assert names(fake).count("sync_teams") == 3
    assert sorted(len(p) for n, p in fake.calls if n == "sync_teams") == [20, 50, 50]
    assert "reconcile_team" not in names(fake) and deltas(fake) == []
    assert all(len(events(fake, d)) == 10 for d in dirs)
    assert syncer.synced_teams == set(dirs)
    # Each is known to Convex now: the next change is one delta.
    fake.calls.clear()
    syncer.put_team("team-7", TeamSnapshot(dir_name="team-7", team_name="team-7"), [LEAD],
                    [task(1, "completed"), *board(10)[1:]])  # fmt: skip
    await synced(syncer, fake)
    assert names(fake) == ["sync_team_delta"]
    assert len(events(fake, "team-7")) == 11


async def test_a_batch_that_fails_or_is_not_applied_goes_alone_and_nothing_is_lost(
    autojump_clock: trio.testing.MockClock, fake: FakeGateway
) -> None:
    from tina.convex import ConvexConnectionLost
    from tina.dev.fakes import Fault

    syncer = Syncer(LatestValue[GatewayProtocol | None](fake))
    fake.faults.append(Fault(call="sync_teams", error=ConvexConnectionLost("fake: lost")))
    for d in ("a", "b", "c"):
        syncer.put_team(*small_team(d, 3))
    await synced(syncer, fake)
    assert names(fake).count("sync_teams") == 1  # it failed: each went alone
    assert {d: len(events(fake, d)) for d in "abc"} == {"a": 3, "b": 3, "c": 3}

    # After a restart (nothing known of Convex): Convex holds a later state of "b" than this
    # observation (its seq is below the revision). The batch applies the others; "b" goes alone
    # and is reconciled, its tasks recorded once.
    fake.calls.clear()
    again = Syncer(LatestValue[GatewayProtocol | None](fake))
    for d in ("a", "b", "c"):
        again.put_team(*small_team(d, 4))
    fake.team_rows["b"].revision = 1e30
    await synced(again, fake)
    assert names(fake).count("sync_teams") == 1
    assert "reconcile_team" in names(fake)
    assert {d: len(events(fake, d)) for d in "abc"} == {"a": 4, "b": 4, "c": 4}
    assert set(again.acked) == {"a", "b", "c"}


async def test_a_refused_credential_keeps_a_batch_for_later(
    autojump_clock: trio.testing.MockClock, fake: FakeGateway
) -> None:
    from tina.convex import ConvexError
    from tina.dev.fakes import Fault

    syncer = Syncer(LatestValue[GatewayProtocol | None](fake))
    refused = ConvexError({"code": "revoked", "message": "this laptop was revoked"}, "revoked")
    fake.faults.append(Fault(call="sync_teams", error=refused))
    for d in ("a", "b"):
        syncer.put_team(*small_team(d, 2))
    async with trio.open_nursery() as n:
        await n.start(syncer.run)
        await until(lambda: syncer.blocked_reason is not None)
        assert syncer.depth == 2
        await until(lambda: syncer.depth == 0, timeout=600)  # it waits a minute, then again
        n.cancel_scope.cancel()
    assert syncer.blocked_reason is None
    assert names(fake).count("sync_teams") == 2  # kept, and sent again once it was retried
    assert names(fake).count("sync_team") == 2  # inside the batch that went through
    assert {d: len(events(fake, d)) for d in "ab"} == {"a": 2, "b": 2}

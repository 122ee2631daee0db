"""The daemon's delta team sync against the repository's Convex functions on the local backend:
a big team is reconciled in pages, then one task change is exactly one `teams:syncTeamDelta`
call carrying that task; replays and a lost base are recovered from without a lost or a
duplicated task event.

`TINA_DELTA_TASKS` sets the big team's size (default 10,000 tasks with 20 KB descriptions)."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import attrs
import pytest
import structlog
import trio
from convex.values import convex_to_json

from tina.convex import ConvexConnectionLost, LatestValue
from tina.convex.client import ConvexClient, open_convex_client
from tina.convex.gateway import (
    Gateway,
    GatewayProtocol,
    ReconcileTeamResult,
    SyncTeamDeltaResult,
    enroll,
)
from tina.daemon.sync.syncer import Syncer
from tina.dev.backend import BackendProcess
from tina.messages import MemberSnapshot, TaskSnapshot, TeamSnapshot

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1200)]

SECRET = "delta-wire-enrollment-secret-0123456789"
TASKS = int(os.environ.get("TINA_DELTA_TASKS", "10000"))
DESCRIPTION = 20_000  # "20 KB": the most a task description may hold (LIMITS.description)
TEAM = TeamSnapshot(dir_name="big", team_name="big")
LEAD = MemberSnapshot(agent_id="team-lead@big", agent_name="team-lead", cwd="/w")


class CountingClient:
    """The client, counting each mutation and the bytes of its arguments (Convex's JSON)."""

    def __init__(self, client: ConvexClient) -> None:
        self.client = client
        self.sent: list[tuple[str, int]] = []

    async def mutation(self, path: str, args: dict[str, Any], **kw: Any) -> Any:
        self.sent.append((path, len(json.dumps(convex_to_json(args), separators=(",", ":")))))
        return await self.client.mutation(path, args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def task(i: int, status: str = "pending", size: int = DESCRIPTION) -> TaskSnapshot:
    text = f"Task {i}: " + "lorem ipsum dolor sit amet " * (size // 27 + 1)
    return TaskSnapshot(
        task_id=str(i),
        subject=f"Do part {i} of the feature",
        description=text[:size],
        status=status,
        owner="executor-1" if status != "pending" else None,
    )


@contextlib.asynccontextmanager
async def enrolled_syncer(
    backend: BackendProcess, name: str
) -> AsyncIterator[tuple[CountingClient, Syncer]]:
    """A syncer of a laptop enrolled on `backend`, its mutations counted (not yet running)."""
    async with open_convex_client(backend.url) as client:
        enrolled = await enroll(client, SECRET, name, "linux")
        counting = CountingClient(client)
        gateway = Gateway(cast(ConvexClient, counting), enrolled.credential, timeout=120)
        yield counting, Syncer(LatestValue[GatewayProtocol | None](gateway))


async def drain(syncer: Syncer, timeout: float) -> None:
    with trio.fail_after(timeout):
        while syncer.depth:
            await trio.sleep(0.05)


async def test_a_big_team_reconciles_in_pages_then_one_change_is_one_delta(
    backend_factory: Callable[..., BackendProcess],
) -> None:
    backend = backend_factory(env={"TINA_ENROLLMENT_SECRET": SECRET})
    async with enrolled_syncer(backend, "delta") as (counting, syncer):
        tasks = [task(i) for i in range(1, TASKS + 1)]
        async with trio.open_nursery() as nursery:
            await nursery.start(syncer.run)
            syncer.put_team("big", TEAM, [LEAD], tasks)
            await drain(syncer, timeout=900)
            first = list(counting.sent)
            counting.sent.clear()

            tasks[TASKS // 2] = task(TASKS // 2 + 1, "in_progress")
            syncer.put_team("big", TEAM, [LEAD], tasks)
            await drain(syncer, timeout=60)
            nursery.cancel_scope.cancel()

    assert syncer.failed == 0
    pages = [size for path, size in first if path == "teams:reconcileTeam"]
    assert len(pages) >= TASKS * DESCRIPTION // (4 * 1024 * 1024)
    assert all(size <= 4 * 1024 * 1024 + 256 * 1024 for size in pages)
    assert [path for path, _ in first][-1] == "teams:finishReconcile"
    # One task changed: one call, about one task's worth of bytes.
    ((path, size),) = counting.sent
    assert path == "teams:syncTeamDelta"
    assert size < DESCRIPTION + 4096

    (team,) = backend.dump("teams")["teams"]
    assert team["taskCounts"] == {
        "pending": TASKS - 1,
        "inProgress": 1,
        "completed": 0,
        "other": 0,
    }
    events = backend.dump("taskEvents")["taskEvents"]
    assert len(events) == TASKS + 1  # each created once, then the one change
    assert [(e["taskId"], e["status"]) for e in events if e["kind"] == "updated"] == [
        (str(TASKS // 2 + 1), "in_progress")
    ]


class LosingGateway(Gateway):
    """The real gateway, except that the next `lose` delta answers (and `lose_pages` reconcile
    page answers) are lost after Convex applied the call (as when the connection drops with the
    reply on its way)."""

    lose = 0
    lose_pages = 0

    async def sync_team_delta(self, *args: Any, **kw: Any) -> SyncTeamDeltaResult:
        result = await super().sync_team_delta(*args, **kw)
        if self.lose:
            self.lose -= 1
            raise ConvexConnectionLost("test: the reply was lost")
        return result

    async def reconcile_team(self, *args: Any, **kw: Any) -> ReconcileTeamResult:
        result = await super().reconcile_team(*args, **kw)
        if self.lose_pages:
            self.lose_pages -= 1
            raise ConvexConnectionLost("test: the reply was lost")
        return result


@contextlib.asynccontextmanager
async def losing_syncer(
    backend: BackendProcess, **options: Any
) -> AsyncIterator[tuple[LosingGateway, Syncer]]:
    """A syncer of a laptop enrolled on `backend` whose gateway can lose replies (not running)."""
    async with open_convex_client(backend.url) as client:
        enrolled = await enroll(client, SECRET, "delta", "linux")
        gateway = LosingGateway(client, enrolled.credential)
        yield gateway, Syncer(LatestValue[GatewayProtocol | None](gateway), **options)


async def test_replays_and_a_lost_base_lose_and_duplicate_nothing(
    backend_factory: Callable[..., BackendProcess],
) -> None:
    backend = backend_factory(env={"TINA_ENROLLMENT_SECRET": SECRET})
    async with losing_syncer(backend) as (gateway, syncer):
        tasks = [task(i, size=100) for i in range(1, 21)]
        async with trio.open_nursery() as nursery:
            await nursery.start(syncer.run)
            syncer.put_team("big", TEAM, [LEAD], tasks)
            await drain(syncer, timeout=60)

            # A reply lost after Convex applied the delta: sent again, it is a duplicate.
            gateway.lose = 1
            tasks[0] = task(1, "in_progress", size=100)
            with structlog.testing.capture_logs() as logs:
                syncer.put_team("big", TEAM, [LEAD], tasks)
                await drain(syncer, timeout=60)
            replayed = [e for e in logs if e["event"] == "sync.team_replayed"]
            assert [e["status"] for e in replayed] == ["duplicate"]
            assert syncer.reconciles == 1

            # Convex's revision is not the one the daemon holds (a backend restored from a
            # backup, say): "mismatch", and a reconcile brings it back; task 1 is gone too.
            syncer.acked["big"] = attrs.evolve(syncer.acked["big"], revision=3.0)
            tasks[1] = task(2, "completed", size=100)
            syncer.put_team("big", TEAM, [LEAD], tasks[1:])
            await drain(syncer, timeout=60)
            nursery.cancel_scope.cancel()

    assert (syncer.resyncs, syncer.reconciles, syncer.failed) == (1, 2, 0)
    events = backend.dump("taskEvents")["taskEvents"]
    changes = [(e["taskId"], e["kind"], e["status"]) for e in events if e["kind"] != "created"]
    assert changes == [
        ("1", "updated", "in_progress"),
        ("2", "updated", "completed"),
        ("1", "removed", "in_progress"),
    ]
    assert len(events) == 20 + 3
    (team,) = backend.dump("teams")["teams"]
    assert team["revision"] == syncer.acked["big"].revision
    assert team.get("reconcileEpoch") is None


async def test_a_reconcile_page_whose_reply_was_lost_records_each_state_once(
    backend_factory: Callable[..., BackendProcess],
) -> None:
    # States seen while offline (task 1 pending, in progress, completed) go in a reconcile page;
    # Convex applies it, the reply is lost. During a reconcile Convex has no revision a probe
    # could learn from, so the daemon sends the page again: each state is still recorded once.
    backend = backend_factory(env={"TINA_ENROLLMENT_SECRET": SECRET})
    async with losing_syncer(backend, whole_states=0) as (gateway, syncer):
        gateway.lose_pages = 1
        for status in ("pending", "in_progress", "completed"):
            syncer.put_team("big", TEAM, [LEAD], [task(1, status, size=100)])
        async with trio.open_nursery() as nursery:
            await nursery.start(syncer.run)
            await drain(syncer, timeout=60)
            nursery.cancel_scope.cancel()

    assert gateway.lose_pages == 0 and syncer.failed == 0
    events = backend.dump("taskEvents")["taskEvents"]
    assert [(e["taskId"], e["kind"], e["status"]) for e in events] == [
        ("1", "created", "pending"),
        ("1", "updated", "in_progress"),
        ("1", "updated", "completed"),
    ]
    (team,) = backend.dump("teams")["teams"]
    assert team.get("reconcileEpoch") is None and team["revision"] == syncer.acked["big"].revision


class _Answer:
    """A client that only counts: every mutation answers a synced team (nothing is sent)."""

    async def mutation(self, path: str, args: dict[str, Any], **kw: Any) -> Any:
        return {"teamId": "t", "applied": True, "taskEventsAppended": 0.0, "membersRemoved": 0.0}


async def test_one_change_in_a_2000_task_team_is_one_call_of_one_task(
    backend_factory: Callable[..., BackendProcess],
) -> None:
    # The team of the issue: 2,000 tasks with 2 KB descriptions. Before, every change sent the
    # whole snapshot (`teams:syncTeam`, about 4.7 MiB); now one delta of the task that changed.
    tasks = [task(i, size=2048) for i in range(1, 2001)]
    members = [
        LEAD,
        *(attrs.evolve(LEAD, agent_id=f"e{i}@big", agent_name=f"e{i}") for i in (1, 2)),
    ]
    whole = CountingClient(cast(ConvexClient, _Answer()))
    await Gateway(cast(ConvexClient, whole), "token").sync_team(TEAM, members, tasks, 1.0, [])
    ((_, before),) = whole.sent

    backend = backend_factory(env={"TINA_ENROLLMENT_SECRET": SECRET})
    async with (
        enrolled_syncer(backend, "delta") as (counting, syncer),
        trio.open_nursery() as nursery,
    ):
        await nursery.start(syncer.run)
        syncer.put_team("big", TEAM, members, tasks)
        await drain(syncer, timeout=300)
        counting.sent.clear()
        tasks[999] = task(1000, "in_progress", size=2048)
        syncer.put_team("big", TEAM, members, tasks)
        await drain(syncer, timeout=60)
        nursery.cancel_scope.cancel()
    ((path, after),) = counting.sent
    print(
        f"one change, 2,000 tasks x 2 KB: before 1 call of {before} bytes, after 1 {path} of {after} bytes"
    )
    assert before > 4 * 1024 * 1024
    assert path == "teams:syncTeamDelta"
    assert after < 4096


async def test_a_cold_start_of_small_teams_is_a_few_batch_calls(
    backend_factory: Callable[..., BackendProcess],
) -> None:
    # 120 teams of 10 tasks, as a cold start finds them: three `teams:syncTeams` calls (50 teams
    # or 500 task states each at most) instead of 120 calls; then each team follows with deltas.
    backend = backend_factory(env={"TINA_ENROLLMENT_SECRET": SECRET})
    dirs = [f"team-{i}" for i in range(120)]
    async with (
        enrolled_syncer(backend, "batch") as (counting, syncer),
        trio.open_nursery() as nursery,
    ):
        await nursery.start(syncer.run)
        for d in dirs:
            lead = attrs.evolve(LEAD, agent_id=f"team-lead@{d}")
            tasks = [task(i, size=100) for i in range(1, 11)]
            syncer.put_team(d, TeamSnapshot(dir_name=d, team_name=d), [lead], tasks)
        await drain(syncer, timeout=120)
        batches = [path for path, _ in counting.sent]
        counting.sent.clear()
        lead = attrs.evolve(LEAD, agent_id="team-lead@team-7")
        changed = [task(1, "completed", size=100), *(task(i, size=100) for i in range(2, 11))]
        syncer.put_team(
            "team-7", TeamSnapshot(dir_name="team-7", team_name="team-7"), [lead], changed
        )
        await drain(syncer, timeout=60)
        nursery.cancel_scope.cancel()
    assert batches == ["teams:syncTeams"] * 3
    assert [path for path, _ in counting.sent] == ["teams:syncTeamDelta"]
    dump = backend.dump("teams", "tasks")
    assert sorted(t["dirName"] for t in dump["teams"]) == sorted(dirs)
    assert len(dump["tasks"]) == 1200
    assert {t["revision"] is not None for t in dump["teams"]} == {True}

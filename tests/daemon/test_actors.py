"""Presence, discovery and the action actors with the in-memory FakeGateway."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import structlog
import trio
import trio.testing

from tina.actions import ActionResult, HandlerEnv
from tina.actors import actions as action_actors
from tina.actors import discovery, presence
from tina.convex import LatestValue
from tina.convex.gateway import GatewayProtocol, Health
from tina.supervision import ChildSpec, DynamicSupervisor
from tina.testing import FakeGateway, refused
from tina.watch import WatchHub

HEALTH = Health(daemon_version="t", started_at=1.7e12, uptime_secs=1, outbox_depth=0)


async def until(predicate: Any, timeout: float = 60) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.01)


async def test_presence_registers_once_then_beats_every_interval(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeGateway()
    state = presence.Presence()
    async with trio.open_nursery() as n:
        await n.start(
            presence.run,
            LatestValue[GatewayProtocol | None](fake),
            lambda: HEALTH,
            "laptop.abc",
            state,
        )
        await trio.sleep(95.5)
        n.cancel_scope.cancel()
    assert fake.count("register") == 1
    assert fake.count("interrupt_stale_actions") == 1
    assert fake.count("heartbeat") == 4  # at 0, 30, 60, 90
    assert state.registered_as == "laptop"


async def test_a_refused_credential_is_reported_once_and_checked_rarely(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeGateway(fail_next=10**6, failure=refused())
    state = presence.Presence()
    with structlog.testing.capture_logs() as logs:
        async with trio.open_nursery() as n:
            await n.start(
                presence.run,
                LatestValue[GatewayProtocol | None](fake),
                lambda: HEALTH,
                "laptop.abc",
                state,
            )
            await trio.sleep(1000)
            n.cancel_scope.cancel()
    assert fake.count("register") <= 5  # every 300 s, not a loop
    assert state.refused is not None
    assert "revoked" in state.refused
    assert [e["event"] for e in logs].count("node.credential_refused") == 1


async def test_discovery_starts_and_stops_worktree_watchers(tmp_path: Path) -> None:
    sessions = tmp_path / "tina-sessions"
    sessions.mkdir()
    started: list[str] = []

    def spec(feature: str, path: Path, repo: str | None) -> ChildSpec:
        async def run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            started.append(feature)
            task_status.started()
            await trio.sleep_forever()

        return ChildSpec(id=f"wt:{feature}", run=run)

    def lookup(feature: str) -> None:
        (sessions / f"{feature}.json").write_text(
            json.dumps(
                {
                    "feature": feature,
                    "worktree_path": str(tmp_path / feature),
                    "repo_root": str(tmp_path),
                    "created_at": "2026-11-21T00:00:00Z",
                }
            )
        )

    lookup("alpha")
    hub = WatchHub()
    worktrees = DynamicSupervisor("worktrees")
    async with trio.open_nursery() as n:
        await n.start(hub.run)
        await n.start(worktrees.run)
        await n.start(discovery.run, sessions, hub, worktrees, spec)
        assert worktrees.child_ids == ["wt:alpha"]
        await trio.sleep(0.3)
        lookup("beta")  # appears while running: picked up without a restart
        with trio.fail_after(10):
            while worktrees.child_ids != ["wt:alpha", "wt:beta"]:
                await trio.sleep(0.05)
        (sessions / "alpha.json").write_text('{"feature": "alp')  # half-written: keep watching
        await trio.sleep(0.5)
        assert "wt:alpha" in worktrees.child_ids
        (sessions / "alpha.json").unlink()
        with trio.fail_after(10):
            while worktrees.child_ids != ["wt:beta"]:
                await trio.sleep(0.05)
        n.cancel_scope.cancel()
    assert started == ["alpha", "beta"]


def action_doc(i: int, expires: float = 4e12, type_: str = "retry") -> dict[str, Any]:
    return {
        "_id": f"a{i}",
        "type": type_,
        "status": "pending",
        "expiresAt": expires,
        "payload": {"feature": "billing-export", "phase": "1"},
    }


@pytest.fixture
def henv(tmp_path: Path) -> HandlerEnv:
    return HandlerEnv.build(
        claude_dir=tmp_path, tina_session="tina-session", tmux_socket=None, timeout=5
    )


async def test_actions_are_claimed_run_once_and_completed(
    autojump_clock: trio.testing.MockClock, henv: HandlerEnv
) -> None:
    fake = FakeGateway()
    ran: list[str] = []

    async def runner(action: Any, _: HandlerEnv) -> ActionResult:
        ran.append(action.id)
        await trio.sleep(1)
        return ActionResult(
            ok=action.id != "a2",
            code="ok" if action.id != "a2" else "cli_exit_non_zero",
            message="m",
        )

    fake.actions = {f"a{i}": action_doc(i) for i in range(3)}
    fake.actions["a9"] = action_doc(9, expires=1.0)  # long expired: never run
    fake.actions["a7"] = {
        **action_doc(7),
        "type": "format_disk",
    }  # rejected after claiming: completed as failed
    cell = LatestValue[GatewayProtocol | None](fake)
    stats = action_actors.ActionStats()
    send, receive = trio.open_memory_channel[dict[str, Any]](16)
    async with trio.open_nursery() as n:
        await n.start(
            partial(action_actors.dispatch, cell, receive, henv, "laptop.abc", stats, runner=runner)
        )
        await n.start(action_actors.listen, cell, send, stats)
        fake.publish_pending()
        await until(lambda: len(fake.completed) == 4)
        fake.publish_pending()  # the subscription re-delivers: nothing runs twice
        await trio.sleep(5)
        n.cancel_scope.cancel()
    assert sorted(ran) == ["a0", "a1", "a2"]
    assert fake.completed["a2"]["ok"] is False
    assert fake.completed["a7"]["code"] == "unknown_action_type"
    assert "a9" not in fake.completed
    assert fake.actions["a9"]["status"] == "pending"
    assert (stats.done, stats.failed) == (2, 2)


async def test_an_action_claimed_elsewhere_is_not_run(
    autojump_clock: trio.testing.MockClock, henv: HandlerEnv
) -> None:
    fake = FakeGateway()
    ran: list[str] = []

    async def runner(action: Any, _: HandlerEnv) -> ActionResult:
        ran.append(action.id)
        return ActionResult(ok=True, code="ok", message="m")

    fake.actions = {"a1": {**action_doc(1), "status": "claimed"}}
    cell = LatestValue[GatewayProtocol | None](fake)
    stats = action_actors.ActionStats()
    send, receive = trio.open_memory_channel[dict[str, Any]](16)
    async with trio.open_nursery() as n:
        await n.start(
            partial(action_actors.dispatch, cell, receive, henv, "laptop.abc", stats, runner=runner)
        )
        await send.send(action_doc(1))
        await trio.sleep(2)
        n.cancel_scope.cancel()
    assert ran == []
    assert fake.count("claim_action") == 1
    assert fake.completed == {}

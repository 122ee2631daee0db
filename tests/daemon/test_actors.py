"""Presence, discovery and the action actors with the in-memory FakeGateway."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import pytest
import structlog
import trio
import trio.testing

from tina.convex import ConvexConnectionLost, LatestValue
from tina.convex.actions import action_from_wire
from tina.convex.gateway import GatewayProtocol
from tina.daemon.actions import (
    ActionMessage,
    ActionResult,
    HandlerEnv,
    InboundAction,
    MalformedAction,
)
from tina.daemon.actors import discovery, dispatcher, listener, presence
from tina.daemon.watch import WatchHub
from tina.dev.fakes import FakeGateway, refused
from tina.messages import Health
from tina.supervision import ChildSpec, DynamicSupervisor, Supervisor, inject_fault

HEALTH = Health(daemon_version="t", started_at=1.7e12, uptime_secs=1, outbox_depth=0)


async def until(predicate: Any, timeout: float = 60) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.01)


async def run_presence(
    fake: FakeGateway,
    seconds: float,
    health: Any = lambda: HEALTH,
    state: presence.Presence | None = None,
    **kw: Any,
) -> presence.Presence:
    """Presence against the fake for `seconds` (virtual), then a clean stop."""
    state = state or presence.Presence()
    async with trio.open_nursery() as n:
        await n.start(
            partial(
                presence.run,
                LatestValue[GatewayProtocol | None](fake),
                health,
                "laptop.abc",
                state,
                **kw,
            )
        )
        await trio.sleep(seconds)
        n.cancel_scope.cancel()
    return state


@attrs.define
class TimedGateway(FakeGateway):
    """Also records when each heartbeat was sent (trio time)."""

    beat_at: list[float] = attrs.Factory(list)

    async def heartbeat(self, health: Health) -> None:
        self.beat_at.append(trio.current_time())
        await super().heartbeat(health)

    def beats(self) -> list[int]:
        return [round(t - self.beat_at[0]) for t in self.beat_at]


async def test_presence_registers_once_then_beats_every_idle_interval_when_nothing_changes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = TimedGateway()
    state = await run_presence(fake, 125.5)
    assert fake.count("register") == 1
    assert fake.count("interrupt_stale_actions") == 1
    # Nothing new: twice the 30 s interval between beats.
    assert fake.beats() == [0, 60, 120]
    assert state.registered_as == "laptop"
    assert state.beats == 3


async def test_a_changed_health_goes_out_one_interval_after_the_last_beat(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = TimedGateway()
    # The outbox depth changes every 10 s for a minute, then stays; the uptime alone is
    # nothing new.
    health = lambda: Health(  # noqa: E731
        daemon_version="t",
        started_at=1.7e12,
        uptime_secs=trio.current_time(),
        outbox_depth=float(min(6, int(trio.current_time()) // 10)),
    )
    await run_presence(fake, 125.5, health)
    assert fake.beats() == [0, 30, 60, 120]


async def test_heartbeats_are_skipped_while_other_calls_succeed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = TimedGateway()

    async def syncing() -> None:
        # A sync every 50 s for 10 minutes (each is a sign of life), then nothing; a query
        # (no sign of life to the deployment) does not count.
        for _ in range(12):
            await trio.sleep(50)
            await fake.interrupt_stale_actions("laptop.abc")
            await fake.active_team_dirs()

    async with trio.open_nursery() as n:
        n.start_soon(syncing)
        await run_presence(fake, 760)
    # The beat at registration, then none while the syncs came, then 60 s after the last one.
    assert fake.beats() == [0, 660, 720]


async def test_beats_stay_within_half_the_deployments_offline_threshold(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = TimedGateway(offline_after_ms=10_000)
    state = await run_presence(fake, 22.5, interval=30.0, idle_interval=120.0)
    assert state.offline_after == 10.0
    assert fake.beats() == [0, 5, 10, 15, 20]


async def test_a_clean_stop_signs_the_laptop_off_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeGateway()
    await run_presence(fake, 10)
    assert fake.count("sign_off") == 1
    assert fake.calls[-1][0] == "sign_off"
    # Refused (revoked): nothing to sign off.
    revoked = FakeGateway(fail_next=10**6, failure=refused())
    await run_presence(revoked, 10)
    assert revoked.count("sign_off") == 0


async def test_a_restarted_presence_actor_does_not_sign_off_only_a_stop_does(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # A fault injected into the actor cancels it (a sibling crashed in the nursery around it)
    # and its supervisor starts it again: the daemon goes on, so no sign-off (the laptop would
    # show offline, then online at the next call). The daemon's stop signs off once.
    fake = FakeGateway()
    state = presence.Presence()
    spec = ChildSpec(
        id="presence",
        run=partial(
            presence.run,
            LatestValue[GatewayProtocol | None](fake),
            lambda: HEALTH,
            "laptop.abc",
            state,
            interval=1.0,
        ),
    )
    root = Supervisor("root", [inject_fault(spec, 2)])
    async with trio.open_nursery() as n:
        await n.start(root.run)
        await until(lambda: fake.count("register") == 3)  # started twice again
        await until(lambda: fake.count("heartbeat") >= 4)
        assert fake.count("sign_off") == 0
        n.cancel_scope.cancel()
    assert fake.count("sign_off") == 1
    assert fake.calls[-1][0] == "sign_off"


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
        lookup("gamma")  # sentinel: the scan that finds gamma also read the half-written alpha
        with trio.fail_after(10):
            while "wt:gamma" not in worktrees.child_ids:
                await trio.sleep(0.05)
        assert "wt:alpha" in worktrees.child_ids
        (sessions / "alpha.json").unlink()
        with trio.fail_after(10):
            while worktrees.child_ids != ["wt:beta", "wt:gamma"]:
                await trio.sleep(0.05)
        n.cancel_scope.cancel()
    assert started == ["alpha", "beta", "gamma"]


def action_doc(i: int, expires: float = 4e12, type_: str = "retry") -> dict[str, Any]:
    return {
        "_id": f"a{i}",
        "type": type_,
        "status": "pending",
        "expiresAt": expires,
        "payload": {"feature": "billing-export", "phase": "1"},
    }


def typed(i: int) -> InboundAction:
    return action_from_wire(action_doc(i))


@pytest.fixture
def henv(tmp_path: Path) -> HandlerEnv:
    return HandlerEnv.build(
        claude_dir=tmp_path, tina_session="tina-session", tmux_socket=None, timeout=5
    )


def events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == name]


async def test_actions_are_claimed_run_once_and_completed(
    autojump_clock: trio.testing.MockClock, henv: HandlerEnv
) -> None:
    fake = FakeGateway()
    ran: list[str] = []

    async def runner(action: InboundAction, _: HandlerEnv) -> ActionResult:
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
    }  # rejected: claimed, then completed as failed
    cell = LatestValue[GatewayProtocol | None](fake)
    stats = dispatcher.ActionStats()
    send, receive = trio.open_memory_channel[ActionMessage](16)
    with structlog.testing.capture_logs() as logs:
        async with trio.open_nursery() as n:
            await n.start(
                partial(
                    dispatcher.dispatch, cell, receive, henv, "laptop.abc", stats, runner=runner
                )
            )
            await n.start(listener.listen, cell, send, stats)
            fake.publish_pending()
            await until(lambda: len(fake.completed) == 4)
            # The subscription re-delivers the whole list: only the new action is dispatched.
            fake.actions["a5"] = action_doc(5)
            fake.publish_pending()
            await until(lambda: "a5" in fake.completed)
            n.cancel_scope.cancel()
    assert sorted(ran) == ["a0", "a1", "a2", "a5"]
    assert fake.completed["a2"].ok is False
    assert fake.completed["a7"].code == "unknown_action_type"
    assert "a9" not in fake.completed
    assert fake.actions["a9"]["status"] == "pending"
    assert (stats.done, stats.failed) == (3, 2)
    assert [e["action_id"] for e in events(logs, "action.skipped_expired")] == ["a9"]


async def test_the_listener_sends_each_new_action_once_and_typed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fake = FakeGateway()
    fake.actions = {"a1": action_doc(1), "a2": {**action_doc(2), "payload": {"feature": "-x"}}}
    cell = LatestValue[GatewayProtocol | None](fake)
    send, receive = trio.open_memory_channel[ActionMessage](16)
    async with trio.open_nursery() as n:
        await n.start(listener.listen, cell, send, dispatcher.ActionStats())
        fake.publish_pending()
        first = [await receive.receive(), await receive.receive()]
        fake.actions["a3"] = action_doc(3)
        fake.publish_pending()  # a1 and a2 again, then a3: a re-sent one would come first
        third = await receive.receive()
        n.cancel_scope.cancel()
    assert first == [
        InboundAction(id="a1", type="retry", feature="billing-export", phase="1", expires_at=4e12),
        MalformedAction(id="a2", code="payload_missing_field", message="payload.phase is required"),
    ]
    assert third == typed(3)


async def test_malformed_documents_are_logged_and_reported_and_the_rest_still_run(
    autojump_clock: trio.testing.MockClock, henv: HandlerEnv
) -> None:
    fake = FakeGateway()
    ran: list[str] = []

    async def runner(action: InboundAction, _: HandlerEnv) -> ActionResult:
        ran.append(action.id)
        return ActionResult(ok=True, code="ok", message="m")

    cell = LatestValue[GatewayProtocol | None](fake)
    stats = dispatcher.ActionStats()
    send, receive = trio.open_memory_channel[ActionMessage](16)
    fake.actions = {
        "a1": {**action_doc(1), "payload": "rm -rf /"},  # has an id: reported as failed
        "a2": action_doc(2),
        "a3": {**action_doc(3), "payload": {"feature": "f", "phase": "1", "feedback": 7}},
    }
    with structlog.testing.capture_logs() as logs:
        async with trio.open_nursery() as n:
            await n.start(
                partial(
                    dispatcher.dispatch, cell, receive, henv, "laptop.abc", stats, runner=runner
                )
            )
            await n.start(listener.listen, cell, send, stats)
            docs: list[Any] = [
                "not a document",
                {"type": "pause"},  # no id: can only be logged
                *fake.actions.values(),
            ]
            fake.subscription.cell.set(docs)
            await until(lambda: len(fake.completed) == 3)
            fake.subscription.cell.set({"not": "a list"})
            await until(lambda: events(logs, "actions.malformed_update"))
            fake.actions["a4"] = action_doc(4)
            fake.publish_pending()  # the listener still runs
            await until(lambda: "a4" in fake.completed)
            n.cancel_scope.cancel()
    assert sorted(ran) == ["a2", "a4"]
    assert fake.completed["a1"] == ActionResult(
        ok=False, code="payload_invalid", message="payload: expected an object"
    )
    assert fake.completed["a3"].code == "payload_invalid"
    assert fake.completed["a2"].ok is True
    malformed = events(logs, "action.malformed")
    assert [e.get("action_id") for e in malformed] == [None, None, "a1", "a3"]
    assert all(e["log_level"] == "warning" and e["error"] for e in malformed)
    assert len(events(logs, "actions.malformed_update")) == 1


async def test_an_action_claimed_elsewhere_is_not_run(
    autojump_clock: trio.testing.MockClock, henv: HandlerEnv
) -> None:
    fake = FakeGateway()
    ran: list[str] = []

    async def runner(action: InboundAction, _: HandlerEnv) -> ActionResult:
        ran.append(action.id)
        return ActionResult(ok=True, code="ok", message="m")

    fake.actions = {"a1": {**action_doc(1), "status": "claimed"}}
    cell = LatestValue[GatewayProtocol | None](fake)
    stats = dispatcher.ActionStats()
    send, receive = trio.open_memory_channel[ActionMessage](16)
    with structlog.testing.capture_logs() as logs:
        async with trio.open_nursery() as n:
            await n.start(
                partial(
                    dispatcher.dispatch, cell, receive, henv, "laptop.abc", stats, runner=runner
                )
            )
            await send.send(typed(1))
            await until(lambda: events(logs, "action.not_claimed"))  # the claim's answer
            n.cancel_scope.cancel()
    assert ran == []
    assert fake.count("claim_action") == 1
    assert fake.completed == {}
    assert events(logs, "action.not_claimed")[0]["reason"] == "not_pending"


async def test_a_failed_mark_running_fails_only_that_action(
    autojump_clock: trio.testing.MockClock, henv: HandlerEnv
) -> None:
    """A Convex error while marking a2 running, while a1 runs: a1 completes normally; a2 is
    not run and is completed as failed with the reason."""
    fake = FakeGateway()
    fake.actions = {"a1": action_doc(1), "a2": action_doc(2)}
    fake.inject("mark_action_running", refused("internal", "boom"), action_id="a2")
    a1_running, release_a1 = trio.Event(), trio.Event()
    ran: list[str] = []

    async def runner(action: InboundAction, _: HandlerEnv) -> ActionResult:
        ran.append(action.id)
        a1_running.set()
        await release_a1.wait()
        return ActionResult(ok=True, code="ok", message="done")

    cell = LatestValue[GatewayProtocol | None](fake)
    stats = dispatcher.ActionStats()
    send, receive = trio.open_memory_channel[ActionMessage](16)
    async with trio.open_nursery() as n:
        await n.start(
            partial(dispatcher.dispatch, cell, receive, henv, "laptop.abc", stats, runner=runner)
        )
        await send.send(typed(1))
        await a1_running.wait()
        await send.send(typed(2))
        await until(lambda: "a2" in fake.completed)
        assert fake.actions["a1"]["status"] == "running"  # untouched by a2's failure
        release_a1.set()
        await until(lambda: "a1" in fake.completed)
        n.cancel_scope.cancel()
    assert ran == ["a1"]
    assert fake.completed["a1"] == ActionResult(ok=True, code="ok", message="done")
    assert fake.completed["a2"].ok is False
    assert fake.completed["a2"].code == "mark_running_failed"
    assert "boom" in fake.completed["a2"].message
    assert (stats.done, stats.failed, stats.running) == (1, 1, 0)


async def test_a_crashing_handler_a_lost_claim_answer_or_a_bug_touches_no_other_action(
    autojump_clock: trio.testing.MockClock, henv: HandlerEnv
) -> None:
    fake = FakeGateway()
    fake.actions = {f"a{i}": action_doc(i) for i in (1, 2, 3, 4)}
    fake.inject("claim_action", ConvexConnectionLost("lost"), action_id="a3")
    fake.inject("claim_action", KeyError("ok"), action_id="a4")  # e.g. an answer of a new shape
    release_a1 = trio.Event()

    async def runner(action: InboundAction, _: HandlerEnv) -> ActionResult:
        if action.id == "a2":
            raise ValueError("bug in a handler")
        await release_a1.wait()
        return ActionResult(ok=True, code="ok", message="done")

    cell = LatestValue[GatewayProtocol | None](fake)
    stats = dispatcher.ActionStats()
    send, receive = trio.open_memory_channel[ActionMessage](16)
    with structlog.testing.capture_logs() as logs:
        async with trio.open_nursery() as n:
            await n.start(
                partial(
                    dispatcher.dispatch, cell, receive, henv, "laptop.abc", stats, runner=runner
                )
            )
            for i in (1, 2, 3, 4):
                await send.send(typed(i))
            await until(
                lambda: (
                    "a2" in fake.completed
                    and events(logs, "action.claim_failed")
                    and events(logs, "action.crashed")
                )
            )
            release_a1.set()
            await until(lambda: "a1" in fake.completed)
            n.cancel_scope.cancel()
    assert fake.completed["a1"].ok is True
    assert fake.completed["a2"].code == "handler_crashed"
    assert "bug in a handler" in fake.completed["a2"].message
    assert "a3" not in fake.completed  # not claimed: offered again on the next update
    assert "a3" not in stats.seen
    assert events(logs, "action.handler_crashed")[0]["action_id"] == "a2"
    # A bug outside the handler is logged; the action is left claimed for the lease sweep.
    assert [e["action_id"] for e in events(logs, "action.crashed")] == ["a4"]
    assert "a4" not in fake.completed


async def test_completion_is_retried_a_bounded_number_of_times_then_given_up(
    autojump_clock: trio.testing.MockClock, henv: HandlerEnv
) -> None:
    fake = FakeGateway()
    fake.actions = {"a1": action_doc(1), "a2": action_doc(2)}
    fake.inject("complete_action", refused("internal", "down"), action_id="a1", times=10**6)

    async def runner(action: InboundAction, _: HandlerEnv) -> ActionResult:
        return ActionResult(ok=True, code="ok", message="done")

    cell = LatestValue[GatewayProtocol | None](fake)
    send, receive = trio.open_memory_channel[ActionMessage](16)
    with structlog.testing.capture_logs() as logs:
        async with trio.open_nursery() as n:
            await n.start(
                partial(
                    dispatcher.dispatch,
                    cell,
                    receive,
                    henv,
                    "laptop.abc",
                    dispatcher.ActionStats(),
                    runner=runner,
                    complete_attempts=5,
                )
            )
            await send.send(typed(1))
            await until(lambda: events(logs, "action.complete_gave_up"), timeout=600)
            await send.send(typed(2))  # the dispatcher goes on
            await until(lambda: "a2" in fake.completed)
            n.cancel_scope.cancel()
    gave_up = events(logs, "action.complete_gave_up")
    assert len(gave_up) == 1
    assert gave_up[0]["action_id"] == "a1"
    assert gave_up[0]["attempts"] == 5
    assert gave_up[0]["log_level"] == "error"
    assert "down" in gave_up[0]["error"]
    assert [e["attempt"] for e in events(logs, "action.complete_failed")] == [1, 2, 3, 4, 5]
    assert sum(1 for name, p in fake.calls if name == "complete_action" and p[0] == "a1") == 5


def test_the_oldest_unsynced_observation_is_visible_only_while_observations_wait() -> None:
    # A new oldest observation is worth a heartbeat (the Fleet shows its age); with nothing
    # waiting, neither it nor the last sync is.
    base = Health(daemon_version="1", started_at=0.0, uptime_secs=1.0, outbox_depth=2)
    waiting = attrs.evolve(base, oldest_unsynced_at=1_000.0)
    assert presence.visible(waiting) != presence.visible(base)
    assert presence.visible(waiting) != presence.visible(
        attrs.evolve(waiting, oldest_unsynced_at=2_000.0)
    )
    in_sync = attrs.evolve(base, outbox_depth=0)
    assert presence.visible(attrs.evolve(in_sync, oldest_unsynced_at=1_000.0)) == presence.visible(
        in_sync
    )

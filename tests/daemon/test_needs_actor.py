"""The needs actor against the FakeGateway, in virtual time: `needs:syncLaptop` sent at start,
then only when the set changed (a session's every event does not count), at most once a
second, again after a reconnect, retried with backoff; the 30 s re-evaluation that notices a
stall with no event at all; the status it shows."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
import trio.testing

from tina.convex import LatestValue
from tina.convex.gateway import GatewayProtocol
from tina.convex.needs import InvalidNeeds
from tina.daemon.actors import needs as needs_actor
from tina.daemon.actors.claude import ClaudeWatcher
from tina.daemon.actors.hooks import Hooks
from tina.daemon.sync.syncer import Syncer
from tina.dev.fakes import FakeGateway
from tina.hooks.event import parse_hook_event
from tina.messages import HookEvent
from tina.supervision import Backoff

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EVENTS = {e["label"]: e["input"] for e in json.loads((FIXTURES / "hooks/events.json").read_text())}
T0 = 1_772_614_800_000.0  # ms at virtual time 0
NO_JITTER = Backoff(initial=1.0, cap=8.0, jitter=0.0)


def now_ms() -> float:
    return T0 + trio.current_time() * 1000


@attrs.define
class Rig:
    gateway: FakeGateway
    cell: LatestValue[GatewayProtocol | None]
    reconcile: LatestValue[int]
    hooks: Hooks
    needs: needs_actor.Needs
    start: float  # the virtual time the actor started at (the mock clock's is arbitrary)

    def sends(self) -> list[tuple[list[Any], list[Any]]]:
        return [payload for name, payload in self.gateway.calls if name == "sync_laptop"]

    async def hook(self, label: str, **changes: Any) -> None:
        event: HookEvent | None = parse_hook_event(
            {**EVENTS[label], **changes}, received_at=now_ms()
        )
        assert event is not None
        await self.hooks.take(event)

    async def at(self, t: float) -> None:
        """Sleep until `t` seconds after the actor started."""
        await trio.sleep_until(self.start + t)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    gateway = FakeGateway()
    cell: LatestValue[GatewayProtocol | None] = LatestValue(gateway)
    reconcile = LatestValue(0)
    watcher = ClaudeWatcher(tmp_path / ".claude", Syncer(LatestValue(None)))
    hooks = Hooks(team_of=watcher.team_of_session)
    needs = needs_actor.Needs(watcher, hooks, stall_after_mins=10, clock=lambda: now_ms() / 1000)
    hooks.on_change = needs.poke
    async with trio.open_nursery() as nursery:
        start = trio.current_time()
        await nursery.start(partial(needs_actor.run, needs, cell, reconcile, backoff=NO_JITTER))
        try:
            yield Rig(
                gateway=gateway,
                cell=cell,
                reconcile=reconcile,
                hooks=hooks,
                needs=needs,
                start=start,
            )
        finally:
            nursery.cancel_scope.cancel()


async def test_sent_at_start_then_only_on_change_at_most_once_a_second(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    await rig.at(0.5)
    assert rig.sends() == [([], [])]  # the empty set, once: Convex resolves what it had
    assert rig.needs.snapshot()["in_sync"] is True

    await rig.at(2.0)
    await rig.hook("SessionStart startup")  # a new session: sent at once
    await rig.at(2.1)
    assert len(rig.sends()) == 2
    assert [s.liveness for s in rig.sends()[1][1]] == ["working"]

    # Events that change nothing of what is sent: no call, even across the 30 s tick.
    await rig.hook("UserPromptSubmit")
    await rig.hook("PreToolUse")
    await rig.hook("PostToolUse")
    await rig.at(45.0)
    assert len(rig.sends()) == 2

    # A burst within a second: the first goes at once, the rest together a second after it.
    await rig.hook("PermissionRequest")  # waiting
    await rig.at(45.1)
    assert len(rig.sends()) == 3
    await rig.hook("PostToolUse")  # working
    await rig.hook("Stop")  # idle
    await rig.at(45.9)
    assert len(rig.sends()) == 3
    await rig.at(46.1)
    assert len(rig.sends()) == 4
    [session] = rig.sends()[3][1]
    assert (session.liveness, session.last_event, session.events) == ("idle", "Stop", 7)


async def test_a_stall_is_noticed_by_the_clock_alone(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    await rig.at(2.0)
    await rig.hook("PreToolUse")  # Bash starts, then nothing more
    await rig.at(601.5)
    assert rig.gateway.needs == {}
    await rig.at(630.5)  # the re-evaluation after 10 min (every 30 s) finds it
    [stall] = rig.gateway.needs.values()
    assert (stall.kind, stall.cause, stall.tool_name) == ("stalled", "long_tool", "Bash")
    assert rig.needs.snapshot()["by_kind"] == {"stalled": 1}
    sends = len(rig.sends())
    await rig.at(700.5)  # still stalled: nothing new to send
    assert len(rig.sends()) == sends
    await rig.hook("PostToolUse")  # it moves again: resolved at once
    await rig.at(700.6)
    assert rig.gateway.needs == {}


async def test_failures_are_retried_with_backoff_and_the_newest_set(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    await rig.at(2.0)
    rig.gateway.fail_next = 3
    await rig.hook("SessionStart startup")
    await rig.at(2.1)
    assert len(rig.sends()) == 2  # failed
    await rig.hook("Stop")  # meanwhile it changed again
    # Backoff 1, 2, 4 s (no jitter): calls at 2, 3, 5 and 9 s.
    await rig.at(2.9)
    assert len(rig.sends()) == 2
    await rig.at(3.1)
    assert len(rig.sends()) == 3
    await rig.at(4.9)
    assert len(rig.sends()) == 3
    await rig.at(5.1)
    assert len(rig.sends()) == 4
    assert rig.needs.snapshot()["last_error"] == "fake: connection lost"
    assert rig.needs.snapshot()["in_sync"] is False
    await rig.at(8.9)
    assert len(rig.sends()) == 4
    await rig.at(9.1)
    assert len(rig.sends()) == 5
    assert [s.liveness for s in rig.gateway.sessions.values()] == ["idle"]
    snap = rig.needs.snapshot()
    assert (snap["failures"], snap["last_error"], snap["in_sync"]) == (3, None, True)
    await rig.at(60.5)
    assert len(rig.sends()) == 5


async def test_sent_again_after_a_reconnect_and_when_connected(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    await rig.at(2.0)
    await rig.hook("SessionStart startup")
    await rig.at(2.5)
    assert len(rig.sends()) == 2
    await rig.at(5.0)
    rig.reconcile.set(1)  # the connection came back: Convex may have lost it
    await rig.at(5.1)
    assert len(rig.sends()) == 3
    assert rig.sends()[1] == rig.sends()[2]

    rig.cell.set(None)  # not connected: nothing is tried
    await rig.hook("Stop")
    await rig.at(20.5)
    assert len(rig.sends()) == 3
    rig.cell.set(rig.gateway)
    await rig.at(20.6)
    assert len(rig.sends()) == 4
    assert [s.liveness for s in rig.gateway.sessions.values()] == ["idle"]


async def test_a_set_convex_would_refuse_is_not_retried(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    await rig.at(2.0)
    rig.gateway.inject(
        "sync_laptop", InvalidNeeds("items[0].title: at most 200 characters"), times=100
    )
    await rig.hook("SessionStart startup")
    await rig.at(60.5)
    assert len(rig.sends()) == 2  # once, not again until it changes
    assert rig.needs.snapshot()["last_error"] == "items[0].title: at most 200 characters"
    await rig.hook("Stop")  # changed: tried again (a second after the 60 s re-evaluation)
    await rig.at(61.5)
    assert len(rig.sends()) == 3


async def test_the_tree_detail(rig: Rig, autojump_clock: trio.testing.MockClock) -> None:
    await rig.at(2.0)
    rig.gateway.fail_next = 1
    await rig.hook("SessionStart startup")
    await rig.at(2.1)
    assert rig.needs.detail()["failures"] == 1
    await rig.at(3.1)
    assert rig.needs.detail() == {"needs": 0, "sends": 2, "failures": 1}

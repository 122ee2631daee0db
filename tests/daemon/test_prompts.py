"""Permission prompts on the laptop: `Prompts.ask` (what the control socket awaits for a
PermissionRequest), the prompts actor (opens and settles, in order) and the `pendingDecisions`
listener, against the FakeGateway. Virtual time: the deadlines pass without waiting."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
import structlog
import trio
import trio.testing

from tina.convex import ConvexConnectionLost, LatestValue
from tina.convex.gateway import GatewayProtocol
from tina.convex.prompts import AnswerRejected, answer_from_wire
from tina.daemon import config
from tina.daemon.actors import prompts as prompts_actor
from tina.daemon.prompts import DENY_MESSAGE, Prompts, decision_for
from tina.dev.fakes import FakeGateway
from tina.hooks.event import parse_hook_event
from tina.messages import HookEvent, PromptAnswer

SUGGESTIONS = [
    {
        "type": "addRules",
        "rules": [{"toolName": "Bash", "ruleContent": "rm -rf build"}],
        "behavior": "allow",
        "destination": "localSettings",
    }
]
WAIT_MS = 20_000


def request(**changes: Any) -> HookEvent:
    doc: dict[str, Any] = {
        "session_id": "0c9d7e21-4b5a-4f3e-8a2d-6e1f0b9c8d74",
        "transcript_path": "/home/dev/.claude/projects/x.jsonl",
        "cwd": "/home/dev/shop",
        "hook_event_name": "PermissionRequest",
        "permission_mode": "default",
        "tool_name": "Bash",
        "tool_input": {"command": "rm -rf build", "description": "Clean"},
        "permission_suggestions": SUGGESTIONS,
    }
    doc.update(changes)
    event = parse_hook_event({k: v for k, v in doc.items() if v is not None}, received_at=1.0)
    assert event is not None
    return event


@attrs.define
class Rig:
    gateway: FakeGateway
    cell: LatestValue[GatewayProtocol | None]
    prompts: Prompts
    nursery: trio.Nursery

    async def opened(self, n: int = 1) -> list[str]:
        """The ids of the first `n` prompts Convex was told of (waits for them)."""
        while len(self.gateway.prompts) < n:
            await self.gateway.changed.wait()
        return list(self.gateway.prompts)[:n]

    async def settles(self, n: int) -> list[tuple[str, str]]:
        while self.gateway.count("settle_prompt") < n:
            await self.gateway.changed.wait()
        return [payload for name, payload in self.gateway.calls if name == "settle_prompt"]

    def start_ask(self, event: HookEvent) -> dict[str, Any]:
        """Ask in the background; the result lands in the returned dict under `decision`."""
        out: dict[str, Any] = {}

        async def ask() -> None:
            out["decision"] = await self.prompts.ask(event)

        self.nursery.start_soon(ask)
        return out


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    gateway = FakeGateway()
    cell: LatestValue[GatewayProtocol | None] = LatestValue(gateway)
    prompts = Prompts(wait_ms=WAIT_MS)
    async with trio.open_nursery() as nursery:
        await nursery.start(prompts_actor.run, prompts, cell)
        await nursery.start(prompts_actor.listen, prompts, cell)
        try:
            yield Rig(gateway=gateway, cell=cell, prompts=prompts, nursery=nursery)
        finally:
            nursery.cancel_scope.cancel()


async def until(predicate: Callable[[], bool]) -> None:
    while not predicate():
        await trio.sleep(0.01)


def events(logs: list[dict[str, Any]], prefix: str = "prompt.") -> list[dict[str, Any]]:
    return [e for e in logs if e["event"].startswith(prefix)]


# --- open -> answered -> applied ------------------------------------------------------------


async def test_allow_once_is_applied(rig: Rig, autojump_clock: trio.testing.MockClock) -> None:
    with structlog.testing.capture_logs() as logs:
        out = rig.start_ask(request())
        [pid] = await rig.opened()
        opened = rig.gateway.calls[0][1]
        assert opened.tool_name == "Bash"
        assert opened.tool_input == '{"command":"rm -rf build","description":"Clean"}'
        assert opened.input_truncated is False
        assert opened.description == "Clean"
        assert json.loads(opened.suggestions) == SUGGESTIONS
        assert opened.session_id == "0c9d7e21-4b5a-4f3e-8a2d-6e1f0b9c8d74"
        assert opened.cwd == "/home/dev/shop"
        assert opened.expires_at - opened.opened_at == WAIT_MS
        assert len(pid) == 32 and int(pid, 16) >= 0
        rig.gateway.answer_prompt(pid, "allow_once", who="Ada")
        assert await rig.settles(1) == [(pid, "applied")]
        await until(lambda: "decision" in out)
    assert out["decision"] == {"behavior": "allow"}
    assert rig.gateway.prompts[pid]["status"] == "applied"
    applied = [e for e in events(logs) if e["event"] == "prompt.applied"]
    assert applied == [
        {
            "event": "prompt.applied",
            "log_level": "info",
            "prompt_id": pid,
            "tool": "Bash",
            "decision": "allow_once",
            "who": "Ada",
        }
    ]
    assert [e["event"] for e in events(logs)] == ["prompt.opened", "prompt.applied"]


async def test_allow_always_hands_back_the_suggestions_verbatim(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    out = rig.start_ask(request())
    [pid] = await rig.opened()
    rig.gateway.answer_prompt(pid, "allow_always")
    await until(lambda: "decision" in out)
    assert out["decision"] == {"behavior": "allow", "updatedPermissions": SUGGESTIONS}
    # Key order as Claude Code sent it.
    assert list(out["decision"]["updatedPermissions"][0]) == list(SUGGESTIONS[0])


async def test_deny_carries_the_message(rig: Rig, autojump_clock: trio.testing.MockClock) -> None:
    out = rig.start_ask(request())
    [pid] = await rig.opened()
    rig.gateway.answer_prompt(pid, "deny", message="Not on main, please")
    await until(lambda: "decision" in out)
    assert out["decision"] == {"behavior": "deny", "message": "Not on main, please"}


def test_the_decision_rule() -> None:
    text = json.dumps(SUGGESTIONS)

    def answer(kind: Any, message: str | None = None) -> PromptAnswer:
        return PromptAnswer(prompt_id="p", decision=kind, message=message)

    assert decision_for(answer("allow_once"), text) == {"behavior": "allow"}
    assert decision_for(answer("allow_always"), text) == {
        "behavior": "allow",
        "updatedPermissions": SUGGESTIONS,
    }
    # Without suggestions of its own the laptop allows once (the server refuses this anyway).
    assert decision_for(answer("allow_always"), None) == {"behavior": "allow"}
    assert decision_for(answer("deny"), text) == {"behavior": "deny", "message": DENY_MESSAGE}
    assert decision_for(answer("deny", "no"), None) == {"behavior": "deny", "message": "no"}


def test_a_prompt_names_its_team_and_orchestration_when_known() -> None:
    prompts = Prompts(
        wait_ms=WAIT_MS,
        team_of={"0c9d7e21-4b5a-4f3e-8a2d-6e1f0b9c8d74": "shop-phase-1"}.get,
        orchestration_of=lambda cwd: "orch1" if cwd.startswith("/home/dev/shop") else None,
    )
    prompt = prompts.prompt_for(request(), now_ms=1000.0)
    assert (prompt.team_dir, prompt.orchestration_id) == ("shop-phase-1", "orch1")
    assert (prompt.opened_at, prompt.expires_at) == (1000.0, 1000.0 + WAIT_MS)
    elsewhere = prompts.prompt_for(request(cwd="/tmp", session_id="other"), now_ms=1.0)
    assert (elsewhere.team_dir, elsewhere.orchestration_id) == (None, None)
    # A cut tool input is marked, and gives no description.
    big = prompts.prompt_for(request(tool_input={"content": "x" * 20_000}), now_ms=1.0)
    assert big.input_truncated is True and big.description is None


# --- too late, expired ----------------------------------------------------------------------


async def test_no_answer_expires(rig: Rig, autojump_clock: trio.testing.MockClock) -> None:
    with structlog.testing.capture_logs() as logs:
        out = rig.start_ask(request())
        [pid] = await rig.opened()
        assert await rig.settles(1) == [(pid, "expired")]
        await until(lambda: "decision" in out)
    assert out["decision"] is None
    assert rig.gateway.prompts[pid]["status"] == "expired"
    assert [e["event"] for e in events(logs)] == ["prompt.opened", "prompt.expired"]
    assert events(logs)[1]["tool"] == "Bash"


async def test_an_answer_after_the_hook_gave_up_is_too_late_and_never_delivered(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    with structlog.testing.capture_logs() as logs:
        out = rig.start_ask(request())
        [pid] = await rig.opened()
        await until(lambda: "decision" in out)
        assert out["decision"] is None
        # Convex had the answer before it heard of the expiry.
        rig.gateway.answer_prompt(pid, "allow_once", who="Ada")
        assert await rig.settles(2) == [(pid, "expired"), (pid, "too_late")]
    too_late = [e for e in events(logs) if e["event"] == "prompt.too_late"]
    assert too_late == [
        {
            "event": "prompt.too_late",
            "log_level": "info",
            "prompt_id": pid,
            "tool": None,
            "decision": "allow_once",
            "who": "Ada",
        }
    ]
    assert rig.prompts.counts["applied"] == 0


async def test_an_answer_for_a_prompt_this_daemon_never_opened_is_too_late(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    # e.g. opened before the daemon restarted: its hook is gone
    rig.gateway.answer_prompt("f" * 32, "deny", message="no")
    assert await rig.settles(1) == [("f" * 32, "too_late")]
    assert rig.gateway.prompts["f" * 32]["status"] == "too_late"


async def test_a_hook_that_goes_away_expires_its_prompt(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    # The control socket cancels `ask` when the hook hangs up.
    async with trio.open_nursery() as nursery:
        nursery.start_soon(rig.prompts.ask, request())
        [pid] = await rig.opened()
        nursery.cancel_scope.cancel("the hook hung up")
    assert await rig.settles(1) == [(pid, "expired")]
    rig.gateway.answer_prompt(pid, "allow_once")  # answered as it went: too late
    assert await rig.settles(2) == [(pid, "expired"), (pid, "too_late")]


# --- never twice ------------------------------------------------------------------------------


async def test_a_redelivered_answer_is_applied_once(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    # The first settle does not reach Convex: the answer stays pending and comes back.
    rig.gateway.inject("settle_prompt", ConvexConnectionLost("fake: down"))
    out = rig.start_ask(request())
    [pid] = await rig.opened()
    with structlog.testing.capture_logs() as logs:
        rig.gateway.answer_prompt(pid, "allow_once")
        await until(lambda: "decision" in out)
        await rig.settles(1)
        # The same documents again, twice (a subscription re-delivers the whole list).
        rig.gateway.publish_decisions()
        await rig.settles(2)
        rig.gateway.decisions.cell.set(list(rig.gateway.decisions.cell.value or []))
        rig.prompts.on_answers([answer_from_wire(rig.gateway.prompts[pid])] * 3)
        await until(lambda: not rig.prompts.gone[pid].queued)
    assert out["decision"] == {"behavior": "allow"}
    assert [e["event"] for e in events(logs)] == ["prompt.applied", "prompt.settle_failed"]
    assert rig.prompts.counts["applied"] == 1
    assert rig.gateway.prompts[pid]["status"] == "applied"
    assert {p for n, p in rig.gateway.calls if n == "settle_prompt"} == {(pid, "applied")}


async def test_two_prompts_at_once_get_their_own_answers(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    first = rig.start_ask(request(tool_name="Bash"))
    [a] = await rig.opened(1)
    second = rig.start_ask(request(tool_name="Write", tool_input={"file_path": "/x"}))
    [_, b] = await rig.opened(2)
    rig.gateway.answer_prompt(b, "deny", message="not that file", publish=False)
    rig.gateway.answer_prompt(a, "allow_once")
    await until(lambda: "decision" in first and "decision" in second)
    assert first["decision"] == {"behavior": "allow"}
    assert second["decision"] == {"behavior": "deny", "message": "not that file"}


# --- Convex down: no decision, at once --------------------------------------------------------


async def test_not_connected_no_decision_nothing_opened(
    autojump_clock: trio.testing.MockClock,
) -> None:
    prompts = Prompts(wait_ms=WAIT_MS, available=lambda: False)
    with structlog.testing.capture_logs() as logs:
        assert await prompts.ask(request()) is None
    assert [e["event"] for e in events(logs)] == ["prompt.unopened"]
    assert prompts.receive.statistics().current_buffer_used == 0


@pytest.mark.parametrize(
    "down",
    [
        pytest.param(lambda g: g.inject("open_prompt", ConvexConnectionLost("down")), id="lost"),
        pytest.param(lambda g: setattr(g, "latency", 3600.0), id="too-slow"),
        pytest.param(None, id="no-gateway"),
    ],
)
async def test_convex_down_answers_the_hook_with_no_decision_before_its_deadline(
    rig: Rig,
    autojump_clock: trio.testing.MockClock,
    down: Callable[[FakeGateway], Any] | None,
) -> None:
    if down is None:
        rig.cell.set(None)
    else:
        down(rig.gateway)
    with structlog.testing.capture_logs() as logs:
        with trio.move_on_after(WAIT_MS / 1000 - 1) as scope:
            decision = await rig.prompts.ask(request())
    assert not scope.cancelled_caught  # answered before the deadline would have
    assert decision is None
    assert [e["event"] for e in events(logs)] == ["prompt.opened", "prompt.unopened"]
    assert rig.gateway.count("settle_prompt") == 0  # nothing to settle: nothing was opened


# --- the wire's answers, validated on the laptop ----------------------------------------------


def test_answers_are_validated() -> None:
    good = {"promptId": "a" * 32, "decision": "deny", "message": "no", "answeredByName": "Ada"}
    assert answer_from_wire(good) == PromptAnswer(
        prompt_id="a" * 32, decision="deny", message="no", answered_by="Ada"
    )
    # A message only goes with a deny.
    assert answer_from_wire({**good, "decision": "allow_once"}).message is None
    for bad in [
        None,
        [],
        {**good, "promptId": 3},
        {**good, "promptId": ""},
        {**good, "decision": "allow"},
        {**good, "decision": None},
        {**good, "message": 5},
        {**good, "message": "x" * 1001},
        {**good, "message": "a\x1b[31m"},
    ]:
        with pytest.raises(AnswerRejected):
            answer_from_wire(bad)


async def test_a_malformed_answer_is_logged_once_and_never_applied(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    out = rig.start_ask(request())
    [pid] = await rig.opened()
    with structlog.testing.capture_logs() as logs:
        rig.gateway.answer_prompt(pid, "allow_forever")
        await trio.testing.wait_all_tasks_blocked()
        rig.gateway.publish_decisions()
        await trio.testing.wait_all_tasks_blocked()
        assert [e["event"] for e in events(logs)] == ["prompt.malformed_answer"]
        await until(lambda: "decision" in out)
    assert out["decision"] is None  # it expired
    assert (pid, "expired") in await rig.settles(1)


# --- the setting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "ms"), [(None, 20_000), ("1500", 1500), ("55000", 55_000), ("90000", 55_000)]
)
def test_permission_wait_ms(tmp_path: Path, raw: str | None, ms: int) -> None:
    empty = tmp_path / "config.toml"
    empty.write_text("")
    env = {} if raw is None else {"TINA_PERMISSION_WAIT_MS": raw}
    assert config.load(empty, env=env).permission_wait_ms == ms


@pytest.mark.parametrize("raw", ["0", "-1", "soon", "1.5"])
def test_a_bad_permission_wait_is_refused(tmp_path: Path, raw: str) -> None:
    empty = tmp_path / "config.toml"
    empty.write_text("")
    with pytest.raises(config.ConfigError, match="permission_wait_ms"):
        config.load(empty, env={"TINA_PERMISSION_WAIT_MS": raw})

"""A PermissionRequest answered from the dashboard, as Claude Code sees it: `tina hook` run as a
process against the daemon's real control socket, with the daemon's own prompts (`Prompts`, the
prompts actor and the decisions listener over the FakeGateway standing in for Convex). It prints
exactly Claude Code's documented decision output, or nothing; it always exits 0."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from tina.convex import LatestValue
from tina.convex.gateway import GatewayProtocol
from tina.daemon import control
from tina.daemon.actors import prompts as prompts_actor
from tina.daemon.actors.hooks import Hooks
from tina.daemon.prompts import Prompts
from tina.dev.fakes import FakeGateway
from tina.hooks import hook
from tina.hooks.event import parse_hook_event
from tina.messages import HOOK_TOOL_INPUT_MAX, PROMPT_SUGGESTIONS_MAX, PROMPT_TOOL_INPUT_MAX

from .claude_code import claude_env, run_hook, socket_of

PYTHON_M = [sys.executable, "-m", "tina.hooks.hook"]
TINA_HOOK = [str(Path(sys.executable).with_name("tina")), "hook"]
integration = pytest.mark.integration  # processes and a real Unix socket

SUGGESTIONS: list[dict[str, Any]] = [
    {
        "type": "addRules",
        "rules": [{"toolName": "Bash", "ruleContent": "npm test:*"}],
        "behavior": "allow",
        "destination": "localSettings",
    }
]
REQUEST = {
    "session_id": "0c9d7e21-4b5a-4f3e-8a2d-6e1f0b9c8d74",
    "transcript_path": "/home/dev/.claude/projects/-home-dev-shop/x.jsonl",
    "cwd": "/home/dev/shop",
    "permission_mode": "default",
    "hook_event_name": "PermissionRequest",
    "tool_name": "Bash",
    "tool_input": {"command": "npm test", "description": "Run the tests"},
    "permission_suggestions": SUGGESTIONS,
}
WAIT_MS = "4000"
"""The tests answer long before this; it only bounds a test that goes wrong."""


def output(decision: dict[str, Any]) -> bytes:
    return (
        json.dumps(
            {"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": decision}}
        ).encode()
        + b"\n"
    )


@attrs.define
class Laptop:
    gateway: FakeGateway
    prompts: Prompts
    hooks: Hooks
    nursery: trio.Nursery

    async def answer_when_open(self, decision: str, **kw: Any) -> None:
        """Answer the next prompt as the dashboard would, once Convex has it."""
        known = set(self.gateway.prompts)
        while not set(self.gateway.prompts) - known:
            await self.gateway.changed.wait()
        [pid] = set(self.gateway.prompts) - known
        self.gateway.answer_prompt(pid, decision, **kw)


@pytest.fixture
async def laptop(home: Path) -> AsyncIterator[Laptop]:
    gateway = FakeGateway()
    cell: LatestValue[GatewayProtocol | None] = LatestValue(gateway)
    prompts = Prompts(wait_ms=float(WAIT_MS))
    hooks = Hooks()
    async with trio.open_nursery() as nursery:
        await nursery.start(prompts_actor.run, prompts, cell)
        await nursery.start(prompts_actor.listen, prompts, cell)
        await nursery.start(
            partial(
                control.serve,
                socket_of(home),
                dict,
                on_hook=hooks.offer,
                on_permission=prompts.ask,
            )
        )
        try:
            yield Laptop(gateway=gateway, prompts=prompts, hooks=hooks, nursery=nursery)
        finally:
            nursery.cancel_scope.cancel()


async def ask(laptop: Laptop, home: Path, answer: tuple[Any, ...] | None, **env: str) -> bytes:
    """Run the hook for REQUEST while the dashboard answers (None: nobody answers)."""
    if answer is not None:
        decision, kw = answer[0], answer[1] if len(answer) > 1 else {}
        laptop.nursery.start_soon(partial(laptop.answer_when_open, decision, **kw))
    code, out = await run_hook(
        PYTHON_M,
        json.dumps(REQUEST).encode(),
        claude_env(home, **{"TINA_PERMISSION_WAIT_MS": WAIT_MS, **env}),
    )
    assert code == 0
    return out


@integration
async def test_allow_once(laptop: Laptop, home: Path) -> None:
    assert await ask(laptop, home, ("allow_once",)) == output({"behavior": "allow"})
    [prompt] = laptop.gateway.prompts.values()
    assert prompt["status"] == "applied"
    assert prompt["toolName"] == "Bash"


@integration
async def test_allow_always_with_the_suggestions_as_claude_code_sent_them(
    laptop: Laptop, home: Path
) -> None:
    out = await ask(laptop, home, ("allow_always",))
    assert out == output({"behavior": "allow", "updatedPermissions": SUGGESTIONS})
    assert json.loads(out)["hookSpecificOutput"]["decision"]["updatedPermissions"] == SUGGESTIONS


@integration
async def test_deny_with_a_message(laptop: Laptop, home: Path) -> None:
    out = await ask(laptop, home, ("deny", {"message": "Not on the shared box"}))
    assert out == output({"behavior": "deny", "message": "Not on the shared box"})


@integration
async def test_the_installed_command_prints_the_same(laptop: Laptop, home: Path) -> None:
    laptop.nursery.start_soon(laptop.answer_when_open, "allow_once")
    code, out = await run_hook(
        TINA_HOOK,
        json.dumps(REQUEST).encode(),
        claude_env(home, TINA_PERMISSION_WAIT_MS=WAIT_MS),
    )
    assert (code, out) == (0, output({"behavior": "allow"}))


@integration
async def test_no_answer_by_the_deadline_prints_nothing(laptop: Laptop, home: Path) -> None:
    laptop.prompts.wait_ms = 200  # the daemon's deadline (the hook's own is 1.5 s later)
    assert await ask(laptop, home, None, TINA_PERMISSION_WAIT_MS="200") == b""
    [prompt] = laptop.gateway.prompts.values()
    assert prompt["status"] == "expired"


@integration
async def test_a_daemon_slower_than_the_hook_prints_nothing(laptop: Laptop, home: Path) -> None:
    """The hook gives up on its own (a daemon configured to wait longer than the hook's env
    says): nothing printed, and the prompt is expired when the hook hangs up."""
    laptop.prompts.wait_ms = 600_000
    assert await ask(laptop, home, None, TINA_PERMISSION_WAIT_MS="100") == b""
    while laptop.gateway.count("settle_prompt") == 0:
        await laptop.gateway.changed.wait()
    [prompt] = laptop.gateway.prompts.values()
    assert prompt["status"] == "expired"


@integration
async def test_convex_down_prints_nothing(laptop: Laptop, home: Path) -> None:
    laptop.prompts.available = lambda: False
    assert await ask(laptop, home, None) == b""
    assert laptop.gateway.prompts == {}


@integration
async def test_other_events_still_print_nothing(laptop: Laptop, home: Path) -> None:
    for name in ["PreToolUse", "Notification", "Stop"]:
        doc = {**REQUEST, "hook_event_name": name}
        code, out = await run_hook(
            PYTHON_M, json.dumps(doc).encode(), claude_env(home, TINA_PERMISSION_WAIT_MS=WAIT_MS)
        )
        assert (name, code, out) == (name, 0, b"")
    assert laptop.gateway.prompts == {}
    assert laptop.hooks.events == 3


# --- what the hook makes of the daemon's answer (in process) ----------------------------------


@pytest.mark.parametrize(
    ("answer", "printed"),
    [
        (b'{"ok": true, "decision": {"behavior": "allow"}}', {"behavior": "allow"}),
        (
            b'{"ok": true, "decision": {"behavior": "allow", "updatedPermissions": []}}',
            {"behavior": "allow", "updatedPermissions": []},
        ),
        (
            b'{"ok": true, "decision": {"behavior": "deny", "message": "no"}}',
            {"behavior": "deny", "message": "no"},
        ),
        # Only the documented keys are passed on.
        (
            b'{"ok": true, "decision": {"behavior": "allow", "updatedInput": {"x": 1}}}',
            {"behavior": "allow"},
        ),
        (b'{"ok": true}', None),
        (b'{"ok": false, "dropped": true}', None),
        (b'{"ok": false, "decision": {"behavior": "allow"}}', None),
        (b'{"ok": true, "decision": {"behavior": "ask"}}', None),
        (b'{"ok": true, "decision": {"behavior": "deny"}}', None),
        (b'{"ok": true, "decision": {"behavior": "allow", "updatedPermissions": {}}}', None),
        (b'{"ok": true, "decision": "allow"}', None),
        (b"[1]", None),
        (b"not json", None),
        (b"", None),
        (None, None),
    ],
)
def test_decision_output(answer: bytes | None, printed: dict[str, Any] | None) -> None:
    got = hook.decision_output(answer)
    assert got == (None if printed is None else output(printed).decode())


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("", 21.5),
        ("1000", 2.5),
        ("0", 21.5),
        ("-5", 21.5),
        ("1.5", 21.5),
        ("x", 21.5),
        ("99999999", 56.5),
    ],
)
def test_the_wait(raw: str, seconds: float) -> None:
    assert hook.wait_seconds({"TINA_PERMISSION_WAIT_MS": raw}) == pytest.approx(seconds)


@integration  # looks for the socket
def test_no_daemon_prints_nothing(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stdin = io.BytesIO(json.dumps(REQUEST).encode())
    assert hook.main([], stdin=stdin, env=claude_env(home)) == 0
    assert capsys.readouterr() == ("", "")


# --- the daemon keeps serving while a prompt waits --------------------------------------------


async def _request(path: Path, line: bytes) -> trio.SocketStream:
    stream = await trio.open_unix_socket(str(path))
    await stream.send_all(line)
    return stream


async def _answer(stream: trio.SocketStream) -> dict[str, Any]:
    data = b""
    while not data.endswith(b"\n"):
        chunk = await stream.receive_some(65536)
        assert chunk, "closed before answering"
        data += chunk
    doc: dict[str, Any] = json.loads(data)
    return doc


@integration
async def test_a_waiting_prompt_blocks_no_other_request(laptop: Laptop, home: Path) -> None:
    path = socket_of(home)
    line = b"hook " + json.dumps(REQUEST).encode() + b"\n"
    with trio.fail_after(30):
        waiting = await _request(path, line)
        while not laptop.gateway.prompts:
            await laptop.gateway.changed.wait()
        # Meanwhile: a status, another event, a second prompt (answered first).
        status = await _request(path, b"status\n")
        assert await _answer(status) == {}
        other = await _request(path, b'hook {"hook_event_name":"Stop","session_id":"s"}\n')
        assert await _answer(other) == {"ok": True}
        second = await _request(path, line)
        while len(laptop.gateway.prompts) < 2:
            await laptop.gateway.changed.wait()
        first_id, second_id = list(laptop.gateway.prompts)
        laptop.gateway.answer_prompt(second_id, "deny", message="later")
        assert await _answer(second) == {
            "ok": True,
            "decision": {"behavior": "deny", "message": "later"},
        }
        laptop.gateway.answer_prompt(first_id, "allow_once")
        assert await _answer(waiting) == {"ok": True, "decision": {"behavior": "allow"}}
    for stream in (waiting, status, other, second):
        await stream.aclose()


# --- the event as the daemon reads it ---------------------------------------------------------


def test_the_suggestions_are_kept_whole_in_claude_codes_order() -> None:
    event = parse_hook_event(REQUEST, received_at=1.0)
    assert event is not None
    assert event.permission_suggestions is not None
    assert json.loads(event.permission_suggestions) == SUGGESTIONS
    assert event.permission_suggestions.startswith('[{"type":"addRules","rules":')
    # Too long: absent, never cut (a cut rule would be another rule).
    big = [{"type": "addRules", "rules": [{"toolName": "Bash", "ruleContent": "x" * 17_000}]}]
    assert parse_hook_event({**REQUEST, "permission_suggestions": big}, received_at=1.0) == (
        attrs.evolve(event, permission_suggestions=None)
    )
    assert len(json.dumps(big)) > PROMPT_SUGGESTIONS_MAX
    for odd in [{}, "rules", 3, None, [float("nan")]]:
        other = parse_hook_event({**REQUEST, "permission_suggestions": odd}, received_at=1.0)
        assert other is not None and other.permission_suggestions is None
    # Only a PermissionRequest carries them.
    stop = parse_hook_event({**REQUEST, "hook_event_name": "PreToolUse"}, received_at=1.0)
    assert stop is not None and stop.permission_suggestions is None


def test_a_permission_requests_tool_input_is_kept_up_to_16_kib_and_the_cut_marked() -> None:
    def parsed(name: str, content: str) -> tuple[int, bool]:
        doc = {**REQUEST, "hook_event_name": name, "tool_input": {"content": content}}
        event = parse_hook_event(doc, received_at=1.0)
        assert event is not None and event.tool_input is not None
        return len(event.tool_input.encode()), event.tool_input_truncated

    assert parsed("PermissionRequest", "x" * 10_000) == (10_000 + len('{"content":""}'), False)
    assert parsed("PermissionRequest", "x" * 20_000) == (PROMPT_TOOL_INPUT_MAX, True)
    assert parsed("PreToolUse", "x" * 10_000) == (HOOK_TOOL_INPUT_MAX, True)

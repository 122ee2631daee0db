"""Hook events into the daemon: the control socket's `hook` request, the hooks actor's sessions
(liveness by a pure rule, bounded), their join to teams and orchestrations, and the status
snapshot, through the daemon's own wiring (`tina.daemon.app`). The tests that talk over the
Unix socket are `integration`; the rest are in-process."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.offline_daemon import offline_daemon
from tina.daemon import control
from tina.daemon.actors import hooks as hooks_actor
from tina.daemon.actors.hooks import (
    Hooks,
    HookSessions,
    SessionState,
    liveness_after,
    worktree_of,
)
from tina.daemon.watch import WatchHub
from tina.hooks.event import parse_hook_event
from tina.messages import HookEvent

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EVENTS: list[dict[str, Any]] = json.loads((FIXTURES / "hooks" / "events.json").read_text())
BY_LABEL = {e["label"]: e["input"] for e in EVENTS}
LEAD = "0c9d7e21-4b5a-4f3e-8a2d-6e1f0b9c8d74"  # api-audit's leadSessionId
T0 = 1_772_614_800_000.0
HOUR = 3600 * 1000.0


def event(label_or_doc: str | dict[str, Any], at: float = T0, **changes: Any) -> HookEvent:
    doc = dict(BY_LABEL[label_or_doc] if isinstance(label_or_doc, str) else label_or_doc)
    doc.update(changes)
    parsed = parse_hook_event(doc, received_at=at)
    assert parsed is not None
    return parsed


# --- the pure rule ------------------------------------------------------------------------------

EXPECTED_LIVENESS: dict[str, tuple[str, str | None] | None] = {
    "SessionStart startup": ("working", None),
    "SessionStart resume": ("working", None),
    "UserPromptSubmit": ("working", None),
    "PreToolUse": ("working", None),
    "PostToolUse": ("working", None),
    "Notification permission_prompt": ("waiting", "permission_prompt"),
    "Notification elicitation_dialog": ("waiting", "elicitation_dialog"),
    "Notification idle_prompt": ("idle", "idle_prompt"),
    "Notification auth_success": None,
    "PermissionRequest": ("waiting", "Bash"),
    "Stop": ("idle", None),
    "StopFailure rate_limit": ("rate_limited", "rate_limit"),
    "StopFailure authentication_failed": ("failed", "authentication_failed"),
    "StopFailure billing_error": ("failed", "billing_error"),
    "StopFailure invalid_request": ("failed", "invalid_request"),
    "StopFailure server_error": ("failed", "server_error"),
    "StopFailure max_output_tokens": ("failed", "max_output_tokens"),
    "StopFailure unknown": ("failed", "unknown"),
    "SubagentStart": ("working", None),
    "SubagentStop": ("working", None),
    "TaskCreated": ("working", None),
    "TaskCompleted": ("working", None),
    "TeammateIdle": ("idle", "auditor"),
    "PreCompact": ("working", None),
    "SessionEnd": ("ended", "prompt_input_exit"),
    "unknown fields": ("idle", None),
    "unknown event": None,
}


def test_the_table_covers_every_fixture() -> None:
    assert set(EXPECTED_LIVENESS) == set(BY_LABEL)


@pytest.mark.parametrize("label", sorted(EXPECTED_LIVENESS))
def test_liveness_after_each_event(label: str) -> None:
    assert liveness_after(event(label)) == EXPECTED_LIVENESS[label]


def test_a_stop_failure_without_its_kind_is_a_failure_of_unknown_kind() -> None:
    assert liveness_after(event({"hook_event_name": "StopFailure"})) == ("failed", "unknown")


def test_a_session_through_its_life() -> None:
    sessions = HookSessions()
    seen: list[tuple[str | None, str | None]] = []
    steps = [
        "SessionStart startup",
        "UserPromptSubmit",
        "PermissionRequest",
        "Notification permission_prompt",
        "PostToolUse",
        "Notification auth_success",  # says nothing about liveness
        "Stop",
        "Notification idle_prompt",
        "UserPromptSubmit",
        "StopFailure rate_limit",
        "UserPromptSubmit",
        "unknown event",
        "SessionEnd",
    ]
    for i, label in enumerate(steps):
        state = sessions.apply(event(label, at=T0 + i * 1000))
        assert state is not None
        seen.append((state.liveness, state.reason))
    assert seen == [
        ("working", None),
        ("working", None),
        ("waiting", "Bash"),
        ("waiting", "permission_prompt"),
        ("working", None),
        ("working", None),
        ("idle", None),
        ("idle", "idle_prompt"),
        ("working", None),
        ("rate_limited", "rate_limit"),
        ("working", None),
        ("working", None),
        ("ended", "prompt_input_exit"),
    ]
    [state] = sessions.by_id.values()
    assert (state.session_id, state.first_at, state.last_at) == (LEAD, T0, T0 + 12_000)
    assert (state.cwd, state.events, state.last_event) == ("/home/dev/shop", 13, "SessionEnd")
    assert state.transcript_path == BY_LABEL["Stop"]["transcript_path"]
    assert state.ended_at == T0 + 12_000
    # A resumed session comes back to life.
    again = sessions.apply(event("SessionStart resume", at=T0 + 20_000))
    assert again is not None
    assert (again.liveness, again.ended_at) == ("working", None)


def test_an_event_without_a_session_is_counted_nowhere() -> None:
    sessions = HookSessions()
    assert sessions.apply(event({"hook_event_name": "Stop"})) is None
    assert sessions.by_id == {}


def test_ended_sessions_are_forgotten_after_an_hour() -> None:
    sessions = HookSessions()
    sessions.apply(event("SessionEnd", at=T0, session_id="ended"))
    sessions.apply(event("Stop", at=T0, session_id="quiet"))
    sessions.apply(event("Stop", at=T0 + HOUR, session_id="other"))
    assert set(sessions.by_id) == {"ended", "quiet", "other"}  # exactly an hour: kept
    sessions.apply(event("Stop", at=T0 + HOUR + 1, session_id="other"))
    assert set(sessions.by_id) == {"quiet", "other"}  # silent but not ended: kept


def test_at_most_max_sessions_ended_ones_first() -> None:
    sessions = HookSessions(max_sessions=5)
    sessions.apply(event("SessionEnd", at=T0 + 10, session_id="ended-late"))
    sessions.apply(event("SessionEnd", at=T0 + 5, session_id="ended-early"))
    for i in range(4):
        sessions.apply(event("Stop", at=T0 + i, session_id=f"live-{i}"))
    assert len(sessions.by_id) == 5
    assert "ended-early" not in sessions.by_id  # the oldest ended one went first
    sessions.apply(event("Stop", at=T0 + 20, session_id="live-4"))
    assert set(sessions.by_id) == {f"live-{i}" for i in range(5)}
    sessions.apply(event("Stop", at=T0 + 21, session_id="live-5"))
    assert set(sessions.by_id) == {f"live-{i}" for i in range(1, 6)}  # then the longest silent


def test_the_default_bound() -> None:
    sessions = HookSessions()
    for i in range(600):
        sessions.apply(event("Stop", at=T0 + i, session_id=f"s{i:04}"))
    assert len(sessions.by_id) == 500
    assert min(sessions.by_id) == "s0100"


def test_worktree_of() -> None:
    worktrees = {
        "billing": "/home/dev/acme/.worktrees/billing",
        "billing-v2": "/home/dev/acme/.worktrees/billing-v2",
        "nested": "/home/dev/acme/.worktrees/billing/sub/",
    }
    assert worktree_of("/home/dev/acme/.worktrees/billing", worktrees) == "billing"
    assert worktree_of("/home/dev/acme/.worktrees/billing/web/src", worktrees) == "billing"
    assert worktree_of("/home/dev/acme/.worktrees/billing-v2/x", worktrees) == "billing-v2"
    assert worktree_of("/home/dev/acme/.worktrees/billing/sub/x", worktrees) == "nested"
    assert worktree_of("/home/dev/acme/.worktrees/bill", worktrees) is None
    assert worktree_of("/home/dev/acme", worktrees) is None


# --- the actor ----------------------------------------------------------------------------------


@pytest.fixture
def short_dir() -> Iterator[Path]:
    # AF_UNIX paths are limited to ~100 bytes: pytest's tmp_path can be longer.
    with tempfile.TemporaryDirectory(prefix="tina-") as d:
        yield Path(d)


def make_claude_dir(root: Path, *teams: str) -> Path:
    claude = root / ".claude"
    for team in teams:
        shutil.copytree(FIXTURES / "real-shapes" / "teams" / team, claude / "teams" / team)
    (claude / "tina-sessions").mkdir(parents=True)
    return claude


def write_lookup(claude: Path, feature: str, worktree: str) -> None:
    (claude / "tina-sessions" / f"{feature}.json").write_text(
        json.dumps(
            {"feature": feature, "worktree_path": worktree, "created_at": "2026-02-08T09:05:00Z"}
        )
    )


async def until(condition: Callable[[], bool]) -> None:
    with trio.fail_after(10):
        while not condition():
            await trio.sleep(0.01)


def ask(path: Path, line: bytes) -> dict[str, Any]:
    """One request on the control socket, as a client sends it; its JSON answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(path))
        s.sendall(line)
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    answer: dict[str, Any] = json.loads(data)
    return answer


def hook_line(doc: dict[str, Any]) -> bytes:
    return b"hook " + json.dumps(doc, separators=(",", ":")).encode() + b"\n"


@pytest.mark.integration  # a real Unix socket
async def test_the_daemon_takes_hook_events_and_shows_its_sessions(short_dir: Path) -> None:
    claude = make_claude_dir(short_dir, "docs-refresh")  # api-audit's config comes later
    write_lookup(claude, "api-audit-fix", "/home/dev/shop")
    daemon = offline_daemon(short_dir)
    specs = {spec.id: spec for spec in daemon._specs()}
    sock = daemon.config.control_socket
    await daemon.claude.rescan(force=True)
    async with trio.open_nursery() as nursery:
        await nursery.start(specs["hooks"].run)
        await nursery.start(specs["control"].run)
        for label in ("SessionStart startup", "UserPromptSubmit", "PermissionRequest"):
            answer = await trio.to_thread.run_sync(ask, sock, hook_line(BY_LABEL[label]))
            assert answer == {"ok": True}
        other = {**BY_LABEL["Stop"], "session_id": "5b0e9c1d-3f42-4a8e-9d61-2c7f0a4b8e13"}
        other["cwd"] = "/somewhere/else"
        assert await trio.to_thread.run_sync(ask, sock, hook_line(other)) == {"ok": True}
        await until(lambda: sum(s.events for s in daemon.hooks.sessions.by_id.values()) == 4)

        status = await trio.to_thread.run_sync(control.request_status, sock)
        hooks = status["hooks"]
        assert (hooks["events"], hooks["dropped"]) == (4, 0)
        assert hooks["last_at"] == max(s["last_at"] for s in hooks["sessions"])
        assert [
            (s["id"], s["team"], s["orchestration"], s["liveness"], s["last_event"])
            for s in hooks["sessions"]
        ] == [
            ("5b0e9c1d", "docs-refresh", None, "idle", "Stop"),
            ("0c9d7e21", None, "api-audit-fix", "waiting", "PermissionRequest"),
        ]
        assert {"info", "tree"} <= set(status)  # status as before
        # Supervised like the other actors, before the socket that feeds it.
        assert specs["hooks"].restart == specs["claude"].restart
        assert list(specs).index("hooks") < list(specs).index("control")

        # The lead creates its team after its session started: the join follows.
        shutil.copytree(
            FIXTURES / "real-shapes" / "teams" / "api-audit", claude / "teams" / "api-audit"
        )
        await daemon.claude.rescan()
        status = await trio.to_thread.run_sync(control.request_status, sock)
        lead = next(s for s in status["hooks"]["sessions"] if s["id"] == "0c9d7e21")
        assert (lead["team"], lead["orchestration"]) == ("api-audit", "api-audit-fix")
        nursery.cancel_scope.cancel()


async def test_a_cwd_in_no_known_worktree_reads_the_lookups_again(
    short_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hooks_actor, "LOOKUP_RETRY_SECS", 0.0)
    claude = make_claude_dir(short_dir)
    hooks = Hooks(sessions_dir=claude / "tina-sessions")
    cwd = "/home/dev/acme/.worktrees/x/web"
    async with trio.open_nursery() as nursery:
        await nursery.start(hooks_actor.run, hooks)
        assert hooks.offer(event("SessionStart startup", cwd=cwd))
        await until(lambda: hooks.sessions.by_id.get(LEAD) is not None)
        assert hooks.sessions.by_id[LEAD].orchestration is None
        write_lookup(claude, "x", "/home/dev/acme/.worktrees/x")
        assert hooks.offer(event("UserPromptSubmit", at=T0 + 1, cwd=cwd))
        # The event is counted before the lookups are read again (in a thread) and joined:
        # wait for the join itself, which never comes unless the lookups are re-read.
        await until(lambda: hooks.sessions.by_id[LEAD].orchestration == "x")
        assert hooks.sessions.by_id[LEAD].events == 2
        nursery.cancel_scope.cancel()


async def test_a_changed_lookup_rejoins_through_the_watch_hub(short_dir: Path) -> None:
    claude = make_claude_dir(short_dir)
    hub = WatchHub()
    hooks = Hooks(sessions_dir=claude / "tina-sessions")
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        await nursery.start(hooks_actor.run, hooks, hub)
        assert hooks.offer(event("SessionStart startup", cwd="/home/dev/acme/.worktrees/y"))
        await until(lambda: hooks.sessions.by_id.get(LEAD) is not None)
        write_lookup(claude, "y", "/home/dev/acme/.worktrees/y")
        await until(lambda: hooks.sessions.by_id[LEAD].orchestration == "y")
        nursery.cancel_scope.cancel()


def test_offer_never_blocks_and_counts_what_it_drops() -> None:
    hooks = Hooks(buffer=2)
    taken = [hooks.offer(event("Stop", at=T0 + i)) for i in range(5)]
    assert taken == [True, True, False, False, False]
    assert (hooks.events, hooks.dropped, hooks.last_at) == (2, 3, T0 + 1)


def test_the_snapshot_shows_the_20_newest() -> None:
    hooks = Hooks()
    for i in range(30):
        hooks.sessions.apply(event("Stop", at=T0 + i, session_id=f"session-{i:02}-abcdef"))
    shown = hooks.snapshot()["sessions"]
    assert [s["id"] for s in shown] == [f"session-{i:02}"[:8] for i in range(29, 9, -1)]
    assert all(len(s["id"]) == 8 for s in shown)


# --- the control socket --------------------------------------------------------------------------


@pytest.fixture
def sock_path(short_dir: Path) -> Path:
    return short_dir / "state" / "daemon.sock"


@pytest.mark.integration  # a real Unix socket
async def test_status_is_answered_as_before(sock_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(control.serve, sock_path, lambda: {"a": 1}))
        assert await trio.to_thread.run_sync(ask, sock_path, b"status\n") == {"a": 1}
        assert await trio.to_thread.run_sync(ask, sock_path, b"status") == {"a": 1}
        assert await trio.to_thread.run_sync(ask, sock_path, b"stat") == {
            "error": "unknown request 'stat'"
        }
        assert await trio.to_thread.run_sync(ask, sock_path, b"x" * 200) == {
            "error": f"unknown request {'x' * 20!r}"
        }
        nursery.cancel_scope.cancel()


@pytest.mark.integration  # a real Unix socket
async def test_hook_requests(sock_path: Path) -> None:
    got: list[HookEvent] = []

    def take(e: HookEvent) -> bool:
        got.append(e)
        return e.event != "Full"

    async with trio.open_nursery() as nursery:
        await nursery.start(partial(control.serve, sock_path, dict, on_hook=take))

        async def answer(line: bytes) -> dict[str, Any]:
            return await trio.to_thread.run_sync(ask, sock_path, line)

        assert await answer(hook_line(BY_LABEL["Stop"])) == {"ok": True}
        assert await answer(hook_line({"hook_event_name": "Full"})) == {
            "ok": False,
            "dropped": True,
        }
        assert await answer(b"hook {not json\n") == {"ok": False, "error": "not a hook event"}
        assert await answer(b"hook [1]\n") == {"ok": False, "error": "not a hook event"}
        # A large event (parsed off the event loop) within the limit.
        big = {"hook_event_name": "Stop", "last_assistant_message": "y" * (1024 * 1024 - 100)}
        assert await answer(hook_line(big)) == {"ok": True}
        too_big = b"hook " + b"z" * control.MAX_HOOK_REQUEST + b"\n"
        assert await answer(too_big) == {"ok": False, "error": "request too large"}
        assert [e.event for e in got] == ["Stop", "Full", "Stop"]
        nursery.cancel_scope.cancel()


@pytest.mark.integration  # a real Unix socket
async def test_a_hook_line_in_pieces_and_a_writer_that_stalls(
    sock_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(control, "READ_TIMEOUT", 0.5)
    got: list[HookEvent] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(
            partial(control.serve, sock_path, dict, on_hook=lambda e: got.append(e) is None)
        )
        line = hook_line(BY_LABEL["TeammateIdle"])
        stream = await trio.open_unix_socket(str(sock_path))
        async with stream:
            for piece in (line[:2], line[2:7], line[7:40], line[40:]):
                await stream.send_all(piece)
                await trio.testing.wait_all_tasks_blocked()
            assert json.loads(await stream.receive_some(1024)) == {"ok": True}
        assert [e.event for e in got] == ["TeammateIdle"]
        # Half a line, then nothing: the connection is closed after the read deadline, with
        # no answer, and the socket keeps serving.
        stream = await trio.open_unix_socket(str(sock_path))
        async with stream:
            await stream.send_all(line[:50])
            with trio.fail_after(10):
                assert await stream.receive_some(1024) == b""
        assert await trio.to_thread.run_sync(ask, sock_path, line) == {"ok": True}
        nursery.cancel_scope.cancel()


@pytest.mark.integration  # a real Unix socket
async def test_a_failing_intake_does_not_take_the_socket_down(sock_path: Path) -> None:
    def broken(e: HookEvent) -> bool:
        raise RuntimeError("bug")

    async with trio.open_nursery() as nursery:
        await nursery.start(partial(control.serve, sock_path, lambda: {"a": 1}, on_hook=broken))
        answer = await trio.to_thread.run_sync(ask, sock_path, hook_line(BY_LABEL["Stop"]))
        assert answer == {"ok": False, "error": "the daemon could not take the event"}
        assert await trio.to_thread.run_sync(ask, sock_path, b"status\n") == {"a": 1}
        nursery.cancel_scope.cancel()


@pytest.mark.integration  # a real Unix socket
async def test_without_an_intake_hooks_are_refused(sock_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(control.serve, sock_path, dict))
        answer = await trio.to_thread.run_sync(ask, sock_path, hook_line(BY_LABEL["Stop"]))
        assert answer == {"ok": False, "error": "hooks are not taken"}
        nursery.cancel_scope.cancel()


def test_session_state_is_plain() -> None:
    # The actor's own record (not a message): mutable, no I/O.
    state = SessionState(session_id="s", first_at=1, last_at=1, last_event="Stop")
    state.liveness = "idle"
    assert state.liveness == "idle"

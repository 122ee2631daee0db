"""`tina hook` as Claude Code runs it: a process with the event's JSON on stdin and
`CLAUDE_PROJECT_DIR` set, against the daemon's real control socket (`tina.daemon.control.serve`
with the hooks actor's intake) and with no daemon at all. Whatever happens it exits 0 and
prints nothing: Claude Code would read stdout as a decision."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from tina.daemon import control
from tina.daemon.actors.hooks import Hooks
from tina.hooks import hook
from tina.hooks.event import parse_hook_event
from tina.messages import HookEvent

from .claude_code import claude_env, run_hook, socket_of

pytestmark = pytest.mark.integration  # processes and a real Unix socket

EVENTS: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "hooks" / "events.json").read_text()
)
PYTHON_M = [sys.executable, "-m", "tina.hooks.hook"]
TINA_HOOK = [str(Path(sys.executable).with_name("tina")), "hook"]


def drain(hooks: Hooks) -> list[HookEvent]:
    out = []
    while True:
        try:
            out.append(hooks.receive.receive_nowait())
        except trio.WouldBlock:
            return out


@pytest.fixture
async def daemon(home: Path) -> AsyncIterator[Hooks]:
    """The daemon's control socket where `tina hook` looks for it, taking hook events in."""
    hooks = Hooks(buffer=len(EVENTS) + 8)
    async with trio.open_nursery() as nursery:
        await nursery.start(
            partial(control.serve, socket_of(home), lambda: {"ok": 1}, on_hook=hooks.offer)
        )
        try:
            yield hooks
        finally:
            nursery.cancel_scope.cancel()


@pytest.mark.parametrize("argv", [PYTHON_M, TINA_HOOK], ids=["python-m", "tina-hook"])
async def test_every_event_reaches_the_daemon_and_nothing_is_printed(
    argv: list[str], home: Path, daemon: Hooks
) -> None:
    for entry in EVENTS:
        code, out = await run_hook(argv, json.dumps(entry["input"]).encode(), claude_env(home))
        assert (entry["label"], code, out) == (entry["label"], 0, b"")
    got = drain(daemon)
    expected = [parse_hook_event(e["input"], received_at=0) for e in EVENTS]
    assert [e.event for e in got] == [e.event for e in expected if e is not None]
    # Everything but the daemon's receive time arrives as Claude Code sent it.
    assert [_without_time(e) for e in got] == [_without_time(e) for e in expected]
    assert daemon.events == len(EVENTS)
    assert daemon.dropped == 0


def _without_time(event: HookEvent | None) -> dict[str, Any]:
    assert event is not None
    return attrs.asdict(attrs.evolve(event, received_at=0))


async def test_a_pretty_printed_event_with_unicode_arrives_whole(home: Path, daemon: Hooks) -> None:
    doc = {
        "hook_event_name": "Notification",
        "session_id": "s-1",
        "notification_type": "permission_prompt",
        "message": "Claude needs your permission\nto write ファイル \u2028 é",
    }
    code, out = await run_hook(PYTHON_M, json.dumps(doc, indent=2).encode(), claude_env(home))
    assert (code, out) == (0, b"")
    [event] = drain(daemon)
    assert event.message == doc["message"]
    assert event.notification_type == "permission_prompt"


async def test_a_full_intake_drops_and_still_exits_cleanly(home: Path) -> None:
    hooks = Hooks(buffer=1)
    doc = json.dumps({"hook_event_name": "Stop", "session_id": "s"}).encode()
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(control.serve, socket_of(home), dict, on_hook=hooks.offer))
        for _ in range(3):
            assert await run_hook(PYTHON_M, doc, claude_env(home)) == (0, b"")
        nursery.cancel_scope.cancel()
    assert (hooks.events, hooks.dropped, len(drain(hooks))) == (1, 2, 1)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'"Stop"',
        b'{"session_id": "s"}',
        b'{"hook_event_name": 3}',
        b'{"hook_event_name": "Stop", "message": "' + b"x" * (1024 * 1024) + b'"}',
        b"\xff\xfe\x00garbage",
    ],
    ids=["empty", "not-json", "array", "string", "no-name", "name-not-text", "over-1MiB", "binary"],
)
async def test_input_that_is_no_event_never_reaches_the_daemon(
    payload: bytes, home: Path, daemon: Hooks
) -> None:
    assert await run_hook(PYTHON_M, payload, claude_env(home)) == (0, b"")
    assert drain(daemon) == []


PERMISSION = json.dumps(
    next(e["input"] for e in EVENTS if e["label"] == "PermissionRequest")
).encode()


async def test_no_daemon_no_socket(home: Path) -> None:
    assert not socket_of(home).exists()
    assert await run_hook(PYTHON_M, PERMISSION, claude_env(home)) == (0, b"")


async def test_a_stale_socket_file(home: Path) -> None:
    path = socket_of(home)
    path.parent.mkdir(parents=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(path))  # bound, never listening, then closed: connecting is refused
    assert path.exists()
    assert await run_hook(PYTHON_M, PERMISSION, claude_env(home)) == (0, b"")
    path.unlink()
    path.write_text("not a socket")
    assert await run_hook(TINA_HOOK, PERMISSION, claude_env(home)) == (0, b"")


async def _serve_raw(
    path: Path, answer: bytes | None, got: list[bytes], *, task_status: Any
) -> None:
    """A listener on the daemon's socket that reads the request and answers `answer` (None:
    never answers, keeping the connection open)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
    await sock.bind(str(path))
    sock.listen(8)
    async with trio.SocketListener(sock) as listener, trio.open_nursery() as nursery:
        task_status.started()
        while True:
            stream = await listener.accept()

            async def handle(stream: trio.SocketStream) -> None:
                async with stream:
                    data = b""
                    while b"\n" not in data and (chunk := await stream.receive_some(65536)):
                        data += chunk
                    got.append(data)
                    if answer is None:
                        await trio.sleep_forever()
                    await stream.send_all(answer)

            nursery.start_soon(handle, stream)


@pytest.mark.parametrize(
    "answer",
    [None, b"", b"garbage without a newline", b"\x00\xff{not json\n", b'{"decision": "allow"}\n'],
    ids=["never-answers", "closes", "no-newline", "garbage", "a-decision"],
)
async def test_a_daemon_that_misbehaves(answer: bytes | None, home: Path) -> None:
    got: list[bytes] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(_serve_raw, socket_of(home), answer, got)
        # A PermissionRequest waits for a decision: the shortest wait (100 ms + 1.5 s).
        env = claude_env(home, TINA_HOOK_BUDGET_MS="200", TINA_PERMISSION_WAIT_MS="100")
        assert await run_hook(PYTHON_M, PERMISSION, env) == (0, b"")
        nursery.cancel_scope.cancel()
    assert len(got) == 1
    assert got[0].startswith(b"hook {") and got[0].endswith(b"}\n")
    assert json.loads(got[0][5:]) == json.loads(PERMISSION)


async def test_the_socket_follows_tina_state_dir(home: Path) -> None:
    hooks = Hooks()
    state = home / "elsewhere"
    async with trio.open_nursery() as nursery:
        await nursery.start(
            partial(control.serve, state / "daemon.sock", dict, on_hook=hooks.offer)
        )
        env = claude_env(home, TINA_STATE_DIR=str(state))
        assert await run_hook(PYTHON_M, PERMISSION, env) == (0, b"")
        nursery.cancel_scope.cancel()
    assert [e.event for e in drain(hooks)] == ["PermissionRequest"]


async def test_help() -> None:
    with trio.fail_after(60):
        done = await trio.run_process(
            [*PYTHON_M, "--help"], capture_stdout=True, capture_stderr=True, check=False
        )
    assert done.returncode == 0
    assert done.stdout.decode().startswith("usage: tina hook")


# --- in process -------------------------------------------------------------------------------


class Exploding(io.BytesIO):
    def read(self, size: int | None = -1) -> bytes:
        raise OSError("stdin went away")


def test_main_never_raises_and_prints_nothing(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = claude_env(home, TINA_HOOK_BUDGET_MS="nonsense")
    assert hook.main([], stdin=io.BytesIO(PERMISSION), env=env) == 0
    assert hook.main([], stdin=Exploding(), env=env) == 0
    assert hook.main(["--unknown-flag"], stdin=io.BytesIO(b"{}"), env=env) == 0
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("", 0.3), ("1000", 1.0), ("0", 0.3), ("-5", 0.3), ("nan", 0.3), ("x", 0.3), ("1e9", 10.0)],
)
def test_the_budget(raw: str, seconds: float) -> None:
    assert hook.budget_seconds({"TINA_HOOK_BUDGET_MS": raw}) == pytest.approx(seconds)


HEAVY = ("trio", "attrs", "attr", "structlog", "tomllib", "typing", "argparse", "pathlib", "cattrs")


def test_a_hook_run_imports_nothing_heavy(home: Path) -> None:
    """Import and a whole run (the event read, parsed, the socket's path found, no daemon)."""
    code = (
        "import io, sys\n"
        "from tina.hooks import hook\n"
        "hook.main([], stdin=io.BytesIO(sys.argv[1].encode()), env={'HOME': sys.argv[2]})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in sys.argv[3].split(',')\n"
        "    or m.startswith('tina.') and m not in sys.argv[4].split(',')))\n"
    )
    allowed = "tina.hooks,tina.hooks.hook,tina.daemon,tina.daemon.locations"
    done = subprocess.run(
        [sys.executable, "-c", code, PERMISSION.decode(), str(home), ",".join(HEAVY), allowed],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.strip() == "[]", done.stdout


async def test_the_tmux_pane_it_runs_in_goes_with_the_event(home: Path, daemon: Hooks) -> None:
    """A pane teammate's hooks run in its pane: `TMUX_PANE` (which tmux gives every process in a
    pane) names the member; nothing Claude Code sends does."""
    doc = {"hook_event_name": "SessionStart", "session_id": "s-pane", "source": "startup"}
    in_pane = claude_env(home, TMUX_PANE="%7", TMUX="/tmp/tmux-501/default,4242,0")
    outside = claude_env(home)
    forged = {**doc, "tina_tmux_pane": "%9", "tina_tmux_socket": "/tmp/elsewhere"}
    for env, sent in ((in_pane, doc), (outside, doc), (outside, forged), (in_pane, forged)):
        code, out = await run_hook(PYTHON_M, json.dumps(sent).encode(), env)
        assert (code, out) == (0, b"")
    got = [(e.tmux_pane, e.tmux_socket) for e in drain(daemon)]
    assert got == [
        ("%7", "/tmp/tmux-501/default"),
        (None, None),
        (None, None),  # only the hook's own environment says where it runs
        ("%7", "/tmp/tmux-501/default"),
    ]
    for pane in ("7; rm -rf /", "%", "%\u0661", "%12345678901", "leader"):
        assert hook.tmux_fields(claude_env(home, TMUX_PANE=pane)) == {}, pane


async def test_the_iterm2_session_it_runs_in_goes_with_the_event(home: Path, daemon: Hooks) -> None:
    """Not in tmux, an iTerm2 pane teammate's hooks run in its iTerm2 session, whose id iTerm2
    gives every process in it (`ITERM_SESSION_ID`) and the iTerm2 backend records as the
    member's `tmuxPaneId`."""
    uuid = "9E3C1F2A-4B5D-4E6F-8A7B-0C1D2E3F4A5B"
    doc = {"hook_event_name": "SessionStart", "session_id": "s-iterm", "source": "startup"}
    in_iterm = claude_env(home, ITERM_SESSION_ID=f"w0t1p2:{uuid}")
    in_tmux_in_iterm = claude_env(home, ITERM_SESSION_ID=f"w0t1p2:{uuid}", TMUX_PANE="%4")
    forged = {**doc, "tina_iterm_session": "1111"}
    for env, sent in ((in_iterm, doc), (in_tmux_in_iterm, doc), (claude_env(home), forged)):
        code, out = await run_hook(PYTHON_M, json.dumps(sent).encode(), env)
        assert (code, out) == (0, b"")
    got = [(e.iterm_session, e.tmux_pane) for e in drain(daemon)]
    assert got == [(uuid, None), (None, "%4"), (None, None)]
    for value in (
        uuid,
        "w0t1p2:",
        "w0t1p2:a b",
        "wxt1p2:abc",
        f"w0t1p2:{uuid};rm",
        "w0t1p2:" + "a" * 65,
    ):
        assert hook.pane_fields(claude_env(home, ITERM_SESSION_ID=value)) == {}, value

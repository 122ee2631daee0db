"""`tina-session send` against a real tmux server on an isolated socket."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from tina.session import tmux
from tina.testing import BRACKETED_PASTE_AGENT

from .conftest import Cli

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
FEATURE = "billing-export"
SESSION = "tina-billing-export-phase-1_5"
T = TypeVar("T")


class Server:
    """A private tmux server (its own socket name and TMUX_TMPDIR)."""

    def __init__(self, socket: str, env: dict[str, str]) -> None:
        self.socket, self.env = socket, env

    def __call__(self, *args: str) -> str:
        assert TMUX is not None
        proc = subprocess.run(
            [TMUX, "-L", self.socket, *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
        return proc.stdout.strip()

    def start(self, name: str, command: str, cwd: Path) -> str:
        """A detached session running `command` in `cwd`; returns its pane id."""
        self("new-session", "-d", "-s", name, "-x", "200", "-y", "20", "-c", str(cwd), command)
        return self("display-message", "-p", "-t", f"={name}:", "#{pane_id}")

    def running(self, pane: str, command: str) -> None:
        shown = lambda: self("display-message", "-p", "-t", pane, "#{pane_current_command}")  # noqa: E731
        wait_for(lambda: shown() == command)


def wait_for(check: Callable[[], T], timeout: float = 10.0) -> T:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, "timed out waiting for a condition"
        time.sleep(0.02)
    return value


@pytest.fixture
def tmux_server(tmp_path: Path) -> Iterator[Server]:
    """Killed afterwards."""
    assert TMUX is not None
    socket = f"tina-test-{uuid.uuid4().hex[:12]}"
    tmpdir = tmp_path / "tmux"
    tmpdir.mkdir(mode=0o700)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path / "home"),
        "TMUX_TMPDIR": str(tmpdir),
        "TERM": "xterm-256color",
    }
    try:
        yield Server(socket, env)
    finally:
        subprocess.run(
            [TMUX, "-L", socket, "kill-server"], env=env, capture_output=True, check=False
        )


@pytest.fixture
def worktree(cli: Cli, repo: Path, tmux_server: Server) -> Path:
    """An initialized orchestration; `cli` talks to the private tmux server."""
    run = cli(
        "init", "--feature", FEATURE, "--cwd", str(repo),
        "--design-doc", str(repo / "docs" / "billing-export-design.md"), "--total-phases", "2",
    )  # fmt: skip
    assert run.code == 0, run.out
    cli.env.update({"TINA_TMUX_SOCKET": tmux_server.socket, "TMUX_TMPDIR": tmux_server.env["TMUX_TMPDIR"]})  # fmt: skip
    return Path(run.out["worktree_path"])


def test_send_types_text_literally_then_enter(
    cli: Cli, tmux_server: Server, worktree: Path, tmp_path: Path
) -> None:
    out = tmp_path / "received.txt"
    pane = tmux_server.start(SESSION, f"exec cat > {out}", worktree)
    tmux_server.running(pane, "cat")
    text = "-n fix it; $(rm -rf /) `x` \"quoted\" 'single' Enter C-c"
    run = cli("send", "--feature", FEATURE, "--phase", "1.5", "--text", text)
    assert run.code == 0, run.out
    assert run.out == {
        "ok": True,
        "feature": FEATURE,
        "phase": "1.5",
        "session": SESSION,
        "chars": len(text),
    }
    assert wait_for(lambda: out.read_text() == text + "\n")


def test_send_delivers_several_lines_as_one_bracketed_paste_then_enter(
    cli: Cli, tmux_server: Server, worktree: Path, tmp_path: Path
) -> None:
    script, received = tmp_path / "agent.py", tmp_path / "received.bin"
    script.write_text(BRACKETED_PASTE_AGENT)
    tmux_server.start(SESSION, f"exec {sys.executable} {script} {received}", worktree)
    wait_for(Path(f"{received}.ready").exists)
    run = cli("send", "--feature", FEATURE, "--phase", "1.5", "--text", "rebase first\nthen test")
    assert run.code == 0, run.out
    data = wait_for(lambda: received.exists() and received.read_bytes().endswith(b"\r") and received.read_bytes())  # fmt: skip
    assert data == b"\x1b[200~rebase first\rthen test\x1b[201~\r"


def test_send_refuses_a_session_whose_pane_runs_a_plain_shell(
    cli: Cli, tmux_server: Server, worktree: Path, tmp_path: Path
) -> None:
    # The agent exited (or never started) and left its shell behind: typing would run the text.
    pane = tmux_server.start(SESSION, "exec bash --norc --noprofile", worktree)
    tmux_server.running(pane, "bash")
    marker = tmp_path / "message-ran"
    run = cli("send", "--feature", FEATURE, "--phase", "1.5", "--text", f"touch {marker}")
    assert run.code == 1
    assert run.out["error"]["code"] == "pane_is_shell"
    assert "bash" in run.out["error"]["message"]
    sentinel = tmp_path / "sentinel"
    tmux_server("send-keys", "-t", pane, "-l", f"touch {sentinel}")
    tmux_server("send-keys", "-t", pane, "Enter")
    wait_for(sentinel.exists)  # the shell ran what came after: the message never came
    assert not marker.exists()


def test_send_refuses_a_pane_outside_the_worktree(
    cli: Cli, tmux_server: Server, worktree: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "received.txt"
    pane = tmux_server.start(SESSION, f"exec cat > {out}", elsewhere)
    tmux_server.running(pane, "cat")
    run = cli("send", "--feature", FEATURE, "--phase", "1.5", "--text", "hello")
    assert run.code == 1
    assert run.out["error"]["code"] == "pane_outside_worktree"
    assert str(worktree) in run.out["error"]["message"]
    tmux_server("send-keys", "-t", pane, "-l", "sentinel")
    tmux_server("send-keys", "-t", pane, "Enter")
    assert wait_for(lambda: out.read_text()) == "sentinel\n"


def test_send_proves_the_pane_again_before_enter(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The pane turns into a shell between the paste and Enter: Enter is never pressed."""
    probes = iter(
        [f"%3\t0\t9\t{SESSION}\tclaude\t{tmp_path}\n", f"%3\t0\t9\t{SESSION}\tzsh\t{tmp_path}\n"]
    )
    calls: list[list[str]] = []

    def fake_run(argv: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        calls.append(argv[3:])  # after `tmux -L s`
        out = next(probes) if argv[3] == "display-message" else ""
        return subprocess.CompletedProcess(argv, 0, out, "")

    monkeypatch.setattr(tmux, "_run", fake_run)
    env = {"PATH": os.environ.get("PATH", ""), "TINA_TMUX_SOCKET": "s"}
    with pytest.raises(tmux.PaneRefused) as info:
        tmux.send_text(SESSION, "hi\nthere", roots=[str(tmp_path)], env=env, pause=0)
    assert info.value.code == "pane_is_shell"
    assert [c[0] for c in calls] == [
        "has-session",
        "display-message",
        "load-buffer",
        "paste-buffer",
        "display-message",
    ]
    assert calls[3][-2:] == ["-t", "%3"]  # the pane proven first, not whatever is active now


@pytest.mark.parametrize("bad", ["\x9b2J", "a\x85b", "\x1b[201~", "a\rb", "\x07"])
def test_send_refuses_control_characters_before_touching_tmux(
    cli: Cli, worktree: Path, bad: str
) -> None:
    run = cli("send", "--feature", FEATURE, "--phase", "1", f"--text=hi {bad}")
    assert run.code == 2
    assert "U+" in run.out["error"]["message"]


def test_send_to_a_missing_session(cli: Cli, worktree: Path) -> None:
    run = cli("send", "--feature", FEATURE, "--phase", "1", "--text", "hello")
    assert run.code == 1
    assert run.out["error"]["code"] == "tmux_session_missing"
    assert "tina-billing-export-phase-1" in run.out["error"]["message"]


def test_send_for_an_unknown_feature(cli: Cli, tmux_server: Server) -> None:
    cli.env.update({"TINA_TMUX_SOCKET": tmux_server.socket, "TMUX_TMPDIR": tmux_server.env["TMUX_TMPDIR"]})  # fmt: skip
    run = cli("send", "--feature", "nobody", "--phase", "1", "--text", "hello")
    assert run.code == 1
    assert "nobody" in run.out["error"]["message"]


def test_send_does_not_match_session_name_prefixes(
    cli: Cli, tmux_server: Server, worktree: Path, tmp_path: Path
) -> None:
    # tmux would resolve "tina-billing-export-phase-1" to this session by prefix
    tmux_server.start("tina-billing-export-phase-10", "exec cat", worktree)
    run = cli("send", "--feature", FEATURE, "--phase", "1", "--text", "hello")
    assert run.code == 1 and run.out["error"]["code"] == "tmux_session_missing"


def test_send_without_tmux(cli: Cli, worktree: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    cli.env["PATH"] = str(empty)
    run = cli("send", "--feature", FEATURE, "--phase", "1", "--text", "hello")
    assert run.code == 1 and run.out["error"]["code"] == "tmux_missing"


def test_send_validates_arguments(cli: Cli) -> None:
    assert cli("send", "--feature", "f", "--phase", "1-retry", "--text", "x").code == 2
    assert cli("send", "--feature", "F!", "--phase", "1", "--text", "x").code == 2
    assert cli("send", "--feature", "f", "--phase", "1", "--text", "").code == 2

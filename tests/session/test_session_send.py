"""`tina-session send` against a real tmux server on an isolated socket."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Cli

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")


@pytest.fixture
def tmux_server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A private tmux server (its own socket name and TMUX_TMPDIR); killed afterwards."""
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
        yield socket, env
    finally:
        subprocess.run(
            [TMUX, "-L", socket, "kill-server"], env=env, capture_output=True, check=False
        )


def _start_session(socket: str, env: dict[str, str], name: str, out: Path) -> None:
    assert TMUX is not None
    # `cat` echoes each line it receives once Enter is pressed.
    subprocess.run(
        [TMUX, "-L", socket, "new-session", "-d", "-s", name, "-x", "200", "-y", "20",
         f"cat > {out}"],
        env=env,
        check=True,
        timeout=10,
    )  # fmt: skip


def _wait_for(path: Path, expected: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    content = ""
    while time.monotonic() < deadline:
        content = path.read_text() if path.exists() else ""
        if content == expected:
            break
        time.sleep(0.05)
    return content


def test_send_types_text_literally_then_enter(
    cli: Cli, tmux_server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    socket, env = tmux_server
    out = tmp_path / "received.txt"
    _start_session(socket, env, "tina-billing-export-phase-1_5", out)
    cli.env.update({"TINA_TMUX_SOCKET": socket, "TMUX_TMPDIR": env["TMUX_TMPDIR"]})
    text = "-n fix it; $(rm -rf /) `x` \"quoted\" 'single' Enter C-c"
    run = cli("send", "--feature", "billing-export", "--phase", "1.5", "--text", text)
    assert run.code == 0, run.out
    assert run.out == {
        "ok": True,
        "feature": "billing-export",
        "phase": "1.5",
        "session": "tina-billing-export-phase-1_5",
        "chars": len(text),
    }
    assert _wait_for(out, text + "\n") == text + "\n"


def test_send_to_a_missing_session(cli: Cli, tmux_server: tuple[str, dict[str, str]]) -> None:
    socket, env = tmux_server
    cli.env.update({"TINA_TMUX_SOCKET": socket, "TMUX_TMPDIR": env["TMUX_TMPDIR"]})
    run = cli("send", "--feature", "billing-export", "--phase", "1", "--text", "hello")
    assert run.code == 1
    assert run.out["error"]["code"] == "tmux_session_missing"
    assert "tina-billing-export-phase-1" in run.out["error"]["message"]


def test_send_does_not_match_session_name_prefixes(
    cli: Cli, tmux_server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    socket, env = tmux_server
    # tmux would resolve "tina-f-phase-1" to this session by prefix without an exact match
    _start_session(socket, env, "tina-f-phase-10", tmp_path / "ten.txt")
    cli.env.update({"TINA_TMUX_SOCKET": socket, "TMUX_TMPDIR": env["TMUX_TMPDIR"]})
    run = cli("send", "--feature", "f", "--phase", "1", "--text", "hello")
    assert run.code == 1 and run.out["error"]["code"] == "tmux_session_missing"


def test_send_without_tmux(cli: Cli, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    cli.env["PATH"] = str(empty)
    cli.env["TINA_TMUX_SOCKET"] = "unused"
    run = cli("send", "--feature", "f", "--phase", "1", "--text", "hello")
    assert run.code == 1 and run.out["error"]["code"] == "tmux_missing"


def test_send_validates_arguments(cli: Cli) -> None:
    assert cli("send", "--feature", "f", "--phase", "1-retry", "--text", "x").code == 2
    assert cli("send", "--feature", "F!", "--phase", "1", "--text", "x").code == 2
    assert cli("send", "--feature", "f", "--phase", "1", "--text", "").code == 2

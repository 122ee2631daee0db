"""Shared by the phase command tests: a private tmux server, an initialized orchestration and a
runner for the real ``tina-session`` program (text output, as the original's)."""

from __future__ import annotations

import json
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

from .conftest import git, tina_session_argv

TMUX = shutil.which("tmux")
needs_tmux = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
FEATURE = "billing-export"
T = TypeVar("T")

FAKE_CLAUDE = """\
import os, sys
log = open({log!r}, "a", buffering=1)
log.write("argv " + " ".join(sys.argv[1:]) + "\\n")
prompt = "" if os.environ.get("FAKE_CLAUDE_SILENT") else "\\u276f "
print("Claude stand-in")
print(prompt, flush=True)
for line in sys.stdin:
    log.write("line " + line)
    print(prompt, flush=True)
"""


def wait_for(check: Callable[[], T], timeout: float = 30.0, what: str = "a condition") -> T:
    """Poll ``check`` until it returns something true (generous deadline: loaded CI)."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


class Env:
    """The environment every program of a test shares: tina-session, tmux, the sessions' shell."""

    def __init__(self, tmp_path: Path, home: Path) -> None:
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        tmux_dir = tmp_path / "tmux"
        tmux_dir.mkdir(mode=0o700)
        self.socket = f"tina-test-{uuid.uuid4().hex[:12]}"
        self.vars = {
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "SHELL": "/bin/sh",
            "TERM": "xterm-256color",
            "GIT_CONFIG_NOSYSTEM": "1",
            "TMUX_TMPDIR": str(tmux_dir),
            "TINA_TMUX_SOCKET": self.socket,
        }
        # tmux runs login shells, which reset PATH from /etc/profile; a user's own profile puts
        # claude back on it, as this one does for the tests' stand-ins.
        (home / ".profile").write_text(f'PATH="{self.bin}:$PATH"; export PATH\n')

    def tmux(self, *args: str, check: bool = True) -> str:
        assert TMUX is not None
        proc = subprocess.run(
            [TMUX, "-L", self.socket, *args],
            env=self.vars,
            capture_output=True,
            text=True,
            check=check,
            timeout=30,
        )
        return proc.stdout

    def session(self, name: str, command: str, cwd: Path) -> str:
        """A detached session running ``command`` in ``cwd``; returns its pane id."""
        self.tmux("new-session", "-d", "-s", name, "-x", "200", "-y", "30", "-c", str(cwd), command)
        return self.tmux("display-message", "-p", "-t", f"={name}:", "#{pane_id}").strip()

    def sessions(self) -> list[str]:
        return self.tmux("list-sessions", "-F", "#{session_name}", check=False).split()

    def running(self, pane: str, command: str) -> None:
        def shown() -> bool:
            out = self.tmux("display-message", "-p", "-t", pane, "#{pane_current_command}")
            return out.strip() == command

        wait_for(shown, what=f"{command} in {pane}")

    def fake_claude(self, name: str, log: Path) -> Path:
        script = self.bin / name
        script.write_text(f"#!{sys.executable}\n" + FAKE_CLAUDE.format(log=str(log)))
        script.chmod(0o755)
        return script

    def run(self, *args: str, cwd: Path | None = None, timeout: float = 120) -> Proc:
        proc = subprocess.run(
            [*tina_session_argv(), *args],
            cwd=cwd,
            env=self.vars,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Proc(proc.returncode, proc.stdout, proc.stderr)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*tina_session_argv(), *args],
            env=self.vars,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


class Proc:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> dict[str, object]:
        lines = self.out.splitlines()
        assert len(lines) == 1, (self.out, self.err)
        value = json.loads(lines[0])
        assert isinstance(value, dict)
        return value

    def __repr__(self) -> str:
        return f"Proc(code={self.code}, out={self.out!r}, err={self.err!r})"


@pytest.fixture
def env(tmp_path: Path, home: Path) -> Iterator[Env]:
    """Kills its tmux server afterwards."""
    environment = Env(tmp_path, home)
    try:
        yield environment
    finally:
        if TMUX is not None:
            environment.tmux("kill-server", check=False)


def initialize(repo: Path, home: Path, *, feature: str = FEATURE, total_phases: int = 2) -> Path:
    """What ``tina-session init`` leaves behind, written as the original wrote it: a worktree, the
    session lookup and ``supervisor-state.json``. Returns the worktree."""
    worktree = repo / ".worktrees" / feature
    git(repo, "worktree", "add", "-q", str(worktree), "-b", f"tina/{feature}")
    worktree = worktree.resolve()
    lookup = home / ".claude" / "tina-sessions" / f"{feature}.json"
    lookup.parent.mkdir(parents=True, exist_ok=True)
    created = "2026-02-07T16:00:00Z"
    lookup.write_text(
        json.dumps({"feature": feature, "cwd": str(worktree), "created_at": created}, indent=2)
    )
    state = {
        "version": 1,
        "feature": feature,
        "design_doc": str(repo / "docs" / "billing-export-design.md"),
        "worktree_path": str(worktree),
        "branch": f"tina/{feature}",
        "total_phases": total_phases,
        "current_phase": 1,
        "status": "executing",
        "orchestration_started_at": created,
        "phases": {},
        "timing": {"gaps": []},
    }
    tina_dir = worktree / ".claude" / "tina"
    tina_dir.mkdir(parents=True, exist_ok=True)
    (tina_dir / "supervisor-state.json").write_text(json.dumps(state, indent=2))
    return worktree


@pytest.fixture
def worktree(repo: Path, home: Path) -> Path:
    return initialize(repo, home)

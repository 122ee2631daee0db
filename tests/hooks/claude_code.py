"""What the hook tests share (their `home` fixture is in conftest.py): the environment Claude
Code gives a hook process, where the daemon's socket is for that home, and running the hook as
Claude Code does (JSON on stdin, in the project directory)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import trio


def claude_env(home: Path, **extra: str) -> dict[str, str]:
    """What a hook process gets from Claude Code: the user's environment (here a fresh home)
    and `CLAUDE_PROJECT_DIR`."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "CLAUDE_PROJECT_DIR": str(home / "project"),
    }
    env.update(extra)
    return env


def socket_of(home: Path) -> Path:
    """Where the daemon puts its socket for this home (no TINA_STATE_DIR, no config file)."""
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "tina" / "daemon.sock"
    return home / ".local" / "state" / "tina" / "daemon.sock"


async def run_hook(argv: list[str], payload: bytes, env: dict[str, str]) -> tuple[int, bytes]:
    project = Path(env["CLAUDE_PROJECT_DIR"])
    project.mkdir(parents=True, exist_ok=True)
    with trio.fail_after(60):  # a hang is a failure, not a measurement
        done = await trio.run_process(
            argv,
            stdin=payload,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            env=env,
            cwd=project,
        )
    assert done.stderr == b"", done.stderr.decode(errors="replace")
    return done.returncode, done.stdout

"""Deliver text to a phase's tmux session (argv only, never a shell).

``TINA_TMUX_SOCKET`` selects the tmux server: a bare name is passed as ``-L <name>``, a path
(anything with a ``/``) as ``-S <path>``. Unset means the user's default server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Mapping

__all__ = [
    "TMUX_SOCKET_ENV",
    "SessionMissing",
    "TmuxError",
    "TmuxMissing",
    "send_text",
    "session_exists",
    "tmux_argv",
]

TMUX_SOCKET_ENV = "TINA_TMUX_SOCKET"
_TIMEOUT = 10.0
SEND_PAUSE = 0.5
"""Pause between the text and Enter: the Claude TUI drops input that arrives too fast."""


class TmuxError(Exception):
    code = "tmux_failed"


class TmuxMissing(TmuxError):
    code = "tmux_missing"


class SessionMissing(TmuxError):
    code = "tmux_session_missing"


def tmux_argv(env: Mapping[str, str] | None = None) -> list[str]:
    """``["/path/to/tmux", -L|-S socket]`` for the configured server."""
    environ = os.environ if env is None else env
    binary = shutil.which("tmux", path=environ.get("PATH"))
    if binary is None:
        raise TmuxMissing("tmux is not installed (not found on PATH)")
    socket = environ.get(TMUX_SOCKET_ENV)
    if not socket:
        return [binary]
    return [binary, "-S" if "/" in socket else "-L", socket]


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise TmuxError(f"tmux did not answer within {_TIMEOUT:.0f} s") from None
    except OSError as exc:
        raise TmuxError(f"could not run tmux: {exc}") from None


def session_exists(session: str, env: Mapping[str, str] | None = None) -> bool:
    return _run([*tmux_argv(env), "has-session", "-t", f"={session}"]).returncode == 0


def send_text(
    session: str,
    text: str,
    *,
    env: Mapping[str, str] | None = None,
    pause: float = SEND_PAUSE,
) -> None:
    """Type ``text`` literally into the session's active pane, then press Enter."""
    base = tmux_argv(env)
    if not session_exists(session, env):
        raise SessionMissing(f"tmux session {session!r} does not exist")
    target = f"={session}:"
    _send_keys(base, session, ["-t", target, "-l", "--", text])
    time.sleep(pause)
    _send_keys(base, session, ["-t", target, "Enter"])


def _send_keys(base: list[str], session: str, args: list[str]) -> None:
    result = _run([*base, "send-keys", *args])
    if result.returncode != 0:
        detail = result.stderr.strip() or f"exit status {result.returncode}"
        raise TmuxError(f"tmux send-keys to {session!r} failed: {detail}")

"""What launchd and systemd share: the answers, the paths, the atomic write."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Protocol

import attrs

from tina.atomic import write_atomic

REPO_ROOT = Path(__file__).resolve().parents[3]
DEPLOY = REPO_ROOT / "deploy"

# Tools the daemon or what it runs may look up on PATH: tina-session (actions), tmux (messages),
# git (worktrees), claude and node (Claude Code, installed with npm or its own installer).
TOOLS = ("tina-session", "tmux", "git", "claude", "node")


class ServiceError(Exception):
    """The service manager is missing, unreachable or refused; the message says what to do."""


@attrs.frozen(kw_only=True)
class Outcome:
    """What `install` or `uninstall` did: the exit status and the lines to print."""

    code: int
    lines: tuple[str, ...]


@attrs.frozen(kw_only=True)
class ServiceState:
    """The service as its manager sees it. `active` is None when the manager could not be asked."""

    active: bool | None
    summary: str
    #: the daemon's pid when the manager reports one
    pid: int | None = None


@attrs.frozen(kw_only=True)
class Check:
    """One line of `tina daemon doctor`."""

    ok: bool
    what: str
    fix: str = ""


class ServiceManager(Protocol):
    """The daemon as a per-user service: one file rendered from deploy/, and its manager."""

    #: e.g. "systemd user unit tina-daemon.service"
    description: str
    #: the file `install` writes
    path: Path

    def render(self) -> bytes:
        """The file `install` would write now; raises ServiceError if it cannot."""
        ...

    def install(self, *, dry_run: bool = False) -> Outcome: ...

    def uninstall(self, *, dry_run: bool = False) -> Outcome: ...

    def state(self) -> ServiceState:
        """Asks the manager; only meaningful when `path` exists."""
        ...

    def start(self) -> None:
        """Starts the installed service (nothing if it runs); raises ServiceError if refused."""
        ...

    def stop(self) -> None:
        """Stops the installed service and waits for it; raises ServiceError if refused."""
        ...

    def start_hint(self) -> str:
        """How to start the installed service and read why it stopped."""
        ...


def home() -> Path:
    return Path(os.environ.get("HOME") or Path.home())


def tina_executable() -> str:
    """The `tina` beside this Python (a venv's bin), else the first on PATH."""
    found = Path(sys.executable).parent / "tina"
    if found.exists():
        return os.path.abspath(found)
    on_path = shutil.which("tina")
    return os.path.abspath(on_path) if on_path else "tina"


def service_path(tina: str, defaults: str) -> str:
    """A PATH for a service manager's minimal environment: tina's bin dir, where the tools were
    found from this shell, ~/.local/bin, then `defaults`. Symlinks are kept as found, so an
    updated tool behind a stable link is still found."""
    dirs = [str(Path(tina).parent)]
    for tool in TOOLS:
        found = shutil.which(tool)
        if found:
            dirs.append(os.path.dirname(os.path.abspath(found)))
    dirs.append(str(home() / ".local" / "bin"))
    dirs.extend(defaults.split(":"))
    return ":".join(dict.fromkeys(d for d in dirs if d))


def write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Readers (and the service manager) see the old file or the new one, never half of one."""
    write_atomic(path, data, mode=mode)

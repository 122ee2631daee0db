"""The launchd agent, from deploy/launchd/ (macOS)."""

from __future__ import annotations

import os
import plistlib
import re
import subprocess
import sys
from pathlib import Path
from xml.sax.saxutils import escape

from ._base import (
    DEPLOY,
    Outcome,
    ServiceError,
    ServiceState,
    home,
    service_path,
    tina_executable,
    write_atomically,
)

LABEL = "dev.tina.daemon"
TEMPLATE = DEPLOY / "launchd" / f"{LABEL}.plist.template"
DEFAULT_PATH = "/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
LAUNCHCTL_TIMEOUT = 90.0  # bootout waits for the daemon to stop (ExitTimeOut)


def plist_path() -> Path:
    return home() / "Library" / "LaunchAgents" / f"{LABEL}.plist"


def log_dir() -> Path:
    return home() / "Library" / "Logs" / "tina"


def render(tina: str, home_dir: Path, logs: Path, path: str) -> bytes:
    text = TEMPLATE.read_text()
    for key, value in {
        "@TINA@": tina,
        "@HOME@": str(home_dir),
        "@LOG_DIR@": str(logs),
        "@PATH@": path,
    }.items():
        text = text.replace(key, escape(value))
    data = text.encode()
    plistlib.loads(data)  # refuse to write a plist launchd could not read
    return data


def parse_print(text: str) -> ServiceState:
    """The service's state from `launchctl print gui/<uid>/dev.tina.daemon`."""
    fields = dict(re.findall(r"^\t([a-z][a-z ]*[a-z]) = (.+)$", text, re.M))  # top level only
    state = fields.get("state", "unknown")
    parts = [state]
    if "pid" in fields:
        parts.append(f"pid {fields['pid']}")
    if "runs" in fields:
        parts.append(f"{fields['runs']} runs")
    if fields.get("last exit code", "(never exited)") != "(never exited)":
        parts.append(f"last exit code {fields['last exit code']}")
    pid = fields.get("pid", "")
    return ServiceState(
        active=state == "running",
        summary=", ".join(parts),
        pid=int(pid) if pid.isdigit() else None,
    )


def _launchctl(*args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["launchctl", *args],
            capture_output=True,
            text=True,
            timeout=LAUNCHCTL_TIMEOUT,
            check=False,
        )
    except OSError as exc:
        raise ServiceError(f"cannot run launchctl: {exc}") from None
    except subprocess.TimeoutExpired:
        raise ServiceError(
            f"launchctl {' '.join(args)} did not answer within {LAUNCHCTL_TIMEOUT:.0f} s"
        ) from None


class LaunchdAgent:
    """`~/Library/LaunchAgents/dev.tina.daemon.plist` in the `gui/<uid>` domain."""

    def __init__(self, *, tina: str | None = None) -> None:
        self.tina = tina or tina_executable()
        self.path = plist_path()
        self.description = f"launchd agent {LABEL}"
        self.domain = f"gui/{os.getuid()}"

    def render(self) -> bytes:
        return render(self.tina, home(), log_dir(), service_path(self.tina, DEFAULT_PATH))

    def install(self, *, dry_run: bool = False) -> Outcome:
        data = self.render()
        steps = [
            f"write {self.path}",
            f"mkdir -p {log_dir()}",
            f"launchctl bootout {self.domain}/{LABEL}   (if loaded)",
            f"launchctl bootstrap {self.domain} {self.path}",
        ]
        if dry_run or sys.platform != "darwin":
            why = "dry run" if dry_run else f"not macOS ({sys.platform}): launchd is not available"
            return Outcome(
                code=0, lines=(f"{why}; would:", *(f"  {s}" for s in steps), "", data.decode())
            )
        try:
            log_dir().mkdir(parents=True, exist_ok=True)
            write_atomically(self.path, data, 0o644)
            _launchctl("bootout", f"{self.domain}/{LABEL}")
            done = _launchctl("bootstrap", self.domain, str(self.path))
        except (ServiceError, OSError) as exc:
            return Outcome(code=1, lines=(str(exc),))
        if done.returncode != 0:
            detail = done.stderr.strip() or done.stdout.strip()
            return Outcome(code=1, lines=(f"launchctl bootstrap failed: {detail}",))
        return Outcome(
            code=0,
            lines=(
                f"installed {self.path}",
                f"logs: {log_dir()}/daemon.log",
                "check it with: tina daemon status",
            ),
        )

    def uninstall(self, *, dry_run: bool = False) -> Outcome:
        steps = [f"launchctl bootout {self.domain}/{LABEL}", f"remove {self.path}"]
        if dry_run or sys.platform != "darwin":
            why = "dry run" if dry_run else f"not macOS ({sys.platform}): launchd is not available"
            return Outcome(code=0, lines=(f"{why}; would:", *(f"  {s}" for s in steps)))
        try:
            out = _launchctl("bootout", f"{self.domain}/{LABEL}")
        except ServiceError as exc:
            return Outcome(code=1, lines=(str(exc),))
        self.path.unlink(missing_ok=True)
        note = "" if out.returncode == 0 else " (it was not loaded)"
        return Outcome(code=0, lines=(f"uninstalled {LABEL}{note}",))

    def state(self) -> ServiceState:
        if sys.platform != "darwin":
            return ServiceState(active=None, summary=f"state unknown: not macOS ({sys.platform})")
        try:
            done = _launchctl("print", f"{self.domain}/{LABEL}")
        except ServiceError as exc:
            return ServiceState(active=None, summary=f"state unknown: {exc}")
        if done.returncode != 0:
            return ServiceState(active=False, summary="not loaded")
        return parse_print(done.stdout)

    def start(self) -> None:
        """Loads the agent if it is not loaded (RunAtLoad starts it), else kickstarts it."""
        if _launchctl("print", f"{self.domain}/{LABEL}").returncode != 0:
            log_dir().mkdir(parents=True, exist_ok=True)
            done = _launchctl("bootstrap", self.domain, str(self.path))
        else:
            done = _launchctl("kickstart", f"{self.domain}/{LABEL}")
        if done.returncode != 0:
            detail = done.stderr.strip() or done.stdout.strip()
            raise ServiceError(f"launchctl could not start {LABEL}: {detail}")

    def stop(self) -> None:
        """Unloads the agent (KeepAlive would restart a killed daemon); the next login or
        `start` loads it again. bootout waits for the daemon to exit."""
        done = _launchctl("bootout", f"{self.domain}/{LABEL}")
        if done.returncode != 0 and _launchctl("print", f"{self.domain}/{LABEL}").returncode == 0:
            detail = done.stderr.strip() or done.stdout.strip()
            raise ServiceError(f"launchctl could not stop {LABEL}: {detail}")

    def start_hint(self) -> str:
        return (
            f"launchctl kickstart {self.domain}/{LABEL} (or `tina daemon install`); "
            f"why it stopped: tail {log_dir()}/daemon.log"
        )

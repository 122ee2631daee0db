"""The systemd user unit, from deploy/systemd/ (Linux).

Every systemctl call is an argv list (never a shell) to `systemctl --user`, under a deadline.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

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

UNIT = "tina-daemon.service"
TEMPLATE = DEPLOY / "systemd" / f"{UNIT}.template"
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
# Longer than the unit's TimeoutStopSec: `stop` waits for the daemon's ordered shutdown.
SYSTEMCTL_TIMEOUT = 90.0

NO_USER_MANAGER = (
    "The user's systemd runs while the user is logged in (a desktop session, or ssh with "
    "systemd-logind), not after `su`/`sudo` nor in most containers. To keep the daemon "
    "running without a login (and start it at boot): `loginctl enable-linger $USER` (once, "
    "as root if your system asks), then log in again and retry. Without systemd, run "
    "`tina daemon run` under your own supervisor."
)


def _unreachable(done: subprocess.CompletedProcess[str]) -> str:
    detail = done.stderr.strip() or done.stdout.strip()
    return f"systemctl --user cannot reach your systemd ({detail}). {NO_USER_MANAGER}"


def unit_dir() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME")
    return (Path(config) if config else home() / ".config") / "systemd" / "user"


def _quote(value: str) -> str:
    """One word for a unit file: double-quoted, C-escaped, `%` (specifiers) doubled."""
    if any(ord(c) < 0x20 or c == "\x7f" for c in value):
        raise ServiceError(f"{value!r} has a control character: a unit file cannot hold it")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{escaped}"'


def render(tina: str, path: str) -> bytes:
    """The unit for `tina` at this absolute path, with this PATH."""
    # systemd runs only a normalized absolute path free of quotes and backslashes.
    if (
        not os.path.isabs(tina)
        or os.path.normpath(tina) != tina
        or any(c in tina for c in "\\\"'")
        or any(ord(c) < 0x20 for c in tina)
    ):
        raise ServiceError(
            f"systemd cannot run tina at {tina!r}: it needs a plain absolute path (no quotes, "
            "backslashes or control characters); install tina in a venv at such a path"
        )
    text = TEMPLATE.read_text()
    # ExecStart's path is quoted too (it may hold spaces); `$` there is literal, so only
    # arguments would need `$$`, and ours have none.
    text = text.replace('"@TINA@"', _quote(tina)).replace('"PATH=@PATH@"', _quote(f"PATH={path}"))
    return text.encode()


class SystemdUserService:
    """`~/.config/systemd/user/tina-daemon.service` and `systemctl --user`."""

    def __init__(self, *, tina: str | None = None) -> None:
        self.tina = tina or tina_executable()
        self.path = unit_dir() / UNIT
        self.description = f"systemd user unit {UNIT}"

    def render(self) -> bytes:
        return render(self.tina, service_path(self.tina, DEFAULT_PATH))

    def _systemctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        binary = shutil.which("systemctl")
        if binary is None:
            raise ServiceError(
                "systemctl not found: this Linux does not run systemd. Run `tina daemon run` "
                "under your own supervisor."
            )
        try:
            return subprocess.run(
                [binary, "--user", *args],
                capture_output=True,
                text=True,
                timeout=SYSTEMCTL_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ServiceError(
                f"systemctl --user {' '.join(args)} did not answer within {SYSTEMCTL_TIMEOUT:.0f} s"
            ) from None

    def _run(self, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        done = self._systemctl(*args)
        if done.returncode not in ok:
            detail = done.stderr.strip() or done.stdout.strip()
            raise ServiceError(
                f"systemctl --user {' '.join(args)} failed ({done.returncode}): {detail}"
            )
        return done

    def _require_manager(self) -> None:
        """Fails, saying what to do, unless the user's systemd answers."""
        done = self._systemctl("show", "--property=Version")
        if done.returncode != 0:
            raise ServiceError(_unreachable(done))

    def install(self, *, dry_run: bool = False) -> Outcome:
        try:
            data = self.render()
        except ServiceError as exc:
            return Outcome(code=1, lines=(str(exc),))
        steps = (
            f"write {self.path} (mode 0644)",
            "systemctl --user daemon-reload",
            f"systemctl --user enable {UNIT}",
            f"systemctl --user restart {UNIT}",
        )
        if dry_run:
            return Outcome(
                code=0, lines=("dry run; would:", *(f"  {s}" for s in steps), "", data.decode())
            )
        try:
            self._require_manager()
            write_atomically(self.path, data, 0o644)
            self._run("daemon-reload")
            self._run("enable", UNIT)
            self._run("restart", UNIT)  # starts it, or restarts one installed before
        except (ServiceError, OSError) as exc:
            return Outcome(code=1, lines=(str(exc),))
        return Outcome(
            code=0,
            lines=(
                f"installed {self.path}",
                f"logs: journalctl --user -u {UNIT} -f -o cat",
                "check it with: tina daemon status",
                "it runs while you are logged in; to keep it running after you log out and start "
                "it at boot: loginctl enable-linger $USER",
            ),
        )

    def uninstall(self, *, dry_run: bool = False) -> Outcome:
        steps = (
            f"systemctl --user stop {UNIT}",
            f"systemctl --user disable {UNIT}",
            f"remove {self.path}",
            "systemctl --user daemon-reload",
        )
        if dry_run:
            return Outcome(code=0, lines=("dry run; would:", *(f"  {s}" for s in steps)))
        if not self.path.exists():
            return Outcome(code=0, lines=(f"{UNIT} is not installed (no {self.path})",))
        try:
            self._require_manager()
            self._run("stop", UNIT, ok=(0, 5))  # 5: not loaded, so not running either
            self._run("disable", UNIT)  # removes the symlink `enable` made
            self.path.unlink(missing_ok=True)
            self._run("daemon-reload")
        except (ServiceError, OSError) as exc:
            return Outcome(code=1, lines=(str(exc), f"{self.path} is still there"))
        return Outcome(code=0, lines=(f"stopped and disabled {UNIT}; removed {self.path}",))

    def state(self) -> ServiceState:
        if not self.path.exists():
            return ServiceState(active=False, summary="not installed")
        try:
            done = self._systemctl(
                "show", UNIT, "--property=ActiveState,SubState,MainPID,UnitFileState,NRestarts"
            )
        except ServiceError as exc:
            return ServiceState(active=None, summary=f"state unknown: {exc}")
        if done.returncode != 0:  # `show` answers even for an unknown unit
            return ServiceState(active=None, summary=f"state unknown: {_unreachable(done)}")
        props = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
        active = props.get("ActiveState", "unknown")
        parts = [f"{active} ({props.get('SubState', '?')})"]
        if props.get("MainPID", "0") != "0":
            parts.append(f"pid {props['MainPID']}")
        if props.get("UnitFileState"):
            parts.append(props["UnitFileState"])
        if props.get("NRestarts", "0") not in ("0", ""):
            parts.append(f"restarted {props['NRestarts']} times")
        pid = props.get("MainPID", "0")
        return ServiceState(
            active=active == "active",
            summary=", ".join(parts),
            pid=int(pid) if pid.isdigit() and pid != "0" else None,
        )

    def start(self) -> None:
        self._require_manager()
        self._run("start", UNIT)

    def stop(self) -> None:
        self._require_manager()
        self._run("stop", UNIT, ok=(0, 5))  # 5: not loaded, so not running either

    def start_hint(self) -> str:
        return f"systemctl --user start {UNIT}; why it stopped: journalctl --user -u {UNIT} -o cat"

"""The daemon as a per-user service: `tina daemon install` and `uninstall`, and the service's
part of `status` and `doctor`.

launchd on macOS (`launchd.py`, a LaunchAgent), systemd's user manager on Linux (`systemd.py`, a
user unit). Each renders one file from `deploy/` with the absolute path of this `tina` and a
usable PATH, writes it atomically and asks its manager to (re)start it; uninstall stops it and
removes exactly what install added.
"""

from __future__ import annotations

import sys

from ._base import Check as Check
from ._base import Outcome as Outcome
from ._base import ServiceError as ServiceError
from ._base import ServiceManager as ServiceManager
from ._base import ServiceState as ServiceState
from ._base import tina_executable as tina_executable


def for_this_os(platform: str | None = None) -> ServiceManager | None:
    """launchd on macOS, systemd on Linux, None elsewhere."""
    platform = platform or sys.platform
    if platform == "darwin":
        from .launchd import LaunchdAgent

        return LaunchdAgent()
    if platform.startswith("linux"):
        from .systemd import SystemdUserService

        return SystemdUserService()
    return None


def unsupported() -> str:
    return (
        f"no service manager support on {sys.platform}: run `tina daemon run` under your own "
        "supervisor"
    )


def status_line(svc: ServiceManager) -> str:
    """One line for `tina daemon status`."""
    if not svc.path.exists():
        return f"service: {svc.description} not installed (`tina daemon install`)"
    return f"service: {svc.description}: {svc.state().summary}"


def checks(svc: ServiceManager) -> list[Check]:
    """`tina daemon doctor`'s lines: the file is there, is what install writes now, and runs."""
    if not svc.path.exists():
        return [
            Check(
                ok=True,
                what=f"service: {svc.description} not installed (optional: `tina daemon install` "
                "runs the daemon at login and restarts it if it fails)",
            )
        ]
    out = []
    try:
        wanted = svc.render()
    except ServiceError as exc:
        out.append(Check(ok=False, what=f"service: {exc}"))
    else:
        installed = svc.path.read_bytes()
        if installed == wanted:
            out.append(
                Check(
                    ok=True, what=f"service: {svc.path} matches what `tina daemon install` writes"
                )
            )
        else:
            out.append(
                Check(
                    ok=False,
                    what=f"service: {svc.path} differs from what `tina daemon install` writes now: "
                    + _differences(installed.decode(errors="replace"), wanted.decode()),
                    fix="run `tina daemon install` again (the venv moved, or tools are elsewhere now)",
                )
            )
    state = svc.state()
    out.append(
        Check(
            ok=state.active is True,
            what=f"service: {svc.description} {state.summary}",
            fix="" if state.active is None else svc.start_hint(),
        )
    )
    return out


def _differences(installed: str, wanted: str) -> str:
    old = [line.strip() for line in installed.splitlines()]
    new = [line.strip() for line in wanted.splitlines()]
    gone = [line for line in old if line not in new]
    added = [line for line in new if line not in old]
    parts = []
    if gone:
        parts.append("it has " + " | ".join(gone))
    if added:
        parts.append("install writes " + " | ".join(added))
    return "; ".join(parts)

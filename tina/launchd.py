"""`tina daemon install` / `uninstall`: the launchd agent, from deploy/launchd/."""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from pathlib import Path
from xml.sax.saxutils import escape

from tina.actions._handlers import DEFAULT_PATH

LABEL = "dev.tina.daemon"
TEMPLATE = Path(__file__).resolve().parents[1] / "deploy" / "launchd" / f"{LABEL}.plist.template"


def _home() -> Path:
    return Path(os.environ.get("HOME") or Path.home())


def plist_path() -> Path:
    return _home() / "Library" / "LaunchAgents" / f"{LABEL}.plist"


def log_dir() -> Path:
    return _home() / "Library" / "Logs" / "tina"


def tina_executable() -> str:
    found = Path(sys.executable).parent / "tina"
    if found.exists():
        return str(found)
    return shutil.which("tina") or "tina"


def render(tina: str, home: Path, logs: Path, path: str) -> bytes:
    text = TEMPLATE.read_text()
    for key, value in {
        "@TINA@": tina,
        "@HOME@": str(home),
        "@LOG_DIR@": str(logs),
        "@PATH@": path,
    }.items():
        text = text.replace(key, escape(value))
    data = text.encode()
    plistlib.loads(data)  # refuse to write a plist launchd could not read
    return data


def _launchctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["launchctl", *args], capture_output=True, text=True, check=False)


def install(dry_run: bool = False) -> tuple[int, list[str]]:
    """Returns (exit code, lines to print)."""
    tina = tina_executable()
    path = f"{Path(tina).parent}:{DEFAULT_PATH}"
    data = render(tina, _home(), log_dir(), path)
    domain = f"gui/{os.getuid()}"
    steps = [
        f"write {plist_path()}",
        f"mkdir -p {log_dir()}",
        f"launchctl bootout {domain}/{LABEL}   (if loaded)",
        f"launchctl bootstrap {domain} {plist_path()}",
    ]
    if dry_run or sys.platform != "darwin":
        why = "dry run" if dry_run else f"not macOS ({sys.platform}): launchd is not available"
        return 0, [f"{why}; would:", *(f"  {s}" for s in steps), "", data.decode()]
    log_dir().mkdir(parents=True, exist_ok=True)
    plist_path().parent.mkdir(parents=True, exist_ok=True)
    plist_path().write_bytes(data)
    _launchctl("bootout", f"{domain}/{LABEL}")
    done = _launchctl("bootstrap", domain, str(plist_path()))
    if done.returncode != 0:
        return 1, [f"launchctl bootstrap failed: {done.stderr.strip() or done.stdout.strip()}"]
    return 0, [
        f"installed {plist_path()}",
        f"logs: {log_dir()}/daemon.log",
        "check it with: tina daemon status",
    ]


def uninstall(dry_run: bool = False) -> tuple[int, list[str]]:
    domain = f"gui/{os.getuid()}"
    steps = [f"launchctl bootout {domain}/{LABEL}", f"remove {plist_path()}"]
    if dry_run or sys.platform != "darwin":
        why = "dry run" if dry_run else f"not macOS ({sys.platform}): launchd is not available"
        return 0, [f"{why}; would:", *(f"  {s}" for s in steps)]
    out = _launchctl("bootout", f"{domain}/{LABEL}")
    plist_path().unlink(missing_ok=True)
    note = "" if out.returncode == 0 else " (it was not loaded)"
    return 0, [f"uninstalled {LABEL}{note}"]

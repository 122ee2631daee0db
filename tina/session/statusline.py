"""The Claude Code status line ``tina-session init`` installs in a worktree.

Claude Code runs ``statusLine.command`` from ``.claude/settings.local.json`` and pipes its
status-line JSON to it. The script writes ``$PWD/.claude/tina/context-metrics.json``
(``used_pct``, ``tokens``, ``max``, ``timestamp``), as the original tool's did, and prints
``ctx:<used>%``. When the input carries ``rate_limits`` (the account's 5-hour and 7-day windows:
recent Claude Code versions, Claude.ai subscribers) it also writes their valid windows, as
given, with the time and the session's ``transcript_path`` (whose config dir names the account),
to ``$PWD/.claude/tina/rate-limits.json``, which the daemon reports as that account's quota
(`tina.usage.quota`); only when a window or the session changed, so a status line redrawn every
few hundred milliseconds does not wake the daemon each time. Unlike the original it needs no ``jq``: it runs Python (the interpreter that
installed it, else ``python3``), and it never fails the status line: bad input, a missing
interpreter or an unwritable directory still print a line and exit 0.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from . import store

__all__ = [
    "SCRIPT_NAME",
    "SETTINGS_NAME",
    "install",
    "merge_settings",
    "script_text",
]

SCRIPT_NAME = "tina-write-context.sh"
SETTINGS_NAME = "settings.local.json"

# Python run by the script; single quotes are not allowed (the script quotes it with them).
_METRICS_PY = """\
import json, math, os, sys, tempfile
from datetime import datetime, timezone
try:
    doc = json.load(sys.stdin)
except Exception:
    doc = {}
window = doc.get("context_window") if isinstance(doc, dict) else None
window = window if isinstance(window, dict) else {}
def number(key, default):
    value = window.get(key)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return value if ok and math.isfinite(value) else default
used = number("used_percentage", 0)
metrics = {
    "used_pct": used,
    "tokens": number("total_input_tokens", 0),
    "max": number("context_window_size", 200000),
    "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
}
def limit(value):
    if not isinstance(value, dict):
        return None
    out = {}
    for key in ("used_percentage", "resets_at"):
        item = value.get(key)
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            return None
        if not math.isfinite(item) or item < 0:
            return None
        out[key] = item
    return out
limits = doc.get("rate_limits") if isinstance(doc, dict) else None
limits = limits if isinstance(limits, dict) else {}
quota = {}
for key in ("five_hour", "seven_day"):
    found = limit(limits.get(key))
    if found is not None:
        quota[key] = found
transcript = doc.get("transcript_path") if isinstance(doc, dict) else None
if quota and isinstance(transcript, str) and 0 < len(transcript) <= 4096:
    quota["transcript_path"] = transcript
def write(name, data):
    temp = None
    try:
        target = os.path.join(os.getcwd(), ".claude", "tina")
        os.makedirs(target, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target, prefix="." + name + ".", suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle)
        os.replace(temp, os.path.join(target, name))
        temp = None
    except Exception:
        pass
    finally:
        if temp is not None:
            try:
                os.unlink(temp)
            except OSError:
                pass
write("context-metrics.json", metrics)
def unchanged(name, data):
    try:
        with open(os.path.join(os.getcwd(), ".claude", "tina", name)) as handle:
            old = json.load(handle)
        keys = ("five_hour", "seven_day", "transcript_path")
        return all(old.get(key) == data.get(key) for key in keys)
    except Exception:
        return False
if quota and not unchanged("rate-limits.json", quota):
    quota["timestamp"] = metrics["timestamp"]
    write("rate-limits.json", quota)
print("ctx:%d%%" % math.floor(max(0.0, min(float(used), 1e6))))
"""


def script_text(python: str | None = None) -> str:
    """The bash status-line script; ``python`` is tried first (default: this interpreter)."""
    assert "'" not in _METRICS_PY
    interpreter = shlex.quote(python or sys.executable)
    return (
        "#!/usr/bin/env bash\n"
        "# Installed by tina-session init: Claude Code's status line for this worktree.\n"
        "# Reads the status-line JSON on stdin, records the context-window use (and the rate\n"
        "# limits, when given) in .claude/tina/ and prints ctx:<used>%. Never fails.\n"
        f"py={interpreter}\n"
        '[ -x "$py" ] || py=$(command -v python3 2>/dev/null)\n'
        'out=""\n'
        'if [ -n "$py" ]; then\n'
        f"  out=$(\"$py\" -c '{_METRICS_PY}' 2>/dev/null)\n"
        "fi\n"
        "printf '%s\\n' \"${out:-ctx:?%}\"\n"
        "exit 0\n"
    )


class SettingsNotMerged(Exception):
    """An existing settings file that is not a JSON object: it is left alone."""


def merge_settings(existing: bytes | None, command: str) -> bytes:
    """The settings file with ``statusLine`` pointing at ``command``.

    A new file is the original's compact document; an existing one keeps every other key
    (the original overwrote it) and is written pretty-printed.
    """
    status_line = {"type": "command", "command": command}
    if existing is None or not existing.strip():
        return json.dumps({"statusLine": status_line}, separators=(",", ":")).encode()
    try:
        doc: Any = json.loads(existing)
    except ValueError as exc:
        raise SettingsNotMerged(f"it is not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise SettingsNotMerged("it is not a JSON object")
    doc["statusLine"] = status_line
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()


def install(worktree: Path) -> list[str]:
    """Write the script (0755) and merge ``statusLine`` into ``settings.local.json``.

    Returns warnings (for stderr); an unusable existing settings file is one, not an error.
    Unless the project has its own ``.claude/.gitignore``, one is added that keeps these
    files (and itself) out of the agents' commits.
    """
    claude = worktree / ".claude"
    claude.mkdir(parents=True, exist_ok=True)
    gitignore = claude / ".gitignore"
    if not gitignore.exists():
        store.atomic_write(gitignore, f".gitignore\n{SCRIPT_NAME}\n{SETTINGS_NAME}\n".encode())
    script = claude / SCRIPT_NAME
    store.atomic_write(script, script_text().encode(), mode=0o755)
    os.chmod(script, 0o755)  # the umask may have narrowed the mode at creation
    settings = claude / SETTINGS_NAME
    try:
        existing = settings.read_bytes()
    except FileNotFoundError:
        existing = None
    try:
        merged = merge_settings(existing, str(script.resolve()))
    except SettingsNotMerged as exc:
        return [f"Warning: status line not installed: {settings} was left alone because {exc}"]
    store.atomic_write(settings, merged)
    return []

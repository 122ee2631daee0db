"""A stand-in for `systemctl --user`, for tests on machines without a user systemd.

Keeps the user manager's state in `$FAKE_SYSTEMCTL_DIR/state.json` and appends each argv to
`$FAKE_SYSTEMCTL_DIR/calls.jsonl`. Follows the real contract for the verbs tina uses: unit files
live in `$XDG_CONFIG_HOME/systemd/user` (default `~/.config/systemd/user`); `daemon-reload`
loads them; `start`/`restart` run the loaded version (a changed file needs a reload first, as
for real) and fail with status 5 for an unknown unit; `stop` fails with 5 for a unit that is not
loaded; `enable`/`disable` add and remove the `default.target.wants` symlink and reload;
`is-active` prints the state and exits 0 (active) or 3; `show` prints `Key=value` lines.
`FAKE_SYSTEMCTL_NO_BUS=1` answers every call as systemctl does without a user bus.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

STATE_DIR = Path(os.environ["FAKE_SYSTEMCTL_DIR"])
STATE = STATE_DIR / "state.json"


def unit_dir() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path(os.environ["HOME"]) / ".config")
    return Path(config) / "systemd" / "user"


def load() -> dict[str, Any]:
    if STATE.exists():
        state: dict[str, Any] = json.loads(STATE.read_text())
        return state
    return {"loaded": {}, "active": {}, "next_pid": 4000, "restarts": {}}


def save(state: dict[str, Any]) -> None:
    STATE.write_text(json.dumps(state))


def fail(message: str, code: int) -> int:
    print(message, file=sys.stderr)
    return code


def reload(state: dict[str, Any]) -> None:
    state["loaded"] = {p.name: p.read_text() for p in sorted(unit_dir().glob("*.service"))}


def wants(unit: str) -> Path:
    return unit_dir() / "default.target.wants" / unit


def start(state: dict[str, Any], unit: str, verb: str) -> int:
    if unit not in state["loaded"]:
        path = unit_dir() / unit
        if not path.exists():
            return fail(f"Failed to {verb} {unit}: Unit {unit} not found.", 5)
        state["loaded"][unit] = path.read_text()  # loaded on demand, as systemd does
    elif (unit_dir() / unit).exists() and (unit_dir() / unit).read_text() != state["loaded"][unit]:
        print(
            f"Warning: The unit file, source configuration file or drop-ins of {unit} changed on "
            "disk. Run 'systemctl --user daemon-reload' to reload units.",
            file=sys.stderr,
        )
    if verb == "restart" or unit not in state["active"]:
        state["active"][unit] = {"content": state["loaded"][unit], "pid": state["next_pid"]}
        state["next_pid"] += 1
    return 0


def stop(state: dict[str, Any], unit: str) -> int:
    if unit not in state["loaded"] and unit not in state["active"]:
        return fail(f"Failed to stop {unit}: Unit {unit} not loaded.", 5)
    state["active"].pop(unit, None)
    return 0


def show(state: dict[str, Any], units: list[str], properties: list[str], value_only: bool) -> int:
    for unit in units or [""]:
        if unit:
            active = state["active"].get(unit)
            path = unit_dir() / unit
            values = {
                "LoadState": "loaded" if unit in state["loaded"] else "not-found",
                "ActiveState": "active" if active else "inactive",
                "SubState": "running" if active else "dead",
                "MainPID": str(active["pid"]) if active else "0",
                "NRestarts": str(state["restarts"].get(unit, 0)),
                "FragmentPath": str(path) if unit in state["loaded"] else "",
                "UnitFileState": (
                    ("enabled" if wants(unit).is_symlink() else "disabled") if path.exists() else ""
                ),
            }
        else:
            values = {"Version": "252 (stand-in)"}
        for name in properties or list(values):
            value = values.get(name, "")
            print(value if value_only else f"{name}={value}")
    return 0


def main(argv: list[str]) -> int:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with (STATE_DIR / "calls.jsonl").open("a") as calls:
        calls.write(json.dumps(argv) + "\n")
    if os.environ.get("FAKE_SYSTEMCTL_NO_BUS"):
        return fail("Failed to connect to bus: No medium found", 1)
    if not argv or argv[0] != "--user":
        return fail("this stand-in only speaks to the user manager (--user)", 1)
    words = [a for a in argv[1:] if not a.startswith("-")]
    flags = [a for a in argv[1:] if a.startswith("-")]
    properties = [
        p for f in flags if f.startswith("--property=") for p in f.split("=", 1)[1].split(",")
    ]
    if not words:
        return fail("systemctl: this stand-in needs a verb", 1)
    verb, units = words[0], words[1:]
    state = load()
    code = 0
    if verb == "daemon-reload":
        reload(state)
    elif verb == "show":
        code = show(state, units, properties, "--value" in flags)
    elif verb == "is-active":
        (unit,) = units
        active = unit in state["active"]
        print("active" if active else "inactive")
        code = 0 if active else 3
    elif verb in ("start", "restart"):
        for unit in units:
            code = code or start(state, unit, verb)
    elif verb == "stop":
        for unit in units:
            code = code or stop(state, unit)
    elif verb == "enable":
        for unit in units:
            path = unit_dir() / unit
            if not path.exists():
                code = fail(f"Failed to enable unit: Unit file {unit} does not exist.", 1)
                break
            wants(unit).parent.mkdir(parents=True, exist_ok=True)
            if not wants(unit).is_symlink():
                wants(unit).symlink_to(path)
                print(f"Created symlink {wants(unit)} → {path}.", file=sys.stderr)
        if code == 0:
            reload(state)
            if "--now" in flags:
                for unit in units:
                    code = code or start(state, unit, "start")
    elif verb == "disable":
        for unit in units:
            if not (unit_dir() / unit).exists() and not wants(unit).is_symlink():
                code = fail(f"Failed to disable unit: Unit file {unit} does not exist.", 1)
                break
            if wants(unit).is_symlink():
                wants(unit).unlink()
                print(f"Removed {wants(unit)}.", file=sys.stderr)
        if code == 0:
            if "--now" in flags:
                for unit in units:
                    code = code or stop(state, unit)
            reload(state)
    else:
        code = fail(f'Unknown command verb "{verb}".', 1)
    save(state)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

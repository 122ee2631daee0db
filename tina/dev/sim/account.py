"""The Claude.ai account a simulated laptop's sessions share (simulator only).

Claude Code's status-line input carries the account's ``rate_limits`` (the 5-hour and 7-day
windows: ``used_percentage``, ``resets_at`` in epoch seconds) for Claude.ai subscribers. Each
Claude Code config dir keeps its own login, so every stand-in session of one config dir spends
from one account, kept in ``<config dir>/tina-standin-account.json`` (``~/.claude`` unless
``CLAUDE_CONFIG_DIR`` says otherwise) under an ``flock`` (several stand-in processes share it):
each window opens with the first spend after the last one reset, fills as the sessions' messages
cost money (at the prices tina knows), and a rate-limit story fills the 5-hour window until the
reset time it names.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["ACCOUNT_NAME", "WINDOWS", "Account"]

ACCOUNT_NAME = "tina-standin-account.json"
# Each window: its length (seconds) and what it lets the account spend (micro-dollars at API
# prices; made up, but a demo laptop gets near its 5-hour limit within the hour).
WINDOWS: dict[str, tuple[int, int]] = {
    "five_hour": (5 * 3600, 25_000_000),
    "seven_day": (7 * 86400, 250_000_000),
}


class Account:
    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock

    def spend(self, cost_micros: int) -> dict[str, Any]:
        """Adds a message's cost to every window; the rate limits after it."""
        return self._update(lambda state, now: _add(state, now, cost_micros))

    def limit_reached(self, resets_at: float) -> dict[str, Any]:
        """The 5-hour window is full until `resets_at` (epoch seconds)."""

        def fill(state: dict[str, Any], now: float) -> None:
            _, budget = WINDOWS["five_hour"]
            state["five_hour"] = {"used_micros": budget, "resets_at": math.ceil(resets_at)}

        return self._update(fill)

    def rate_limits(self) -> dict[str, Any]:
        return self._update(lambda state, now: None)

    def _update(self, change: Callable[[dict[str, Any], float], None]) -> dict[str, Any]:
        """Read, change and write the state under the lock; the status line's ``rate_limits``.
        An account that cannot be read starts afresh; one that cannot be written is not kept."""
        now = self.clock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                state = _read(self.path)
                _expire(state, now)
                change(state, now)
                _write(self.path, state)
        except OSError:
            state = {}
            change(state, now)
        return _limits(state)


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _write(path: Path, state: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(state, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _window(state: dict[str, Any], name: str) -> dict[str, Any] | None:
    window = state.get(name)
    if not isinstance(window, dict):
        return None
    used, resets = window.get("used_micros"), window.get("resets_at")
    if not isinstance(used, int) or not isinstance(resets, int):
        return None
    return window


def _expire(state: dict[str, Any], now: float) -> None:
    for name in WINDOWS:
        window = _window(state, name)
        if window is None or window["resets_at"] <= now:
            state.pop(name, None)


def _add(state: dict[str, Any], now: float, cost_micros: int) -> None:
    for name, (length, _) in WINDOWS.items():
        window = _window(state, name)
        if window is None:
            window = state[name] = {"used_micros": 0, "resets_at": math.ceil(now) + length}
        window["used_micros"] += max(0, cost_micros)


def _limits(state: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (_, budget) in WINDOWS.items():
        window = _window(state, name)
        if window is not None:
            used = min(100.0, round(window["used_micros"] * 100 / budget, 1))
            out[name] = {"used_percentage": used, "resets_at": window["resets_at"]}
    return out

"""Whether someone has the dashboard open (`presence:watchedUntil`), typed for the daemon.

Each open dashboard calls `presence:watch` every 20 s while it is visible; Convex keeps one time,
`until` (server ms), that such a call moves 90 s ahead at most every 30 s. The daemon follows it
to pace its usage rounds (`tina.daemon.pace`): quick while someone watches, lazy otherwise.
"""

from __future__ import annotations

import math
from typing import Any

import structlog

from tina.convex.prompts import RawUpdates, _short

__all__ = ["WatchedUntil", "until_from_wire"]

log = structlog.get_logger("tina.dashboard_presence")


def until_from_wire(value: Any) -> int | None:
    """`{until: ms}` as Convex returns it; None for anything else."""
    if not isinstance(value, dict):
        return None
    until = value.get("until")
    if isinstance(until, bool) or not isinstance(until, int | float) or not math.isfinite(until):
        return None
    return int(until) if until >= 0 else None


class WatchedUntil:
    """The `presence:watchedUntil` subscription: `await next()` is the time (server ms, 0: never)
    until which someone is watching, on every change. A malformed value is logged and skipped."""

    def __init__(self, updates: RawUpdates) -> None:
        self._updates = updates

    async def next(self) -> int:
        while True:
            value = await self._updates.next()
            until = until_from_wire(value)
            if until is not None:
                return until
            log.warning("dashboard_presence.malformed_update", value=_short(value))

"""How soon gathered work is handed on, changing as the daemon runs: quick while someone has the
dashboard open, lazy otherwise.

The transcripts' usage is the case: to show a new message's cost within a second, the daemon
reads and sends a batch every 600 ms while transcripts are written, which costs a few trio
wake-ups a round all day. Nobody needs that while no dashboard is open, so the daemon then reads
and sends once per `lazy` seconds (the usage actor's gap between rounds, and the transcripts'
hub's batch on inotify), and goes back to quick the moment a dashboard says it is watching:
every wait in progress is cut short (`pause`, `on_hurry`), so the first round comes at once.
A watch whose waits are fixed when it starts (watchfiles') starts again at each change
(`on_change`).
"""

from __future__ import annotations

from collections.abc import Callable

import trio

__all__ = ["Pace"]


class Pace:
    """`quick` (each user's own quick wait) or lazy (`lazy_s`). Going quick hurries every
    `pause` in progress and calls every `on_hurry` callback."""

    def __init__(self, *, lazy_s: float) -> None:
        self.lazy_s = lazy_s
        self.quick = True  # until told otherwise: as before pacing existed
        self.holding = 0  # waits in progress with changes in hand (the hub's batches)
        self._scopes: set[trio.CancelScope] = set()
        self._hooks: list[Callable[[], None]] = []
        self._changes: list[Callable[[], None]] = []

    def wait_s(self, quick_s: float) -> float:
        """`quick_s` while quick, else the lazy wait."""
        return quick_s if self.quick else self.lazy_s

    def set_quick(self, quick: bool) -> None:
        if quick == self.quick:
            return
        self.quick = quick
        if quick:
            for scope in list(self._scopes):
                scope.cancel()
            for hook in list(self._hooks):
                hook()
        for hook in list(self._changes):
            hook()

    def on_hurry(self, hook: Callable[[], None]) -> Callable[[], None]:
        """Call `hook` each time it goes quick; returns what stops that."""
        self._hooks.append(hook)
        return lambda: self._hooks.remove(hook) if hook in self._hooks else None

    def on_change(self, hook: Callable[[], None]) -> Callable[[], None]:
        """Call `hook` each time it goes quick or lazy; returns what stops that."""
        self._changes.append(hook)
        return lambda: self._changes.remove(hook) if hook in self._changes else None

    async def pause(self, seconds: float) -> None:
        """Sleep `seconds`, or less if it goes quick meanwhile."""
        with trio.CancelScope() as scope:
            self._scopes.add(scope)
            try:
                await trio.sleep(seconds)
            finally:
                self._scopes.discard(scope)

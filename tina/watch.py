"""One file-watching hub for the whole daemon, routed by path prefix.

`watchfiles.awatch` holds a trio worker thread for its whole life and takes no limiter, so
the daemon runs exactly one, over the union of every subscriber's root, and routes each
changed path to the subscribers whose root contains it. When the set of roots changes (a
worktree appears or goes away) the watcher restarts with the new set; every subscriber then
gets a rescan, so nothing that changed during the switch is missed.

Subscribers read from an `Inbox`: a coalescing set of changed paths, never a queue that
could back up behind a slow reader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import structlog
import trio
import watchfiles

log = structlog.get_logger("tina.watch")


# A restart waits until subscriptions have been quiet this long (at most RESTART_SETTLE_MAX).
RESTART_SETTLE = 0.05
RESTART_SETTLE_MAX = 0.5


class Inbox:
    """Changed paths waiting for one subscriber; `rescan` asks it to re-read everything."""

    def __init__(self) -> None:
        self._paths: set[Path] = set()
        self._rescan = False
        self._event = trio.Event()
        self.received = 0

    def add(self, paths: Iterable[Path]) -> None:
        before = len(self._paths)
        self._paths.update(paths)
        if len(self._paths) != before:
            self._event.set()

    def request_rescan(self) -> None:
        self._rescan = True
        self._event.set()

    @property
    def depth(self) -> int:
        return len(self._paths)

    async def get(self) -> tuple[set[Path], bool]:
        """Wait for changes; return (changed paths, rescan requested) and clear them."""
        await self._event.wait()
        self._event = trio.Event()
        paths, rescan = self._paths, self._rescan
        self._paths, self._rescan = set(), False
        self.received += len(paths)
        return paths, rescan


def _roots(paths: Iterable[Path]) -> list[Path]:
    """The minimal set of roots: a root inside another one is covered by it.

    Looks each path's ancestors up in a set (O(paths x depth)); testing `r in p.parents` for
    every pair was quadratic and slow (pathlib's `parents` is a sequence), which cost seconds
    at a start with a few hundred worktrees.
    """
    ordered = sorted(set(paths), key=lambda p: (len(p.parts), str(p)))
    chosen: set[Path] = set()
    out: list[Path] = []
    for p in ordered:
        if p not in chosen and chosen.isdisjoint(p.parents):
            chosen.add(p)
            out.append(p)
    return out


class WatchHub:
    def __init__(
        self,
        *,
        debounce_ms: int = 30,
        step_ms: int = 10,
        rust_timeout_ms: int = 500,
        awatch: Callable[..., Any] = watchfiles.awatch,
    ) -> None:
        self._subs: dict[Path, list[Inbox]] = {}
        self._debounce = debounce_ms
        self._step = step_ms
        self._rust_timeout = rust_timeout_ms
        self._awatch = awatch
        self._changed = trio.Event()
        self.restarts = 0
        self.batches = 0

    def subscribe(self, root: Path) -> Inbox:
        inbox = Inbox()
        self._subs.setdefault(root, []).append(inbox)
        self._changed.set()
        return inbox

    def unsubscribe(self, root: Path, inbox: Inbox) -> None:
        inboxes = self._subs.get(root, [])
        if inbox in inboxes:
            inboxes.remove(inbox)
            if not inboxes:
                del self._subs[root]
            self._changed.set()

    def detail(self) -> dict[str, Any]:
        return {"roots": len(self._subs), "batches": self.batches}

    def _route(self, changes: set[tuple[Any, str]]) -> None:
        """Each changed path goes to the subscribers of every root that contains it (a lookup
        per ancestor, so a burst costs O(paths x depth), not O(paths x roots))."""
        self.batches += 1
        routed: dict[Path, list[Path]] = {}
        for _, raw in changes:
            path = Path(raw)
            for ancestor in (path, *path.parents):
                if ancestor in self._subs:
                    routed.setdefault(ancestor, []).append(path)
        for root, mine in routed.items():
            for inbox in self._subs[root]:
                inbox.add(mine)

    def _existing_roots(self) -> tuple[list[Path], bool]:
        wanted = _roots(self._subs)
        roots = [r for r in wanted if r.exists()]
        return roots, len(roots) != len(wanted)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        previous: list[Path] | None = None
        task_status.started()
        while True:
            self._changed = trio.Event()
            roots, missing = self._existing_roots()
            if roots != previous:
                # New watch set: changes during the switch could be lost, so rescan.
                for inboxes in self._subs.values():
                    for inbox in inboxes:
                        inbox.request_rescan()
                previous = roots
            stop = trio.Event()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._stop_when_roots_change, stop, roots, missing)
                if roots:
                    log.debug("watch.started", roots=len(roots))
                    async for changes in self._awatch(
                        *roots,
                        stop_event=stop,
                        debounce=self._debounce,
                        step=self._step,
                        rust_timeout=self._rust_timeout,
                        recursive=True,
                        ignore_permission_denied=True,
                    ):
                        self._route(changes)
                else:
                    await stop.wait()
                nursery.cancel_scope.cancel()
            self.restarts += 1

    async def _stop_when_roots_change(
        self, stop: trio.Event, roots: list[Path], missing: bool
    ) -> None:
        """Stop the current watch when subscribers change, or a missing root appears.

        Subscriptions that change in a burst (discovery starting a watcher per worktree at
        start-up) are coalesced into one restart: each restart sets up a new OS watch over every
        root and makes every subscriber rescan, so one per new worktree would be quadratic.
        """
        while True:
            missing = self._existing_roots()[1]
            with trio.move_on_after(2.0 if missing else float("inf")):
                await self._changed.wait()
            settle_until = trio.current_time() + RESTART_SETTLE_MAX
            while self._changed.is_set() and trio.current_time() < settle_until:
                self._changed = trio.Event()
                with trio.move_on_after(RESTART_SETTLE):
                    await self._changed.wait()
            if self._changed.is_set():
                self._changed = trio.Event()
            if self._existing_roots()[0] != roots:
                stop.set()
                return

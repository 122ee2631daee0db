"""One file-watching hub for the whole daemon, routed by path prefix.

The daemon runs exactly one OS watch, over the union of every subscriber's root, and routes each
changed path to the subscribers whose root contains it. On Linux the backend is inotify
(`tina.daemon.inotify`: its fd wakes trio, so nothing runs while nothing changes); elsewhere
(macOS: FSEvents) and when inotify cannot be had, `watchfiles.awatch`, which holds a trio worker
thread for its whole life and wakes every `step` ms (10) to look at its stop event (on the order
of 100 wake-ups and 0.5 % of a core a second, idle). If inotify runs out (of watches or
instances) the hub logs `watch.inotify_unavailable` and uses watchfiles from then on. When the set of roots changes (a
worktree appears or goes away) the watcher restarts with the new set; every subscriber then
gets a rescan once the new watch is in place, so nothing that changed during the switch is
missed.

Subscribers read from an `Inbox`: a coalescing set of changed paths, never a queue that
could back up behind a slow reader.

A name that is not valid UTF-8 under a root makes watchfiles raise for the whole watcher (at
once for a directory, which its own walk opens; for a file when it changes or is opened), and
that watcher stays broken. The hub then logs the path once (`watch.undecodable_path`, the
`repr` of its bytes), leaves the roots that contain it out of the OS watch and asks their
subscribers to rescan every `POLL_INTERVAL` instead, and watches them again once the name is
gone. Other roots keep their OS watch. Subscribers skip such names themselves.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import structlog
import trio
import watchfiles

# Public in watchfiles' own stubs (`_rust_notify.pyi` `__all__`), not re-exported by the package.
from watchfiles._rust_notify import WatchfilesRustInternalError

from tina.daemon import inotify
from tina.daemon.pace import Pace
from tina.local.files import display_path, is_undecodable

log = structlog.get_logger("tina.watch")


# A restart waits until subscriptions have been quiet this long (at most RESTART_SETTLE_MAX).
RESTART_SETTLE = 0.05
RESTART_SETTLE_MAX = 0.5
# Roots left out of the OS watch (a name that is not UTF-8) are rescanned this often.
POLL_INTERVAL = 1.0
# Routing remembers the roots of at most this many directories, and the Paths of as many
# changed files (then it starts afresh).
DIR_MEMO_MAX = 4096
# A root that does not exist is looked for this often (watchfiles), or at most this often when
# an entry appears in its nearest existing ancestor (inotify: no timer while nothing happens).
MISSING_POLL = 2.0
MISSING_RECHECK = 0.25
# When watchfiles' error names no path we can read back, the roots are watched again after this.
RETRY_UNKNOWN = 30.0
# A paced watchfiles watch, while lazy, looks at its stop event this often (ms): a dashboard
# opening (the pace going quick) restarts it at most this late.
LAZY_STEP_MS = 1000

_UNDECODABLE = re.compile(r'Unable to decode path "(.*)" to string', re.DOTALL)
# Rust's `Debug` of a path: `\xNN` for a byte that is not UTF-8, `\u{N}` for a character it does
# not print, `\n`, `\t`, `\r`, `\0`, `\"`, `\'`, `\\`.
_RUST_ESCAPE = re.compile(r"\\(?:x([0-9A-Fa-f]{2})|u\{([0-9A-Fa-f]{1,6})\}|(.))", re.DOTALL)
_RUST_CHARS = {"n": b"\n", "t": b"\t", "r": b"\r", "0": b"\0"}


def undecodable_path(message: str) -> bytes | None:
    """The path (as bytes) in watchfiles' error for a name that is not UTF-8, or None."""
    found = _UNDECODABLE.fullmatch(message.strip())
    if found is None:
        return None
    text, out, pos = found[1], bytearray(), 0
    for escape in _RUST_ESCAPE.finditer(text):
        out += text[pos : escape.start()].encode("utf-8", "surrogatepass")
        if escape[1] is not None:
            out.append(int(escape[1], 16))
        elif escape[2] is not None:
            out += chr(int(escape[2], 16)).encode("utf-8", "surrogatepass")
        else:
            out += _RUST_CHARS.get(escape[3], escape[3].encode("utf-8", "surrogatepass"))
        pos = escape.end()
    out += text[pos:].encode("utf-8", "surrogatepass")
    return bytes(out)


def _leaves(group: BaseExceptionGroup[Exception]) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        out.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return out


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

    @property
    def rescan_requested(self) -> bool:
        return self._rescan

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


def default_backend() -> Callable[..., Any]:
    """inotify where the system has it (Linux), else watchfiles."""
    return inotify.awatch if inotify.available() else watchfiles.awatch


class WatchHub:
    def __init__(
        self,
        *,
        debounce_ms: int = 30,
        step_ms: int = 10,
        rust_timeout_ms: int = 500,
        awatch: Callable[..., Any] | None = None,
        linger: bool = False,
        pace: Pace | None = None,
        appends_only: bool = False,
    ) -> None:
        self._subs: dict[Path, list[Inbox]] = {}
        self._names: dict[str, Path] = {}  # str(root) -> root: routing walks strings, not Paths
        # directory -> the roots that contain it (cleared when subscriptions change): a batch's
        # paths mostly share a few directories, whose ancestors are walked once.
        self._dir_roots: dict[str, tuple[Path, ...]] = {}
        # A changed path's text -> its Path, made once: the same files change batch after batch,
        # and a Path made again is parsed, hashed and compared from scratch downstream.
        self._paths: dict[str, Path] = {}
        self._debounce = debounce_ms
        self._step = step_ms
        self._rust_timeout = rust_timeout_ms
        self._linger = linger  # inotify: after a batch, look again `step_ms` later (`awatch`)
        # inotify: while it is lazy, batches gather for its lazy wait instead (`awatch`).
        self._pace = pace
        # inotify: its files are only appended to (transcripts): a write is one event (`awatch`).
        self._appends_only = appends_only
        self._awatch = awatch or default_backend()
        self._changed = trio.Event()
        # Roots left out of the OS watch -> the path that made watchfiles fail (None: unknown),
        # and when they were left out.
        self._polled: dict[Path, tuple[bytes | None, float]] = {}
        self._logged: set[bytes] = set()  # undecodable paths already logged
        self.restarts = 0
        self.grown = 0  # roots added to a running watch (inotify) instead of a restart
        self.repaced = 0  # watchfiles watches started again for a change of pace
        self.batches = 0

    def subscribe(self, root: Path) -> Inbox:
        inbox = Inbox()
        self._subs.setdefault(root, []).append(inbox)
        self._names[str(root)] = root
        self._dir_roots.clear()
        self._changed.set()
        return inbox

    def unsubscribe(self, root: Path, inbox: Inbox) -> None:
        inboxes = self._subs.get(root, [])
        if inbox in inboxes:
            inboxes.remove(inbox)
            if not inboxes:
                del self._subs[root]
                self._names.pop(str(root), None)
                self._dir_roots.clear()
                self._polled.pop(root, None)
            self._changed.set()

    def detail(self) -> dict[str, Any]:
        return {
            "roots": len(self._subs),
            "restarts": self.restarts,
            "grown": self.grown,
            "repaced": self.repaced,
            "batches": self.batches,
            "polled": len(self._polled),
            "backend": "inotify" if self._awatch is inotify.awatch else "watchfiles",
        }

    def _unwatchable(self, root: Path) -> bool:
        """Left out of the OS watch: it holds a name that is not UTF-8 (or is one)."""
        return root in self._polled or is_undecodable(root)

    def _route(self, changes: set[tuple[Any, str]]) -> None:
        """Each changed path goes to the subscribers of every root that contains it (the path,
        then its directory's remembered roots: a burst costs O(paths), and O(depth) per new
        directory, not O(paths x roots))."""
        self.batches += 1
        routed: dict[Path, list[Path]] = {}
        for kind, raw in changes:
            path = self._paths.get(raw)
            if path is None:
                if len(self._paths) >= DIR_MEMO_MAX:
                    self._paths.clear()
                path = self._paths[raw] = Path(raw)
            if kind == inotify.RESCAN:  # events under `path` were lost
                for root, inboxes in self._subs.items():
                    if root == path or path in root.parents:
                        for inbox in inboxes:
                            inbox.request_rescan()
                continue
            # The path itself (a root may be a file), then its directory's roots, as strings
            # (Path objects for each ancestor cost more than the rest of a batch).
            name = str(path)
            subscribed = self._names.get(name)
            if subscribed is not None:
                routed.setdefault(subscribed, []).append(path)
            directory = os.path.dirname(name) or "."
            if directory != name:
                for root in self._roots_of_dir(directory):
                    routed.setdefault(root, []).append(path)
        for root, mine in routed.items():
            for inbox in self._subs[root]:
                inbox.add(mine)

    def _roots_of_dir(self, directory: str) -> tuple[Path, ...]:
        """The subscribed roots that are `directory` or one of its ancestors ("/a/b" -> "/a"
        -> "/", "a/b" -> "a" -> "."), remembered until subscriptions change."""
        found = self._dir_roots.get(directory)
        if found is None:
            out: list[Path] = []
            name = directory
            while True:
                subscribed = self._names.get(name)
                if subscribed is not None:
                    out.append(subscribed)
                parent = os.path.dirname(name) or "."
                if parent == name:
                    break
                name = parent
            if len(self._dir_roots) >= DIR_MEMO_MAX:
                self._dir_roots.clear()
            found = self._dir_roots[directory] = tuple(out)
        return found

    def _missing_parents(self) -> list[Path]:
        """The nearest existing ancestor of each root that does not exist (none: all exist)."""
        out: set[Path] = set()
        for root in _roots(r for r in self._subs if not self._unwatchable(r)):
            if root.exists():
                continue
            for parent in root.parents:
                if parent.is_dir():
                    out.add(parent)
                    break
        return sorted(out)

    def _existing_roots(self) -> tuple[list[Path], bool]:
        wanted = _roots(r for r in self._subs if not self._unwatchable(r))
        roots = [r for r in wanted if r.exists()]
        return roots, len(roots) != len(wanted)

    def _poll_instead(self, group: BaseExceptionGroup[Exception]) -> bool:
        """watchfiles failed on names that are not UTF-8: leave the roots holding them out of the
        OS watch. False if any failure is of another kind (then the hub crashes as before)."""
        paths: list[bytes | None] = []
        for exc in _leaves(group):
            if not isinstance(exc, WatchfilesRustInternalError):
                return False
            message = str(exc)
            if not message.startswith("Unable to decode path"):
                return False
            paths.append(undecodable_path(message))
        now = trio.current_time()
        for raw in paths:
            if raw is None:  # unreadable message: poll every watched root for a while
                roots = [r for r in self._subs if not self._unwatchable(r)]
            else:
                path = Path(os.fsdecode(raw))
                roots = [r for r in (path, *path.parents) if r in self._subs]
            for root in roots:
                self._polled[root] = (raw, now)
                if raw is None or raw not in self._logged:
                    if raw is not None:
                        self._logged.add(raw)
                    log.warning(
                        "watch.undecodable_path",
                        path=repr(raw) if raw is not None else None,
                        root=display_path(root),
                        error="a name under this root is not valid UTF-8; the root is rescanned "
                        f"every {POLL_INTERVAL:g} s until it is gone",
                    )
        return True

    @staticmethod
    def _recovered(polled: list[tuple[Path, tuple[bytes | None, float]]], now: float) -> list[Path]:
        """Polled roots whose undecodable path is gone (or whose retry time has come)."""
        return [
            root
            for root, (raw, since) in polled
            if (raw is None and now - since >= RETRY_UNKNOWN)
            or (raw is not None and not os.path.lexists(raw))
        ]

    async def _poll(self) -> None:
        """Rescan the subscribers of unwatchable roots; watch again the roots that recovered."""
        while True:
            await trio.sleep(POLL_INTERVAL)
            for root, inboxes in self._subs.items():
                if self._unwatchable(root):
                    for inbox in inboxes:
                        inbox.request_rescan()
            recovered = await trio.to_thread.run_sync(
                self._recovered, list(self._polled.items()), trio.current_time()
            )
            if recovered:
                for root in recovered:
                    self._polled.pop(root, None)
                self._changed.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        previous: list[Path] | None = None
        task_status.started()
        while True:
            self._changed = trio.Event()
            roots, _ = self._existing_roots()
            # New watch set: changes during the switch could be lost, so every subscriber
            # rescans, once the new watch is in place (`watching`).
            fresh = roots != previous
            previous = roots
            stop = trio.Event()
            # inotify's watch grows in place when roots are only added (a watcher per worktree
            # at start-up): no new watch, no rescan of the others.
            grow = inotify.Grow() if self._awatch is inotify.awatch and roots else None
            extra: dict[str, Any] = {}  # what only the inotify backend takes
            watching: trio.Event | None = None
            debounce, step, rust_timeout = self._debounce, self._step, self._rust_timeout
            pace: Pace | None = None  # watchfiles, paced: started again at a change of pace
            if self._awatch is inotify.awatch and roots:
                # It sets up its watches in a worker thread: a subscriber that rescanned before
                # they exist would miss what changed in between, for good.
                watching = trio.Event()
                extra = {"grow": grow, "linger": self._linger, "watching": watching}
                if self._pace is not None:
                    extra["pace"] = self._pace
                if self._appends_only:
                    extra["appends_only"] = True
            elif self._pace is not None and roots:
                # watchfiles takes its waits once, at its start: while lazy, a batch gathers for
                # the lazy wait (and an idle watch returns to the loop as seldom), looking at
                # its stop event every LAZY_STEP_MS; each change of pace starts it again, and
                # what changed meanwhile is read by a rescan.
                if not self._pace.quick:
                    lazy_ms = round(self._pace.lazy_s * 1000)
                    debounce, step, rust_timeout = lazy_ms, min(LAZY_STEP_MS, lazy_ms), lazy_ms

                pace = self._pace

                def repace(stop: trio.Event = stop) -> None:
                    self.repaced += 1
                    stop.set()

            async with trio.open_nursery() as nursery:
                if fresh and watching is not None:
                    nursery.start_soon(self._rescan_all_when, watching)
                elif fresh:
                    # watchfiles builds its OS watch before the event loop runs again, so
                    # before any subscriber can act on this (with no roots, nothing to wait for).
                    self._rescan_all()
                nursery.start_soon(self._stop_when_roots_change, stop, roots, grow)
                if any(self._unwatchable(r) for r in self._subs):
                    nursery.start_soon(self._poll)
                if roots:
                    log.debug("watch.started", roots=len(roots))
                    repaced = self.repaced
                    unpace = pace.on_change(repace) if pace is not None else None
                    try:
                        async for changes in self._awatch(
                            *roots,
                            stop_event=stop,
                            debounce=debounce,
                            step=step,
                            rust_timeout=rust_timeout,
                            recursive=True,
                            ignore_permission_denied=True,
                            **extra,
                        ):
                            self._route(changes)
                        if not stop.is_set() or self.repaced != repaced:
                            # The backend ended by itself (a root went away or was replaced),
                            # or the pace changed: watch again, and rescan even if the same
                            # roots exist.
                            previous = None
                    except* WatchfilesRustInternalError as group:
                        # The failed watcher's pending changes are lost: the new watch set
                        # makes every subscriber rescan.
                        if not self._poll_instead(group):
                            raise
                    except* inotify.Unavailable as group:
                        log.warning(
                            "watch.inotify_unavailable",
                            error=str(group.exceptions[0]),
                            fallback="watchfiles",
                        )
                        self._awatch = watchfiles.awatch
                        previous = None  # the new backend's watch starts with a rescan
                    finally:
                        if unpace is not None:
                            unpace()
                else:
                    await stop.wait()
                nursery.cancel_scope.cancel()
            self.restarts += 1

    async def _rescan_all_when(self, watching: trio.Event) -> None:
        await watching.wait()
        self._rescan_all()

    def _rescan_all(self) -> None:
        for inboxes in self._subs.values():
            for inbox in inboxes:
                inbox.request_rescan()

    async def _stop_when_roots_change(
        self, stop: trio.Event, roots: list[Path], grow: inotify.Grow | None
    ) -> None:
        """Stop the current watch when subscribers change, or a missing root appears; with
        `grow`, roots that are only added go to the running watch instead (`roots` is updated
        in place, so the run loop sees the set the watch covers).

        Subscriptions that change in a burst (discovery starting a watcher per worktree at
        start-up) are coalesced into one change: each restart sets up a new OS watch over every
        root and makes every subscriber rescan, so one per new worktree would be quadratic.
        """
        while True:
            parents = self._missing_parents()
            if parents and self._awatch is inotify.awatch:
                # Woken when an entry appears in a missing root's nearest existing ancestor.
                try:
                    # Made between the look above and the watch: no event will come for it.
                    def appeared(parents: list[Path] = parents) -> bool:
                        return self._missing_parents() != parents

                    if await inotify.entry_appears(parents, self._changed, already=appeared):
                        with trio.move_on_after(MISSING_RECHECK):  # a busy ancestor: not faster
                            await self._changed.wait()
                except inotify.Unavailable:
                    with trio.move_on_after(MISSING_POLL):
                        await self._changed.wait()
            else:
                with trio.move_on_after(MISSING_POLL if parents else float("inf")):
                    await self._changed.wait()
            settle_until = trio.current_time() + RESTART_SETTLE_MAX
            while self._changed.is_set() and trio.current_time() < settle_until:
                self._changed = trio.Event()
                with trio.move_on_after(RESTART_SETTLE):
                    await self._changed.wait()
            if self._changed.is_set():
                self._changed = trio.Event()
            wanted = self._existing_roots()[0]
            if wanted != roots:
                if grow is not None and set(roots) <= set(wanted):
                    watched = set(roots)
                    grow.add(r for r in wanted if r not in watched)
                    roots[:] = wanted
                    self.grown += 1
                    continue
                stop.set()
                if grow is not None:
                    grow.interrupt()  # the watch waits on the OS, not on `stop`
                return

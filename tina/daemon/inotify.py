"""Linux inotify as the watch hub's backend: its fd wakes trio, so an idle watch costs nothing.

`watchfiles.awatch` runs a Rust loop in a worker thread that sleeps `step` ms (10) between looks
at its stop event: ~100 wake-ups a second with nothing changing. Here the inotify fd is waited on
with `trio.lowlevel.wait_readable` alongside the stop event, so the daemon sleeps until a file
changes. `awatch` takes and yields what `watchfiles.awatch` does (sets of `(Change, path)`), so
the hub can use either; the stdlib's `ctypes` calls libc, no dependency.

Recursive by hand, as inotify watches one directory: every directory under a root gets a watch
(symbolic links to directories are not followed below a root); a directory that appears
(created, or moved in) is watched and walked, and what it already holds is reported as added, so
files written before its watch existed are not missed; a directory that goes away (deleted, or
moved out) loses its watches. A root that goes away ends the generator (the hub then watches the
roots that exist and rescans). When the kernel's queue overflows (`IN_Q_OVERFLOW`: events were
lost) every watch is set up again from the roots and `(RESCAN, root)` is yielded for each root:
its subscribers re-read everything.

Batching like watchfiles: after the first event, more are collected until `step` ms pass with
none (at most `debounce` ms after the first), then the batch is yielded. A busy watch may
`linger`: after a batch it looks again `step` ms later, so files that keep changing cost one
wake-up a batch; a look that finds nothing goes back to waiting on the fd.

A `pace` (`tina.daemon.pace.Pace`) may stretch both `step` and `debounce` to its lazy wait while
it is not quick: a busy watch then hands over one batch per lazy wait. Going quick cuts the
wait in progress short (through `grow`'s interrupt), and the next batch comes at the quick step.

A running watch can grow (`Grow`): roots added to it are watched with their trees on the same
inotify instance, then `(RESCAN, root)` is yielded for each, so their subscribers read what
changed before the watch existed. Watches already in place are untouched: a daemon starting a
watcher per worktree sets up each tree once, and the others are not read again.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import struct
import sys
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio
from watchfiles import Change

if TYPE_CHECKING:
    from tina.daemon.pace import Pace

# <sys/inotify.h>
IN_MODIFY = 0x002
IN_ATTRIB = 0x004
IN_CLOSE_WRITE = 0x008
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_UNMOUNT = 0x2000
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_ISDIR = 0x40000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

WATCH_MASK = (
    IN_MODIFY
    | IN_ATTRIB
    | IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF
)
# A directory below a root: only a directory, never through a symbolic link.
SUBDIR_MASK = WATCH_MASK | IN_ONLYDIR | IN_DONT_FOLLOW
# Left out of the watch of files only ever appended to (`awatch(appends_only=True)`): each write
# says IN_MODIFY already, its close and attribute changes would be a second and third event.
APPENDS_ONLY_DROP = IN_CLOSE_WRITE | IN_ATTRIB

# Yielded as `(RESCAN, root)`: events under `root` were lost, its subscribers must re-read it.
RESCAN = 0

_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len (then `len` bytes of NUL-padded name)
_READ_SIZE = 64 * 1024
# add_watch failing with these: the directory is gone, or not one, or not ours to read.
_SKIP = {errno.ENOENT, errno.ENOTDIR, errno.EACCES, errno.EPERM, errno.ELOOP}


class Unavailable(OSError):
    """inotify cannot be used here (no such call, or out of instances or watches)."""


def _load_libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
    except (OSError, AttributeError):
        return None
    return libc


_libc = _load_libc()


def available() -> bool:
    return _libc is not None


def parse_events(data: bytes) -> list[tuple[int, int, int, bytes]]:
    """`(wd, mask, cookie, name)` of each `struct inotify_event` in a read."""
    out = []
    pos = 0
    while pos + _EVENT.size <= len(data):
        wd, mask, cookie, length = _EVENT.unpack_from(data, pos)
        pos += _EVENT.size
        name = data[pos : pos + length].rstrip(b"\0")
        pos += length
        out.append((wd, mask, cookie, name))
    return out


class Inotify:
    """One inotify instance: watch descriptors <-> directory paths (bytes, as the kernel has them)."""

    def __init__(self, *, drop: int = 0) -> None:
        """`drop`: event kinds left out of every watch it adds (`APPENDS_ONLY_DROP`)."""
        if _libc is None:
            raise Unavailable(errno.ENOSYS, "inotify is not available on this system")
        fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise Unavailable(err, f"inotify_init1: {os.strerror(err)}")
        self.fd: int = fd
        self.drop = drop
        self.paths: dict[int, bytes] = {}  # wd -> directory
        self.wds: dict[bytes, int] = {}  # directory -> wd

    def add(self, path: bytes, *, root: bool = False, mask: int | None = None) -> int | None:
        """Watch one directory (a root may be a file, and may be reached through a link); None
        when it is gone, not a directory, or not readable."""
        if mask is None:
            mask = (WATCH_MASK if root else SUBDIR_MASK) & ~self.drop
        wd = int(_libc.inotify_add_watch(self.fd, path, mask))
        if wd < 0:
            err = ctypes.get_errno()
            if err in _SKIP:
                return None
            if err == errno.ENOSPC:
                raise Unavailable(
                    err, "inotify watches exhausted (fs.inotify.max_user_watches)", path
                )
            raise OSError(err, f"inotify_add_watch: {os.strerror(err)}", path)
        old = self.paths.get(wd)
        if old is not None and old != path:  # the same directory under a new name (moved)
            self.wds.pop(old, None)
        self.paths[wd] = path
        self.wds[path] = wd
        return wd

    def add_tree(self, top: bytes, *, root: bool = False, found: list[bytes] | None = None) -> None:
        """Watch `top` and every directory under it; what is under it goes to `found` if given.
        The parent's watch exists before a child is listed, so a child made meanwhile is seen
        either here or as an event."""
        stack = [(top, root)]
        while stack:
            directory, is_root = stack.pop()
            if self.add(directory, root=is_root) is None:
                continue
            try:
                with os.scandir(directory) as entries:
                    for entry in entries:
                        if found is not None:
                            found.append(entry.path)
                        try:
                            if entry.is_dir(follow_symlinks=False):
                                stack.append((entry.path, False))
                        except OSError:
                            continue
            except OSError:  # a file root, gone meanwhile, or not readable
                continue

    def forget_tree(self, top: bytes) -> None:
        """Drop the watches of `top` and everything under it (it moved away: its paths are stale)."""
        prefix = top.rstrip(b"/") + b"/"
        for path in [p for p in self.wds if p == top or p.startswith(prefix)]:
            wd = self.wds.pop(path)
            if self.paths.get(wd) == path:
                del self.paths[wd]
                _libc.inotify_rm_watch(self.fd, wd)  # fails harmlessly if already gone

    def read(self) -> list[tuple[int, int, int, bytes]]:
        """Every event queued now (the fd is non-blocking)."""
        out: list[tuple[int, int, int, bytes]] = []
        while True:
            try:
                data = os.read(self.fd, _READ_SIZE)
            except BlockingIOError:
                return out
            if not data:
                return out
            out.extend(parse_events(data))

    def close(self) -> None:
        if self.fd >= 0:
            # Wakes a task waiting on it, if any; RuntimeError outside trio (a worker thread).
            with contextlib.suppress(RuntimeError):
                trio.lowlevel.notify_closing(self.fd)
            os.close(self.fd)
            self.fd = -1


class _Batch:
    def __init__(self) -> None:
        self.changes: set[tuple[int, str]] = set()
        self.new_dirs: list[bytes] = []
        self.overflow = False
        self.root_gone = False


def _apply(
    ino: Inotify, roots: set[bytes], events: list[tuple[int, int, int, bytes]], batch: _Batch
) -> None:
    for wd, mask, _cookie, name in events:
        if mask & IN_Q_OVERFLOW:
            batch.overflow = True
            continue
        base = ino.paths.get(wd)
        if base is None:  # a watch already dropped
            continue
        if mask & IN_IGNORED:  # the watch is gone: its directory was deleted, or unmounted
            ino.wds.pop(base, None)
            del ino.paths[wd]
            if base in roots:
                batch.root_gone = True
            continue
        if mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT):
            if base in roots:
                batch.root_gone = True
            if mask & IN_MOVE_SELF:
                ino.forget_tree(base)
            batch.changes.add((Change.deleted, os.fsdecode(base)))
            continue
        path = base + b"/" + name if name else base
        if mask & (IN_CREATE | IN_MOVED_TO):
            kind = Change.added
            if mask & IN_ISDIR:
                batch.new_dirs.append(path)
        elif mask & (IN_DELETE | IN_MOVED_FROM):
            kind = Change.deleted
            if mask & IN_ISDIR and mask & IN_MOVED_FROM:
                ino.forget_tree(path)
        else:
            kind = Change.modified
        batch.changes.add((kind, os.fsdecode(path)))


class Grow:
    """Roots to add to a running `awatch` (see the module docstring)."""

    def __init__(self) -> None:
        self._pending: list[bytes] = []
        self.wanted = trio.Event()  # set while roots wait to be added
        self.waiting: trio.CancelScope | None = None  # the running `awatch`'s wait, if any

    def add(self, roots: Iterable[Path]) -> None:
        self._pending.extend(os.fsencode(r) for r in roots)
        self.wanted.set()
        self.interrupt()

    def interrupt(self) -> None:
        """Wake the running `awatch` from its wait for the OS: roots were added, or its stop
        event was set (whoever sets it while the watch waits calls this too)."""
        if self.waiting is not None:
            self.waiting.cancel()

    def take(self) -> list[bytes]:
        self.wanted = trio.Event()
        out, self._pending = self._pending, []
        return out


async def _sleep(seconds: float, grow: Grow | None) -> None:
    """Sleep, cut short by `grow`'s interrupt when given (roots added, a stop, a pace gone
    quick): the batch then ends at once."""
    if grow is None:
        await trio.sleep(seconds)
        return
    with trio.CancelScope() as scope:
        grow.waiting = scope
        try:
            await trio.sleep(seconds)
        finally:
            grow.waiting = None


async def _woken(fd: int, stop: trio.Event, grow: Grow | None, after: float | None = None) -> str:
    """Wait until `fd` is readable ("readable"), `stop` is set ("stop", whatever else is true)
    or roots wait to be added ("grow"); with `after`, wait that long instead of for `fd`
    ("timer")."""
    if stop.is_set():
        return "stop"
    if grow is not None:
        if grow.wanted.is_set():
            return "grow"
        # No helper task per wait (a wake-up per batch of changes): adding roots, or stopping,
        # cancels this wait through `grow` (`Grow.interrupt`).
        with trio.CancelScope() as scope:
            grow.waiting = scope
            try:
                if after is None:
                    await trio.lowlevel.wait_readable(fd)
                else:
                    await trio.sleep(after)
            finally:
                grow.waiting = None
        if stop.is_set():
            return "stop"
        if scope.cancelled_caught:
            return "grow"
        return "readable" if after is None else "timer"
    woken = "readable" if after is None else "timer"
    async with trio.open_nursery() as nursery:

        async def on(event: trio.Event, name: str) -> None:
            nonlocal woken
            await event.wait()
            woken = name
            nursery.cancel_scope.cancel()

        nursery.start_soon(on, stop, "stop")
        if after is None:
            await trio.lowlevel.wait_readable(fd)
        else:
            await trio.sleep(after)
        nursery.cancel_scope.cancel()
    return "stop" if stop.is_set() else woken


async def _readable_or_stopped(fd: int, stop: trio.Event) -> bool:
    """Wait until `fd` is readable (True) or `stop` is set (False)."""
    if stop.is_set():
        return False
    readable = False
    async with trio.open_nursery() as nursery:

        async def on_stop() -> None:
            await stop.wait()
            nursery.cancel_scope.cancel()

        nursery.start_soon(on_stop)
        await trio.lowlevel.wait_readable(fd)
        readable = True
        nursery.cancel_scope.cancel()
    return readable


APPEAR_MASK = IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR


async def entry_appears(
    directories: list[Path], stop: trio.Event, *, already: Callable[[], bool] | None = None
) -> bool:
    """Wait until an entry is created in (or moved into) one of `directories`, or one of them
    goes away (True), or `stop` is set (False). For a root that does not exist yet: its nearest
    existing ancestor is waited on, with no timer.

    `already` is asked once the watches exist: True if what is waited for happened before (the
    caller looked, then the entry appeared before the watch could see it)."""
    ino = Inotify()
    try:
        for directory in directories:
            if ino.add(os.fsencode(directory), mask=APPEAR_MASK) is None:
                return True  # gone already: look again
        if already is not None and already():
            return True
        return await _readable_or_stopped(ino.fd, stop)
    finally:
        ino.close()


def _walk_new(ino: Inotify, dirs: list[bytes], found: list[bytes]) -> None:
    for directory in dirs:
        ino.add_tree(directory, found=found)


def _watch_roots(roots: list[bytes], drop: int = 0) -> Inotify:
    ino = Inotify(drop=drop)
    try:
        _add_roots(ino, roots)
    except BaseException:
        ino.close()
        raise
    return ino


def _add_roots(ino: Inotify, roots: list[bytes]) -> None:
    for root in roots:
        ino.add_tree(root, root=True)


async def awatch(
    *paths: Path | str,
    stop_event: trio.Event,
    debounce: int = 1600,
    step: int = 50,
    rust_timeout: int = 5000,  # watchfiles' signature: unused
    recursive: bool = True,  # always recursive
    ignore_permission_denied: bool = True,  # always: unreadable ones are skipped
    grow: Grow | None = None,
    linger: bool = False,
    watching: trio.Event | None = None,
    pace: Pace | None = None,
    appends_only: bool = False,
) -> AsyncIterator[set[tuple[int, str]]]:
    """Yield sets of `(Change, path)` under `paths` until `stop_event` is set (see the module);
    roots handed to `grow` are added to the watch as it runs.

    With `linger`, after a batch the watch looks again `step` ms later instead of waking at the
    next event: while files keep changing, a batch costs one wake-up (the timer), not two (the
    event, then the end of the quiet step); the first look that finds nothing goes back to
    waiting on the OS, so an idle watch still has no timer.

    `watching` is set once every directory under `paths` has its watch (they are set up in a
    worker thread): what changes from then on is reported.

    With `pace` (and `grow`, whose interrupt it uses), `step` and `debounce` are its lazy wait
    while it is not quick (see the module).

    With `appends_only` (files only ever appended to, replaced or deleted, such as transcripts),
    a write is one event: its close and attribute changes are not watched (`APPENDS_ONLY_DROP`)."""

    def step_s() -> float:
        return step / 1000 if pace is None else pace.wait_s(step / 1000)

    def debounce_s() -> float:
        return debounce / 1000 if pace is None else pace.wait_s(debounce / 1000)

    unhook = pace.on_hurry(grow.interrupt) if pace is not None and grow is not None else None
    roots = [os.fsencode(p) for p in paths]
    root_set = set(roots)
    drop = APPENDS_ONLY_DROP if appends_only else 0
    ino: Inotify | None = await trio.to_thread.run_sync(_watch_roots, roots, drop)
    assert ino is not None
    if watching is not None:
        watching.set()
    look_again = False
    try:
        while (
            woken := await _woken(ino.fd, stop_event, grow, step_s() if look_again else None)
        ) != "stop":
            if woken == "grow":
                assert grow is not None
                new = [r for r in dict.fromkeys(grow.take()) if r not in root_set]
                if new:
                    await trio.to_thread.run_sync(_add_roots, ino, new)
                    roots.extend(new)
                    root_set.update(new)
                    yield {(RESCAN, os.fsdecode(r)) for r in new}
                continue
            batch = _Batch()
            began = trio.current_time()
            events = ino.read()
            if woken == "timer":
                look_again = False
                if not events:
                    continue  # quiet now: wait on the OS again
                began -= step_s()  # the batch began when the look-again wait did
            while True:
                _apply(ino, root_set, events, batch)
                if batch.new_dirs:
                    found: list[bytes] = []
                    dirs, batch.new_dirs = batch.new_dirs, []
                    await trio.to_thread.run_sync(_walk_new, ino, dirs, found)
                    batch.changes.update((Change.added, os.fsdecode(f)) for f in found)
                quiet = min(step_s(), began + debounce_s() - trio.current_time())
                if quiet <= 0 or batch.overflow or batch.root_gone:
                    break
                # The batch ends after `step` without an event: sleep it, then take what came
                # (cheaper than waiting on the fd with a timeout, which trio must abort).
                if pace is None:
                    await trio.sleep(quiet)
                else:
                    pace.holding += 1  # changes in hand, waiting out the step
                    try:
                        await _sleep(quiet, grow)
                    finally:
                        pace.holding -= 1
                events = ino.read()
                if not events:
                    break
            if batch.overflow:
                # Events were lost, directories made meanwhile may have no watch: start afresh.
                ino.close()
                ino = None
                ino = await trio.to_thread.run_sync(_watch_roots, roots, drop)
                batch.changes.update((RESCAN, os.fsdecode(r)) for r in roots)
            if batch.changes:
                yield batch.changes
            if batch.root_gone or stop_event.is_set():
                return
            look_again = linger
    finally:
        if unhook is not None:
            unhook()
        if ino is not None:
            ino.close()

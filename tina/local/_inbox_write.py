"""Append one message to a Claude Code inbox, under Claude Code's own lock.

Claude Code locks an inbox (``~/.claude/teams/<team>/inboxes/<agent>.json``) the
proper-lockfile way: the lock is the *directory* ``<agent>.json.lock``, taken with ``mkdir``
(atomic: exactly one taker wins) and released with ``rmdir``. A lock whose mtime is more than
10 s old belongs to a holder that died and may be taken over. ``flock``/``fcntl`` would not
exclude Claude Code, so this module uses the same directory.

:func:`append_inbox_message` runs these steps, blocking (the daemon calls it in a thread):

1. A missing inbox file is created as ``[]`` (``O_CREAT | O_EXCL``, mode 0600: a file that
   appeared meanwhile is never clobbered); the lock's target must exist.
2. Take the lock: ``mkdir``; on ``EEXIST`` retry until ``timeout`` (3 s), taking over a stale
   lock (``rmdir`` then ``mkdir`` again: whoever's ``mkdir`` wins holds it).
3. Under the lock: read the file again and check its shape (a JSON array of objects, each with
   string ``from`` and ``text``; at most 16 MiB, the most the inbox reader reads).
4. Append the entry *textually* before the closing ``]`` (the other entries keep their exact
   bytes), check the result parses as the old array plus the new entry, write it to a temporary
   file in the same directory with the inbox's mode, ``fsync`` and ``os.replace`` it over the
   inbox.
5. ``rmdir`` the lock (only if it is still the directory this call created).

:func:`mark_inbox_read` flips ``read`` to true on the unread entries under the same lock.

A refusal writes nothing and raises :class:`InboxWriteError` with a ``code``:
``inbox_locked`` (the lock was not taken in time), ``inbox_unrecognised`` (not an inbox as
Claude Code writes it) or ``inbox_write_failed`` (an ``OSError``, with its reason).

The result is the appended entry's key exactly as :func:`tina.local.parse_inbox` computes it
when it reads the file back (the key counts identical entries before it, so it is taken from
parsing the bytes that were written).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import stat
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from .errors import ReadError, describe_value
from .files import INBOX_MAX, display_path, format_size
from .models import InboxMessage
from .readers import parse_inbox

__all__ = [
    "INBOX_LOCK_STALE",
    "INBOX_LOCK_TIMEOUT",
    "InboxWriteCode",
    "InboxWriteError",
    "append_inbox_message",
    "inbox_timestamp",
    "mark_inbox_read",
]

INBOX_LOCK_TIMEOUT = 3.0
"""Seconds to wait for the inbox lock before giving up (``inbox_locked``)."""
INBOX_LOCK_STALE = 10.0
"""A lock directory whose mtime is older than this many seconds is stale (proper-lockfile's
default ``stale``; its holder refreshes the mtime every 5 s while it holds the lock)."""

_RETRY_MIN = 0.005
_RETRY_MAX = 0.05

InboxWriteCode = Literal["inbox_locked", "inbox_unrecognised", "inbox_write_failed"]


class InboxWriteError(Exception):
    """Nothing was written; ``code`` says why, ``message`` names the file and what was expected."""

    def __init__(self, code: InboxWriteCode, path: str, message: str) -> None:
        super().__init__(message)
        self.code: InboxWriteCode = code
        self.path = path
        self.message = message

    def __str__(self) -> str:
        return self.message


def inbox_timestamp(when: datetime | None = None) -> str:
    """An inbox timestamp as Claude Code writes it: ISO-8601 in UTC with milliseconds and ``Z``
    (JavaScript's ``toISOString()``)."""
    moment = (when or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def append_inbox_message(
    path: str | os.PathLike[str],
    *,
    sender: str,
    text: str,
    summary: str | None = None,
    color: str | None = None,
    timestamp: str | None = None,
    agent: str | None = None,
    timeout: float = INBOX_LOCK_TIMEOUT,
    stale_after: float = INBOX_LOCK_STALE,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Append ``{"from": sender, "text": text, "timestamp": ..., "read": false}`` (plus
    ``summary`` and ``color`` when given) to the inbox at ``path``; returns the new entry's key.

    ``agent`` (whose inbox it is) defaults to the file name without ``.json``, as for
    :func:`tina.local.read_inbox`; ``timestamp`` defaults to now (:func:`inbox_timestamp`).
    ``timeout``, ``stale_after``, ``clock`` and ``sleep`` are for tests. Raises
    :class:`InboxWriteError` and nothing else; nothing is written then.
    """
    target = Path(path)
    shown = display_path(target)
    name = agent if agent is not None else target.name.removesuffix(".json")
    entry: dict[str, Any] = {
        "from": sender,
        "text": text,
        "timestamp": timestamp if timestamp is not None else inbox_timestamp(),
        "read": False,
    }
    if summary is not None:
        entry["summary"] = summary
    if color is not None:
        entry["color"] = color
    with _os_errors_refused(shown):
        _create_if_missing(target)
        lock = _Lock(target, timeout=timeout, stale_after=stale_after, clock=clock, sleep=sleep)
        with lock:
            data = _read_under_lock(target, shown)
            new, count = _appended(data, entry, shown)
            key = _appended_key(new, name, shown, count=count)
            _replace(target, new)
    return key


def mark_inbox_read(
    path: str | os.PathLike[str],
    *,
    agent: str | None = None,
    timeout: float = INBOX_LOCK_TIMEOUT,
    stale_after: float = INBOX_LOCK_STALE,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[InboxMessage, ...]:
    """Set ``read: true`` on every unread entry (``read`` false or absent) of the inbox at
    ``path``, as its recipient does when it picks its messages up; returns those entries, in
    file order (their keys do not change). Same lock and checks as
    :func:`append_inbox_message`; the file is written again as ``JSON.stringify(inbox, null,
    2)`` does, and not at all when nothing was unread or the file does not exist.
    """
    target = Path(path)
    shown = display_path(target)
    name = agent if agent is not None else target.name.removesuffix(".json")
    with _os_errors_refused(shown):
        if not _may_have_unread(target):
            return ()  # the common case when polled: no lock taken, nothing written
        with _Lock(target, timeout=timeout, stale_after=stale_after, clock=clock, sleep=sleep):
            doc = _shape(_read_under_lock(target, shown), shown)
            unread = [i for i, entry in enumerate(doc) if entry.get("read") is not True]
            if not unread:
                return ()
            for index in unread:
                doc[index]["read"] = True
            try:
                text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False)
                data = text.encode("utf-8")
            except ValueError:  # NaN/Infinity or a lone surrogate: escape, or refuse
                try:
                    data = json.dumps(doc, indent=2, allow_nan=False).encode("ascii")
                except ValueError:
                    raise _unrecognised(shown, "numbers JSON cannot hold (NaN, Infinity)") from None
            if len(data) > INBOX_MAX:
                raise _unrecognised(shown, f"a file that would grow past {format_size(INBOX_MAX)}")
            messages = parse_inbox(data, agent=name, path=shown).messages
            _replace(target, data)
    return tuple(messages[i] for i in unread)


@contextlib.contextmanager
def _os_errors_refused(shown: str) -> Iterator[None]:
    """An ``OSError`` inside becomes ``inbox_write_failed`` with its reason."""
    try:
        yield
    except OSError as exc:
        raise InboxWriteError(
            "inbox_write_failed", shown, f"cannot write the inbox {shown}: {_reason(exc)}"
        ) from None


def _may_have_unread(target: Path) -> bool:
    """Whether the inbox may hold an unread entry, read without the lock. False only for a file
    that is gone or a well-formed inbox with every entry read; anything odd says True, so the
    locked path decides (and refuses what it does not recognise)."""
    try:
        with target.open("rb") as f:
            data = f.read(INBOX_MAX + 1)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return True
    return not isinstance(doc, list) or any(
        not isinstance(e, dict) or e.get("read") is not True for e in doc
    )


def _reason(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    return f"{reason} ({display_path(exc.filename)})" if exc.filename else reason


def _create_if_missing(target: Path) -> None:
    """``[]`` in a new file, never over one that exists (ours or Claude Code's).

    The file appears with its content at once (a temporary file hard-linked into place: the
    link fails if the name exists), so a concurrent writer never reads it empty.
    """
    with contextlib.suppress(FileExistsError):
        os.mkdir(target.parent, 0o700)  # the team's inboxes/ appears with its first message
    if os.path.lexists(target):
        return
    temp = _temp_name(target)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        try:
            os.write(fd, b"[]")
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temp, target)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links: create it in place instead
            _create_in_place(target)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)


def _create_in_place(target: Path) -> None:
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return
    try:
        os.write(fd, b"[]")
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_name(target: Path) -> Path:
    """A temporary file beside ``target``: a dotfile not ending in ``.json``, so inbox listings
    (``*.json``, no dotfiles) never take it for an inbox."""
    return target.with_name(f".{target.name}.tina-{uuid.uuid4().hex}.tmp")


class _Lock:
    """The ``<inbox>.lock`` directory, as Claude Code (proper-lockfile) takes it."""

    def __init__(
        self,
        target: Path,
        *,
        timeout: float,
        stale_after: float,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self.path = target.with_name(target.name + ".lock")
        self.timeout = timeout
        self.stale_after = stale_after
        self.clock = clock
        self.sleep = sleep
        self.inode: tuple[int, int] | None = None

    def __enter__(self) -> None:
        deadline = self.clock() + self.timeout
        pause = _RETRY_MIN
        while True:
            try:
                os.mkdir(self.path)
            except FileExistsError:
                retry_now = self._take_over_stale()
            else:
                st = os.stat(self.path)
                self.inode = (st.st_dev, st.st_ino)
                return
            now = self.clock()
            if now >= deadline:
                raise self._timed_out()
            if not retry_now:
                self.sleep(min(pause * (0.5 + random.random()), deadline - now))
                pause = min(pause * 2, _RETRY_MAX)

    def _timed_out(self) -> InboxWriteError:
        inbox = display_path(self.path.with_name(self.path.name.removesuffix(".lock")))
        return InboxWriteError(
            "inbox_locked",
            inbox,
            f"the lock of the inbox {inbox} ({self.path.name}) stayed taken for "
            f"{self.timeout:g} s, by Claude Code or another writer (a lock untouched for more "
            f"than {self.stale_after:g} s would have been taken over); nothing was written, "
            "try again",
        )

    def _take_over_stale(self) -> bool:
        """Remove the lock if it is stale; True when the caller should try ``mkdir`` at once.

        Two writers may find the same stale lock: both ``rmdir`` (one gets ``ENOENT``, which is
        fine) and then both ``mkdir``, which exactly one wins. The lock is checked again right
        before the ``rmdir`` so a lock taken anew meanwhile (a fresh mtime) is left alone.
        """
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return True  # released meanwhile
        if not stat.S_ISDIR(st.st_mode) or time.time() - st.st_mtime <= self.stale_after:
            return False
        try:
            again = os.stat(self.path)
            if (again.st_ino, again.st_mtime_ns) != (st.st_ino, st.st_mtime_ns):
                return True  # someone else took it over: compete with mkdir (and lose)
            os.rmdir(self.path)
        except FileNotFoundError:
            pass
        except OSError:
            return False  # not empty, no permission: not a lock we may take
        return True

    def __exit__(self, *exc_info: object) -> None:
        # Release only our own lock: if ours was taken over as stale, the directory there now
        # is someone else's.
        with contextlib.suppress(OSError):
            st = os.stat(self.path)
            if (st.st_dev, st.st_ino) == self.inode:
                os.rmdir(self.path)


def _unrecognised(shown: str, got: str) -> InboxWriteError:
    return InboxWriteError(
        "inbox_unrecognised",
        shown,
        f"{shown} is not an inbox as Claude Code writes it: expected a JSON array of message "
        f"objects, each with string 'from' and 'text', of at most {format_size(INBOX_MAX)}; "
        f"got {got}. Nothing was written",
    )


def _read_under_lock(target: Path, shown: str) -> bytes:
    """The inbox's bytes; ``[]`` if it vanished since it was created (then it is written anew)."""
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return b"[]"
    if not stat.S_ISREG(st.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "something other than a file"
        raise _unrecognised(shown, kind)
    if st.st_size > INBOX_MAX:
        raise _unrecognised(shown, f"a file of {st.st_size} bytes")
    fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _unrecognised(shown, "something other than a file")
        parts: list[bytes] = []
        size = 0
        while size <= INBOX_MAX:
            part = os.read(fd, 1024 * 1024)
            if not part:
                break
            parts.append(part)
            size += len(part)
    finally:
        os.close(fd)
    if size > INBOX_MAX:
        raise _unrecognised(shown, f"a file of more than {INBOX_MAX} bytes (it grew)")
    return b"".join(parts)


def _shape(data: bytes, shown: str) -> list[Any]:
    """The inbox as a list, or ``inbox_unrecognised`` naming the first thing that is wrong."""
    try:
        doc = json.loads(data)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise _unrecognised(shown, f"invalid JSON ({exc})") from None
    except RecursionError:
        raise _unrecognised(shown, "JSON nested too deeply") from None
    if not isinstance(doc, list):
        raise _unrecognised(shown, describe_value(doc))
    for index, item in enumerate(doc):
        if not isinstance(item, dict):
            raise _unrecognised(shown, f"entry [{index}] is {describe_value(item)}")
        for key in ("from", "text"):
            if not isinstance(item.get(key), str):
                got = describe_value(item[key]) if key in item else "nothing"
                raise _unrecognised(shown, f"entry [{index}] has {got} as {key!r}")
    return doc


def _entry_json(entry: dict[str, Any]) -> str:
    """The entry as ``JSON.stringify(inbox, null, 2)`` prints an array element."""
    text = json.dumps(entry, indent=2, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: escape it, as JSON.stringify does
        text = json.dumps(entry, indent=2)
    return text.replace("\n", "\n  ")


def _appended(data: bytes, entry: dict[str, Any], shown: str) -> tuple[bytes, int]:
    """The inbox with ``entry`` appended before its closing ``]`` (earlier bytes unchanged),
    and how many entries it then has."""
    doc = _shape(data, shown)
    body = data.rstrip()
    if not body.endswith(b"]"):  # a valid array always ends with "]"
        raise _unrecognised(shown, "a JSON array that does not end with ']'")
    head = body[:-1].rstrip()
    piece = _entry_json(entry).encode("utf-8")
    new = head + (b"\n  " if not doc else b",\n  ") + piece + b"\n]"
    if len(new) > INBOX_MAX:
        raise _unrecognised(
            shown, f"a file that would grow past {format_size(INBOX_MAX)} with this message"
        )
    return new, len(doc) + 1


def _appended_key(new: bytes, agent: str, shown: str, *, count: int) -> str:
    """The key the inbox reader gives the last entry of ``new``; also proves the reader sees
    every entry (the old ones and the new one) before anything is written."""
    try:
        inbox = parse_inbox(new, agent=agent, path=shown)
    except ReadError as exc:  # pragma: no cover - a bug guard: the shape was checked
        raise _unrecognised(shown, exc.message) from None
    if inbox.errors or len(inbox.messages) != count:  # pragma: no cover - a bug guard
        raise _unrecognised(shown, "an array the message could not be appended to")
    return inbox.messages[-1].key


def _replace(target: Path, data: bytes) -> None:
    """Write ``data`` over ``target`` atomically, keeping its mode (0600 for a new one)."""
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = 0o600
    temp = _temp_name(target)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        try:
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dirfd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)

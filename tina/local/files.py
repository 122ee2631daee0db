"""Reading local files that any program may have put in place: bounded, never blocking.

Every file the daemon watches (Claude Code's team configs and task files, session lookups, a
worktree's state file and events journal) is read through :func:`read_file` or
:func:`read_chunk`. They read only regular files: a FIFO would block an ``open()`` forever (and
with it every team's syncing), a device such as ``/dev/zero`` would fill memory. A symlink is
followed when its target is a regular file (a symlink to ``/dev/zero`` is refused). The file
is checked with ``stat`` before it is opened (a device is never opened), opened with
``O_NONBLOCK`` (a FIFO swapped in after the check cannot block) and checked again with
``fstat``. Each kind of file has a size cap; a larger file is refused, not read, and never more
than cap + 1 bytes are read (a file that grows meanwhile is refused too).

A refusal is a :class:`FileRefused` (a :class:`ReadError`): the watchers log it with the path
and the cap, and skip the file.

Names that are not valid UTF-8 (``os.listdir`` gives them with lone surrogates,
PEP 383) cannot be sent to Convex nor watched by watchfiles: listings skip them
(:func:`is_undecodable`) and logs show them as the ``repr`` of their bytes (:func:`display_path`).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import attrs

from .errors import ReadError

__all__ = [
    "INBOX_MAX",
    "JOURNAL_CHUNK",
    "PHASE_STATUS_MAX",
    "SESSION_LOOKUP_MAX",
    "STATE_MAX",
    "TASK_MAX",
    "TEAM_CONFIG_MAX",
    "FileData",
    "FileRefused",
    "UndecodableName",
    "display_path",
    "format_size",
    "is_undecodable",
    "read_chunk",
    "read_file",
]

KiB = 1024
MiB = 1024 * KiB

# Caps per kind of file, far above what real files hold (docs/reliability.md, "Hostile files").
TASK_MAX = 1 * MiB  # a task: Convex keeps at most ~20 K characters of description
TEAM_CONFIG_MAX = 4 * MiB  # a team config: up to 200 members, each with its spawn prompt
STATE_MAX = 1 * MiB  # supervisor-state.json: a few KiB
SESSION_LOOKUP_MAX = 64 * KiB  # a session lookup: a few hundred bytes
PHASE_STATUS_MAX = 64 * KiB  # phase-<P>/status.json
INBOX_MAX = 16 * MiB  # an inbox: never pruned; one report shows them past 1 MB
JOURNAL_CHUNK = 4 * MiB  # the events journal is read in chunks of at most this; a longer line
# is skipped

_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC

PathLike = str | os.PathLike[str]


@attrs.frozen(kw_only=True)
class FileData:
    """What was read, and the file's size and modification time when it was read."""

    data: bytes
    size: int
    mtime_ns: int


class FileRefused(ReadError):
    """Not a regular file, larger than its cap, or not openable: skipped, never read."""

    def __init__(self, path: PathLike, got: str, *, limit: int | None = None) -> None:
        expected = (
            "a regular file" if limit is None else f"a regular file of at most {format_size(limit)}"
        )
        super().__init__(display_path(path), None, expected, got)
        self.limit = limit

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_refused, (self.path, self.got or "", self.limit, self.expected))


class UndecodableName(ReadError):
    """A file name that is not valid UTF-8: skipped, never opened nor sent."""

    def __init__(self, path: PathLike) -> None:
        super().__init__(display_path(path), None, "a file name in UTF-8", "undecodable bytes")

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_undecodable, (self.path,))


def _rebuild_undecodable(path: str) -> UndecodableName:
    error = UndecodableName("")
    error.path = path
    return error


def _rebuild_refused(path: str, got: str, limit: int | None, expected: str) -> FileRefused:
    error = FileRefused(path, got, limit=limit)
    error.expected = expected
    return error


def format_size(size: int) -> str:
    """``1 MiB``, ``64 KiB``, ``1048577 bytes``: exact, so a cap reads as it is configured."""
    for unit, factor in (("MiB", MiB), ("KiB", KiB)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


def is_undecodable(name: str | os.PathLike[str]) -> bool:
    """True for a name that is not valid UTF-8 on disk (decoded with lone surrogates)."""
    try:
        os.fspath(name).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def display_path(path: PathLike) -> str:
    """The path as text for messages and logs; the ``repr`` of its bytes if it is not UTF-8."""
    text = os.fspath(path)
    if is_undecodable(text):
        return repr(os.fsencode(text))
    return text


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _open_regular(path: PathLike, limit: int | None) -> tuple[int, os.stat_result] | None:
    """An open descriptor of the regular file at ``path`` (symlinks followed), None if missing."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:  # a symlink loop, a name too long, no permission
        raise FileRefused(path, exc.strerror or str(exc), limit=limit) from None
    if not stat.S_ISREG(st.st_mode):
        raise FileRefused(path, _kind(st.st_mode), limit=limit)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise FileRefused(path, exc.strerror or str(exc), limit=limit) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # swapped for something else since the stat
            raise FileRefused(path, _kind(st.st_mode), limit=limit)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def _read_at_most(fd: int, size: int, offset: int) -> bytes:
    parts: list[bytes] = []
    got = 0
    while got < size:
        part = os.pread(fd, min(size - got, 1 * MiB), offset + got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def read_file(path: PathLike, *, limit: int) -> FileData | None:
    """The whole file if it is a regular file of at most ``limit`` bytes; None if it does not
    exist; :class:`FileRefused` otherwise."""
    opened = _open_regular(path, limit)
    if opened is None:
        return None
    fd, st = opened
    try:
        if st.st_size > limit:
            raise FileRefused(path, f"a file of {st.st_size} bytes", limit=limit)
        data = _read_at_most(fd, limit + 1, 0)
    except OSError as exc:
        raise FileRefused(path, exc.strerror or str(exc), limit=limit) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise FileRefused(path, f"a file of more than {limit} bytes (it grew)", limit=limit)
    return FileData(data=data, size=st.st_size, mtime_ns=st.st_mtime_ns)


def read_chunk(path: PathLike, *, offset: int, size: int) -> FileData | None:
    """At most ``size`` bytes of a regular file from ``offset`` (an append-only file read in
    pieces); None if it does not exist; :class:`FileRefused` if it is not a regular file.
    ``FileData.size`` is the whole file's size."""
    opened = _open_regular(path, None)
    if opened is None:
        return None
    fd, st = opened
    try:
        data = _read_at_most(fd, size, offset)
    except OSError as exc:
        raise FileRefused(path, exc.strerror or str(exc)) from None
    finally:
        os.close(fd)
    return FileData(data=data, size=st.st_size, mtime_ns=st.st_mtime_ns)


def listdir(directory: PathLike) -> tuple[list[Path], list[Path]]:
    """The entries of ``directory`` (sorted), and apart the ones whose name is not UTF-8."""
    good: list[Path] = []
    bad: list[Path] = []
    for name in sorted(os.listdir(directory)):
        (bad if is_undecodable(name) else good).append(Path(directory) / name)
    return good, bad

"""Incremental reading of transcripts: from a byte offset, whole lines only.

Each file has a :class:`FileMark` (device, inode, offset of the first byte not yet read). A read
starts at the mark and stops after the last complete line, so a line still being written is
left for the next read. A file whose inode changed (replaced, rotated) or that is now shorter
than the mark (truncated) is read again from the start. A file that is gone is forgotten.
Unknown and malformed lines are counted and skipped; nothing here raises on a file's content.

Every line of a message streamed as several lines (one per content block, the same message and
request id) is parsed: its output count grows from line to line (`tina.usage.dedupe`).

Blocking calls (plain file reads): run them in a worker thread from trio.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from pathlib import Path

import attrs

from .transcript import Skip, UsageRecord, parse_line

__all__ = ["FileMark", "ReadResult", "TranscriptReader", "read_from"]

CHUNK = 1 << 20
MAX_LINE = 32 << 20
"""A line longer than this is skipped (counted as malformed) rather than held in memory."""
BUDGET = 64 << 20
"""About this many bytes are read per file per call (then up to the end of the line it is in,
unless that line is too long to keep); the rest waits for the next call (`ReadResult.more`)."""


@attrs.frozen(kw_only=True)
class FileMark:
    dev: int
    inode: int
    offset: int


@attrs.frozen(kw_only=True)
class ReadResult:
    records: tuple[UsageRecord, ...] = ()
    mark: FileMark | None = None  # None: the file is gone
    lines: int = 0  # complete lines read
    malformed: int = 0
    synthetic: int = 0
    restarted: bool = False  # read from the start: replaced or truncated since the last mark
    more: bool = False  # the budget ran out before the end of the file
    error: str | None = None  # could not be read (permissions, I/O): the mark is kept


def read_from(
    path: Path, mark: FileMark | None, *, chunk: int = CHUNK, budget: int = BUDGET
) -> ReadResult:
    """The usage in the complete lines of `path` after `mark`, and the new mark. A file that
    is gone gives no mark; one that cannot be read keeps `mark`, with the error's name."""
    try:
        return _read_from(path, mark, chunk=chunk, budget=budget)
    except (FileNotFoundError, NotADirectoryError):
        return ReadResult(mark=None)
    except OSError as exc:
        return ReadResult(mark=mark, error=type(exc).__name__)


def _read_from(path: Path, mark: FileMark | None, *, chunk: int, budget: int) -> ReadResult:
    # os-level calls (no buffered file object): a round reads a few hundred bytes from each of
    # a few files, where the buffered object's set-up cost more than the reading.
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)  # never waits on a FIFO
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # a directory, a FIFO: an error, its mark kept
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, "a directory", str(path))
            raise OSError(errno.ESPIPE, "not a regular file", str(path))
        restarted = False
        offset = 0
        if mark is not None:
            if (mark.dev, mark.inode) != (st.st_dev, st.st_ino) or st.st_size < mark.offset:
                restarted = True
            else:
                offset = mark.offset
        # Read up to the size it has now: what is appended after this is read next time (its
        # write is an event after this look), and the end needs no read that finds nothing.
        end = st.st_size
        records: list[UsageRecord] = []
        lines = malformed = synthetic = 0
        pending = bytearray()  # the start of a line that goes on in the next chunk
        overlong = False  # inside a line longer than MAX_LINE: skip to its end
        consumed = offset  # the offset after the last complete line
        position = offset
        more = False
        while True:
            # Past the budget, at the end of a line, or inside one too long to keep (its rest
            # is skipped from where this stopped: a read never stops in a line it would keep).
            if position - offset >= budget and (consumed > offset or overlong):
                more = True
                break
            if position >= end:
                break
            data = os.pread(fd, min(chunk, end - position), position)
            if not data:  # shortened meanwhile: read from the start next time
                break
            parts = data.split(b"\n")
            tail = parts.pop()  # after the last newline: a line that goes on (or b"")
            if parts:
                if overlong:  # the rest of a line too long to keep: skipped, counted
                    overlong = False
                    malformed += 1
                    parts[0] = b""
                    lines -= 1
                elif pending:
                    pending += parts[0]
                    parts[0] = bytes(pending)
                    pending.clear()
                lines += len(parts)
                for raw in parts:
                    line = raw.strip()
                    # A whole JSON object with no "usage" anywhere records none: not parsed (a
                    # user line carrying a large tool result costs a substring search).
                    if not line or (
                        line[:1] == b"{" and line[-1:] == b"}" and b'"usage"' not in line
                    ):
                        continue
                    match parse_line(line):
                        case UsageRecord() as record:
                            records.append(record)
                        case Skip.MALFORMED:
                            malformed += 1
                        case Skip.SYNTHETIC:
                            synthetic += 1
                        case Skip.NOT_USAGE:
                            pass
                consumed = position + len(data) - len(tail)
            if not overlong:
                pending += tail
                if len(pending) > MAX_LINE:
                    pending.clear()
                    overlong = True
            position += len(data)
    finally:
        os.close(fd)
    if more and consumed == offset:
        consumed = position  # inside a line too long to keep: go on from here next time
    return ReadResult(
        records=tuple(records),
        mark=FileMark(dev=st.st_dev, inode=st.st_ino, offset=consumed),
        lines=lines,
        malformed=malformed,
        synthetic=synthetic,
        restarted=restarted,
        more=more,
    )


@attrs.define
class TranscriptReader:
    """The marks of every transcript read so far, by path (as text)."""

    marks: dict[str, FileMark] = attrs.Factory(dict)
    # The paths whose marks were set or dropped since the ledger last saved them: a save looks
    # at these, not at every transcript ever read (thousands on a laptop used for long).
    touched: set[str] = attrs.Factory(set)
    malformed: int = 0
    synthetic: int = 0
    restarts: int = 0
    errors: int = 0

    def read(self, path: Path, *, budget: int = BUDGET) -> ReadResult:
        key = str(path)
        result = read_from(path, self.marks.get(key), budget=budget)
        self.errors += result.error is not None
        if result.mark is not None:
            self.marks[key] = result.mark
            self.touched.add(key)
        elif result.error is None:  # gone
            self.forget(key)
        self.malformed += result.malformed
        self.synthetic += result.synthetic
        self.restarts += result.restarted
        return result

    def forget(self, path: str) -> None:
        """Forget the mark of a file that is gone."""
        if self.marks.pop(path, None) is not None:
            self.touched.add(path)

    def forget_missing(self, present: Iterable[str]) -> list[str]:
        """Forget the marks of files not in `present`; the paths forgotten."""
        keep = set(present)
        gone = [p for p in self.marks if p not in keep]
        for p in gone:
            self.forget(p)
        return gone

"""tina-session's files: atomic writers, the per-worktree lock and the events journal.

* The state file and session lookups are replaced atomically (temp file in the same directory,
  fsync, ``os.replace``, fsync of the directory): a reader sees the old file or the new one,
  never half a file.
* The journal is appended with one ``os.write`` of a whole line on an ``O_APPEND`` descriptor,
  then fsync; a reader that finds a last line without its newline ignores it until it is done.
* Commands that read-modify-write a worktree's state hold an exclusive ``flock`` on
  ``.claude/tina/state.lock`` so two tina-session processes never lose each other's update.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from tina.atomic import write_atomic

from ..local import paths
from ..local.encode import (
    encode_journal_entry,
    encode_session_lookup,
    encode_supervisor_state,
)
from ..local.errors import ReadError
from ..local.models import JournalEntry, SessionLookup, SupervisorState
from ..local.readers import read_session_lookup, read_supervisor_state
from .machine import EventDraft

__all__ = [
    "SOURCE",
    "StateUnreadable",
    "StoreError",
    "UnknownFeature",
    "append_events",
    "atomic_write",
    "load_lookup",
    "load_state",
    "locked",
    "make_entries",
    "save_lookup",
    "save_state",
]

SOURCE = "tina-session"


class StoreError(Exception):
    """A local file could not be read or written; ``code`` is machine-readable."""

    code = "io_error"


class UnknownFeature(StoreError):
    code = "unknown_feature"


class StateUnreadable(StoreError):
    code = "state_unreadable"


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` so that readers never observe a partial file."""
    write_atomic(path, data, mode=mode)


@contextlib.contextmanager
def locked(worktree: Path) -> Iterator[None]:
    """Hold the worktree's exclusive state lock (blocks until it is free)."""
    lock_path = paths.state_lock_path(worktree)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


# --------------------------------------------------------------------------------------------
# session lookups and state


def load_lookup(feature: str) -> SessionLookup:
    path = paths.session_lookup_path(feature)
    if not path.exists():
        raise UnknownFeature(
            f"no orchestration named {feature!r} (no session lookup at {path}); "
            "run `tina-session init` first"
        )
    try:
        return read_session_lookup(path)
    except ReadError as exc:
        raise StateUnreadable(str(exc)) from None


def save_lookup(lookup: SessionLookup) -> Path:
    path = paths.session_lookup_path(lookup.feature)
    atomic_write(path, encode_session_lookup(lookup))
    return path


def load_state(worktree: Path) -> SupervisorState:
    path = paths.state_path(worktree)
    try:
        return read_supervisor_state(path)
    except ReadError as exc:
        raise StateUnreadable(str(exc)) from None


def save_state(worktree: Path, state: SupervisorState) -> Path:
    """Write the state into ``worktree`` (the one it was loaded from, not whatever its
    ``worktree_path`` field says: a moved repository must not send writes elsewhere)."""
    path = paths.state_path(worktree)
    atomic_write(path, encode_supervisor_state(state))
    return path


# --------------------------------------------------------------------------------------------
# journal


def make_entries(
    feature: str, drafts: tuple[EventDraft, ...] | list[EventDraft], now: datetime | None = None
) -> list[JournalEntry]:
    """Stamp event drafts with a unique id, the source and the time."""
    recorded_at = (now or datetime.now(UTC)).astimezone(UTC)
    return [
        JournalEntry(
            id=uuid.uuid4().hex,
            type=draft.type,
            source=SOURCE,
            summary=draft.summary,
            detail=draft.detail,
            phase=draft.phase,
            feature=feature,
            recorded_at=recorded_at,
        )
        for draft in drafts
    ]


def append_events(worktree: Path, entries: list[JournalEntry]) -> Path:
    """Append entries to the worktree's journal, one whole line per ``os.write``."""
    path = paths.journal_path(worktree)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        for entry in entries:
            line = encode_journal_entry(entry)
            written = os.write(fd, line)
            if written != len(line):  # pragma: no cover - only on a full disk
                raise StoreError(f"short write to {path}: {written} of {len(line)} bytes")
        os.fsync(fd)
    finally:
        os.close(fd)
    return path

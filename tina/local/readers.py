"""Readers of local files: bytes in, a model or a :class:`ReadError` out.

``parse_*`` functions are pure (they never touch the file system) and raise nothing but
:class:`ReadError`; ``path`` only labels error messages. ``read_*`` functions read a file first
(through :mod:`tina.local.files`: regular files only, at most the kind's cap, never blocking)
and report I/O failures (a missing file, a FIFO, a file over its cap) as :class:`ReadError` too.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import attrs

from ._convert import decode_json, structure
from .errors import ReadError, describe_value
from .files import (
    JOURNAL_CHUNK,
    PHASE_STATUS_MAX,
    SESSION_LOOKUP_MAX,
    STATE_MAX,
    TASK_MAX,
    TEAM_CONFIG_MAX,
    UndecodableName,
    display_path,
    is_undecodable,
    read_chunk,
    read_file,
)
from .models import (
    JournalEntry,
    PhaseStatusFile,
    SessionLookup,
    SupervisorState,
    Task,
    TeamConfig,
)

__all__ = [
    "STATE_VERSION",
    "JournalChunk",
    "list_session_lookups",
    "parse_journal",
    "parse_phase_status",
    "parse_session_lookup",
    "parse_supervisor_state",
    "parse_task",
    "parse_team_config",
    "read_bytes",
    "read_journal",
    "read_phase_status",
    "read_session_lookup",
    "read_supervisor_state",
    "read_task",
    "read_team_config",
]

STATE_VERSION = 1

T = TypeVar("T")
_NO_PATH = "<bytes>"


def _parse(data: bytes, cls: type[T], path: str) -> T:
    return structure(decode_json(data, path), cls, path)


def parse_supervisor_state(data: bytes, *, path: str = _NO_PATH) -> SupervisorState:
    """``supervisor-state.json``; reads ``design_doc`` (original) or ``spec_doc``."""
    state = _parse(data, SupervisorState, path)
    if state.version != STATE_VERSION:
        raise ReadError(path, "version", f"format version {STATE_VERSION}", str(state.version))
    return state


def parse_session_lookup(data: bytes, *, path: str = _NO_PATH) -> SessionLookup:
    """``~/.claude/tina-sessions/<feature>.json``; reads ``worktree_path`` or ``cwd``."""
    lookup = _parse(data, SessionLookup, path)
    if lookup.repo_root is None:
        marker = "/.worktrees/"
        head, found, _ = lookup.worktree_path.rpartition(marker)
        if found and head:
            lookup = attrs.evolve(lookup, repo_root=head)
    return lookup


def parse_phase_status(data: bytes, *, path: str = _NO_PATH) -> PhaseStatusFile:
    """``phase-<P>/status.json``; reads the reason from ``reason`` or ``blocked_reason``."""
    return _parse(data, PhaseStatusFile, path)


def parse_team_config(data: bytes, *, path: str = _NO_PATH) -> TeamConfig:
    """Claude Code ``~/.claude/teams/<dir>/config.json``."""
    return _parse(data, TeamConfig, path)


def parse_task(data: bytes, *, path: str = _NO_PATH) -> Task:
    """Claude Code ``~/.claude/tasks/<dir>/<id>.json``; unknown statuses are kept as text."""
    return _parse(data, Task, path)


# --------------------------------------------------------------------------------------------
# events journal


@attrs.frozen(kw_only=True)
class JournalChunk:
    """What :func:`parse_journal` made of a slice of the journal.

    ``end`` is the byte offset just after the last complete line: tail the file from there.
    A trailing line without its newline is not consumed (it may still be being written).
    Malformed complete lines are consumed, skipped and reported in ``errors``.
    """

    entries: tuple[JournalEntry, ...]
    errors: tuple[ReadError, ...]
    start: int
    end: int


def parse_journal(data: bytes, *, path: str = _NO_PATH, offset: int = 0) -> JournalChunk:
    """Parse journal bytes that start at byte ``offset`` of the file."""
    entries: list[JournalEntry] = []
    errors: list[ReadError] = []
    consumed = data.rfind(b"\n") + 1
    position = offset
    for raw in data[:consumed].split(b"\n")[:-1]:
        line_path = f"{path} (byte {position})"
        position += len(raw) + 1
        if not raw.strip():
            continue
        try:
            doc = decode_json(raw, line_path)
            if not isinstance(doc, dict):
                raise ReadError(line_path, None, "a JSON object", describe_value(doc))
            entries.append(structure(doc, JournalEntry, line_path))
        except ReadError as exc:
            errors.append(exc)
    return JournalChunk(
        entries=tuple(entries), errors=tuple(errors), start=offset, end=offset + consumed
    )


# --------------------------------------------------------------------------------------------
# file helpers


def read_bytes(path: str | os.PathLike[str], *, limit: int = TASK_MAX, offset: int = 0) -> bytes:
    """Read a whole regular file of at most ``limit`` bytes (from ``offset``: at most ``limit``
    bytes from there), reporting failures as :class:`ReadError`."""
    got = read_chunk(path, offset=offset, size=limit) if offset else read_file(path, limit=limit)
    if got is None:
        raise ReadError(display_path(path), None, "an existing file", "no such file")
    return got.data


def _read(path: str | os.PathLike[str], parse: Callable[..., T], limit: int) -> T:
    return parse(read_bytes(path, limit=limit), path=display_path(path))


def read_supervisor_state(path: str | os.PathLike[str]) -> SupervisorState:
    return _read(path, parse_supervisor_state, STATE_MAX)


def read_session_lookup(path: str | os.PathLike[str]) -> SessionLookup:
    return _read(path, parse_session_lookup, SESSION_LOOKUP_MAX)


def read_phase_status(path: str | os.PathLike[str]) -> PhaseStatusFile:
    return _read(path, parse_phase_status, PHASE_STATUS_MAX)


def read_team_config(path: str | os.PathLike[str]) -> TeamConfig:
    return _read(path, parse_team_config, TEAM_CONFIG_MAX)


def read_task(path: str | os.PathLike[str]) -> Task:
    return _read(path, parse_task, TASK_MAX)


def list_session_lookups(
    directory: str | os.PathLike[str],
) -> tuple[list[SessionLookup], list[ReadError]]:
    """Every ``*.json`` lookup in ``directory`` (sorted by name) plus the ones that failed.

    Unlike the original, unreadable files are reported, not silently skipped: files that are
    not regular files or are over the cap, and names that are not UTF-8 (never opened). A
    missing directory has no lookups.
    """
    lookups: list[SessionLookup] = []
    errors: list[ReadError] = []
    try:
        entries = sorted(Path(directory).iterdir())
    except FileNotFoundError:
        return lookups, errors
    except OSError as exc:
        raise ReadError(os.fspath(directory), None, "a readable directory", str(exc)) from None
    names = []
    for entry in entries:
        if entry.suffix != ".json":
            continue
        if is_undecodable(entry.name):
            errors.append(UndecodableName(entry))
        else:
            names.append(entry)
    for file in names:
        try:
            lookups.append(read_session_lookup(file))
        except ReadError as exc:
            errors.append(exc)
    return lookups, errors


def read_journal(path: str | os.PathLike[str], *, offset: int = 0) -> JournalChunk:
    """Read the journal from byte ``offset``, at most ``JOURNAL_CHUNK`` bytes (read on from
    the chunk's ``end``); a missing journal reads as empty."""
    got = read_chunk(path, offset=offset, size=JOURNAL_CHUNK)
    if got is None:
        return JournalChunk(entries=(), errors=(), start=offset, end=offset)
    return parse_journal(got.data, path=display_path(path), offset=offset)

"""Readers of local files: bytes in, a model or a :class:`ReadError` out.

``parse_*`` functions are pure (they never touch the file system) and raise nothing but
:class:`ReadError`; ``path`` only labels error messages. ``read_*`` functions read a file first
(through :mod:`tina.local.files`: regular files only, at most the kind's cap, never blocking)
and report I/O failures (a missing file, a FIFO, a file over its cap) as :class:`ReadError` too.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import attrs

from ._convert import decode_json, parse_timestamp, structure
from ._messages import classify
from .errors import ReadError, describe_value
from .files import (
    INBOX_MAX,
    JOURNAL_CHUNK,
    PHASE_STATUS_MAX,
    SESSION_LOOKUP_MAX,
    STATE_MAX,
    TASK_MAX,
    TEAM_CONFIG_MAX,
    UndecodableName,
    display_path,
    is_undecodable,
    listdir,
    read_chunk,
    read_file,
)
from .models import (
    Inbox,
    InboxMessage,
    JournalEntry,
    PhaseStatusFile,
    SessionLookup,
    SupervisorState,
    Task,
    TeamConfig,
    canonical_json,
)

__all__ = [
    "STATE_VERSION",
    "JournalChunk",
    "inbox_key",
    "list_inbox_files",
    "list_session_lookups",
    "parse_inbox",
    "parse_journal",
    "parse_phase_status",
    "parse_session_lookup",
    "parse_supervisor_state",
    "parse_task",
    "parse_team_config",
    "read_bytes",
    "read_inbox",
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
# inboxes


def inbox_key(agent: str, timestamp: Any, sender: str, text: str, occurrence: int = 0) -> str:
    """The dedupe key of an inbox message: a hash of the inbox's agent, the raw timestamp, the
    sender, the text and how many identical messages come before it in the same file.

    Inbox entries have no id; appends never move earlier entries and ``read`` flips do not
    change the key, so the same message keeps its key across reads. It is unique within one
    team's inboxes (a sync should qualify it with the team).
    """
    material = canonical_json([agent, timestamp, sender, text, occurrence])
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()


def _timestamp(value: Any) -> datetime | None:
    try:
        return parse_timestamp(value)
    except Exception:
        return None


def _optional_text(entry: dict[str, Any], key: str) -> str | None:
    value = entry.get(key)
    return value if isinstance(value, str) else None


def parse_inbox(data: bytes, *, agent: str, path: str = _NO_PATH) -> Inbox:
    """Claude Code ``~/.claude/teams/<dir>/inboxes/<agent>.json``: a JSON array of messages.

    A document that is not a JSON array raises :class:`ReadError` (``incomplete`` when it looks
    half-written: read again on the next change). An entry that is not an object with string
    ``from`` and ``text`` is skipped and reported in ``Inbox.errors``. Everything else is kept:
    a missing or bad ``timestamp`` is ``None``, plain text and unknown structured types are
    messages of kind ``text`` and ``unknown``.
    """
    doc = decode_json(data, path)
    if not isinstance(doc, list):
        raise ReadError(path, None, "a JSON array of messages", describe_value(doc))
    messages: list[InboxMessage] = []
    errors: list[ReadError] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(doc):
        if not isinstance(entry, dict):
            errors.append(ReadError(path, f"[{index}]", "a message object", describe_value(entry)))
            continue
        sender, text = entry.get("from"), entry.get("text")
        if not isinstance(sender, str):
            errors.append(ReadError(path, f"[{index}].from", "a string", describe_value(sender)))
            continue
        if not isinstance(text, str):
            errors.append(ReadError(path, f"[{index}].text", "a string", describe_value(text)))
            continue
        raw_time = entry.get("timestamp")
        base = inbox_key(agent, raw_time, sender, text)
        occurrence = seen.get(base, 0)
        seen[base] = occurrence + 1
        kind, type_, body = classify(text)
        read = entry.get("read")
        messages.append(
            InboxMessage(
                key=base
                if occurrence == 0
                else inbox_key(agent, raw_time, sender, text, occurrence),
                agent=agent,
                sender=sender,
                text=text,
                timestamp=_timestamp(raw_time),
                timestamp_raw=raw_time,
                read=read if isinstance(read, bool) else False,
                color=_optional_text(entry, "color"),
                summary=_optional_text(entry, "summary"),
                kind=kind,
                type=type_,
                body=body,
            )
        )
    return Inbox(agent=agent, messages=tuple(messages), errors=tuple(errors))


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


def read_inbox(path: str | os.PathLike[str], *, agent: str | None = None) -> Inbox:
    """Read an inbox file; ``agent`` defaults to the file name without ``.json``."""
    name = agent if agent is not None else Path(path).name.removesuffix(".json")
    return parse_inbox(read_bytes(path, limit=INBOX_MAX), agent=name, path=display_path(path))


def list_inbox_files(directory: str | os.PathLike[str]) -> tuple[list[Path], list[ReadError]]:
    """The inbox files in an ``inboxes/`` directory (sorted), and apart the names that are not
    UTF-8. Only ``*.json`` entries count: locks (``<name>.json.lock/`` directories, zero-byte
    ``<name>.lock`` files) and dotfiles are skipped. A missing directory has no inboxes."""
    try:
        entries, undecodable = listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return [], []
    except OSError as exc:
        raise ReadError(display_path(directory), None, "a readable directory", str(exc)) from None
    files = [e for e in entries if e.suffix == ".json" and not e.name.startswith(".")]
    return files, [UndecodableName(e) for e in undecodable if e.name.endswith(".json")]


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

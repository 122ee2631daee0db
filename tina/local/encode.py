"""Serialise models to the bytes tina-session writes (pure; no file system access)."""

from __future__ import annotations

import json
from typing import Any

from ._convert import unstructure
from .models import JournalEntry, SessionLookup, SupervisorState

__all__ = [
    "encode_journal_entry",
    "encode_session_lookup",
    "encode_supervisor_state",
    "supervisor_state_document",
]


_JOURNAL_KEYS = ("id", "type", "source", "summary", "detail", "phase", "feature", "recorded_at")


def _pretty(value: object) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode()


def _with_alias(doc: dict[str, Any], key: str, alias: str, *, before: bool) -> dict[str, Any]:
    """``doc`` with ``alias`` holding ``doc[key]``'s value, right before or after ``key``."""
    out: dict[str, Any] = {}
    for name, value in doc.items():
        if name == key and before:
            out[alias] = value
        out[name] = value
        if name == key and not before:
            out[alias] = value
    return out


def supervisor_state_document(state: SupervisorState) -> dict[str, Any]:
    """The JSON document of a state file: ``None`` fields omitted, phases in numeric order.

    The spec path is written twice, as ``design_doc`` (what the original tool at 145b20a
    requires) and ``spec_doc`` (what its later versions and tina read).
    """
    doc: dict[str, Any] = unstructure(state)
    return _with_alias(doc, "spec_doc", "design_doc", before=True)


def encode_supervisor_state(state: SupervisorState) -> bytes:
    """Pretty JSON (2-space indent) of :func:`supervisor_state_document`, ending in a newline."""
    return _pretty(supervisor_state_document(state))


def encode_session_lookup(lookup: SessionLookup) -> bytes:
    """Pretty JSON; the worktree is written as ``cwd`` (the original's key) and
    ``worktree_path`` (its later versions' and tina's)."""
    doc: dict[str, Any] = unstructure(lookup)
    return _pretty(_with_alias(doc, "worktree_path", "cwd", before=True))


def encode_journal_entry(entry: JournalEntry) -> bytes:
    """One compact JSON line ending in ``\\n``. ``detail`` and ``phase`` are written as ``null``
    when absent, so every line has the same keys."""
    doc = unstructure(entry)
    ordered = {key: doc.get(key) for key in _JOURNAL_KEYS}
    line = json.dumps(ordered, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (line + "\n").encode()

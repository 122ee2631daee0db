"""Serialise models to the bytes tina-session writes (pure; no file system access)."""

from __future__ import annotations

import json

from ._convert import unstructure
from .models import JournalEntry, SessionLookup, SupervisorState

__all__ = ["encode_journal_entry", "encode_session_lookup", "encode_supervisor_state"]


_JOURNAL_KEYS = ("id", "type", "source", "summary", "detail", "phase", "feature", "recorded_at")


def _pretty(value: object) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode()


def encode_supervisor_state(state: SupervisorState) -> bytes:
    """Pretty JSON; ``None`` fields are omitted, phases are written in numeric order."""
    return _pretty(unstructure(state))


def encode_session_lookup(lookup: SessionLookup) -> bytes:
    return _pretty(unstructure(lookup))


def encode_journal_entry(entry: JournalEntry) -> bytes:
    """One compact JSON line ending in ``\\n``. ``detail`` and ``phase`` are written as ``null``
    when absent, so every line has the same keys."""
    doc = unstructure(entry)
    ordered = {key: doc.get(key) for key in _JOURNAL_KEYS}
    line = json.dumps(ordered, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (line + "\n").encode()

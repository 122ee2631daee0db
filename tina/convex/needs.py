"""The `needs` wire: the laptop's needs and Claude Code sessions, checked before they are sent.

`sync_laptop_args(items, sessions)` is `needs:syncLaptop`'s arguments (camelCase, absent
optionals omitted), after the same checks Convex makes (convex/model/validators.ts
`laptopNeed`, `sessionSnapshot`, and the function's caps): a value Convex would refuse raises
`InvalidNeeds` naming the field, e.g. `items[3].title: at most 200 characters`, and nothing is
sent. Lengths count UTF-16 code units, as Convex does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import attrs

from tina.messages import (
    LAPTOP_NEED_KINDS,
    STALL_CAUSES,
    HookLiveness,
    LaptopNeed,
    SessionSnapshot,
)

from .wire import make_converter

_conv = make_converter()

ITEMS_MAX = 200
SESSIONS_MAX = 100
HOOK_LIVENESS: tuple[HookLiveness, ...] = (
    "working",
    "idle",
    "waiting",
    "rate_limited",
    "failed",
    "ended",
)

# Text caps by field (UTF-16 units, as convex/model/needs.ts counts them).
NEED_TEXT = {
    "key": 200,
    "title": 200,
    "detail": 4096,
    "toolName": 128,
    "toolInput": 16_384,
    "planContent": 65_536,
    "errorKind": 64,
    "retryHint": 200,
}
SESSION_TEXT = {"reason": 200, "cwd": 1024, "lastEvent": 64}
# Words that may not be empty (the others may be, or are patterns).
NON_EMPTY = frozenset({"key", "title", "toolName", "errorKind", "lastEvent", "cwd"})
# Names and ids: the patterns of convex/model/checks.ts and needs.ts (and never "..").
TEAM_DIR_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
AGENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")
FEATURE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
SESSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
REQUEST_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
PATTERNS = {
    "teamDir": (TEAM_DIR_RE, "a team directory name"),
    "agentName": (AGENT_RE, "an agent name"),
    "featureName": (FEATURE_RE, "a feature name"),
    "sessionId": (SESSION_RE, "a Claude Code session id"),
    "requestId": (REQUEST_RE, "a request id"),
}
TIME_MAX = 7_258_118_400_000.0  # 2200-01-01
TIMES = frozenset({"since", "retryAt", "firstAt", "lastAt"})
INTEGERS = {"openTasks": 100_000.0, "events": 1e12}
# A laptop's items carry at most this much text in all (UTF-8), as Convex stores them.
ITEMS_MAX_BYTES = 4 * 1024 * 1024
REQUIRED_NEED = ("key", "kind", "since", "title")
REQUIRED_SESSION = ("sessionId", "firstAt", "lastAt", "lastEvent", "events")
_LINE_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def fits(value: str | None, pattern: re.Pattern[str]) -> str | None:
    """`value` if it matches `pattern` (and has no ".."), else None."""
    if value is None or not pattern.fullmatch(value) or ".." in value:
        return None
    return value


class InvalidNeeds(ValueError):
    """An item or session Convex would refuse; the message names the field."""


@attrs.frozen(kw_only=True)
class SyncLaptopResult:
    opened: float
    updated: float
    resolved: float


def _units(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _check_doc(
    where: str, doc: dict[str, Any], caps: dict[str, int], required: tuple[str, ...]
) -> None:
    for name in required:
        if name not in doc:
            raise InvalidNeeds(f"{where}.{name}: required")
    for name, value in doc.items():
        field = f"{where}.{name}"
        if isinstance(value, str):
            if name in PATTERNS:
                pattern, expected = PATTERNS[name]
                if fits(value, pattern) is None:
                    raise InvalidNeeds(f"{field}: expected {expected}, got {value[:60]!r}")
                continue
            limit = caps.get(name)
            if limit is not None and _units(value) > limit:
                raise InvalidNeeds(f"{field}: at most {limit} characters")
            if name in NON_EMPTY and not value.strip():
                raise InvalidNeeds(f"{field}: empty")
            if "\x00" in value or (name == "key" and _LINE_CONTROL.search(value)):
                raise InvalidNeeds(f"{field}: control characters")
        elif isinstance(value, bool):
            continue
        elif isinstance(value, float | int):
            if not math.isfinite(value) or value < 0:
                raise InvalidNeeds(f"{field}: expected a finite number ≥ 0, got {value!r}")
            if name in TIMES and value > TIME_MAX:
                raise InvalidNeeds(f"{field}: a time before 2200, got {value!r}")
            if name in INTEGERS and (value != int(value) or value > INTEGERS[name]):
                raise InvalidNeeds(f"{field}: a whole number up to {INTEGERS[name]:g}")
        else:
            raise InvalidNeeds(f"{field}: unexpected {type(value).__name__}")


def utf8_bytes(doc: dict[str, Any]) -> int:
    """The UTF-8 bytes of a wire item's texts, as Convex adds them up."""
    return sum(len(v.encode("utf-8", "surrogatepass")) for v in doc.values() if isinstance(v, str))


def sync_laptop_args(
    items: Sequence[LaptopNeed], sessions: Sequence[SessionSnapshot]
) -> dict[str, Any]:
    """`needs:syncLaptop`'s `items` and `sessions`, checked; `InvalidNeeds` otherwise."""
    if len(items) > ITEMS_MAX:
        raise InvalidNeeds(f"items: at most {ITEMS_MAX}, got {len(items)}")
    if len(sessions) > SESSIONS_MAX:
        raise InvalidNeeds(f"sessions: at most {SESSIONS_MAX}, got {len(sessions)}")
    wire_items: list[dict[str, Any]] = []
    keys: set[str] = set()
    for i, item in enumerate(items):
        doc: dict[str, Any] = _conv.unstructure(item)
        where = f"items[{i}]"
        _check_doc(where, doc, NEED_TEXT, REQUIRED_NEED)
        if doc["kind"] not in LAPTOP_NEED_KINDS:
            raise InvalidNeeds(f"{where}.kind: expected one of {', '.join(LAPTOP_NEED_KINDS)}")
        if "cause" in doc and doc["cause"] not in STALL_CAUSES:
            raise InvalidNeeds(f"{where}.cause: expected one of {', '.join(STALL_CAUSES)}")
        if doc["key"] in keys:
            raise InvalidNeeds(f"{where}.key: {doc['key'][:80]!r} twice")
        keys.add(doc["key"])
        wire_items.append(doc)
    total = sum(utf8_bytes(doc) for doc in wire_items)
    if total > ITEMS_MAX_BYTES:
        raise InvalidNeeds(f"items: at most {ITEMS_MAX_BYTES} bytes of text in all, got {total}")
    wire_sessions: list[dict[str, Any]] = []
    ids: set[str] = set()
    for i, session in enumerate(sessions):
        doc = _conv.unstructure(session)
        where = f"sessions[{i}]"
        _check_doc(where, doc, SESSION_TEXT, REQUIRED_SESSION)
        if "liveness" in doc and doc["liveness"] not in HOOK_LIVENESS:
            raise InvalidNeeds(f"{where}.liveness: expected one of {', '.join(HOOK_LIVENESS)}")
        if doc["sessionId"] in ids:
            raise InvalidNeeds(f"{where}.sessionId: {doc['sessionId'][:80]!r} twice")
        ids.add(doc["sessionId"])
        wire_sessions.append(doc)
    return {"items": wire_items, "sessions": wire_sessions}


def result_from_wire(doc: Any) -> SyncLaptopResult:
    out: SyncLaptopResult = _conv.structure(doc, SyncLaptopResult)
    return out

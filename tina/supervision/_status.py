"""Status snapshots of supervised children, for the debug view and `daemon status`."""

from __future__ import annotations

import enum
from typing import Any

import attrs


class ChildState(enum.Enum):
    STARTING = "starting"
    RUNNING = "running"
    BACKING_OFF = "backing_off"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"  # ended by a crash and will not be restarted


@attrs.frozen(kw_only=True)
class ChildStatus:
    id: str
    state: ChildState
    restarts: int
    since: float  # wall-clock seconds since the epoch
    last_error: str | None = None
    detail: dict[str, Any] = attrs.field(factory=dict)  # actor-reported, e.g. queue depths
    children: tuple[ChildStatus, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state.value,
            "restarts": self.restarts,
            "since": self.since,
            "last_error": self.last_error,
            "detail": self.detail,
            "children": [c.to_json() for c in self.children],
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ChildStatus:
        return cls(
            id=str(doc["id"]),
            state=ChildState(doc["state"]),
            restarts=int(doc["restarts"]),
            since=float(doc["since"]),
            last_error=doc.get("last_error"),
            detail=dict(doc.get("detail") or {}),
            children=tuple(cls.from_json(c) for c in doc.get("children", [])),
        )


def describe_error(exc: BaseException) -> str:
    """One line for an exception, unwrapping single-member groups."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    text = str(exc)
    line = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return line if len(line) <= 300 else line[:297] + "..."

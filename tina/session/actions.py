"""Actions: what the orchestrator should do next, printed as JSON tagged by ``"action"``.

The shapes follow the original tool (``{"action": "spawn_planner", "phase": "2"}``...);
optional keys are left out when empty.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

__all__ = [
    "Action",
    "Complete",
    "ConsensusDisagreement",
    "Error",
    "Finalize",
    "Remediate",
    "ReusePlan",
    "SpawnExecutor",
    "SpawnPlanner",
    "SpawnReviewer",
    "SpawnValidator",
    "Stopped",
    "Wait",
    "action_to_dict",
]


@attrs.frozen(kw_only=True)
class SpawnValidator:
    name: ClassVar[str] = "spawn_validator"
    model: str | None = None


@attrs.frozen(kw_only=True)
class SpawnPlanner:
    name: ClassVar[str] = "spawn_planner"
    phase: str
    issues: tuple[str, ...] = ()
    model: str | None = None


@attrs.frozen(kw_only=True)
class SpawnExecutor:
    name: ClassVar[str] = "spawn_executor"
    phase: str
    plan_path: str
    model: str | None = None


@attrs.frozen(kw_only=True)
class SpawnReviewer:
    name: ClassVar[str] = "spawn_reviewer"
    phase: str
    git_range: str
    model: str | None = None


@attrs.frozen(kw_only=True)
class ReusePlan:
    name: ClassVar[str] = "reuse_plan"
    phase: str
    plan_path: str


@attrs.frozen(kw_only=True)
class Finalize:
    name: ClassVar[str] = "finalize"


@attrs.frozen(kw_only=True)
class Complete:
    name: ClassVar[str] = "complete"


@attrs.frozen(kw_only=True)
class Stopped:
    name: ClassVar[str] = "stopped"
    reason: str


@attrs.frozen(kw_only=True)
class Error:
    name: ClassVar[str] = "error"
    phase: str
    reason: str
    retry_count: int
    can_retry: bool


@attrs.frozen(kw_only=True)
class Remediate:
    name: ClassVar[str] = "remediate"
    phase: str
    remediation_phase: str
    issues: tuple[str, ...]


@attrs.frozen(kw_only=True)
class ConsensusDisagreement:
    name: ClassVar[str] = "consensus_disagreement"
    phase: str
    verdict_1: str
    verdict_2: str
    issues: tuple[str, ...]


@attrs.frozen(kw_only=True)
class Wait:
    name: ClassVar[str] = "wait"
    reason: str


Action = (
    SpawnValidator
    | SpawnPlanner
    | SpawnExecutor
    | SpawnReviewer
    | ReusePlan
    | Finalize
    | Complete
    | Stopped
    | Error
    | Remediate
    | ConsensusDisagreement
    | Wait
)

# Keys always written, even when empty (the original always wrote these).
_ALWAYS = frozenset({"issues"})


def action_to_dict(action: Action) -> dict[str, Any]:
    """``{"action": <name>, ...fields}``; ``None`` and empty optional lists are left out."""
    out: dict[str, Any] = {"action": action.name}
    always = _ALWAYS if isinstance(action, Remediate | ConsensusDisagreement) else frozenset()
    for field in attrs.fields(type(action)):
        value = getattr(action, field.name)
        if value is None or (value == () and field.name not in always):
            continue
        out[field.name] = list(value) if isinstance(value, tuple) else value
    return out

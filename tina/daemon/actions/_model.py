"""Typed actions and the pure argv builder. No I/O here.

The listener turns each `pendingActions` document into an `InboundAction` (validated again on
the laptop: never trust the wire) or, when it does not validate, a `MalformedAction` that the
dispatcher completes as failed with the reason. Either crosses to the dispatcher; no dicts do.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, Literal

import attrs

from tina.local.names import InvalidName, validate_feature, validate_phase

ActionType = Literal["approve_plan", "reject_plan", "pause", "resume", "retry", "send_message"]
ACTION_TYPES: tuple[ActionType, ...] = (
    "approve_plan",
    "reject_plan",
    "pause",
    "resume",
    "retry",
    "send_message",
)

# tina-session `orchestrate advance --event` for each state-machine action.
EVENT_FOR: dict[str, str] = {
    "approve_plan": "plan_approved",
    "reject_plan": "plan_rejected",
    "pause": "pause",
    "resume": "resume",
    "retry": "retry",
}

AGENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")
TEAM_DIR_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# C0 controls except TAB and LF, DEL, and C1 (U+0080-U+009F): the same rule as
# `tina.session.tmux.check_text`, which checks again right before typing.
CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
MAX_TEXT = 4000
MAX_OUTPUT = 8000


MAX_MESSAGE = 500


class ActionRejected(Exception):
    """The action cannot be run as given; `code` goes into the result.

    The message may quote what was sent; it is cut to `MAX_MESSAGE` characters, so a hostile
    document cannot make the result (or the log line) huge.
    """

    def __init__(self, code: str, message: str) -> None:
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 1] + "…"
        super().__init__(message)
        self.code = code
        self.message = message


@attrs.frozen(kw_only=True)
class InboundAction:
    """A pending operator action, validated: what the dispatcher claims and runs.

    Build it with `from_wire`. `feature` and `phase` are set for the state-machine actions, and
    for `send_message` when the team belongs to a phase of an orchestration.
    """

    id: str
    type: ActionType
    feature: str | None = None
    phase: str | None = None
    feedback: str | None = None
    team_dir: str | None = None
    agent_name: str | None = None
    text: str | None = None
    expires_at: float = 0.0  # ms since the epoch; 0 when the document has none

    @classmethod
    def from_wire(cls, doc: Any) -> InboundAction:
        """Validate an `inboundActions` document; raises `ActionRejected` and nothing else."""
        return _parse(doc)

    def expired(self, now_ms: float) -> bool:
        return 0 < self.expires_at <= now_ms


@attrs.frozen(kw_only=True)
class MalformedAction:
    """A pending action whose document did not validate. It is still claimed (so no other
    daemon runs it) and completed as failed with this reason."""

    id: str
    code: str
    message: str

    def result(self) -> ActionResult:
        return ActionResult(ok=False, code=self.code, message=self.message)


def action_id_of(doc: Any) -> str | None:
    """The document's `_id`, if it has a usable one (only then can it be reported)."""
    action_id = doc.get("_id") if isinstance(doc, dict) else None
    if isinstance(action_id, str) and 0 < len(action_id) <= 128:
        return action_id
    return None


@attrs.frozen(kw_only=True)
class ActionResult:
    ok: bool
    code: str
    message: str
    exit_code: int | None = None
    output: str | None = None
    duration_ms: float | None = None

    def to_wire(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"ok": self.ok, "code": self.code, "message": self.message[:4000]}
        if self.exit_code is not None:
            doc["exitCode"] = float(self.exit_code)
        if self.output is not None:
            doc["output"] = self.output
        if self.duration_ms is not None:
            doc["durationMs"] = float(self.duration_ms)
        return doc


def _text(value: Any, field: str, *, required: bool) -> str | None:
    if value is None:
        if required:
            raise ActionRejected("payload_missing_field", f"payload.{field} is required")
        return None
    if not isinstance(value, str):
        raise ActionRejected("payload_invalid", f"payload.{field}: expected a string")
    if not value.strip() or len(value) > MAX_TEXT or CONTROL_RE.search(value):
        raise ActionRejected(
            "payload_invalid",
            f"payload.{field}: expected 1-{MAX_TEXT} characters without control characters "
            "(tabs and line feeds are fine)",
        )
    return value


def parse_action(doc: Any) -> InboundAction:
    """`InboundAction.from_wire`."""
    return _parse(doc)


def _optional_name(
    payload: dict[str, Any], field: str, validate: Callable[[str], str]
) -> str | None:
    value = payload.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ActionRejected("payload_invalid", f"payload.{field}: expected a string")
    return validate(value)


def _parse(doc: Any) -> InboundAction:
    if not isinstance(doc, dict):
        raise ActionRejected("payload_invalid", "action document: expected an object")
    action_id = action_id_of(doc)
    kind = doc.get("type")
    payload = doc.get("payload")
    if action_id is None:
        raise ActionRejected("payload_invalid", "action document: missing or invalid _id")
    if kind not in ACTION_TYPES:
        raise ActionRejected("unknown_action_type", f"unknown action type {kind!r}")
    if not isinstance(payload, dict):
        raise ActionRejected("payload_invalid", "payload: expected an object")
    expires = doc.get("expiresAt", 0.0)
    try:
        expires_at = float(expires) if isinstance(expires, int | float) else 0.0
    except OverflowError:
        expires_at = math.inf
    if not math.isfinite(expires_at):
        raise ActionRejected(
            "payload_invalid", "expiresAt: expected a time in milliseconds since the epoch"
        )
    try:
        if kind == "send_message":
            team_dir = payload.get("teamDir")
            agent = payload.get("agentName")
            if (
                not isinstance(team_dir, str)
                or not TEAM_DIR_RE.fullmatch(team_dir)
                or ".." in team_dir
            ):
                raise ActionRejected(
                    "payload_invalid", "payload.teamDir: expected a team directory name"
                )
            if not isinstance(agent, str) or not AGENT_RE.fullmatch(agent):
                raise ActionRejected("payload_invalid", "payload.agentName: expected an agent name")
            return InboundAction(
                id=action_id,
                type="send_message",
                feature=_optional_name(payload, "feature", validate_feature),
                phase=_optional_name(payload, "phase", validate_phase),
                team_dir=team_dir,
                agent_name=agent,
                text=_text(payload.get("text"), "text", required=True),
                expires_at=expires_at,
            )
        feature = payload.get("feature")
        phase = payload.get("phase")
        if not isinstance(feature, str):
            raise ActionRejected("payload_missing_field", "payload.feature is required")
        if not isinstance(phase, str):
            raise ActionRejected("payload_missing_field", "payload.phase is required")
        return InboundAction(
            id=action_id,
            type=kind,
            feature=validate_feature(feature),
            phase=validate_phase(phase),
            feedback=_text(payload.get("feedback"), "feedback", required=kind == "reject_plan"),
            expires_at=expires_at,
        )
    except InvalidName as exc:
        raise ActionRejected("payload_invalid", str(exc)) from None


def build_cli_args(action: InboundAction, tina_session: str = "tina-session") -> list[str]:
    """The exact tina-session argv for a state-machine action.

    Every value is glued to its flag (`--issues=<text>`): free text that starts with `-`
    (`-h`, `--event=retry`, `--`) is then a value, never an option.
    """
    if action.type not in EVENT_FOR or action.feature is None or action.phase is None:
        raise ActionRejected("unknown_action_type", f"{action.type} is not a tina-session action")
    argv = [
        tina_session,
        "orchestrate",
        "advance",
        f"--feature={action.feature}",
        f"--phase={action.phase}",
        f"--event={EVENT_FOR[action.type]}",
    ]
    if action.type == "reject_plan" and action.feedback is not None:
        argv.append(f"--issues={action.feedback}")
    return argv


def truncate(text: str, limit: int = MAX_OUTPUT) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 40] + f"\n... [{len(text) - limit + 40} characters cut]"

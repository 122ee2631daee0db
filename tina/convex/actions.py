"""The `inboundActions` wire: pending-action documents in, typed actions out, results back.

- `action_from_wire(doc)` validates one `pendingActions` document (again, on the laptop: never
  trust the wire) with the rules beside the action types (`tina.messages`, `tina.local.names`) into an
  `InboundAction`, or raises `ActionRejected` with a readable reason and nothing else;
- `PendingActions` is the live subscription, typed: each update is the list of pending actions,
  each an `InboundAction` or, when its document does not validate, a `MalformedAction` (logged
  as `action.malformed` when first seen) that the dispatcher completes as failed. A document
  without a usable `_id` cannot be reported: it is logged (`action.malformed`) and dropped; an
  update that is not a list is logged (`actions.malformed_update`) and skipped;
- `result_to_wire(result)` is an `ActionResult` as `completeAction` takes it (with `via` and
  `messageKey` when a message was delivered).
"""

from __future__ import annotations

import math
import re
import typing
from typing import Any, Protocol

import structlog

from tina.local.names import InvalidName, validate_feature, validate_phase
from tina.messages import (
    ACTION_TYPES,
    ActionMessage,
    ActionRejected,
    ActionResult,
    InboundAction,
    MalformedAction,
    MessageRoute,
    check_agent_name,
    check_optional_name,
    check_team_dir,
    check_text,
)

log = structlog.get_logger("tina.actions")

MAX_ID = 128
MAX_RESULT_MESSAGE = 4000
MESSAGE_ROUTES: tuple[MessageRoute, ...] = typing.get_args(MessageRoute)
PLAN_HASH_RE = re.compile(r"[0-9a-f]{64}")


def route_from_wire(value: Any, label: str) -> MessageRoute | None:
    """`payload.via`: absent, or one of the routes (`tina.messages.MessageRoute`)."""
    if value is None:
        return None
    for route in MESSAGE_ROUTES:
        if value == route:
            return route
    raise ActionRejected(
        "payload_invalid", f"{label}: expected one of {', '.join(MESSAGE_ROUTES)}, got {value!r}"
    )


def plan_hash_from_wire(value: Any, label: str) -> str | None:
    """`payload.planHash`: absent, or a SHA-256 as 64 lower-case hex digits."""
    if value is None:
        return None
    if not isinstance(value, str) or not PLAN_HASH_RE.fullmatch(value):
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:79] + "…"
        raise ActionRejected(
            "payload_invalid",
            f"{label}: expected a SHA-256 as 64 lower-case hex digits, got {shown}",
        )
    return value


def action_id_from_wire(doc: Any) -> str | None:
    """The document's `_id`, if it has a usable one (only then can it be reported)."""
    action_id = doc.get("_id") if isinstance(doc, dict) else None
    if isinstance(action_id, str) and 0 < len(action_id) <= MAX_ID:
        return action_id
    return None


def action_from_wire(doc: Any) -> InboundAction:
    """Validate a `pendingActions` document; raises `ActionRejected` and nothing else."""
    if not isinstance(doc, dict):
        raise ActionRejected("payload_invalid", "action document: expected an object")
    action_id = action_id_from_wire(doc)
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
            team_dir = check_team_dir(payload.get("teamDir"), "payload.teamDir")
            agent = check_agent_name(payload.get("agentName"), "payload.agentName")
            return InboundAction(
                id=action_id,
                type="send_message",
                feature=check_optional_name(
                    payload.get("feature"), "payload.feature", validate_feature
                ),
                phase=check_optional_name(payload.get("phase"), "payload.phase", validate_phase),
                team_dir=team_dir,
                agent_name=agent,
                text=check_text(payload.get("text"), "payload.text", required=True),
                via=route_from_wire(payload.get("via"), "payload.via"),
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
            feedback=check_text(
                payload.get("feedback"), "payload.feedback", required=kind == "reject_plan"
            ),
            plan_hash=plan_hash_from_wire(payload.get("planHash"), "payload.planHash")
            if kind in ("approve_plan", "reject_plan")
            else None,
            expires_at=expires_at,
        )
    except InvalidName as exc:
        raise ActionRejected("payload_invalid", str(exc)) from None


def _message(doc: Any, action_id: str) -> ActionMessage:
    """One pending document as what the dispatcher takes; never raises."""
    try:
        return action_from_wire(doc)
    except ActionRejected as exc:
        log.warning("action.malformed", action_id=action_id, code=exc.code, error=exc.message)
        return MalformedAction(id=action_id, code=exc.code, message=exc.message)
    except Exception as exc:  # a bug in validation must not stop the listener either
        log.exception("action.malformed", action_id=action_id, code="payload_invalid")
        message = f"the laptop could not read this action ({type(exc).__name__})"
        return MalformedAction(id=action_id, code="payload_invalid", message=message)


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class RawUpdates(Protocol):
    """A live query's raw values (`tina.convex.Subscription`, or a fake's)."""

    async def next(self) -> Any: ...


class PendingActions:
    """The `pendingActions` subscription, typed.

    `await next()` returns the next list of pending actions (the whole list, on every change),
    in the documents' order; errors of the query (`ConvexClientError`, `ConvexClientClosed`)
    come through as the subscription raises them. Each document is validated once while it is
    pending: a re-delivered one is the same message again, and a malformed one is logged once.
    """

    def __init__(self, updates: RawUpdates) -> None:
        self._updates = updates
        self._known: dict[str, ActionMessage] = {}

    async def next(self) -> list[ActionMessage]:
        while True:
            docs = await self._updates.next()
            if isinstance(docs, list):
                return self._decode(docs)
            log.warning("actions.malformed_update", value=_short(docs))

    def _decode(self, docs: list[Any]) -> list[ActionMessage]:
        messages: list[ActionMessage] = []
        known: dict[str, ActionMessage] = {}
        for doc in docs:
            action_id = action_id_from_wire(doc)
            if action_id is None:
                log.warning(
                    "action.malformed",
                    code="payload_invalid",
                    error="an action document without a usable _id (cannot be reported)",
                    document=_short(doc),
                )
                continue
            message = known.get(action_id) or self._known.get(action_id)
            if message is None:
                message = _message(doc, action_id)
            known[action_id] = message
            messages.append(message)
        self._known = known  # only what is still pending
        return messages


def result_to_wire(result: ActionResult) -> dict[str, Any]:
    """`completeAction`'s `result`: numbers as float64, the message cut to 4,000 characters,
    absent optionals omitted."""
    doc: dict[str, Any] = {
        "ok": result.ok,
        "code": result.code,
        "message": result.message[:MAX_RESULT_MESSAGE],
    }
    if result.exit_code is not None:
        doc["exitCode"] = float(result.exit_code)
    if result.output is not None:
        doc["output"] = result.output
    if result.duration_ms is not None:
        doc["durationMs"] = float(result.duration_ms)
    if result.via is not None:
        doc["via"] = result.via
    if result.message_key is not None:
        doc["messageKey"] = result.message_key
    return doc

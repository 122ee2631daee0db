"""Structured messages carried as JSON text in Claude Code inbox entries.

:func:`classify` never raises: text that is not a JSON object with a string ``type`` is plain
text, an unknown ``type`` is kept as such, and a field of the wrong type reads as absent.
"""

from __future__ import annotations

import json
from typing import Any

from .models import (
    IdleNotification,
    MessageBody,
    MessageKind,
    PermissionRequest,
    PermissionResponse,
    PlanApprovalRequest,
    PlanApprovalResponse,
    ShutdownRequest,
    ShutdownResponse,
    TaskAssignment,
)

__all__ = ["classify"]

# Structured text is short; a longer "JSON" text is not decoded (it stays plain text).
_MAX_STRUCTURED = 1024 * 1024


def _text(doc: dict[str, Any], *keys: str) -> str | None:
    """The first of ``keys`` holding a string (a number is read as its text)."""
    for key in keys:
        value = doc.get(key)
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


def _flag(doc: dict[str, Any], *keys: str) -> bool | None:
    for key in keys:
        value = doc.get(key)
        if isinstance(value, bool):
            return value
    return None


def _list(doc: dict[str, Any], *keys: str) -> tuple[Any, ...]:
    for key in keys:
        value = doc.get(key)
        if isinstance(value, list):
            return tuple(value)
    return ()


def _shutdown_response(doc: dict[str, Any], type_: str) -> ShutdownResponse:
    approved = _flag(doc, "approve", "approved")
    if type_ == "shutdown_approved":
        approved = True
    elif type_ == "shutdown_rejected":
        approved = False
    return ShutdownResponse(
        request_id=_text(doc, "requestId", "request_id"),
        approved=approved,
        reason=_text(doc, "reason", "content"),
        pane_id=_text(doc, "paneId"),
        backend_type=_text(doc, "backendType"),
    )


def _body(type_: str, doc: dict[str, Any]) -> tuple[MessageKind, MessageBody | None]:
    match type_:
        case "idle_notification":
            return MessageKind.IDLE_NOTIFICATION, IdleNotification(
                idle_reason=_text(doc, "idleReason"),
                summary=_text(doc, "summary"),
                completed_status=_text(doc, "completedStatus"),
            )
        case "task_assignment":
            return MessageKind.TASK_ASSIGNMENT, TaskAssignment(
                task_id=_text(doc, "taskId"),
                subject=_text(doc, "subject"),
                description=_text(doc, "description"),
                assigned_by=_text(doc, "assignedBy"),
            )
        case "shutdown_request":
            return MessageKind.SHUTDOWN_REQUEST, ShutdownRequest(
                request_id=_text(doc, "requestId", "request_id"),
                reason=_text(doc, "reason", "content"),
            )
        case "shutdown_approved" | "shutdown_rejected" | "shutdown_response":
            return MessageKind.SHUTDOWN_RESPONSE, _shutdown_response(doc, type_)
        case "plan_approval_request":
            return MessageKind.PLAN_APPROVAL_REQUEST, PlanApprovalRequest(
                request_id=_text(doc, "requestId", "request_id"),
                plan_content=_text(doc, "planContent", "plan_content"),
            )
        case "plan_approval_response":
            return MessageKind.PLAN_APPROVAL_RESPONSE, PlanApprovalResponse(
                request_id=_text(doc, "requestId", "request_id"),
                approved=_flag(doc, "approve", "approved"),
                feedback=_text(doc, "content", "feedback"),
            )
        case "permission_request":
            return MessageKind.PERMISSION_REQUEST, PermissionRequest(
                request_id=_text(doc, "request_id", "requestId"),
                agent=_text(doc, "agent_id", "workerName", "workerId"),
                tool_name=_text(doc, "tool_name", "toolName"),
                tool_use_id=_text(doc, "tool_use_id", "toolUseId"),
                description=_text(doc, "description"),
                input=doc.get("input"),
                permission_suggestions=_list(
                    doc, "permission_suggestions", "permissionSuggestions"
                ),
            )
        case "permission_response":
            return MessageKind.PERMISSION_RESPONSE, PermissionResponse(
                request_id=_text(doc, "request_id", "requestId"),
                subtype=_text(doc, "subtype"),
                response=doc.get("response"),
                error=_text(doc, "error"),
            )
    return MessageKind.UNKNOWN, None


def classify(text: str) -> tuple[MessageKind, str | None, MessageBody | None]:
    """The kind of an inbox entry's ``text``, its raw ``type`` and its structured fields."""
    stripped = text.strip()
    if not stripped.startswith("{") or len(stripped) > _MAX_STRUCTURED:
        return MessageKind.TEXT, None, None
    try:
        doc = json.loads(stripped)
    except (ValueError, RecursionError):
        return MessageKind.TEXT, None, None
    if not isinstance(doc, dict) or not isinstance(doc.get("type"), str):
        return MessageKind.TEXT, None, None
    type_: str = doc["type"]
    kind, body = _body(type_, doc)
    return kind, type_, body

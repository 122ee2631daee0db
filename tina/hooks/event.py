"""A Claude Code hook event's input (a JSON object) -> `tina.messages.HookEvent`.

Tolerant: a field of the wrong type reads as absent, unknown fields are dropped, an unknown
event keeps its name; the only input refused is one with no string `hook_event_name`. Never
raises. Texts are cleaned (NUL removed, a half surrogate pair replaced by U+FFFD) and cut at a
character boundary, so the event can be logged and, later, sent as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from tina.messages import (
    HOOK_FIELD_MAX,
    HOOK_TEXT_MAX,
    HOOK_TOOL_INPUT_MAX,
    PROMPT_SUGGESTIONS_MAX,
    PROMPT_TOOL_INPUT_MAX,
    HookEvent,
)

HOOK_REQUEST = "hook"
"""The control socket's request word: `hook <compact JSON>`."""
PERMISSION_REQUEST = "PermissionRequest"
"""The one event the daemon answers with a decision (when the dashboard gave one in time)."""

# Half a UTF-16 surrogate pair: no UTF-8 encoding.
_LONE_SURROGATE = re.compile(
    "[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]"
)
# The plain text fields, with their cap in bytes of UTF-8.
_TEXT_FIELDS: dict[str, int] = {
    "session_id": HOOK_FIELD_MAX,
    "transcript_path": HOOK_FIELD_MAX,
    "cwd": HOOK_FIELD_MAX,
    "permission_mode": HOOK_FIELD_MAX,
    "agent_id": HOOK_FIELD_MAX,
    "agent_type": HOOK_FIELD_MAX,
    "notification_type": HOOK_FIELD_MAX,
    "message": HOOK_FIELD_MAX,
    "tool_name": HOOK_FIELD_MAX,
    "error": HOOK_FIELD_MAX,
    "error_details": HOOK_FIELD_MAX,
    "source": HOOK_FIELD_MAX,
    "reason": HOOK_FIELD_MAX,
    "model": HOOK_FIELD_MAX,
    "task_id": HOOK_FIELD_MAX,
    "task_subject": HOOK_FIELD_MAX,
    "teammate_name": HOOK_FIELD_MAX,
    "team_name": HOOK_FIELD_MAX,
    "trigger": HOOK_FIELD_MAX,
    "last_assistant_message": HOOK_TEXT_MAX,
}
# Added by `tina hook` from its environment (`tina.hooks.hook.pane_fields`), not Claude Code's.
_TMUX_PANE = re.compile(r"%[0-9]{1,10}")
_ITERM_SESSION = re.compile(r"[A-Za-z0-9-]{1,64}")


def clean_text(text: str, limit: int) -> str:
    """`text` without NULs or half surrogate pairs, cut to at most `limit` bytes of UTF-8 at a
    character boundary."""
    text = _LONE_SURROGATE.sub("\ufffd", text.replace("\x00", ""))
    if len(text) * 4 <= limit:
        return text
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    end = limit
    while end > 0 and data[end] & 0xC0 == 0x80:  # a continuation byte: inside a character
        end -= 1
    return data[:end].decode("utf-8")


def _tool_input(value: Any, limit: int) -> tuple[str | None, bool]:
    """The canonical JSON of `value` cut at `limit` bytes, and whether it was cut."""
    if value is None:
        return None, False
    try:
        text = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError, RecursionError):
        return None, False
    return clean_text(text, limit), len(text.encode("utf-8", "surrogatepass")) > limit


def _suggestions(value: Any) -> str | None:
    """`permission_suggestions` as compact JSON text, keys in Claude Code's order (it is handed
    back as it came); None when not a list, not JSON, or longer than `PROMPT_SUGGESTIONS_MAX`
    bytes (never cut: a cut rule would be a different rule)."""
    if not isinstance(value, list):
        return None
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return None
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:  # half a surrogate pair: it could not go back as it came
        return None
    return text if size <= PROMPT_SUGGESTIONS_MAX else None


def parse_hook_event(doc: Any, *, received_at: float) -> HookEvent | None:
    """The event in `doc` (a hook's decoded input), or None if it is not an object with a
    non-empty string `hook_event_name`. `received_at`: ms since the epoch."""
    try:
        if not isinstance(doc, Mapping):
            return None
        name = doc.get("hook_event_name")
        if not isinstance(name, str) or not name.strip():
            return None
        fields: dict[str, Any] = {
            key: clean_text(value, limit)
            for key, limit in _TEXT_FIELDS.items()
            if isinstance(value := doc.get(key), str)
        }
        pane = doc.get("tina_tmux_pane")
        if isinstance(pane, str) and _TMUX_PANE.fullmatch(pane):
            fields["tmux_pane"] = pane
            socket = doc.get("tina_tmux_socket")
            if isinstance(socket, str) and socket.startswith("/"):
                fields["tmux_socket"] = clean_text(socket, HOOK_FIELD_MAX)
        else:
            iterm = doc.get("tina_iterm_session")
            if isinstance(iterm, str) and _ITERM_SESSION.fullmatch(iterm):
                fields["iterm_session"] = iterm
        event = clean_text(name.strip(), HOOK_FIELD_MAX)
        permission = event == PERMISSION_REQUEST
        tool_input, truncated = _tool_input(
            doc.get("tool_input"), PROMPT_TOOL_INPUT_MAX if permission else HOOK_TOOL_INPUT_MAX
        )
        return HookEvent(
            event=event,
            received_at=received_at,
            tool_input=tool_input,
            tool_input_truncated=truncated,
            permission_suggestions=_suggestions(doc.get("permission_suggestions"))
            if permission
            else None,
            **fields,
        )
    except Exception:  # a hostile mapping; the caller answers "not an event"
        return None


def parse_hook_line(payload: bytes, *, received_at: float) -> HookEvent | None:
    """The event in a `hook` request's JSON (the bytes after `hook `), or None if unreadable."""
    try:
        doc = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    return parse_hook_event(doc, received_at=received_at)

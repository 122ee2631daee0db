"""The rules an action's arguments must follow, and the pure argv builder. No I/O here.

Every action is validated again on the laptop (never trust the wire): `tina.convex.actions`
applies these rules (and `tina.local.names`) to each `pendingActions` document and builds an
`InboundAction`, or a `MalformedAction` when one raises `ActionRejected`. The handlers check
again right before acting.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable
from typing import Any

from tina.daemon.messages import ActionType, InboundAction

ACTION_TYPES: tuple[ActionType, ...] = typing.get_args(ActionType)

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


def check_text(value: Any, label: str, *, required: bool) -> str | None:
    """Free text for a handler (feedback, a message): 1-`MAX_TEXT` characters, no control
    characters but tabs and line feeds. `label` names the value in the message."""
    if value is None:
        if required:
            raise ActionRejected("payload_missing_field", f"{label} is required")
        return None
    if not isinstance(value, str):
        raise ActionRejected("payload_invalid", f"{label}: expected a string")
    if not value.strip() or len(value) > MAX_TEXT or CONTROL_RE.search(value):
        raise ActionRejected(
            "payload_invalid",
            f"{label}: expected 1-{MAX_TEXT} characters without control characters "
            "(tabs and line feeds are fine)",
        )
    return value


def check_team_dir(value: Any, label: str) -> str:
    """A team directory name under `~/.claude/teams` (never a path)."""
    if not isinstance(value, str) or not TEAM_DIR_RE.fullmatch(value) or ".." in value:
        raise ActionRejected("payload_invalid", f"{label}: expected a team directory name")
    return value


def check_agent_name(value: Any, label: str) -> str:
    if not isinstance(value, str) or not AGENT_RE.fullmatch(value):
        raise ActionRejected("payload_invalid", f"{label}: expected an agent name")
    return value


def check_optional_name(value: Any, label: str, validate: Callable[[str], str]) -> str | None:
    """None, or a string that `validate` (`tina.local.names`) accepts; `validate` raises
    `InvalidName` for a string it refuses."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ActionRejected("payload_invalid", f"{label}: expected a string")
    return validate(value)


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

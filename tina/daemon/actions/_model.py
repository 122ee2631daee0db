"""The pure argv builder of the tina-session actions, and output truncation. No I/O here.

The rules an action's arguments follow live with the action types (`tina.messages`):
`tina.convex.actions` applies them to each `pendingActions` document; the handlers check
again right before acting.
"""

from __future__ import annotations

from tina.messages import ActionRejected, InboundAction

# tina-session `orchestrate advance --event` for each state-machine action.
EVENT_FOR: dict[str, str] = {
    "approve_plan": "plan_approved",
    "reject_plan": "plan_rejected",
    "pause": "pause",
    "resume": "resume",
    "retry": "retry",
}

MAX_OUTPUT = 8000


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

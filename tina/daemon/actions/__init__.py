"""Operator actions on the laptop: a fixed handler table, argv only, validated arguments.

`InboundAction.from_wire(doc)` (also `parse_action`) turns a `pendingActions` document into a
typed action or raises `ActionRejected` with a readable reason (the listener then passes a
`MalformedAction`); `build_cli_args` is the pure argv builder for the tina-session actions;
`run_action` executes one with a timeout, captured and truncated output, a fixed environment,
and returns an `ActionResult` for `completeAction`. `send_message` types into a tmux pane only
after proving the pane is the agent's (`tina.session.tmux`).
"""

from ._handlers import HandlerEnv as HandlerEnv
from ._handlers import run_action as run_action
from ._model import ActionRejected as ActionRejected
from ._model import ActionResult as ActionResult
from ._model import InboundAction as InboundAction
from ._model import MalformedAction as MalformedAction
from ._model import action_id_of as action_id_of
from ._model import build_cli_args as build_cli_args
from ._model import parse_action as parse_action

ActionMessage = InboundAction | MalformedAction
"""What the listener sends the dispatcher, one per new pending action."""

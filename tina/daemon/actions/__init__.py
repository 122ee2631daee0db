"""Operator actions on the laptop: a fixed handler table, argv only, validated arguments.

The actions themselves (`InboundAction`, `MalformedAction`, `ActionResult`) are messages
(`tina.messages`, re-exported here); `tina.convex.actions` builds them from the wire with
the rules that live beside them (`check_text` and the other checks raise `ActionRejected` with a readable
reason). `build_cli_args` is the pure argv builder for the tina-session actions; `run_action`
executes one with a timeout, captured and truncated output, a fixed environment, and returns an
`ActionResult`. `send_message` types into a tmux pane only after proving the pane is the
agent's (`tina.session.tmux`).
"""

from tina.messages import ACTION_TYPES as ACTION_TYPES
from tina.messages import ActionMessage as ActionMessage
from tina.messages import ActionRejected as ActionRejected
from tina.messages import ActionResult as ActionResult
from tina.messages import ActionType as ActionType
from tina.messages import InboundAction as InboundAction
from tina.messages import MalformedAction as MalformedAction
from tina.messages import check_agent_name as check_agent_name
from tina.messages import check_optional_name as check_optional_name
from tina.messages import check_team_dir as check_team_dir
from tina.messages import check_text as check_text

from ._handlers import HandlerEnv as HandlerEnv
from ._handlers import run_action as run_action
from ._model import build_cli_args as build_cli_args

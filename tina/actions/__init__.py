"""Operator actions on the laptop: a fixed handler table, argv only, validated arguments.

`parse_action(doc)` turns a claimed action document into a typed `Action` (or an
`ActionRejected` with a readable reason); `build_cli_args` is the pure argv builder for the
tina-session actions; `run_action` executes one with a timeout, captured and truncated
output, a fixed environment, and returns an `ActionResult` for `completeAction`.
"""

from ._handlers import HandlerEnv as HandlerEnv
from ._handlers import run_action as run_action
from ._model import Action as Action
from ._model import ActionRejected as ActionRejected
from ._model import ActionResult as ActionResult
from ._model import build_cli_args as build_cli_args
from ._model import parse_action as parse_action

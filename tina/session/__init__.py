"""tina-session: the orchestration state machine (pure), its files and its CLI."""

from .actions import Action as Action
from .actions import action_to_dict as action_to_dict
from .machine import Event as Event
from .machine import EventDraft as EventDraft
from .machine import EventKind as EventKind
from .machine import Transition as Transition
from .machine import TransitionError as TransitionError
from .machine import apply as apply
from .machine import next_action as next_action

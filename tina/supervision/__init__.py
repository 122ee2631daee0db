"""Supervision trees on trio, in OTP's words. Knows trio, attrs and structlog, nothing of tina."""

from ._faults import inject_fault as inject_fault
from ._faults import parse_faults as parse_faults
from ._spec import Backoff as Backoff
from ._spec import ChildRun as ChildRun
from ._spec import ChildSpec as ChildSpec
from ._spec import Intensity as Intensity
from ._spec import Restart as Restart
from ._spec import TooManyRestarts as TooManyRestarts
from ._status import ChildState as ChildState
from ._status import ChildStatus as ChildStatus
from ._status import describe_error as describe_error
from ._supervisor import DynamicSupervisor as DynamicSupervisor
from ._supervisor import Supervisor as Supervisor

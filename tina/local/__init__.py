"""Pure readers of the local files tina and Claude Code write: bytes -> attrs models.

Nothing here uses trio; the ``read_*`` file helpers are plain blocking calls. The writers of
Claude Code inboxes, ``append_inbox_message`` and ``mark_inbox_read``, take Claude Code's lock.
"""

from ._inbox_write import INBOX_LOCK_STALE as INBOX_LOCK_STALE
from ._inbox_write import INBOX_LOCK_TIMEOUT as INBOX_LOCK_TIMEOUT
from ._inbox_write import InboxWriteCode as InboxWriteCode
from ._inbox_write import InboxWriteError as InboxWriteError
from ._inbox_write import append_inbox_message as append_inbox_message
from ._inbox_write import inbox_timestamp as inbox_timestamp
from ._inbox_write import mark_inbox_read as mark_inbox_read
from .encode import encode_journal_entry as encode_journal_entry
from .encode import encode_session_lookup as encode_session_lookup
from .encode import encode_supervisor_state as encode_supervisor_state
from .errors import ReadError as ReadError
from .models import ApprovalPolicy as ApprovalPolicy
from .models import Breakdown as Breakdown
from .models import IdleNotification as IdleNotification
from .models import Inbox as Inbox
from .models import InboxMessage as InboxMessage
from .models import JournalEntry as JournalEntry
from .models import MemberReach as MemberReach
from .models import MessageBody as MessageBody
from .models import MessageKind as MessageKind
from .models import ModelPolicy as ModelPolicy
from .models import OrchestrationStatus as OrchestrationStatus
from .models import PermissionRequest as PermissionRequest
from .models import PermissionResponse as PermissionResponse
from .models import PhaseKey as PhaseKey
from .models import PhaseState as PhaseState
from .models import PhaseStatus as PhaseStatus
from .models import PhaseStatusFile as PhaseStatusFile
from .models import PlanApproval as PlanApproval
from .models import PlanApprovalRequest as PlanApprovalRequest
from .models import PlanApprovalResponse as PlanApprovalResponse
from .models import ReviewVerdict as ReviewVerdict
from .models import SessionLookup as SessionLookup
from .models import ShutdownRequest as ShutdownRequest
from .models import ShutdownResponse as ShutdownResponse
from .models import SupervisorState as SupervisorState
from .models import Task as Task
from .models import TaskAssignment as TaskAssignment
from .models import TaskStatus as TaskStatus
from .models import TeamConfig as TeamConfig
from .models import TeamMember as TeamMember
from .models import VerdictResult as VerdictResult
from .readers import JournalChunk as JournalChunk
from .readers import inbox_key as inbox_key
from .readers import list_inbox_files as list_inbox_files
from .readers import list_session_lookups as list_session_lookups
from .readers import parse_inbox as parse_inbox
from .readers import parse_journal as parse_journal
from .readers import parse_phase_status as parse_phase_status
from .readers import parse_session_lookup as parse_session_lookup
from .readers import parse_supervisor_state as parse_supervisor_state
from .readers import parse_task as parse_task
from .readers import parse_team_config as parse_team_config
from .readers import read_inbox as read_inbox
from .readers import read_journal as read_journal
from .readers import read_phase_status as read_phase_status
from .readers import read_session_lookup as read_session_lookup
from .readers import read_supervisor_state as read_supervisor_state
from .readers import read_task as read_task
from .readers import read_team_config as read_team_config

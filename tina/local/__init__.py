"""Pure readers of the local files tina and Claude Code write: bytes -> attrs models.

Nothing here uses trio; the ``read_*`` file helpers are plain blocking calls.
"""

from .encode import encode_journal_entry as encode_journal_entry
from .encode import encode_session_lookup as encode_session_lookup
from .encode import encode_supervisor_state as encode_supervisor_state
from .errors import ReadError as ReadError
from .models import ApprovalPolicy as ApprovalPolicy
from .models import Breakdown as Breakdown
from .models import JournalEntry as JournalEntry
from .models import ModelPolicy as ModelPolicy
from .models import OrchestrationStatus as OrchestrationStatus
from .models import PhaseKey as PhaseKey
from .models import PhaseState as PhaseState
from .models import PhaseStatus as PhaseStatus
from .models import PhaseStatusFile as PhaseStatusFile
from .models import PlanApproval as PlanApproval
from .models import ReviewVerdict as ReviewVerdict
from .models import SessionLookup as SessionLookup
from .models import SupervisorState as SupervisorState
from .models import Task as Task
from .models import TaskStatus as TaskStatus
from .models import TeamConfig as TeamConfig
from .models import TeamMember as TeamMember
from .models import VerdictResult as VerdictResult
from .readers import JournalChunk as JournalChunk
from .readers import list_session_lookups as list_session_lookups
from .readers import parse_journal as parse_journal
from .readers import parse_phase_status as parse_phase_status
from .readers import parse_session_lookup as parse_session_lookup
from .readers import parse_supervisor_state as parse_supervisor_state
from .readers import parse_task as parse_task
from .readers import parse_team_config as parse_team_config
from .readers import read_journal as read_journal
from .readers import read_phase_status as read_phase_status
from .readers import read_session_lookup as read_session_lookup
from .readers import read_supervisor_state as read_supervisor_state
from .readers import read_task as read_task
from .readers import read_team_config as read_team_config

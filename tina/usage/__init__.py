"""Usage from Claude Code's transcripts: read incrementally, counted once, attributed, priced,
summed per hour and sent to Convex as deltas (``usage:recordUsage``).

Pure or plain blocking code, no trio: the daemon runs the file work in a worker thread. Only
model names, token counts, hashed message ids, times and attribution leave a transcript.
"""

from .aggregate import HOUR_MS as HOUR_MS
from .aggregate import MAX_ROWS as MAX_ROWS
from .aggregate import Aggregator as Aggregator
from .aggregate import BucketKey as BucketKey
from .aggregate import UsageRow as UsageRow
from .attribution import UNATTRIBUTED as UNATTRIBUTED
from .attribution import Attribution as Attribution
from .attribution import Attributions as Attributions
from .attribution import Facts as Facts
from .attribution import OrchestrationFacts as OrchestrationFacts
from .attribution import SessionFacts as SessionFacts
from .attribution import Source as Source
from .attribution import TeamFacts as TeamFacts
from .attribution import attribute as attribute
from .attribution import facts_from as facts_from
from .attribution import read_source as read_source
from .attribution import source_of as source_of
from .dedupe import Dedupe as Dedupe
from .dedupe import counts_of as counts_of
from .ledger import HELD_PREFIX as HELD_PREFIX
from .ledger import HOLD_MS as HOLD_MS
from .ledger import Batch as Batch
from .ledger import UsageLedger as UsageLedger
from .ledger import held_id as held_id
from .prices import Price as Price
from .prices import PriceError as PriceError
from .prices import PriceTable as PriceTable
from .prices import load_prices as load_prices
from .quota import QuotaReport as QuotaReport
from .quota import QuotaState as QuotaState
from .quota import Window as Window
from .quota import parse_rate_limits as parse_rate_limits
from .reader import FileMark as FileMark
from .reader import ReadResult as ReadResult
from .reader import TranscriptReader as TranscriptReader
from .reader import read_from as read_from
from .transcript import Skip as Skip
from .transcript import Tokens as Tokens
from .transcript import UsageRecord as UsageRecord
from .transcript import parse_line as parse_line

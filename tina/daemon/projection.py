"""Local models -> the snapshots the daemon sends to Convex. Pure functions, no I/O.

Statuses: a paused phase (tina-session keeps it `blocked` with `paused_from`) is sent as
`paused`, a plan waiting at the approval gate as `awaiting_approval`, so the dashboard can
tell them from a real block. Times become milliseconds since the epoch (float64).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import attrs

from tina.local import (
    Inbox,
    JournalEntry,
    MessageKind,
    PermissionRequest,
    PermissionResponse,
    PhaseState,
    PlanApprovalRequest,
    PlanApprovalResponse,
    ShutdownRequest,
    ShutdownResponse,
    SupervisorState,
    Task,
    TeamConfig,
)
from tina.local import InboxMessage as LocalMessage
from tina.local.models import MemberReach, canonical_json
from tina.local.names import phase_sort_key
from tina.messages import (
    DOCUMENT_MAX,
    INBOX_DETAIL_MAX,
    INBOX_TEXT_MAX,
    DocumentKind,
    DocumentSnapshot,
    EventRecord,
    InboxKind,
    InboxMessage,
    LeadSession,
    Liveness,
    MemberSnapshot,
    OrchestrationSnapshot,
    PhaseSnapshot,
    TaskSnapshot,
    TeamSnapshot,
)
from tina.messages import (
    MemberReach as WireReach,
)

MAX_DETAIL = 16_000
MAX_TEXT = 4000

# What Convex accepts for teams and tasks (convex/model/checks.ts: LIMITS, AGENT_RE,
# checkTimestamp). Convex refuses a snapshot whole, so one odd Claude Code file would stop its
# whole team from syncing: text is cut and cleared of NUL characters, out-of-range timestamps
# are left out, and a member or task that cannot be named is skipped (a task with a clear error).
MAX_NAME = 128
MAX_ID = 64
MAX_PANE = 64  # a tmux pane's `%12`, or an iTerm2 session's id (a 36-character UUID)
MAX_PATH = 4096
MAX_LIST = 500
MAX_TAG = 32  # backendType, color: short words ("in-process", "purple")
AGENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")
TIMESTAMP_MS = (946_684_800_000.0, 7_258_118_400_000.0)  # 2000-01-01 .. 2200-01-01


class Unsendable(ValueError):
    """A local record Convex could never accept (e.g. a task id longer than 64 characters)."""


# Half a UTF-16 surrogate pair: no UTF-8 encoding, so the client refuses to send it.
_LONE_SURROGATE = re.compile(
    "[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]"
)
T = TypeVar("T")


def replace_lone_surrogates(value: T) -> T:
    """``value`` (text, a list, tuple or dict of them, or attrs snapshots) with U+FFFD in place
    of every half surrogate pair. The readers already do this for what they parse; the syncer
    uses it for anything else the client refuses to send."""
    out: Any
    if isinstance(value, str):
        out = _LONE_SURROGATE.sub("\ufffd", value)
    elif isinstance(value, list | tuple):
        out = type(value)(replace_lone_surrogates(v) for v in value)
    elif isinstance(value, dict):
        out = {replace_lone_surrogates(k): replace_lone_surrogates(v) for k, v in value.items()}
    elif attrs.has(type(value)):
        instance: Any = value
        changes = {
            f.alias: replace_lone_surrogates(getattr(instance, f.name))
            for f in attrs.fields(type(instance))
            if f.init
        }
        out = attrs.evolve(instance, **changes)
    else:
        out = value
    return cast(T, out)


def ms(value: datetime | None) -> float | None:
    return None if value is None else round(value.timestamp() * 1000, 3)


def units(text: str) -> int:
    """The length Convex checks: UTF-16 code units (a character beyond U+FFFF counts 2)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def cut_units(text: str, limit: int) -> tuple[str, bool]:
    """`text` without NUL characters, at most `limit` UTF-16 units (cut with a final "…"), and
    whether it was cut."""
    out = _cut(text, limit) or ""
    return out, out != text.replace("\x00", "")


def _cut(text: str | None, limit: int = MAX_TEXT) -> str | None:
    """At most `limit` UTF-16 units, without NUL characters; a cut text ends with "…"."""
    if text is None:
        return None
    text = text.replace("\x00", "")
    if len(text) * 2 <= limit or units(text) <= limit:
        return text
    out: list[str] = []
    used = 1  # the ellipsis
    for ch in text:
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > limit:
            break
        out.append(ch)
    return "".join(out) + "…"


def _when(value: datetime | None) -> float | None:
    """Milliseconds, or None for a time Convex would refuse (before 2000 or after 2200)."""
    out = ms(value)
    return out if out is not None and TIMESTAMP_MS[0] <= out <= TIMESTAMP_MS[1] else None


def _id(value: str) -> bool:
    return 0 < units(value) <= MAX_ID and "\x00" not in value


def _fits(value: str | None, limit: int) -> str | None:
    """`value` if Convex takes it as it is (an id or a path: never cut), else None."""
    return value if value is not None and units(value) <= limit and "\x00" not in value else None


def phase_status(phase: PhaseState) -> str:
    if phase.paused:
        return "paused"
    if phase.awaiting_approval:
        return "awaiting_approval"
    return phase.status.value


def phase_snapshot(key: str, phase: PhaseState) -> PhaseSnapshot:
    feedback = "; ".join(phase.plan_feedback) or None
    return PhaseSnapshot(
        phase_number=key,
        status=phase_status(phase),
        plan_path=phase.plan_path,
        git_range=phase.git_range,
        planning_started_at=ms(phase.planning_started_at),
        execution_started_at=ms(phase.execution_started_at),
        review_started_at=ms(phase.review_started_at),
        completed_at=ms(phase.completed_at),
        planning_mins=_num(phase.breakdown.planning_mins),
        execution_mins=_num(phase.breakdown.execution_mins),
        review_mins=_num(phase.breakdown.review_mins),
        duration_mins=_num(phase.duration_mins),
        blocked_reason=_cut(phase.blocked_reason),
        paused_from=phase.paused_from.value if phase.paused_from is not None else None,
        feedback=_cut(feedback),
    )


def _num(value: int | None) -> float | None:
    return None if value is None else float(value)


def orchestration_snapshot(
    state: SupervisorState, repo_root: str | None = None
) -> tuple[OrchestrationSnapshot, list[PhaseSnapshot]]:
    keys = sorted(state.phases, key=phase_sort_key)
    phases = [phase_snapshot(k, state.phases[k]) for k in keys]
    completed_at = None
    if state.status.value == "complete":
        done = [p.completed_at for p in state.phases.values() if p.completed_at is not None]
        completed_at = ms(max(done)) if done else None
    snapshot = OrchestrationSnapshot(
        feature_name=state.feature,
        spec_doc_path=state.spec_doc,
        branch=state.branch,
        worktree_path=state.worktree_path,
        repo_root=repo_root,
        total_phases=float(state.total_phases),
        current_phase=float(state.current_phase),
        status="paused" if state.paused else state.status.value,
        started_at=ms(state.orchestration_started_at) or 0.0,
        completed_at=completed_at,
    )
    return snapshot, phases


def team_snapshot(config: TeamConfig, dir_name: str) -> tuple[TeamSnapshot, list[MemberSnapshot]]:
    team = TeamSnapshot(
        dir_name=dir_name,
        team_name=_cut(config.name, MAX_NAME) or dir_name,
        description=_cut(config.description),
        lead_agent_id=_cut(config.lead_agent_id, MAX_NAME * 2),
        created_at=_when(config.created_at),
    )
    seen: set[str] = set()
    members = []
    for m in config.members:
        if m.agent_id in seen:  # a duplicated member line must not refuse the whole team
            continue
        if member_problem(m.agent_id, m.name) is not None:
            continue  # cannot be named in Convex (nor messaged); the others still sync
        seen.add(m.agent_id)
        members.append(
            MemberSnapshot(
                agent_id=m.agent_id,
                agent_name=m.name,
                agent_type=_cut(m.agent_type, MAX_NAME),
                model=_cut(m.model, MAX_NAME),
                joined_at=_when(m.joined_at),
                tmux_pane_id=_fits(m.tmux_pane_id, MAX_PANE),
                cwd=_fits(m.cwd, MAX_PATH),
                is_active=m.is_active,
                backend_type=_cut(m.backend_type, MAX_TAG),
                color=_cut(m.color, MAX_TAG),
                plan_mode_required=m.plan_mode_required,
                reach=REACH[m.reach],
            )
        )
    return team, members[:200]


# The wire spells each reach in snake_case, like every other status Convex stores.
REACH: dict[MemberReach, WireReach] = {
    MemberReach.PANE: "pane",
    MemberReach.IN_PROCESS: "in_process",
    MemberReach.LEAD: "lead",
    MemberReach.NONE: "none",
}


def member_problem(agent_id: str, name: str) -> str | None:
    """Why Convex would refuse this member, or None."""
    if not AGENT_NAME.fullmatch(name) or ".." in name:
        return f"member name {name[:40]!r}: expected letters, digits, '.', '_', '@', '-' (at most 128, no '..')"
    if not 0 < units(agent_id) <= MAX_NAME * 2 or "\x00" in agent_id:
        return f"member {name!r}: agent id must be 1-{MAX_NAME * 2} characters"
    return None


def task_snapshot(task: Task) -> TaskSnapshot:
    """The task as Convex takes it; `Unsendable` if its id cannot be stored (1-64 characters)."""
    if not _id(task.id):
        raise Unsendable(f"task id {task.id[:40]!r}: expected 1-{MAX_ID} characters without NUL")
    metadata = None if task.metadata is None else canonical_json(task.metadata)
    if metadata is not None and units(metadata) > MAX_DETAIL:
        metadata = canonical_json({"truncated": True, "bytes": len(metadata)})
    return TaskSnapshot(
        task_id=task.id,
        subject=_cut(task.subject, 1000) or "",
        description=_cut(task.description, 20_000) or "",
        active_form=_cut(task.active_form, 1000),
        status=_cut(task.status, 32) or "unknown",
        owner=_cut(task.owner, MAX_NAME),
        blocks=tuple(t for t in task.blocks if _id(t))[:MAX_LIST],
        blocked_by=tuple(sorted(t for t in task.blocked_by if _id(t)))[:MAX_LIST],
        metadata=metadata,
        internal=True if task.internal else None,
        created_at=_when(task.created_at),
        updated_at=_when(task.updated_at),
    )


def event_record(entry: JournalEntry) -> EventRecord:
    detail = None if entry.detail is None else json.dumps(entry.detail, sort_keys=True)
    if detail is not None and len(detail) > MAX_DETAIL:
        detail = json.dumps({"truncated": True, "bytes": len(detail)})
    return EventRecord(
        idempotency_key=entry.id,
        event_type=_cut(entry.type, 64) or "unknown",
        source=_cut(entry.source, 64) or "unknown",
        summary=_cut(entry.summary, 1000) or "",
        detail=detail,
        phase_number=entry.phase if entry.phase and entry.phase[0].isdigit() else None,
        recorded_at=ms(entry.recorded_at) or 0.0,
    )


def _when_ns(mtime_ns: int | None) -> float | None:
    if mtime_ns is None:
        return None
    out = round(mtime_ns / 1_000_000, 3)
    return out if TIMESTAMP_MS[0] <= out <= TIMESTAMP_MS[1] else None


def cut_utf8(text: str, limit: int) -> tuple[str, bool]:
    """`text` cut to at most `limit` bytes of UTF-8, at a character boundary (never inside a
    multi-byte character), and whether it was cut."""
    if len(text) * 4 <= limit:
        return text, False
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text, False
    end = limit
    while end > 0 and data[end] & 0xC0 == 0x80:  # a continuation byte: inside a character
        end -= 1
    return data[:end].decode("utf-8", "surrogatepass"), True


# --- plans and design docs -------------------------------------------------------------------


def document_snapshot(
    kind: DocumentKind,
    path: str,
    data: bytes | None,
    *,
    phase: str | None = None,
    mtime_ns: int | None = None,
) -> DocumentSnapshot:
    """A plan (with its `phase`) or the design doc as read: `data` is the whole file, None when
    it is gone (`missing`). The hash is the SHA-256 of the bytes (what an approval names); the
    text is cut at `DOCUMENT_MAX` bytes. `Unsendable` for a path Convex would refuse."""
    if _fits(path, MAX_PATH) is None:
        raise Unsendable(f"document path of {units(path)} characters: expected at most {MAX_PATH}")
    if data is None:
        return DocumentSnapshot(kind=kind, phase_number=phase, path=path, missing=True)
    text = data.decode("utf-8", "replace").replace("\x00", "")
    content, truncated = cut_utf8(text, DOCUMENT_MAX)
    return DocumentSnapshot(
        kind=kind,
        phase_number=phase,
        path=path,
        content=content,
        hash=hashlib.sha256(data).hexdigest(),
        size=float(len(data)),
        truncated=truncated,
        modified_at=_when_ns(mtime_ns),
    )


# --- inbox messages --------------------------------------------------------------------------

MAX_SUMMARY = 1000

_KINDS: dict[MessageKind, InboxKind] = {
    MessageKind.TEXT: "text",
    MessageKind.IDLE_NOTIFICATION: "idle_notification",
    MessageKind.TASK_ASSIGNMENT: "task_assignment",
    MessageKind.SHUTDOWN_REQUEST: "shutdown_request",
    MessageKind.SHUTDOWN_RESPONSE: "shutdown_response",
    MessageKind.PLAN_APPROVAL_REQUEST: "plan_approval_request",
    MessageKind.PLAN_APPROVAL_RESPONSE: "plan_approval_response",
    MessageKind.PERMISSION_REQUEST: "permission_request",
    MessageKind.PERMISSION_RESPONSE: "permission_response",
    MessageKind.UNKNOWN: "unknown",
}


def _fields(message: LocalMessage) -> dict[str, Any] | None:
    """The structured fields of a message: its known fields (whatever names the file used), or
    an unknown type's whole object; None for plain text."""
    if message.body is not None:
        fields = attrs.asdict(message.body)
        out = {k: v for k, v in fields.items() if v is not None and v != []}
        out["type"] = message.type
        return out
    if message.kind is MessageKind.UNKNOWN:
        try:
            doc = json.loads(message.text)
        except (ValueError, RecursionError):
            return None
        return doc if isinstance(doc, dict) else None
    return None


def _request_id(message: LocalMessage) -> str | None:
    body = message.body
    if isinstance(
        body,
        ShutdownRequest
        | ShutdownResponse
        | PlanApprovalRequest
        | PlanApprovalResponse
        | PermissionRequest
        | PermissionResponse,
    ):
        return _cut(body.request_id, MAX_NAME)
    return None


def _approved(message: LocalMessage) -> bool | None:
    body = message.body
    if isinstance(body, ShutdownResponse | PlanApprovalResponse):
        return body.approved
    if isinstance(body, PermissionResponse):
        return body.allowed
    return None


def inbox_message(message: LocalMessage) -> InboxMessage:
    """An inbox entry as Convex keeps it (`key` as the reader computed it). `Unsendable` when
    its recipient or sender is not a name Convex accepts."""
    for who in (message.agent, message.sender):
        if not AGENT_NAME.fullmatch(who) or ".." in who:
            raise Unsendable(f"inbox message of {who[:40]!r}: not an agent name")
    text, truncated = cut_utf8(message.text.replace("\x00", ""), INBOX_TEXT_MAX)
    fields = _fields(message)
    detail = None
    if fields is not None:
        detail, _ = cut_utf8(canonical_json(fields).replace("\x00", ""), INBOX_DETAIL_MAX)
    return InboxMessage(
        key=message.key,
        recipient=message.agent,
        sender=message.sender,
        kind=_KINDS[message.kind],
        text=text,
        truncated=truncated,
        summary=_cut(message.summary, MAX_SUMMARY),
        color=_cut(message.color, MAX_TAG),
        timestamp=_when(message.timestamp) or 0.0,
        read=message.read,
        request_id=_request_id(message),
        approved=_approved(message),
        detail=detail,
    )


# --- liveness --------------------------------------------------------------------------------

MAX_REASON = 200


def _at(message: LocalMessage) -> float:
    """When a message was written (ms; 0 without a timestamp: it then counts as oldest)."""
    return ms(message.timestamp) or 0.0


def _clock(value: datetime | None) -> str:
    return (
        "an unknown time"
        if value is None
        else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    )


def _latest(messages: Iterable[tuple[int, LocalMessage]]) -> tuple[int, LocalMessage] | None:
    """The latest by (timestamp, position in the file)."""
    best: tuple[int, LocalMessage] | None = None
    for index, message in messages:
        if best is None or (_at(message), index) >= (_at(best[1]), best[0]):
            best = (index, message)
    return best


def member_liveness(
    member: MemberSnapshot,
    *,
    lead_inbox: Sequence[LocalMessage],
    own_inbox: Sequence[LocalMessage],
    live_panes: frozenset[str] | None,
) -> tuple[Liveness, str | None]:
    """What an agent is doing, from its team's files, first match wins:

    1. `gone`: a pane teammate whose tmux pane is not among `live_panes` (None: unknown, the
       rule is skipped);
    2. `shut_down`: its latest approved shutdown response in the lead's inbox is followed by no
       other message from it there, or it is inactive and a shutdown of it was approved;
    3. `waiting`: a permission request of it in the lead's inbox has no response with the same
       request id in its own inbox;
    4. `idle`: `isActive` is false, or its latest idle notification to the lead is newer than
       everything sent to it;
    5. `working` otherwise.
    """
    name = member.agent_name
    if member.reach == "pane" and live_panes is not None:
        pane = member.tmux_pane_id or ""
        if pane not in live_panes:
            return "gone", _cut(f"its tmux pane {pane} is gone", MAX_REASON)

    from_it = [(i, m) for i, m in enumerate(lead_inbox) if m.sender == name]
    approved = _latest(
        (i, m)
        for i, m in from_it
        if isinstance(m.body, ShutdownResponse) and m.body.approved is True
    )
    if approved is not None:
        at = (_at(approved[1]), approved[0])
        later = any((_at(m), i) > at for i, m in from_it)
        if not later or member.is_active is False:
            return "shut_down", f"shut down at {_clock(approved[1].timestamp)}"

    answered = {
        m.body.request_id
        for m in own_inbox
        if isinstance(m.body, PermissionResponse) and m.body.request_id is not None
    }
    asking = _latest(
        (i, m)
        for i, m in enumerate(lead_inbox)
        if isinstance(m.body, PermissionRequest)
        and (m.body.agent or m.sender) == name
        and m.body.request_id is not None
        and m.body.request_id not in answered
    )
    if asking is not None:
        request = asking[1].body
        assert isinstance(request, PermissionRequest)
        tool = request.tool_name
        reason = f"waiting for permission to use {tool}" if tool else "waiting for permission"
        return "waiting", _cut(reason, MAX_REASON)

    idle = _latest((i, m) for i, m in from_it if m.kind is MessageKind.IDLE_NOTIFICATION)
    # The notification says what it finished or since when; `isActive: false` alone says no more
    # than "idle", which the state already says.
    idle_reason = None
    if idle is not None:
        notification = idle[1]
        summary = getattr(notification.body, "summary", None)
        idle_reason = _cut(summary or f"idle since {_clock(notification.timestamp)}", MAX_REASON)
    if member.is_active is False:
        return "idle", idle_reason
    if idle is not None and all(_at(m) < _at(idle[1]) for m in own_inbox):
        return "idle", idle_reason
    return "working", None


def lead_name(team: TeamSnapshot, members: Sequence[MemberSnapshot]) -> str:
    """The name of the team's lead (whose inbox gets the teammates' notifications)."""
    for m in members:
        if team.lead_agent_id is not None and m.agent_id == team.lead_agent_id:
            return m.agent_name
    for m in members:
        if m.reach == "lead":
            return m.agent_name
    return "team-lead"


def with_liveness(
    team: TeamSnapshot,
    members: Sequence[MemberSnapshot],
    inboxes: Mapping[str, Inbox],
    live_panes: frozenset[str] | None,
) -> list[MemberSnapshot]:
    """`members` with their liveness, from the team's inboxes (by recipient name) and the live
    tmux panes (None: not known)."""
    lead = inboxes.get(lead_name(team, members))
    lead_messages = lead.messages if lead is not None else ()
    out = []
    for m in members:
        own = inboxes.get(m.agent_name)
        liveness, reason = member_liveness(
            m,
            lead_inbox=lead_messages,
            own_inbox=own.messages if own is not None else (),
            live_panes=live_panes,
        )
        out.append(attrs.evolve(m, liveness=liveness, liveness_reason=reason))
    return out


# --- hook liveness merged into the members' ----------------------------------------------------

_ANSWER_WAITS = frozenset({"elicitation", "elicitation_dialog"})


def hook_reason(session: LeadSession) -> str | None:
    """A session's liveness in words, as the lead's reason (None for working and idle)."""
    match session.liveness:
        case "ended":
            return _cut(f"its Claude Code session ended ({session.detail or 'other'})", MAX_REASON)
        case "rate_limited":
            hint = f"; {session.retry_hint}" if session.retry_hint else ""
            return _cut(f"rate limited{hint}", MAX_REASON)
        case "failed":
            return _cut(f"stopped on an API error ({session.detail or 'unknown'})", MAX_REASON)
        case "waiting":
            if session.detail in _ANSWER_WAITS:
                return "waiting for an answer"
            tool = session.tool_name
            return _cut(
                f"waiting for permission to use {tool}" if tool else "waiting for permission",
                MAX_REASON,
            )
    return None


def merge_hook_liveness(
    team: TeamSnapshot, members: Sequence[MemberSnapshot], session: LeadSession | None
) -> list[MemberSnapshot]:
    """`members` (with their liveness from the files) as the lead's Claude Code session has
    them, when the team's `leadSessionId` has one (`session`). The lead takes the session's
    word: ended -> `gone`, rate limited -> `rate_limited`, failed -> `waiting` (stopped on an API
    error), waiting -> `waiting`, idle/working -> that, unless its files say `waiting`. An ended
    session takes its in-process teammates with it (`gone`): they live in its process. Files win
    for `shut_down` and `gone`. Pane teammates are processes of their own: unchanged."""
    if session is None:
        return list(members)
    lead = lead_name(team, members)
    out = []
    for m in members:
        if m.liveness in ("shut_down", "gone"):
            out.append(m)
            continue
        liveness: Liveness | None = m.liveness
        reason = m.liveness_reason
        if m.agent_name == lead:
            match session.liveness:
                case "ended":
                    liveness, reason = "gone", hook_reason(session)
                case "rate_limited":
                    liveness, reason = "rate_limited", hook_reason(session)
                case "failed" | "waiting":
                    liveness, reason = "waiting", hook_reason(session)
                case "idle" | "working" if m.liveness != "waiting":
                    if m.liveness != session.liveness:
                        reason = None
                    liveness = session.liveness
        elif session.liveness == "ended" and m.reach == "in_process":
            liveness, reason = "gone", "the lead's Claude Code session ended"
        out.append(attrs.evolve(m, liveness=liveness, liveness_reason=reason))
    return out

"""What on this laptop needs a human: the pure rules behind `needs:syncLaptop`.

`laptop_needs(teams, sessions, now, stall_after_ms)` reads the Claude watcher's teams (config,
members with their merged liveness, inboxes, tasks: a `TeamView` each) and the hook sessions
(`tina.daemon.actors.hooks.SessionState`) and returns the current set of `LaptopNeed`s, sorted
by key. Nothing here does I/O or reads a clock: `now` is given.

- `teammate_permission`: a `permission_request` (either field naming) in the lead's inbox with
  no `permission_response` of the same request id in the requester's inbox, from a member that
  has not shut down and is not gone. Answered at the lead's terminal: shown only.
- `agent_plan_approval`: a `plan_approval_request` in the lead's inbox with no
  `plan_approval_response` (either naming) of the same request id in the requester's inbox.
- `idle_with_tasks`: an idle member that owns a task neither completed nor deleted (teammate
  trackers do not count).
- `stop_failure`: a session stopped by an API error (rate limited or failed), with the kind and
  when to retry, read tolerantly from the error's text (`retry_after`).
- `stalled`: a working (or waiting) session with no hook event for `stall_after_ms`, or a working
  member with no file activity (its messages, its tasks) for as long; in-process members count
  their lead's hook events as theirs (they run in the lead's process).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs

from tina.convex.needs import (
    AGENT_RE,
    FEATURE_RE,
    ITEMS_MAX_BYTES,
    REQUEST_RE,
    SESSION_RE,
    TEAM_DIR_RE,
    TIME_MAX,
    fits,
)
from tina.daemon.projection import (
    cut_units,
    hook_reason,
    lead_name,
    ms,
    units,
)
from tina.local import (
    Inbox,
    MessageKind,
    PermissionRequest,
    PermissionResponse,
    PlanApprovalRequest,
    PlanApprovalResponse,
)
from tina.local import InboxMessage as LocalMessage
from tina.local.models import canonical_json
from tina.messages import (
    LaptopNeed,
    LeadSession,
    MemberSnapshot,
    SessionSnapshot,
    StallCause,
    TaskSnapshot,
    TeamSnapshot,
)

if TYPE_CHECKING:
    from tina.daemon.actors.hooks import SessionState

STALL_AFTER_MINS = 10
KEY_MAX = 200
TITLE_MAX = 200
DETAIL_MAX = 4096
TOOL_INPUT_MAX = 16_384
PLAN_MAX = 65_536
HINT_MAX = 200
REASON_MAX = 200
CWD_MAX = 1024
EVENT_MAX = 64
NAME_MAX = 128
ERROR_KIND_MAX = 64
ITEMS_BUDGET = ITEMS_MAX_BYTES - 64 * 1024  # room for what Convex counts differently
ITEMS_MAX = 200
SESSIONS_MAX = 100

OPEN_TASK_DONE = frozenset({"completed", "deleted"})


@attrs.frozen(kw_only=True)
class TeamView:
    """One team as the Claude watcher holds it: members with their (merged) liveness, the
    inboxes by agent name, the tasks; the lead's session id and the tina orchestration (feature)
    its lead works in, when known."""

    dir_name: str
    team: TeamSnapshot
    members: tuple[MemberSnapshot, ...]
    inboxes: Mapping[str, Inbox] = attrs.field(factory=dict, eq=False)
    tasks: tuple[TaskSnapshot, ...] = ()
    lead_session_id: str | None = None
    feature_name: str | None = None


# --- retry hints ---------------------------------------------------------------------------------

_EPOCH = re.compile(r"\|\s*(\d{10}|\d{13})\b")
_RESETS = re.compile(r"\bresets?\s+(?:at\s+|on\s+)?([^\n.\u00b7\u2219|;]{1,80})", re.I)
_WHEN = re.compile(r"\d|\b(?:am|pm|noon|midnight|tomorrow|today)\b", re.I)
_RETRY_IN = re.compile(
    r"\b(?:try again|retry|retrying)\s+in\s+(\d{1,5})\s*(s|sec|second|m|min|minute|h|hr|hour)s?\b",
    re.I,
)
_UNIT_MS = {"s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}

DEFAULT_HINTS = {
    "rate_limit": "wait until the limit resets",
    "billing_error": "fix billing first",
    "authentication_failed": "sign in again (/login) first",
    "server_error": "retry in a few minutes",
    "max_output_tokens": "ask it to continue",
    "invalid_request": "the same request will fail again",
}
DEFAULT_HINT = "retry in a few minutes"


def _clock(at_ms: float, seconds: bool = False) -> str:
    when = datetime.fromtimestamp(at_ms / 1000, UTC)
    return when.strftime("%H:%M:%S UTC" if seconds else "%H:%M UTC")


def retry_after(text: str | None, now_ms: float) -> tuple[str | None, float | None]:
    """When to retry, in words, and as ms since the epoch when the text says a time: from an
    API error's text ("... resets 3pm (Europe/London)", "limit reached|1772618400",
    "try again in 5 minutes"); (None, None) when it says nothing of it."""
    if not text:
        return None, None
    if m := _EPOCH.search(text):
        value = float(m.group(1))
        at = value if len(m.group(1)) == 13 else value * 1000
        return f"resets at {_clock(at)}", at
    if m := _RESETS.search(text):
        when = m.group(1).strip().rstrip(",:").strip()
        if _WHEN.search(when):  # a time, not "connection reset by peer"
            hint, _ = cut_units(f"resets {when}", HINT_MAX)
            return hint, None
    if m := _RETRY_IN.search(text):
        n = int(m.group(1))
        unit = m.group(2)[0].lower()
        word = {"s": "second", "m": "minute", "h": "hour"}[unit]
        return f"retry in {n} {word}{'' if n == 1 else 's'}", now_ms + n * _UNIT_MS[unit]
    return None, None


def default_hint(kind: str | None) -> str:
    return DEFAULT_HINTS.get(kind or "", DEFAULT_HINT)


# --- helpers -------------------------------------------------------------------------------------


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _key(*parts: str) -> str:
    """`a:b:c` on one line, at most `KEY_MAX` units: a longer one keeps its start and a hash of
    the whole."""
    key = _CONTROL.sub("?", ":".join(parts))
    if units(key) <= KEY_MAX:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    head, _ = cut_units(key, KEY_MAX - 18)
    return f"{head.rstrip('…')}#{digest}"


def _text(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    out, _ = cut_units(value, limit)
    return out or None


def _at(message: LocalMessage) -> float:
    return ms(message.timestamp) or 0.0


def _answered_permissions(inbox: Inbox | None) -> set[str]:
    if inbox is None:
        return set()
    return {
        m.body.request_id
        for m in inbox.messages
        if isinstance(m.body, PermissionResponse) and m.body.request_id is not None
    }


def _answered_plans(inbox: Inbox | None) -> set[str]:
    if inbox is None:
        return set()
    return {
        m.body.request_id
        for m in inbox.messages
        if isinstance(m.body, PlanApprovalResponse) and m.body.request_id is not None
    }


def _since(*candidates: float | None, fallback: float) -> float:
    for value in candidates:
        if value:
            return value
    return fallback


def _stall_cause(session: SessionState) -> StallCause:
    if session.liveness == "waiting":
        return "waiting_for_human"
    if session.last_event == "PreToolUse":
        return "long_tool"
    if session.last_event in ("PostToolUseFailure", "StopFailure"):
        return "api_error"
    return "silent"


CAUSE_WORDS: dict[StallCause, str] = {
    "waiting_for_human": "waiting for a human",
    "long_tool": "a tool is still running",
    "api_error": "stopped after an error",
    "silent": "no activity",
}


def lead_view(session: SessionState) -> LeadSession | None:
    """What a session's hook events say, as the liveness merge reads it."""
    if session.liveness is None:
        return None
    return LeadSession(
        session_id=session.session_id,
        liveness=session.liveness,
        detail=session.reason,
        tool_name=session.tool_name,
        retry_hint=session.retry_hint,
    )


# --- the rules -----------------------------------------------------------------------------------


def _team_needs(
    view: TeamView,
    sessions: Mapping[str, SessionState],
    now: float,
    stall_after_ms: float,
) -> Iterable[LaptopNeed]:
    team, d = view.team, view.dir_name
    members = {m.agent_name: m for m in view.members}
    lead = lead_name(team, view.members)
    lead_box = view.inboxes.get(lead)
    lead_messages = lead_box.messages if lead_box is not None else ()
    lead_session = sessions.get(view.lead_session_id) if view.lead_session_id else None
    feature = view.feature_name
    fallback = team.created_at or now
    seen: set[str] = set()

    def alive(name: str) -> MemberSnapshot | None:
        member = members.get(name)
        if member is None or member.liveness in ("shut_down", "gone"):
            return None
        return member

    for message in lead_messages:
        body = message.body
        if isinstance(body, PermissionRequest) and body.request_id:
            requester = body.agent or message.sender
            if alive(requester) is None:
                continue
            if body.request_id in _answered_permissions(view.inboxes.get(requester)):
                continue
            key = _key("perm", d, body.request_id)
            if key in seen:
                continue
            seen.add(key)
            tool = body.tool_name
            tool_input = None if body.input is None else canonical_json(body.input)
            cut_input, truncated = (None, False)
            if tool_input is not None:
                cut_input, truncated = cut_units(tool_input, TOOL_INPUT_MAX)
            yield LaptopNeed(
                key=key,
                kind="teammate_permission",
                since=_since(_at(message), fallback=fallback),
                title=_text(f"{requester} asks to use {tool or 'a tool'}", TITLE_MAX) or "",
                detail=_text(body.description, DETAIL_MAX),
                team_dir=d,
                agent_name=requester,
                feature_name=feature,
                request_id=_text(body.request_id, NAME_MAX),
                tool_name=_text(tool, NAME_MAX),
                tool_input=cut_input,
                tool_input_truncated=True if truncated else None,
            )
        elif isinstance(body, PlanApprovalRequest) and body.request_id:
            requester = message.sender
            if alive(requester) is None:
                continue
            if body.request_id in _answered_plans(view.inboxes.get(requester)):
                continue
            key = _key("plan", d, body.request_id)
            if key in seen:
                continue
            seen.add(key)
            plan, _ = cut_units(body.plan_content or "", PLAN_MAX)
            yield LaptopNeed(
                key=key,
                kind="agent_plan_approval",
                since=_since(_at(message), fallback=fallback),
                title=_text(f"{requester} asks to approve its plan", TITLE_MAX) or "",
                team_dir=d,
                agent_name=requester,
                feature_name=feature,
                request_id=_text(body.request_id, NAME_MAX),
                plan_content=plan or None,
            )

    activity_of: dict[str, float] | None = None  # read once, when a member is working
    for member in view.members:
        name = member.agent_name
        is_lead = name == lead
        if member.liveness == "idle":
            open_tasks = [
                t
                for t in view.tasks
                if t.owner == name and t.status not in OPEN_TASK_DONE and not t.internal
            ]
            if open_tasks:
                notified = max(
                    (
                        _at(m)
                        for m in lead_messages
                        if m.sender == name and m.kind is MessageKind.IDLE_NOTIFICATION
                    ),
                    default=0.0,
                )
                hook_idle = (
                    lead_session.since
                    if is_lead and lead_session is not None and lead_session.liveness == "idle"
                    else None
                )
                n = len(open_tasks)
                yield LaptopNeed(
                    key=_key("idle", d, name),
                    kind="idle_with_tasks",
                    since=_since(hook_idle, notified, member.joined_at, fallback=fallback),
                    title=_text(
                        f"{name} is idle with {n} open task{'' if n == 1 else 's'}", TITLE_MAX
                    )
                    or "",
                    detail=_text(
                        "; ".join(f"#{t.task_id} {t.subject}" for t in open_tasks), DETAIL_MAX
                    ),
                    team_dir=d,
                    agent_name=name,
                    feature_name=feature,
                    open_tasks=float(n),
                )
        elif member.liveness == "working" and not (is_lead and lead_session is not None):
            if activity_of is None:
                activity_of = _activity(view)
            activity = activity_of.get(name, 0.0)
            if member.reach == "in_process" and lead_session is not None:
                activity = max(activity, lead_session.last_at)
            if activity and now - activity >= stall_after_ms:
                cause: StallCause = "silent"
                if member.reach == "in_process" and lead_session is not None:
                    cause = _stall_cause(lead_session)
                yield LaptopNeed(
                    key=_key("stall", d, name),
                    kind="stalled",
                    since=activity,
                    title=_text(f"{name} seems stalled: {CAUSE_WORDS[cause]}", TITLE_MAX) or "",
                    detail=f"no message or task update from {name} since {_clock(activity, True)}",
                    team_dir=d,
                    agent_name=name,
                    feature_name=feature,
                    cause=cause,
                )


def _activity(view: TeamView) -> dict[str, float]:
    """The newest sign of life of each member in its team's files (ms): messages it sent or
    got, its tasks' updates, when it joined. One pass over the inboxes."""
    latest: dict[str, float] = {}

    def seen(name: str, at: float | None) -> None:
        if at and at > latest.get(name, 0.0):
            latest[name] = at

    for agent, inbox in view.inboxes.items():
        newest = 0.0
        for m in inbox.messages:
            at = _at(m)
            newest = max(newest, at)
            seen(m.sender, at)
        seen(agent, newest)
    for t in view.tasks:
        if t.owner:
            seen(t.owner, max(t.updated_at or 0.0, t.created_at or 0.0))
    for member in view.members:
        seen(member.agent_name, member.joined_at)
    return latest


def _who(session: SessionState, leads: Mapping[str, str]) -> tuple[str, str | None]:
    """How a session is named in words, and its agent's name when it is a team's lead."""
    if session.team and session.team in leads:
        return f"{leads[session.team]} of {session.team}", leads[session.team]
    return f"Claude Code session {session.session_id[:8]}", None


def _session_needs(
    session: SessionState,
    leads: Mapping[str, str],
    now: float,
    stall_after_ms: float,
) -> Iterable[LaptopNeed]:
    who, agent = _who(session, leads)
    common: dict[str, Any] = {
        "session_id": _text(session.session_id, NAME_MAX),
        "team_dir": session.team,
        "agent_name": agent,
        "feature_name": session.orchestration,
    }
    if session.liveness in ("rate_limited", "failed"):
        kind = session.error_kind or "unknown"
        title = (
            f"{who} hit a rate limit"
            if session.liveness == "rate_limited"
            else f"{who} stopped on an API error ({kind})"
        )
        yield LaptopNeed(
            key=_key("stop", session.session_id),
            kind="stop_failure",
            since=session.since or session.last_at,
            title=_text(title, TITLE_MAX) or "",
            detail=_text(session.error_text, DETAIL_MAX),
            error_kind=_text(kind, NAME_MAX),
            retry_hint=_text(session.retry_hint or default_hint(kind), HINT_MAX),
            retry_at=session.retry_at,
            **common,
        )
    elif session.liveness in ("working", "waiting") and now - session.last_at >= stall_after_ms:
        cause = _stall_cause(session)
        if cause == "long_tool" and session.tool_name:
            detail = f"{session.tool_name} has been running since {_clock(session.tool_at or session.last_at, True)}"
        else:
            detail = f"no hook event since {_clock(session.last_at, True)}"
            if cause == "waiting_for_human":
                view = lead_view(session)
                reason = hook_reason(view) if view is not None else None
                detail = (
                    f"{reason or 'waiting'} since {_clock(session.since or session.last_at, True)}"
                )
        yield LaptopNeed(
            key=_key("stall", session.session_id),
            kind="stalled",
            since=session.last_at,
            title=_text(f"{who} seems stalled: {CAUSE_WORDS[cause]}", TITLE_MAX) or "",
            detail=_text(detail, DETAIL_MAX),
            cause=cause,
            tool_name=_text(session.tool_name, NAME_MAX) if cause == "long_tool" else None,
            **common,
        )


def _time(value: float | None) -> float | None:
    return None if value is None else min(max(value, 0.0), TIME_MAX)


def _fitted(need: LaptopNeed) -> LaptopNeed:
    """`need` as Convex takes it: names and ids that fit their patterns (else left out), times
    in range, short words cut."""
    tool = _text(need.tool_name, NAME_MAX)
    return attrs.evolve(
        need,
        since=_time(need.since) or 0.0,
        retry_at=_time(need.retry_at),
        team_dir=fits(need.team_dir, TEAM_DIR_RE),
        agent_name=fits(need.agent_name, AGENT_RE),
        feature_name=fits(need.feature_name, FEATURE_RE),
        session_id=fits(need.session_id, SESSION_RE),
        request_id=fits(need.request_id, REQUEST_RE),
        tool_name=tool if tool and tool.strip() else None,
        error_kind=_text(need.error_kind, ERROR_KIND_MAX),
    )


def _utf8(need: LaptopNeed) -> int:
    return sum(
        len(v.encode("utf-8", "surrogatepass"))
        for v in attrs.astuple(need, recurse=False)
        if isinstance(v, str)
    )


def _within_budget(needs: list[LaptopNeed]) -> list[LaptopNeed]:
    """At most `ITEMS_BUDGET` bytes of text in all: past it, plans and tool inputs are cut (the
    newest items' first), and an item that still does not fit is left out."""
    sizes = [_utf8(n) for n in needs]
    if sum(sizes) <= ITEMS_BUDGET:
        return needs
    out: list[LaptopNeed] = []
    used = 0
    for n in sorted(needs, key=lambda n: (n.since, n.key)):  # the oldest keep theirs
        size = _utf8(n)
        if used + size > ITEMS_BUDGET:
            n = attrs.evolve(
                n,
                plan_content=None,
                tool_input=None,
                tool_input_truncated=True if n.tool_input is not None else None,
            )
            size = _utf8(n)
            if used + size > ITEMS_BUDGET:
                continue
        used += size
        out.append(n)
    return sorted(out, key=lambda n: n.key)


def laptop_needs(
    teams: Sequence[TeamView],
    sessions: Sequence[SessionState],
    now: float,
    stall_after_ms: float,
) -> list[LaptopNeed]:
    """Every need on the laptop now (ms since the epoch), sorted by key; at most `ITEMS_MAX`
    (the oldest first when there are more)."""
    by_id = {s.session_id: s for s in sessions}
    leads = {v.dir_name: lead_name(v.team, v.members) for v in teams}
    out: dict[str, LaptopNeed] = {}
    for view in teams:
        for need in _team_needs(view, by_id, now, stall_after_ms):
            out.setdefault(need.key, need)
    for session in sessions:
        for need in _session_needs(session, leads, now, stall_after_ms):
            out.setdefault(need.key, need)
    needs = [_fitted(n) for n in out.values()]
    if len(needs) > ITEMS_MAX:
        needs = sorted(needs, key=lambda n: (n.since, n.key))[:ITEMS_MAX]
    return _within_budget(sorted(needs, key=lambda n: n.key))


def session_snapshots(
    sessions: Sequence[SessionState], teams: Sequence[TeamView]
) -> list[SessionSnapshot]:
    """The newest `SESSIONS_MAX` sessions as `needs:syncLaptop` takes them, newest first."""
    leads = {v.dir_name: lead_name(v.team, v.members) for v in teams}
    newest = sorted(sessions, key=lambda s: (s.last_at, s.session_id), reverse=True)
    out = []
    for s in [s for s in newest if fits(s.session_id, SESSION_RE)][:SESSIONS_MAX]:
        view = lead_view(s)
        cwd = s.cwd if s.cwd and s.cwd.strip() and units(s.cwd) <= CWD_MAX else None
        out.append(
            SessionSnapshot(
                session_id=s.session_id,
                liveness=s.liveness,
                reason=_text(hook_reason(view), REASON_MAX) if view is not None else None,
                cwd=cwd,
                team_dir=fits(s.team, TEAM_DIR_RE),
                agent_name=fits(leads.get(s.team) if s.team else None, AGENT_RE),
                feature_name=fits(s.orchestration, FEATURE_RE),
                first_at=_time(s.first_at) or 0.0,
                last_at=_time(s.last_at) or 0.0,
                last_event=_text(s.last_event, EVENT_MAX) or "unknown",
                events=float(s.events),
            )
        )
    return out

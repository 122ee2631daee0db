"""Which orchestration, phase and agent a message's usage belongs to: a pure function of the
message, where its transcript lies, and what the daemon already knows.

The chain is session -> team -> phase -> orchestration:

- the **session** is the transcript's: ``<project>/<session>.jsonl`` for a session's own file,
  ``<project>/<lead session>/subagents/agent-<id>.jsonl`` for a subagent or in-process teammate
  (then the line's ``sessionId`` is not used: it may name the lead's); an in-process teammate's
  name (and team) is also in ``agent-<id>.meta.json`` beside its transcript (`read_source`), for
  lines that do not give their ``agentName``;
- the **team** is the one whose config names that session as ``leadSessionId`` (exactly one),
  the one a hook reported for the session, or else the one a session's own line names in
  ``teamName`` when its ``agentName`` is a member of it (a teammate in a pane of its own, whose
  records carry both; or a lead under a session id its team config does not name);
- tina names its teams ``<feature>-phase-<phase>`` and ``<feature>-orchestration``, which gives
  the **phase** and the feature; the **orchestration** is the one of that feature the daemon
  knows (several: the one whose worktree holds the message's ``cwd``);
- without a tina team, the ``cwd`` inside exactly one known worktree gives the orchestration, with
  the phase and agent not known.

Whenever two facts disagree, or one is missing, the answer is less: "not known" for the phase
or agent, "unattributed" for the orchestration. Never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePath

import attrs
import msgspec

from tina.local import TeamConfig
from tina.local.files import FileRefused, read_file

from .transcript import UsageRecord

__all__ = [
    "UNATTRIBUTED",
    "Attribution",
    "Attributions",
    "Facts",
    "OrchestrationFacts",
    "SessionFacts",
    "Source",
    "TeamFacts",
    "attribute",
    "facts_from",
    "read_source",
    "source_of",
    "team_facts",
]

ORCHESTRATOR = "orchestrator"
"""The agent name of an orchestration team's lead: the session that runs the whole plan."""
LEAD = "team-lead"
_PHASE_TEAM = re.compile(r"(?P<feature>.+)-phase-(?P<phase>[0-9]+(?:\.[0-9]+)*)")
_ORCH_TEAM = re.compile(r"(?P<feature>.+)-orchestration")
_AGENT_FILE = re.compile(r"agent-(?P<id>[A-Za-z0-9._-]{1,128})\.jsonl")
MAX_AGENT = 64
MAX_TEAM = 256
"""A team name in a subagent's meta file longer than this is not a team's."""
META_MAX = 64 * 1024
"""A subagent's ``.meta.json`` larger than this is not read (it holds a few short fields)."""


@attrs.frozen(kw_only=True)
class TeamFacts:
    name: str
    lead_session_id: str | None = None
    members: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class OrchestrationFacts:
    id: str  # the Convex id
    feature: str
    worktree: str


@attrs.frozen(kw_only=True)
class SessionFacts:
    """What hooks said about a session (``tina hook``): its team and agent, when known."""

    team: str | None = None
    agent: str | None = None


@attrs.frozen(kw_only=True)
class Facts:
    teams: Sequence[TeamFacts] = ()
    orchestrations: Sequence[OrchestrationFacts] = ()
    sessions: Mapping[str, SessionFacts] = attrs.Factory(dict)


@attrs.frozen(kw_only=True, cache_hash=True)  # a key, hashed per message
class Source:
    """Where a transcript lies: its session, and the subagent id for a subagent's file; for an
    in-process teammate's file, its name and team as its ``.meta.json`` gives them."""

    session_id: str | None = None
    subagent: str | None = None
    name: str | None = None
    team: str | None = None


@attrs.frozen(kw_only=True, cache_hash=True)  # a key, hashed per message
class Attribution:
    orchestration_id: str | None = None
    phase: str | None = None
    agent: str | None = None


UNATTRIBUTED = Attribution()


def team_facts(config: TeamConfig) -> TeamFacts:
    """What attribution needs of a team config Claude Code wrote."""
    return TeamFacts(
        name=config.name,
        lead_session_id=config.lead_session_id,
        members=tuple(m.name for m in config.members),
    )


def facts_from(
    teams: Iterable[TeamConfig],
    orchestrations: Mapping[str, tuple[str, str]],
    sessions: Mapping[str, SessionFacts] | None = None,
) -> Facts:
    """Facts from what the daemon holds: its teams' configs, its orchestrations as
    ``worktree -> (feature, Convex id)`` (those Convex has given an id), and hooks' sessions."""
    return Facts(
        teams=tuple(team_facts(t) for t in teams),
        orchestrations=tuple(
            OrchestrationFacts(id=oid, feature=feature, worktree=worktree)
            for worktree, (feature, oid) in sorted(orchestrations.items())
        ),
        sessions=dict(sessions or {}),
    )


def source_of(path: PurePath) -> Source:
    """The session (and subagent) a transcript's path names."""
    if path.suffix != ".jsonl":
        return Source()
    match = _AGENT_FILE.fullmatch(path.name)
    if match is not None and path.parent.name == "subagents":
        return Source(session_id=path.parent.parent.name or None, subagent=match["id"])
    return Source(session_id=path.stem or None)


class _Meta(msgspec.Struct, rename="camel"):
    """What a subagent's ``agent-<id>.meta.json`` says of a teammate (its other fields, and
    a plain subagent's, are not read)."""

    name: str | None = None
    team_name: str | None = None


_META = msgspec.json.Decoder(_Meta)


def read_source(path: Path) -> tuple[Source, bool]:
    """:func:`source_of`, with a subagent's name and team read from ``agent-<id>.meta.json``
    beside it (blocking), and whether that is final: False while the file is not there (the
    caller looks again later). A file of another shape gives no name, never an error."""
    source = source_of(path)
    if source.subagent is None:
        return source, True
    try:
        found = read_file(path.with_name(f"agent-{source.subagent}.meta.json"), limit=META_MAX)
    except FileRefused:
        return source, True
    if found is None:
        return source, False
    try:
        meta = _META.decode(found.data)
    except (msgspec.DecodeError, RecursionError):
        return source, True
    if meta.team_name is not None and len(meta.team_name) > MAX_TEAM:
        return source, True  # no team of Claude Code's is named so long: not a teammate's
    return attrs.evolve(source, name=_agent_name(meta.name), team=meta.team_name), True


def _inside(cwd: str, worktree: str) -> bool:
    root = worktree.rstrip("/")
    return bool(root) and (cwd == root or cwd.startswith(root + "/"))


def _by_cwd(cwd: str | None, candidates: Sequence[OrchestrationFacts]) -> OrchestrationFacts | None:
    """The one candidate whose worktree holds `cwd` (the deepest, when worktrees nest)."""
    if not cwd:
        return None
    inside = [o for o in candidates if _inside(cwd, o.worktree)]
    if not inside:
        return None
    deepest = max(len(o.worktree.rstrip("/")) for o in inside)
    best = [o for o in inside if len(o.worktree.rstrip("/")) == deepest]
    return best[0] if len({o.id for o in best}) == 1 else None


def _team(session: str | None, facts: Facts) -> TeamFacts | None:
    if session is None:
        return None
    led = [t for t in facts.teams if t.lead_session_id == session]
    if len({t.name for t in led}) == 1:
        return led[0]
    if led:
        return None  # two teams claim the session: do not pick one
    hint = facts.sessions.get(session)
    if hint is not None and hint.team is not None:
        named = [t for t in facts.teams if t.name == hint.team]
        return named[0] if named else TeamFacts(name=hint.team)
    return None


def _named_team(record: UsageRecord, facts: Facts) -> TeamFacts | None:
    """The one team named ``record.team_name`` that has ``record.agent_name`` as a member."""
    found = [t for t in facts.teams if t.name == record.team_name]
    if len(found) != 1 or record.agent_name not in found[0].members:
        return None
    return found[0]


def _agent_name(value: str | None) -> str | None:
    return value if value is not None and 0 < len(value) <= MAX_AGENT else None


def attribute(record: UsageRecord, source: Source, facts: Facts) -> Attribution:
    session = source.session_id or record.session_id
    team = _team(session, facts)
    if team is None and source.subagent is None and record.team_name is not None:
        team = _named_team(record, facts)  # the team the line names, its agent a member of it
    by_cwd = _by_cwd(record.cwd, facts.orchestrations)
    if team is None:
        return Attribution(orchestration_id=by_cwd.id) if by_cwd is not None else UNATTRIBUTED

    phase: str | None = None
    orchestration_team = False
    if (m := _PHASE_TEAM.fullmatch(team.name)) is not None:
        feature, phase = m["feature"], m["phase"]
    elif (m := _ORCH_TEAM.fullmatch(team.name)) is not None:
        feature, orchestration_team = m["feature"], True
    else:  # not one of tina's teams: the cwd alone
        return Attribution(orchestration_id=by_cwd.id) if by_cwd is not None else UNATTRIBUTED

    of_feature = [o for o in facts.orchestrations if o.feature == feature]
    if len({o.id for o in of_feature}) == 1:
        orchestration: OrchestrationFacts | None = of_feature[0]
    else:
        orchestration = _by_cwd(record.cwd, of_feature)
    if orchestration is None:
        return UNATTRIBUTED
    if by_cwd is not None and by_cwd.id != orchestration.id:
        return UNATTRIBUTED  # the team says one orchestration, the cwd another

    agent: str | None = None
    hint = facts.sessions.get(session) if session is not None else None
    if source.subagent is None:
        if hint is not None and hint.agent is not None and source.session_id is not None:
            agent = hint.agent
        elif team.lead_session_id == session:
            agent = ORCHESTRATOR if orchestration_team else LEAD
        elif record.team_name == team.name and record.agent_name in team.members:
            agent = record.agent_name
            if agent == LEAD and orchestration_team:
                agent = ORCHESTRATOR
    elif record.agent_name is not None and record.agent_name in team.members:
        agent = record.agent_name
    elif source.name in team.members and source.team in (None, team.name):
        agent = source.name  # an in-process teammate whose lines do not name it
    return Attribution(orchestration_id=orchestration.id, phase=phase, agent=_agent_name(agent))


class Attributions:
    """:func:`attribute`, remembered for the facts in hand: a round's messages come from a few
    sessions, and each answer would otherwise walk every team and worktree the daemon knows.
    What :func:`attribute` reads of a message is its session, cwd, agent and team names, so
    those and the transcript's source are the key; facts equal to the last ones keep the answers
    (the daemon builds them anew each round), other facts forget them."""

    MAX = 4096
    """Answers kept at most; past it they are forgotten and found again."""

    def __init__(self) -> None:
        self._facts: Facts | None = None
        self._known: dict[
            tuple[Source, str | None, str | None, str | None, str | None], Attribution
        ] = {}

    def of(self, record: UsageRecord, source: Source, facts: Facts) -> Attribution:
        if facts is not self._facts:
            if facts != self._facts:
                self._known.clear()
            self._facts = facts
        key = (source, record.session_id, record.cwd, record.agent_name, record.team_name)
        found = self._known.get(key)
        if found is None:
            if len(self._known) >= self.MAX:
                self._known.clear()
            found = self._known[key] = attribute(record, source, facts)
        return found

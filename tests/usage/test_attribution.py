from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import attrs

from tests.usage.conftest import LEAD_SESSION, WORKTREE
from tina.usage import (
    UNATTRIBUTED,
    Attribution,
    Attributions,
    Facts,
    OrchestrationFacts,
    SessionFacts,
    Source,
    TeamFacts,
    UsageRecord,
    attribute,
    read_source,
    source_of,
)

ORCH = OrchestrationFacts(id="orch1", feature="billing-export", worktree=WORKTREE)
OTHER = OrchestrationFacts(
    id="orch2", feature="search", worktree="/Users/dev/repo/.worktrees/search"
)
PHASE_TEAM = TeamFacts(
    name="billing-export-phase-1.5",
    lead_session_id=LEAD_SESSION,
    members=("team-lead", "executor-1", "reviewer"),
)
ORCH_TEAM = TeamFacts(name="billing-export-orchestration", lead_session_id="orch-session")
FACTS = Facts(teams=(PHASE_TEAM, ORCH_TEAM), orchestrations=(ORCH, OTHER))


def _record(
    *,
    cwd: str | None = WORKTREE,
    session: str | None = None,
    agent: str | None = None,
    team: str | None = None,
) -> UsageRecord:
    return UsageRecord(
        key="m:r",
        model="claude-sonnet-4-5",
        input=1,
        output=1,
        cache_write=0,
        cache_read=0,
        at_ms=0,
        session_id=session,
        cwd=cwd,
        agent_name=agent,
        team_name=team,
    )


def test_source_of_a_session_file_and_a_subagent_file() -> None:
    project = PurePosixPath("/h/.claude/projects/-Users-dev-repo")
    assert source_of(project / "abc.jsonl") == Source(session_id="abc")
    assert source_of(project / "abc" / "subagents" / "agent-f00.jsonl") == Source(
        session_id="abc", subagent="f00"
    )
    assert source_of(project / "notes.txt") == Source()
    assert source_of(project / "agent-f00.jsonl") == Source(session_id="agent-f00")


def test_a_phase_lead_session_is_its_phase_and_team_lead() -> None:
    got = attribute(_record(), Source(session_id=LEAD_SESSION), FACTS)
    assert got == Attribution(orchestration_id="orch1", phase="1.5", agent="team-lead")


def test_the_orchestration_team_lead_is_the_orchestrator_with_no_phase() -> None:
    got = attribute(_record(), Source(session_id="orch-session"), FACTS)
    assert got == Attribution(orchestration_id="orch1", phase=None, agent="orchestrator")


def test_a_teammate_transcript_names_its_agent_only_when_it_is_a_member() -> None:
    source = Source(session_id=LEAD_SESSION, subagent="a1b2c3d")
    member = attribute(_record(agent="executor-1"), source, FACTS)
    assert member == Attribution(orchestration_id="orch1", phase="1.5", agent="executor-1")
    stranger = attribute(_record(agent="someone"), source, FACTS)
    assert stranger == Attribution(orchestration_id="orch1", phase="1.5", agent=None)
    silent = attribute(_record(), source, FACTS)
    assert silent == Attribution(orchestration_id="orch1", phase="1.5", agent=None)


# An in-process teammate's meta file, in the shape public tools read (names invented): beside
# its transcript, `<lead session>/subagents/agent-<id>.meta.json`.
TEAMMATE_META = {
    "agentType": "general-purpose",
    "description": "Implement task 3",
    "name": "reviewer",
    "spawnDepth": 1,
    "model": "sonnet",
    "taskKind": "in_process_teammate",
    "teamName": "billing-export-phase-1.5",
    "color": "blue",
    "planModeRequired": False,
}


def test_read_source_names_an_in_process_teammate_from_its_meta_file(tmp_path: Path) -> None:
    subagents = tmp_path / LEAD_SESSION / "subagents"
    subagents.mkdir(parents=True)
    transcript = subagents / "agent-a9f.jsonl"
    meta = subagents / "agent-a9f.meta.json"
    plain = Source(session_id=LEAD_SESSION, subagent="a9f")
    # Not written yet: no name, and not final (looked for again later).
    assert read_source(transcript) == (plain, False)
    meta.write_text(json.dumps(TEAMMATE_META))
    named = attrs.evolve(plain, name="reviewer", team="billing-export-phase-1.5")
    assert read_source(transcript) == (named, True)
    # A plain subagent's meta file names no one; one of another shape is not an error.
    for text in (
        json.dumps({"agentType": "Explore", "description": "Find it", "toolUseId": "toolu_01"}),
        json.dumps(TEAMMATE_META | {"name": 7}),
        json.dumps(TEAMMATE_META | {"name": "x" * 65}),
        json.dumps(TEAMMATE_META | {"teamName": "t" * 257}),
        "[1, 2",
        "[]",
    ):
        meta.write_text(text)
        got, final = read_source(transcript)
        assert (got.name, final) == (None, True), text
    # A session's own file has no meta file to look for.
    assert read_source(tmp_path / f"{LEAD_SESSION}.jsonl") == (
        Source(session_id=LEAD_SESSION),
        True,
    )


def test_a_teammate_named_only_by_its_meta_file_is_that_agent_when_its_team_agrees() -> None:
    source = Source(session_id=LEAD_SESSION, subagent="a9f", name="reviewer", team=PHASE_TEAM.name)
    phase = Attribution(orchestration_id="orch1", phase="1.5", agent="reviewer")
    assert attribute(_record(), source, FACTS) == phase
    # the line's own name comes first
    assert attribute(_record(agent="executor-1"), source, FACTS).agent == "executor-1"
    # a meta file that gives no team is taken at its name
    assert attribute(_record(), attrs.evolve(source, team=None), FACTS) == phase
    # a name not in the team, or another team's: not known
    for other in (
        attrs.evolve(source, name="someone"),
        attrs.evolve(source, team="search-phase-1"),
    ):
        assert attribute(_record(), other, FACTS).agent is None
        assert attribute(_record(), other, FACTS).phase == "1.5"


def test_the_line_session_is_used_when_the_path_names_none() -> None:
    got = attribute(_record(session=LEAD_SESSION), Source(), FACTS)
    assert got.phase == "1.5"


def test_an_unknown_session_in_a_worktree_is_the_orchestration_only() -> None:
    got = attribute(_record(cwd=WORKTREE + "/src"), Source(session_id="x"), FACTS)
    assert got == Attribution(orchestration_id="orch1")


def test_a_session_outside_every_worktree_is_unattributed() -> None:
    assert (
        attribute(_record(cwd="/Users/dev/elsewhere"), Source(session_id="x"), FACTS)
        == UNATTRIBUTED
    )
    # a sibling directory whose name starts like the worktree's is not inside it
    assert attribute(_record(cwd=WORKTREE + "-old"), Source(session_id="x"), FACTS) == UNATTRIBUTED
    assert attribute(_record(cwd=None), Source(), FACTS) == UNATTRIBUTED


def test_a_team_whose_orchestration_is_not_known_yet_is_unattributed() -> None:
    facts = attrs.evolve(FACTS, orchestrations=(OTHER,))
    assert attribute(_record(cwd=None), Source(session_id=LEAD_SESSION), facts) == UNATTRIBUTED


def test_two_orchestrations_of_one_feature_are_told_apart_by_cwd_or_not_at_all() -> None:
    second = OrchestrationFacts(id="orch3", feature="billing-export", worktree="/tmp/other-wt")
    facts = attrs.evolve(FACTS, orchestrations=(ORCH, second))
    assert attribute(_record(), Source(session_id=LEAD_SESSION), facts).orchestration_id == "orch1"
    assert attribute(
        _record(cwd="/tmp/other-wt"), Source(session_id=LEAD_SESSION), facts
    ) == Attribution(orchestration_id="orch3", phase="1.5", agent="team-lead")
    assert attribute(_record(cwd=None), Source(session_id=LEAD_SESSION), facts) == UNATTRIBUTED


def test_a_team_and_a_cwd_that_disagree_are_unattributed() -> None:
    got = attribute(_record(cwd=OTHER.worktree), Source(session_id=LEAD_SESSION), FACTS)
    assert got == UNATTRIBUTED


def test_two_teams_claiming_one_session_fall_back_to_the_cwd() -> None:
    twin = TeamFacts(name="billing-export-phase-2", lead_session_id=LEAD_SESSION)
    facts = attrs.evolve(FACTS, teams=(PHASE_TEAM, twin))
    assert attribute(_record(), Source(session_id=LEAD_SESSION), facts) == Attribution(
        orchestration_id="orch1"
    )


def test_a_team_that_is_not_tinas_counts_by_cwd_only() -> None:
    team = TeamFacts(name="session-7c1e0b2a", lead_session_id="s")
    facts = attrs.evolve(FACTS, teams=(team,))
    assert attribute(_record(), Source(session_id="s"), facts) == Attribution(
        orchestration_id="orch1"
    )


def test_hooks_name_the_team_and_agent_of_a_teammate_session() -> None:
    facts = attrs.evolve(
        FACTS,
        sessions={"tmux-mate": SessionFacts(team="billing-export-phase-1.5", agent="reviewer")},
    )
    got = attribute(_record(), Source(session_id="tmux-mate"), facts)
    assert got == Attribution(orchestration_id="orch1", phase="1.5", agent="reviewer")


def test_a_session_whose_lines_name_its_team_and_itself_is_that_member() -> None:
    """A teammate in a tmux pane is a session of its own that no team config names; its records
    carry `teamName` and `agentName` (anthropics/claude-code#75190). So may a lead's under a
    session id its team config does not name (after a resume, say)."""
    team = PHASE_TEAM.name
    mate = attribute(_record(team=team, agent="reviewer"), Source(session_id="pane-mate"), FACTS)
    assert mate == Attribution(orchestration_id="orch1", phase="1.5", agent="reviewer")
    resumed = attribute(_record(team=team, agent="team-lead"), Source(session_id="new"), FACTS)
    assert resumed == Attribution(orchestration_id="orch1", phase="1.5", agent="team-lead")
    orch = attrs.evolve(ORCH_TEAM, members=("team-lead",))
    facts = attrs.evolve(FACTS, teams=(PHASE_TEAM, orch))
    lead = attribute(_record(team=orch.name, agent="team-lead"), Source(session_id="n2"), facts)
    assert lead == Attribution(orchestration_id="orch1", phase=None, agent="orchestrator")
    # Not a member, a team not known, or no name of its own: by its cwd alone, as before.
    for record in (
        _record(team=team, agent="someone"),
        _record(team="search-phase-1", agent="reviewer"),
        _record(team=team),
    ):
        assert attribute(record, Source(session_id="pane-mate"), FACTS) == Attribution(
            orchestration_id="orch1"
        )
    # The team a config or a hook gives comes first; the line only names the agent in it.
    hinted = attrs.evolve(FACTS, sessions={"pane-mate": SessionFacts(team=team)})
    got = attribute(_record(team=team, agent="reviewer"), Source(session_id="pane-mate"), hinted)
    assert got == mate
    lead_line = _record(team="search-phase-1", agent="reviewer")
    assert attribute(lead_line, Source(session_id=LEAD_SESSION), FACTS).agent == "team-lead"
    # Remembered answers tell lines apart by the team they name too.
    remembered = Attributions()
    pane = Source(session_id="pane-mate")
    assert remembered.of(_record(agent="reviewer"), pane, FACTS).agent is None
    assert remembered.of(_record(team=team, agent="reviewer"), pane, FACTS) == mate


def test_nested_worktrees_pick_the_deepest() -> None:
    inner = OrchestrationFacts(id="inner", feature="x", worktree=WORKTREE + "/nested")
    facts = Facts(orchestrations=(ORCH, inner))
    got = attribute(_record(cwd=WORKTREE + "/nested/src"), Source(session_id="s"), facts)
    assert got == Attribution(orchestration_id="inner")


def test_facts_from_a_team_config_claude_code_wrote() -> None:
    from tests.usage.conftest import FIXTURES
    from tina.local.readers import read_team_config
    from tina.usage import facts_from

    config = read_team_config(
        FIXTURES.parent / "teams" / "billing-export-phase-1-5" / "config.json"
    )
    facts = facts_from([config], {WORKTREE: ("billing-export", "orch1")})
    (team,) = facts.teams
    assert team.name == "billing-export-phase-1.5"
    assert team.lead_session_id == "0d4f3a55-8f1e-4c2b-9a07-6a2b1c3d4e5f"
    assert "executor-1" in team.members
    got = attribute(
        _record(agent="executor-1"), Source(session_id=team.lead_session_id, subagent="x"), facts
    )
    assert got == Attribution(orchestration_id="orch1", phase="1.5", agent="executor-1")


def test_remembered_attributions_are_those_of_the_facts_in_hand() -> None:
    remembered = Attributions()
    lead = Source(session_id=LEAD_SESSION)
    teammate = _record(agent="executor-1")
    sub = Source(session_id=LEAD_SESSION, subagent="f00")
    cases = [
        (_record(), lead),
        (teammate, sub),
        (_record(agent="stranger"), sub),
        (_record(cwd="/elsewhere"), Source(session_id="s2")),
        (_record(session="s3"), Source()),
    ]
    for _ in range(2):  # answered, then remembered
        for record, source in cases:
            assert remembered.of(record, source, FACTS) == attribute(record, source, FACTS)
    # Equal facts built anew (as each round does) give the same answers.
    again = Facts(teams=tuple(FACTS.teams), orchestrations=tuple(FACTS.orchestrations))
    assert remembered.of(teammate, sub, again).agent == "executor-1"
    # Other facts: the phase team is gone, so is what was known of it.
    fewer = Facts(teams=(ORCH_TEAM,), orchestrations=(ORCH, OTHER))
    for record, source in cases:
        assert remembered.of(record, source, fewer) == attribute(record, source, fewer)
    assert remembered.of(_record(), lead, fewer) == Attribution(orchestration_id="orch1")
    # Bounded: past MAX answers they are found again, still right.
    for i in range(Attributions.MAX + 5):
        found = remembered.of(_record(cwd=f"{WORKTREE}/d{i}"), Source(session_id="x"), FACTS)
        assert found == Attribution(orchestration_id="orch1")
    assert len(remembered._known) <= Attributions.MAX

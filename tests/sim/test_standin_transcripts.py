"""The stand-in Claude Code's transcripts, read back by tina's usage reader and attribution."""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import attrs
import pytest

from tina.dev.sim.account import ACCOUNT_NAME, Account
from tina.dev.sim.claude_hooks import transcript_path
from tina.dev.sim.driver import PLANNER, VALIDATOR, OrchestrationTeam
from tina.dev.sim.sandbox import Laptop
from tina.dev.sim.transcripts import (
    LEAD_MODEL,
    TEAMMATE_MODEL,
    Transcript,
    Usage,
    subagent_path,
)
from tina.local.readers import read_team_config
from tina.usage import (
    Aggregator,
    Dedupe,
    TranscriptReader,
    UsageRecord,
    attribute,
    counts_of,
    facts_from,
    load_prices,
    read_source,
    source_of,
)

from .standin_world import StandinWorld

# --- one transcript ------------------------------------------------------------------------------


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_message_with_a_tool_call_is_two_lines_counted_once(tmp_path: Path) -> None:
    path = tmp_path / "projects" / "-w" / "s1.jsonl"
    billed: list[tuple[Usage, str]] = []
    transcript = Transcript(
        path, session_id="s1", cwd=Path("/w"), model=LEAD_MODEL,
        on_usage=lambda usage, model: billed.append((usage, model)),
    )  # fmt: skip
    transcript.user("<command-name>/x</command-name>")
    usage = transcript.say("Committing.", tool="Bash", tool_input={"command": "git commit"})

    lines = _lines(path)
    assert [line["type"] for line in lines] == ["user", "assistant", "assistant", "user"]
    first, second = lines[1], lines[2]
    assert first["message"]["id"] == second["message"]["id"]
    assert first["requestId"] == second["requestId"]
    assert [first["message"]["content"][0]["type"], second["message"]["content"][0]["type"]] == [
        "text", "tool_use"]  # fmt: skip
    # Each line names its parent: one chain, as Claude Code writes it.
    assert lines[0]["parentUuid"] is None
    assert [line["parentUuid"] for line in lines[1:]] == [line["uuid"] for line in lines[:-1]]
    for line in lines:
        assert (line["sessionId"], line["cwd"], line["isSidechain"]) == ("s1", "/w", False)
        assert line["timestamp"].endswith("Z")

    # As Claude Code streams a reply: the first line's output is the reply's start, the last
    # line's the final count; the other figures are the same on both.
    started, final = (line["message"]["usage"] for line in (first, second))
    assert started["output_tokens"] < final["output_tokens"] == usage.output
    assert first["message"]["stop_reason"] is None
    assert second["message"]["stop_reason"] == "tool_use"
    assert {k: v for k, v in started.items() if k != "output_tokens"} == {
        k: v for k, v in final.items() if k != "output_tokens"
    }

    records = TranscriptReader().read(path).records
    assert len(records) == 2
    dedupe = Dedupe()
    counted = sum((_counted(dedupe, r)[0] for r in records), Counter())
    assert counted == _tokens(records[1])  # one message, at its last line's figures
    assert (records[1].model, records[1].output) == (LEAD_MODEL, usage.output)
    assert billed == [(usage, LEAD_MODEL)]


def test_cache_reads_dominate_and_every_model_has_a_price(tmp_path: Path) -> None:
    transcript = Transcript(tmp_path / "t.jsonl", session_id="s", cwd=tmp_path, model=LEAD_MODEL)
    said = [transcript.say(f"step {n}", tool="Read") for n in range(10)]
    assert all(120 <= u.output <= 2_400 and u.input <= 12 for u in said)
    reads = sum(u.cache_read for u in said)
    assert reads > 5 * sum(u.input + u.output + u.cache_write for u in said)
    # Each request reads from the cache everything said before it.
    assert all(later.cache_read > earlier.cache_read for earlier, later in itertools.pairwise(said))
    prices = load_prices()
    assert prices.price(LEAD_MODEL) is not None and prices.price(TEAMMATE_MODEL) is not None


def test_the_first_answer_reads_the_system_prompt_and_writes_what_was_said(
    tmp_path: Path,
) -> None:
    transcript = Transcript(tmp_path / "t.jsonl", session_id="s", cwd=tmp_path, model=LEAD_MODEL)
    transcript.user("x" * 4_000)  # about a thousand tokens said before the first response
    assert transcript.context > 1_000
    first = transcript.say("On it.")
    assert first.cache_read >= 9_000 and first.cache_write >= 3_000 + 1_000
    assert transcript.context == first.cache_read + first.cache_write + first.input + first.output
    transcript.user("y" * 4_000)
    second = transcript.say("Done.")
    assert second.cache_read == transcript.context - second.cache_write - second.input - (
        second.output)  # fmt: skip
    assert second.cache_write >= 300 + 1_000


def test_a_teammate_writes_under_its_leads_session(tmp_path: Path) -> None:
    path = subagent_path(tmp_path, Path("/Users/dev/repo/.worktrees/f"), "lead-1", "a1b2")
    assert path == tmp_path / "projects" / "-Users-dev-repo--worktrees-f" / "lead-1" / (
        "subagents/agent-a1b2.jsonl")  # fmt: skip
    mate = Transcript(
        path, session_id="lead-1", cwd=Path("/w"), model=TEAMMATE_MODEL, agent_id="a1b2",
        agent_name="worker",
    )  # fmt: skip
    mate.say("On it.")
    [line] = _lines(path)
    assert (line["isSidechain"], line["agentId"], line["agentName"]) == (True, "a1b2", "worker")
    source = source_of(path)
    assert (source.session_id, source.subagent) == ("lead-1", "a1b2")


def test_an_unwritable_transcript_never_fails_the_caller(tmp_path: Path) -> None:
    (tmp_path / "blocked").write_text("a file where a directory should be")
    transcript = Transcript(
        tmp_path / "blocked" / "s.jsonl", session_id="s", cwd=tmp_path, model=LEAD_MODEL,
        on_usage=lambda usage, model: pytest.fail("nothing was written, nothing billed"),
    )  # fmt: skip
    transcript.touch()
    transcript.user("hi")
    transcript.say("Hello.", tool="Read")


# --- whole runs ----------------------------------------------------------------------------------

ORCHESTRATION = "orch-1"
INIT = "/tina:team-lead-init team_name: f-phase-1 plan_path: {plan}"
TEAM = ("team-lead", "worker", "spec-reviewer", "code-quality-reviewer", "architect")


def _transcripts(world: StandinWorld) -> list[Path]:
    return sorted((world.home / ".claude" / "projects").rglob("*.jsonl"))


def _billed(world: StandinWorld) -> dict[str, Counter[str]]:
    """What the stand-in says each agent's messages used, from its log (once per message)."""
    out: dict[str, Counter[str]] = {}
    log = world.home / ".claude" / "tina-standin.log"
    for line in log.read_text().splitlines():
        event = json.loads(line)
        if event["event"] == "usage":
            sums = out.setdefault(event["agent"], Counter())
            kinds = ("input", "output", "cache_write", "cache_read", "web_searches")
            sums.update({k: event[k] for k in kinds})
            sums["messages"] += 1
    return out


def _tokens(record: UsageRecord) -> Counter[str]:
    return Counter(
        input=record.input, output=record.output, cache_write=record.cache_write,
        cache_read=record.cache_read, web_searches=record.web_searches, messages=1,
    )  # fmt: skip


def _counted(dedupe: Dedupe, record: UsageRecord) -> tuple[Counter[str], tuple[int, ...] | None]:
    """What the ledger counts of a line (`tina.usage.ledger`): the whole message on its first
    line, what a later line says more after it (`more`, None on the first line; nothing when it
    says no more)."""
    counts = counts_of(record)
    if dedupe.first(record.key, counts):
        return _tokens(record), None
    more = dedupe.growth(record.key, counts)
    if more is None:
        return Counter(), None
    names = ("input", "output", "cache_write", "cache_read", "", "web_searches")
    return Counter({n: v for n, v in zip(names, more, strict=True) if n and v}), more


def test_a_phases_transcripts_give_each_agent_its_tokens(tmp_path: Path) -> None:
    world = StandinWorld(tmp_path)
    world.scenario({"default": {
        "step_secs": 0.0, "tasks": 2, "plan_approval_secs": 0.0, "teammate_permission_secs": 0.0,
        "rate_limit_secs": 0.0,
    }})  # fmt: skip
    result = world.run("my password is hunter2", INIT.format(plan=world.plan))
    assert result.returncode == 0, result.stderr

    paths = _transcripts(world)
    project = transcript_path(world.home / ".claude", world.worktree, "s").parent
    assert project.name.startswith("-") and "/" not in project.name
    assert paths and all(p.is_relative_to(project) for p in paths)
    # Nobody's own words reach a transcript.
    assert not [p for p in paths if "hunter2" in p.read_text()]

    config = read_team_config(world.home / ".claude" / "teams" / "f-phase-1" / "config.json")
    facts = facts_from([config], {str(world.worktree): ("f", ORCHESTRATION)})
    reader, dedupe, aggregator = TranscriptReader(), Dedupe(), Aggregator()
    got: dict[tuple[str | None, str | None, str | None], Counter[str]] = {}
    models = set()
    # Each in-process teammate's meta file names it and its team, as Claude Code writes them:
    # its lines are its own even without their `agentName`.
    metas = sorted(project.rglob("agent-*.meta.json"))
    assert {json.loads(m.read_text())["name"] for m in metas} == set(TEAM) - {"team-lead"}
    for path in paths:
        source, final = read_source(path)
        assert final and (source.subagent is None) == (source.name is None), path
        assert source.team in (None, "f-phase-1")
        for record in reader.read(path).records:
            tokens, more = _counted(dedupe, record)
            if not tokens:
                continue
            who = attribute(record, source, facts)
            if source.subagent is not None:  # in-process: named by its meta file too
                assert attribute(attrs.evolve(record, agent_name=None), source, facts) == who
            got.setdefault((who.orchestration_id, who.phase, who.agent), Counter()).update(tokens)
            aggregator.add(record, who, now_ms=int(time.time() * 1000), more=more)
            models.add(record.model)
    # messages written as two lines, counted once, at their last line's figures
    assert dedupe.repeats > 0 and dedupe.grown > 0
    assert (reader.malformed, reader.synthetic) == (0, 1)  # the usage limit's message: not billed

    billed = _billed(world)
    assert set(billed) == {*TEAM, "tester"}
    # The teammate in plan mode looks something up: a web search, priced per search.
    assert {a: s["web_searches"] for a, s in billed.items() if s["web_searches"]} == {
        "architect": 1
    }
    for agent in TEAM:
        assert billed[agent]["cache_read"] > 0 and billed[agent]["output"] > 0
        assert got.pop((ORCHESTRATION, "1", agent)) == billed[agent], agent
    # The pane teammate is a session of its own that no team config names: its lines name its
    # team and itself.
    assert got.pop((ORCHESTRATION, "1", "tester")) == billed["tester"]
    assert got == {}

    assert models == {LEAD_MODEL, TEAMMATE_MODEL}
    rows = aggregator.take(load_prices())
    assert rows and all(row.cost_micros is not None and row.cost_micros > 0 for row in rows)


def test_the_transcripts_grow_as_the_work_goes_on(tmp_path: Path) -> None:
    """Written turn by turn, not at the end: a phase that never finishes has already written
    its lead's and its worker's messages."""
    world = StandinWorld(tmp_path)
    world.scenario({"default": {"step_secs": 0.0, "tasks": 4, "outcome": "hang"}})
    proc = subprocess.Popen(
        [str(world.claude)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
        cwd=world.worktree, env=world.env, text=True,
    )  # fmt: skip
    assert proc.stdin is not None
    try:
        proc.stdin.write(INIT.format(plan=world.plan) + "\n")
        proc.stdin.flush()
        log = world.home / ".claude" / "tina-standin.log"
        deadline = time.monotonic() + 60
        while not (log.exists() and '"outcome": "hang"' in log.read_text()):
            assert time.monotonic() < deadline, "the phase never reached its hang"
            time.sleep(0.02)
        assert proc.poll() is None  # still at work
        billed = _billed(world)
        assert billed["team-lead"]["messages"] >= 3 and billed["worker"]["messages"] >= 4
        reader = TranscriptReader()
        counted = Dedupe()
        agents = Counter(
            r.agent_name or "team-lead"
            for p in _transcripts(world)
            for r in reader.read(p).records
            if counted.first(r.key)
        )
        assert agents["team-lead"] == billed["team-lead"]["messages"]
        assert agents["worker"] == billed["worker"]["messages"]
    finally:
        proc.communicate("", timeout=60)


# --- the simulated orchestrator ------------------------------------------------------------------


def _attributed(claude: Path, worktree: Path, team: str) -> tuple[dict[Any, Counter[str]], int]:
    """Each (orchestration, phase, agent)'s tokens in the transcripts under `claude`, and how many
    repeated lines were counted once."""
    config = read_team_config(claude / "teams" / team / "config.json")
    facts = facts_from([config], {str(worktree): ("f", ORCHESTRATION)})
    reader, dedupe = TranscriptReader(), Dedupe()
    got: dict[Any, Counter[str]] = {}
    for path in sorted((claude / "projects").rglob("*.jsonl")):
        source = source_of(path)
        for record in reader.read(path).records:
            tokens, _ = _counted(dedupe, record)
            if tokens:
                who = attribute(record, source, facts)
                key = (who.orchestration_id, who.phase, who.agent)
                got.setdefault(key, Counter()).update(tokens)
    return got, dedupe.repeats


@pytest.mark.parametrize("panes", [False, True])
def test_the_orchestrators_transcripts_are_its_orchestrations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, panes: bool
) -> None:
    with Laptop(tmp_path / "lt", "lt", "http://127.0.0.1:1") as lt:
        monkeypatch.setattr(lt, "open_pane", lambda session, cwd: "%7")  # no tmux needed
        worktree = tmp_path / "wt"
        worktree.mkdir()
        team = OrchestrationTeam(lt, "f", worktree, panes=panes)
        team.create(1)
        team.begin("validate", None, *VALIDATOR)
        team.end("validate", None)
        team.begin("plan", "1", *PLANNER)
        team.end("plan", "1")
        got, repeats = _attributed(lt.claude, worktree, "f-orchestration")
        # What they cost is spent from the laptop's account, as the phase leads' is.
        spent = Account(lt.claude / ACCOUNT_NAME).rate_limits()
    assert spent["five_hour"]["used_percentage"] > 0
    assert repeats > 0
    orchestrator = got.pop((ORCHESTRATION, None, "orchestrator"))
    assert orchestrator["messages"] == 5  # the team, two hand-overs, two results read
    assert orchestrator["cache_read"] > orchestrator["output"] > 0
    # The validator searches the web once before its work (a search, priced per search).
    # In-process or in a pane of its own (a session no team config names), each teammate's
    # lines name it and its team.
    for (name, _), messages, searches in ((VALIDATOR, 3, 1), (PLANNER, 2, 0)):
        mate = got.pop((ORCHESTRATION, None, name))
        assert (mate["messages"], mate["web_searches"]) == (messages, searches), name
    assert got == {}

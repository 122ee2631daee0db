"""The stand-in ``claude``: the scenario, and whole runs of the wrapper over a pipe."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tina.dev.sim import standin_claude
from tina.dev.sim.standin_claude import Scenario, parse_init_line, phase_of, pick
from tina.local import append_inbox_message

from .standin_world import StandinWorld

# --- the scenario (pure) -------------------------------------------------------------------------


def test_defaults_without_a_scenario() -> None:
    assert pick({}, "1", 1) == (Scenario(), [])


def test_phase_entries_lie_over_the_default() -> None:
    doc = {"default": {"tasks": 5, "step_secs": 0}, "phases": {"2": {"outcome": "hang"}}}
    scenario, errors = pick(doc, "2", 1)
    assert errors == []
    assert (scenario.outcome, scenario.tasks, scenario.step_secs) == ("hang", 5, 0.0)
    assert pick(doc, "1", 1)[0].outcome == "complete"


def test_a_list_is_successive_launches_and_the_last_repeats() -> None:
    doc = {"phases": {"1": [{"outcome": "blocked", "reason": "r"}, {"outcome": "complete"}]}}
    assert pick(doc, "1", 1)[0].outcome == "blocked"
    assert pick(doc, "1", 1)[0].reason == "r"
    assert pick(doc, "1", 2)[0].outcome == "complete"
    assert pick(doc, "1", 7)[0].outcome == "complete"


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({"default": {"outcome": "explode"}}, "outcome must be one of"),
        ({"default": {"tasks": "3"}}, "tasks must be an integer"),
        ({"default": {"tasks": True}}, "tasks must be an integer"),
        ({"default": {"step_secs": -1}}, "step_secs must be a number"),
        ({"default": {"commit": "yes"}}, "commit must be true or false"),
        ({"default": {"teammates": ["team-lead"]}}, "teammates must be a list"),
        ({"default": {"colour": "red"}}, "unknown field 'colour'"),
        ({"default": []}, "default: expected an object"),
        ({"phases": []}, "phases: expected an object"),
        ({"phases": {"1": []}}, "an empty list of launches"),
        ({"extra": 1}, "unknown top-level keys"),
    ],
)
def test_a_malformed_scenario_is_reported_and_the_defaults_used(
    doc: dict[str, Any], fragment: str
) -> None:
    scenario, errors = pick(doc, "1", 1)
    assert scenario == Scenario()
    assert any(fragment in e for e in errors), errors


def test_only_the_bad_field_falls_back() -> None:
    scenario, errors = pick({"default": {"tasks": "x", "outcome": "blocked"}}, "1", 1)
    assert scenario.outcome == "blocked" and scenario.tasks == Scenario().tasks
    assert len(errors) == 1


def test_the_init_line_and_the_phase() -> None:
    line = "/tina:team-lead-init team_name: f-phase-1.5.5 plan_path: /w/docs/plans/p.md"
    assert parse_init_line(line) == ("f-phase-1.5.5", "/w/docs/plans/p.md")
    assert parse_init_line("/tina:team-lead-init team_name: x") is None
    assert phase_of("my-phase-feature-phase-1.5.5") == "1.5.5"
    assert phase_of("f-phase-10") == "10"
    assert phase_of("f-orchestration") is None
    assert standin_claude.team_dir_name("f-phase-1.5") == "f-phase-1-5"


def test_the_scenario_file_comes_from_the_env_or_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    assert standin_claude.load_scenario({"HOME": str(home)}) == ({}, [])
    (home / ".claude" / "tina-standin.json").write_text('{"default": {"tasks": 1}}')
    assert standin_claude.load_scenario({"HOME": str(home)}) == ({"default": {"tasks": 1}}, [])
    named = tmp_path / "s.json"
    named.write_text("{not json")
    doc, errors = standin_claude.load_scenario(
        {"HOME": str(home), "TINA_STANDIN_SCENARIO": str(named)}
    )
    assert doc == {} and "is not JSON" in errors[0]


# --- whole runs over a pipe ----------------------------------------------------------------------


class World(StandinWorld):
    PLAN = "# Phase 1\n\n### Task 1: Add the parser\n\n**Model:** haiku\n"

    def init_line(self, phase: str = "1", plan: Path | None = None) -> str:
        return f"/tina:team-lead-init team_name: f-phase-{phase} plan_path: {plan or self.plan}"

    def status(self, phase: str = "1") -> dict[str, Any]:
        path = self.worktree / ".claude" / "tina" / f"phase-{phase}" / "status.json"
        doc = json.loads(path.read_text())
        assert isinstance(doc, dict)
        return doc

    def log(self) -> list[dict[str, Any]]:
        path = self.home / ".claude" / "tina-standin.log"
        return [json.loads(line) for line in path.read_text().splitlines()]

    def tasks(self, team_dir: str, *, trackers: bool = False) -> list[dict[str, Any]]:
        """The team's task files (without the teammates' trackers unless asked)."""
        directory = self.home / ".claude" / "tasks" / team_dir
        docs = [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]
        return [d for d in docs if trackers or not d.get("metadata", {}).get("_internal")]


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


FAST = {"step_secs": 0.0}


def test_the_wrapper_runs_this_module(world: World) -> None:
    text = world.claude.read_text()
    assert text.startswith("#!/bin/sh\n") and "-m tina.dev.sim.standin_claude" in text
    assert os.access(world.claude, os.X_OK)
    result = subprocess.run(
        [str(world.claude), "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    assert "Claude Code" in result.stdout


def test_a_complete_phase(world: World) -> None:
    world.scenario({"default": FAST})
    result = world.run(world.init_line())
    assert result.returncode == 0, result.stderr
    # What start's readiness check looks for, and the prompt again after the phase.
    assert "bypass permissions on" in result.stdout
    assert result.stdout.count(standin_claude.PROMPT) == 2
    status = world.status()
    assert status["status"] == "complete"
    assert set(status) == {"status", "started_at", "completed_at"}  # no git_range, as the skill

    config = json.loads((world.home / ".claude/teams/f-phase-1/config.json").read_text())
    assert config["name"] == "f-phase-1" and config["leadAgentId"] == "team-lead@f-phase-1"
    assert config["leadSessionId"]
    lead, *mates = config["members"]
    assert (lead["name"], lead["tmuxPaneId"]) == ("team-lead", "")
    assert [m["name"] for m in mates] == ["worker", "spec-reviewer", "code-quality-reviewer"]
    assert {(m["backendType"], m["tmuxPaneId"]) for m in mates} == {("in-process", "in-process")}

    all_tasks = world.tasks("f-phase-1", trackers=True)
    tasks = [t for t in all_tasks if not t["metadata"].get("_internal")]
    assert [t["id"] for t in tasks] == ["1", "2", "3"]
    assert tasks[0]["subject"] == "Task 1: Add the parser"  # from the plan's heading
    assert {t["status"] for t in tasks} == {"completed"}
    assert tasks[0]["blocks"] == ["2"] and tasks[1]["blockedBy"] == ["1"]
    assert all(t["owner"] == "worker" for t in tasks)
    # Each teammate's tracker: the next ids, its name as subject, completed once it shut down.
    trackers = sorted(
        (t for t in all_tasks if t["metadata"].get("_internal")), key=lambda t: int(t["id"])
    )
    assert [(t["id"], t["subject"]) for t in trackers] == [
        ("4", "worker"), ("5", "spec-reviewer"), ("6", "code-quality-reviewer")]  # fmt: skip
    assert {t["status"] for t in trackers} == {"completed"}
    assert all(t["description"].startswith("You are ") for t in trackers)

    subjects = world.git("log", "--format=%s").splitlines()
    assert subjects[:3] == [f"phase 1: Task {n}: {s}" for n, s in (
        (3, "simulated work item 3"), (2, "simulated work item 2"), (1, "Add the parser"))]  # fmt: skip

    log = world.log()
    assert log[0]["event"] == "start"
    assert log[0]["argv"][1:] == ["--dangerously-skip-permissions"]
    assert os.path.basename(log[0]["argv"][0]) == "claude"
    assert log[0]["cwd"] == str(world.worktree)
    inputs = [e["line"] for e in log if e["event"] == "input"]
    assert inputs == [world.init_line()]
    assert [e["outcome"] for e in log if e["event"] == "outcome"] == ["complete"]


def inbox(world: World, team: str, agent: str) -> list[dict[str, Any]]:
    path = world.home / ".claude" / "teams" / team / "inboxes" / f"{agent}.json"
    doc = json.loads(path.read_text())
    assert isinstance(doc, list)
    return doc


def kinds(entries: list[dict[str, Any]]) -> list[str]:
    return [json.loads(e["text"])["type"] for e in entries]


def test_a_complete_phase_talks_through_inboxes_as_claude_code_does(world: World) -> None:
    world.scenario({"default": {**FAST, "tasks": 2}})
    result = world.run(world.init_line())
    assert result.returncode == 0, result.stderr
    worker = inbox(world, "f-phase-1", "worker")
    assert kinds(worker) == ["task_assignment", "task_assignment", "shutdown_request"]
    assignment = json.loads(worker[0]["text"])
    assert (assignment["taskId"], assignment["assignedBy"]) == ("1", "team-lead")
    assert all(e["from"] == "team-lead" and e["timestamp"].endswith("Z") for e in worker)
    lead = inbox(world, "f-phase-1", "team-lead")
    from_worker = [json.loads(e["text"]) for e in lead if e["from"] == "worker"]
    assert [m["type"] for m in from_worker] == [
        "idle_notification", "idle_notification", "shutdown_approved"]  # fmt: skip
    assert from_worker[0]["idleReason"] == "available"
    assert from_worker[2]["requestId"] == json.loads(worker[2]["text"])["requestId"]
    assert kinds(inbox(world, "f-phase-1", "spec-reviewer")) == ["shutdown_request"]
    config = json.loads((world.home / ".claude/teams/f-phase-1/config.json").read_text())
    assert {m["name"]: m.get("isActive") for m in config["members"][1:]} == {
        "worker": False, "spec-reviewer": False, "code-quality-reviewer": False}  # fmt: skip


def test_a_message_in_an_inbox_is_picked_up_marked_read_and_shown(world: World) -> None:
    world.scenario({"default": {**FAST, "outcome": "hang", "tasks": 1}})
    proc = subprocess.Popen(
        [str(world.claude)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        cwd=world.worktree, env=world.env, text=True,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(world.init_line() + "\n")
        proc.stdin.flush()
        path = world.home / ".claude" / "teams" / "f-phase-1" / "inboxes" / "spec-reviewer.json"
        deadline = time.monotonic() + 30
        while not (world.home / ".claude/teams/f-phase-1/config.json").exists():
            assert time.monotonic() < deadline, "the team never appeared"
            time.sleep(0.02)
        append_inbox_message(path, sender="tina", text="Check the rollback too, please.")
        while not all(e.get("read") for e in json.loads(path.read_text())):
            assert time.monotonic() < deadline, "the message was never marked read"
            time.sleep(0.02)
    finally:
        out, _ = proc.communicate("", timeout=60)
    assert "spec-reviewer got a message from tina:" in out
    assert "Check the rollback too, please." in out
    picked = [e for e in world.log() if e["event"] == "message"]
    assert picked == [
        {**picked[0], "recipient": "spec-reviewer", "sender": "tina",
         "text": "Check the rollback too, please."}]  # fmt: skip


def test_successive_launches_block_then_complete(world: World) -> None:
    world.scenario({
        "default": FAST,
        "phases": {"1": [{"outcome": "blocked", "reason": "Reviewer said no", "gate": "review"},
                         {"outcome": "complete", "tasks": 1}]},
    })  # fmt: skip
    assert world.run(world.init_line()).returncode == 0
    blocked = world.status()
    assert blocked["status"] == "blocked" and blocked["reason"] == "Reviewer said no"
    assert blocked["gate"] == "review" and "blocked_reason" not in blocked
    assert world.run(world.init_line()).returncode == 0
    assert world.status()["status"] == "complete"
    counter = world.worktree / ".claude/tina/phase-1/standin-launches"
    assert counter.read_text().strip() == "2"


def test_a_remediation_phase_uses_a_dashed_team_directory(world: World) -> None:
    world.scenario({"default": {**FAST, "tasks": 2}})
    plan = world.plan.with_name("2026-02-07-f-phase-1.5.5.md")
    plan.write_text("# Remediation\n")
    assert world.run(world.init_line("1.5.5", plan)).returncode == 0
    assert world.status("1.5.5")["status"] == "complete"
    config = json.loads((world.home / ".claude/teams/f-phase-1-5-5/config.json").read_text())
    assert config["name"] == "f-phase-1.5.5"
    assert len(world.tasks("f-phase-1-5-5")) == 2


def test_a_missing_plan_blocks_the_phase(world: World) -> None:
    world.scenario({"default": FAST})
    assert world.run(world.init_line(plan=world.worktree / "nope.md")).returncode == 0
    status = world.status()
    assert status["status"] == "blocked" and status["reason"].startswith("Plan file not found")


def test_a_malformed_scenario_is_shown_and_the_defaults_run(world: World) -> None:
    world.scenario_path.write_text("{nope")
    result = world.run(world.init_line())
    assert result.returncode == 0
    assert "stand-in scenario error" in result.stdout
    assert world.status()["status"] == "complete"


def test_other_lines_are_chat_turns_and_paste_markers_are_dropped(world: World) -> None:
    world.scenario({"default": FAST})
    result = world.run("hello there", "", "\x1b[200~" + world.init_line() + "\x1b[201~")
    assert result.returncode == 0
    assert "I read: hello there" in result.stdout
    assert world.status()["status"] == "complete"
    assert [e["line"] for e in world.log() if e["event"] == "input"][-1] == world.init_line()


def test_crash_exits_with_status_1_midway(world: World) -> None:
    world.scenario({"default": {**FAST, "outcome": "crash", "tasks": 4}})
    result = world.run(world.init_line(), "never read")
    assert result.returncode == 1
    assert world.status()["status"] == "executing"
    done = [t for t in world.tasks("f-phase-1") if t["status"] == "completed"]
    assert len(done) == 2


def test_hang_never_finishes_but_keeps_answering(world: World) -> None:
    world.scenario({"default": {**FAST, "outcome": "hang", "tasks": 4}})
    result = world.run(world.init_line(), "are you there?")
    assert result.returncode == 0  # EOF
    assert "I read: are you there?" in result.stdout
    assert world.status()["status"] == "executing"


def test_die_outside_tmux_exits_like_a_crash(world: World) -> None:
    world.scenario({"default": {**FAST, "outcome": "die", "tasks": 1}})
    env = {"TMUX_PANE": "", "TMUX": ""}
    result = world.run(world.init_line(), env=env)
    assert result.returncode == 1
    assert "not in tmux" in result.stdout


def test_write_git_range_names_this_launchs_commits(world: World) -> None:
    world.scenario({"default": {**FAST, "tasks": 2, "write_git_range": True}})
    base = world.git("rev-parse", "--short=7", "HEAD").strip()
    assert world.run(world.init_line()).returncode == 0
    git_range = world.status()["git_range"]
    assert git_range.startswith(f"{base}..")
    assert len(world.git("log", "--format=%s", git_range).splitlines()) == 2


def test_commit_false_leaves_git_alone(world: World) -> None:
    world.scenario({"default": {**FAST, "commit": False}})
    before = world.git("rev-parse", "HEAD")
    assert world.run(world.init_line()).returncode == 0
    assert world.git("rev-parse", "HEAD") == before


def _fake_tina_session(bin_dir: Path, verify_code: int, complexity_code: int) -> Path:
    calls = bin_dir / "tina-session-calls"
    script = bin_dir / "tina-session"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> "{calls}"\n'
        'if [ "$2" = verify ]; then python3 -c "print(\'x\' * 900)"; '
        f"exit {verify_code}; fi\n"
        f"echo complexity; exit {complexity_code}\n"
    )
    script.chmod(0o755)
    return calls


def test_gates_run_as_the_skill_runs_them(world: World) -> None:
    calls = _fake_tina_session(world.bin, 0, 0)
    world.plan.write_text(
        "# Phase 1\n\n## Complexity Budget\n\n| Metric | Limit |\n|---|---|\n"
        "| Max total lines | 1,500 |\n"
    )
    world.scenario({"default": {**FAST, "run_gates": True}})
    assert world.run(world.init_line()).returncode == 0
    assert world.status()["status"] == "complete"
    assert calls.read_text().splitlines() == [
        f"check verify --cwd {world.worktree}",
        f"check complexity --cwd {world.worktree} --max-file-lines 400 --max-total-lines 1500 "
        "--max-function-lines 50",
    ]


@pytest.mark.parametrize(
    ("codes", "gate", "reason"),
    [
        ((1, 0), "verify", "Verification gate failed"),
        ((0, 3), "complexity", "Complexity gate failed"),
    ],
)
def test_a_failing_gate_blocks(
    world: World, codes: tuple[int, int], gate: str, reason: str
) -> None:
    _fake_tina_session(world.bin, *codes)
    world.scenario({"default": {**FAST, "run_gates": True}})
    assert world.run(world.init_line()).returncode == 0
    status = world.status()
    assert (status["status"], status["reason"], status["gate"]) == ("blocked", reason, gate)
    context = status["context"]
    assert context["command"] == f"tina-session check {gate}"
    assert context["exit_code"] == codes[0] or context["exit_code"] == codes[1]
    assert 0 < len(context["output"]) <= 500

"""End to end: the real `tina-session` script against a real temporary git repository.

Outputs are the original CLI's (reference/tina-session-cli.md §3.1, §3.11-3.18): exact bytes
on stdout, `Error: <message>` on stderr with exit 1, usage errors with exit 2.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import attrs
import pytest

from tina.local import paths, read_journal, read_session_lookup, read_supervisor_state
from tina.local.models import OrchestrationStatus, PhaseStatus
from tina.session.cli import main

from .conftest import Cli, git, tina_session_argv

FEATURE = "billing-export"
DESIGN = "docs/billing-export-design.md"


@attrs.frozen
class Out:
    code: int
    stdout: str
    stderr: str

    @property
    def action(self) -> dict[str, Any]:
        """The bare action: exactly one compact JSON line, nothing on stderr."""
        assert (self.code, self.stderr) == (0, ""), self
        assert self.stdout.endswith("\n") and self.stdout.count("\n") == 1, self.stdout
        doc: dict[str, Any] = json.loads(self.stdout)
        assert self.stdout == json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n"
        return doc

    @property
    def error(self) -> str:
        """The message of a runtime failure: exit 1, nothing on stdout."""
        assert self.code == 1 and self.stdout == "", self
        assert self.stderr.startswith("Error: ") and self.stderr.endswith("\n"), self
        return self.stderr.removeprefix("Error: ")[:-1]


def run(cli: Cli, *args: str, cwd: Path | None = None, real: bool = False) -> Out:
    """``main(argv)`` in this process (fast), or the installed console script (``real``)."""
    if real:
        proc = subprocess.run(
            [*tina_session_argv(), *args],
            cwd=cwd or cli.cwd,
            env=cli.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return Out(proc.returncode, proc.stdout, proc.stderr)
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd or cli.cwd), redirect_stdout(stdout), redirect_stderr(stderr):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse: --help, usage errors
            code = exc.code if isinstance(exc.code, int) else 0
    return Out(code, stdout.getvalue(), stderr.getvalue())


def _init(
    cli: Cli, repo: Path, *extra: str, feature: str = FEATURE, phases: int = 2, real: bool = False
) -> Out:
    return run(
        cli,
        "init", "--feature", feature, "--cwd", str(repo), "--design-doc", str(repo / DESIGN),
        "--branch", f"tina/{feature}", "--total-phases", str(phases), *extra, real=real,
    )  # fmt: skip


def _advance(cli: Cli, phase: str, event: str, *extra: str) -> Out:
    return run(
        cli,
        "orchestrate", "advance", "--feature", FEATURE, "--phase", phase, "--event", event, *extra,
    )  # fmt: skip


def _next(cli: Cli) -> dict[str, Any]:
    return run(cli, "orchestrate", "next", "--feature", FEATURE).action


def _worktree(repo: Path) -> Path:
    return repo / ".worktrees" / FEATURE


def _journal_types(repo: Path) -> list[str]:
    chunk = read_journal(paths.journal_path(_worktree(repo)))
    assert chunk.errors == ()
    return [entry.type for entry in chunk.entries]


def _commit(worktree: Path, name: str) -> str:
    (worktree / name).write_text(f"{name}\n")
    git(worktree, "add", name)
    git(worktree, "commit", "-q", "-m", f"add {name}")
    return git(worktree, "rev-parse", "--short", "HEAD").strip()


def _write_plan(worktree: Path, phase: str) -> Path:
    plan = worktree / "docs" / "plans" / f"2026-02-07-{FEATURE}-phase-{phase}.md"
    plan.parent.mkdir(parents=True, exist_ok=True)
    plan.write_text(f"# Phase {phase} plan\n")
    return plan


def _state_bytes(repo: Path) -> tuple[bytes, bytes]:
    worktree = _worktree(repo)
    return paths.state_path(worktree).read_bytes(), paths.journal_path(worktree).read_bytes()


# --------------------------------------------------------------------------------------------
# init


def test_init_prints_the_worktree_and_writes_every_file(cli: Cli, repo: Path, home: Path) -> None:
    out = _init(cli, repo, "--require-plan-approval", real=True)
    worktree = _worktree(repo)
    assert (out.code, out.stdout, out.stderr) == (0, f"{worktree}\n", "")
    # a real git worktree on the new branch, .worktrees ignored, nothing left to commit
    assert git(worktree, "rev-parse", "--abbrev-ref", "HEAD").strip() == f"tina/{FEATURE}"
    assert (repo / ".gitignore").read_text() == ".worktrees\n"
    assert git(repo, "status", "--porcelain", "--ignored", ".worktrees").startswith("!!")
    assert git(worktree, "status", "--porcelain") == ""

    raw = json.loads(paths.state_path(worktree).read_text())
    design = str(repo / DESIGN)
    assert raw["design_doc"] == raw["spec_doc"] == design  # 145b20a and HEAD readers
    assert raw["model_policy"] == {
        "validator": "opus",
        "planner": "opus",
        "executor": "haiku",
        "reviewer": "opus",
        "reviewer_secondary": "haiku",
        "dual_validation": False,
        "review_consensus": False,
    }
    assert (raw["version"], raw["current_phase"], raw["status"], raw["phases"]) == (
        1,
        1,
        "planning",
        {},
    )
    assert raw["branch"] == f"tina/{FEATURE}" and raw["worktree_path"] == str(worktree)
    state = read_supervisor_state(paths.state_path(worktree))
    assert state.approval_policy.require_plan_approval

    lookup_path = home / ".claude" / "tina-sessions" / f"{FEATURE}.json"
    doc = json.loads(lookup_path.read_text())
    assert doc["feature"] == FEATURE
    assert doc["cwd"] == doc["worktree_path"] == str(worktree)  # the original reads `cwd`
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", doc["created_at"])
    assert read_session_lookup(lookup_path).repo_root == str(repo)
    assert _journal_types(repo) == ["orchestration_started"]

    script = worktree / ".claude" / "tina-write-context.sh"
    assert script.stat().st_mode & 0o777 == 0o755
    settings = worktree / ".claude" / "settings.local.json"
    assert (
        settings.read_bytes()
        == json.dumps(
            {"statusLine": {"type": "command", "command": str(script)}}, separators=(",", ":")
        ).encode()
    )

    again = _init(cli, repo, real=True)
    assert again.error == f"Feature '{FEATURE}' already initialized at {worktree}"
    first = run(cli, "orchestrate", "next", "--feature", FEATURE, real=True)
    assert (first.code, first.stdout, first.stderr) == (0, '{"action":"spawn_validator"}\n', "")
    assert read_supervisor_state(paths.state_path(worktree)) == state


def test_status_line_script_records_context_use(cli: Cli, repo: Path, tmp_path: Path) -> None:
    assert _init(cli, repo).code == 0
    script = _worktree(repo) / ".claude" / "tina-write-context.sh"
    where = tmp_path / "pane"
    where.mkdir()
    status = {"context_window": {"used_percentage": 42.7, "total_input_tokens": 85400}}
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(
        [str(script)], input=json.dumps(status), cwd=where, env=env,
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (0, "ctx:42%\n", "")
    metrics = json.loads((where / ".claude" / "tina" / "context-metrics.json").read_text())
    assert {k: metrics[k] for k in ("used_pct", "tokens", "max")} == {
        "used_pct": 42.7,
        "tokens": 85400,
        "max": 200000,
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", metrics["timestamp"])
    # garbage in, an unwritable directory, no interpreter at all: still a line, still exit 0
    (where / ".claude" / "tina").chmod(0o500)
    try:
        bad = subprocess.run(
            [str(script)], input="not json", cwd=where, env=env,
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    finally:
        (where / ".claude" / "tina").chmod(0o700)
    assert (bad.returncode, bad.stdout) == (0, "ctx:0%\n")
    text = script.read_text().replace(script.read_text().split("\n")[4], "py=/nonexistent")
    lonely = tmp_path / "lonely.sh"
    lonely.write_text(text)
    lonely.chmod(0o755)
    bare = subprocess.run(
        ["/bin/bash", str(lonely)], input="{}", cwd=where, env={"PATH": str(tmp_path)},
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert (bare.returncode, bare.stdout) == (0, "ctx:?%\n")


def test_init_keeps_a_projects_settings_and_gitignore(cli: Cli, repo: Path) -> None:
    """A tracked settings.local.json gains statusLine and keeps every other key."""
    claude = repo / ".claude"
    claude.mkdir()
    (claude / "settings.local.json").write_text('{"permissions": {"allow": ["Bash(ls)"]}}\n')
    (claude / ".gitignore").write_text("scratch/\n")
    (repo / ".gitignore").write_text("node_modules")  # no trailing newline
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "settings")
    assert _init(cli, repo).code == 0
    worktree = _worktree(repo)
    merged = json.loads((worktree / ".claude" / "settings.local.json").read_text())
    assert merged == {
        "permissions": {"allow": ["Bash(ls)"]},
        "statusLine": {
            "type": "command",
            "command": str(worktree / ".claude" / "tina-write-context.sh"),
        },
    }
    assert (worktree / ".claude" / ".gitignore").read_text() == "scratch/\n"
    assert (repo / ".gitignore").read_text() == "node_modules\n.worktrees\n"


def test_init_leaves_unreadable_settings_alone(cli: Cli, repo: Path) -> None:
    (repo / ".claude").mkdir()
    (repo / ".claude" / "settings.local.json").write_text("{not json")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "settings")
    out = _init(cli, repo)
    worktree = _worktree(repo)
    assert (out.code, out.stdout) == (0, f"{worktree}\n")
    assert out.stderr.startswith("Warning: status line not installed: ")
    assert (worktree / ".claude" / "settings.local.json").read_text() == "{not json"


@pytest.mark.parametrize(
    ("gitignore", "expected"),
    [
        (".worktrees\n", ".worktrees\n"),  # already there
        ("*.log\n.worktrees", "*.log\n.worktrees"),  # a line, even without the newline
        (".worktrees/\n", ".worktrees/\n"),  # git check-ignore already says ignored
        ("*.log\n", "*.log\n.worktrees\n"),
    ],
)
def test_init_gitignore_rule(cli: Cli, repo: Path, gitignore: str, expected: str) -> None:
    (repo / ".gitignore").write_text(gitignore)
    assert _init(cli, repo).code == 0
    assert (repo / ".gitignore").read_text() == expected


def test_init_refusals(cli: Cli, repo: Path, tmp_path: Path) -> None:
    design = str(repo / DESIGN)
    base = ("--design-doc", design, "--total-phases", "1")

    def init(feature: str, cwd: str, *rest: str) -> Out:
        return run(cli, "init", "--feature", feature, "--cwd", cwd, *rest)

    assert init("x", str(tmp_path / "nope"), *base).error == (
        f"Directory not found: {tmp_path / 'nope'}"
    )
    assert init("x", design, *base).error == f"Directory not found: {design} is not a directory"
    missing = init("x", str(repo), "--design-doc", "docs/none.md", "--total-phases", "1")
    assert missing.error == "File not found: docs/none.md"
    bad = init("../escape", str(repo), *base).error
    assert bad.startswith("Invalid feature name '../escape': use 1-100 characters")
    plain = tmp_path / "plain"
    plain.mkdir()
    assert init("x", str(plain), *base).error == f"Not a git repository: {plain}"
    assert init("x", str(repo), *base, "--branch", "bad..branch").error == (
        "Invalid branch name: 'bad..branch'"
    )
    (repo / ".worktrees" / "taken").mkdir(parents=True)
    assert init("taken", str(repo), *base).error == (
        f"Worktree path already exists: {repo / '.worktrees' / 'taken'}. "
        "Clean up or use a different feature name."
    )
    for phases in ("0", "100", "two"):
        usage = run(cli, "init", "--feature", "x", "--cwd", str(repo), "--design-doc", design,
                    "--total-phases", phases)  # fmt: skip
        assert (usage.code, usage.stdout) == (2, "")
        assert "--total-phases" in usage.stderr
    assert not (repo / ".worktrees" / "x").exists()
    assert not paths.sessions_dir().exists() or not list(paths.sessions_dir().iterdir())


def test_init_accepts_design_doc_names_and_spec_doc(cli: Cli, repo: Path) -> None:
    """The orchestrate skill names the feature after the design doc: capitals occur."""
    out = run(
        cli, "init", "--feature", "Billing-Export_v2", "--cwd", str(repo),
        "--spec-doc", DESIGN, "--total-phases", "1", cwd=repo,
    )  # fmt: skip
    worktree = repo / ".worktrees" / "Billing-Export_v2"
    assert (out.code, out.stdout, out.stderr) == (0, f"{worktree}\n", "")
    state = read_supervisor_state(paths.state_path(worktree))
    assert state.branch == "tina/Billing-Export_v2"  # the default branch
    assert state.spec_doc == str(repo / DESIGN)  # relative to the process cwd, made absolute


def test_init_on_an_existing_branch_appends_a_timestamp(cli: Cli, repo: Path) -> None:
    git(repo, "branch", f"tina/{FEATURE}")
    out = _init(cli, repo)
    assert (out.code, out.stdout) == (0, f"{_worktree(repo)}\n")
    branch = read_supervisor_state(paths.state_path(_worktree(repo))).branch
    assert re.fullmatch(rf"tina/{FEATURE}-\d{{14}}", branch)
    assert git(_worktree(repo), "rev-parse", "--abbrev-ref", "HEAD").strip() == branch


# --------------------------------------------------------------------------------------------
# orchestrate


def test_whole_orchestration_to_completion(cli: Cli, repo: Path) -> None:
    assert _init(cli, repo).code == 0
    worktree = _worktree(repo)
    assert run(cli, "orchestrate", "next", "--feature", FEATURE).stdout == (
        '{"action":"spawn_validator"}\n'
    )
    assert _advance(cli, "validation", "validation_pass").action == {
        "action": "spawn_planner",
        "phase": "1",
    }
    base = git(worktree, "rev-parse", "--short", "HEAD").strip()
    for phase in ("1", "2"):
        plan = _write_plan(worktree, phase)
        planned = _advance(cli, phase, "plan_complete", "--plan-path", str(plan))
        assert planned.stdout == (
            f'{{"action":"spawn_executor","phase":"{phase}","plan_path":"{plan}"}}\n'
        )
        assert _advance(cli, phase, "execute_started").action == {
            "action": "wait",
            "reason": "execute_started",
        }
        head = _commit(worktree, f"phase{phase}.txt")
        git_range = f"{base}..{head}"
        assert _advance(cli, phase, "execute_complete", "--git-range", git_range).action == {
            "action": "spawn_reviewer",
            "phase": phase,
            "git_range": git_range,
        }
        base = head
        passed = _advance(cli, phase, "review_pass").action
        assert passed == (
            {"action": "spawn_planner", "phase": "2"} if phase == "1" else {"action": "finalize"}
        )
    assert _next(cli) == {"action": "complete"}
    state = read_supervisor_state(paths.state_path(worktree))
    assert state.status is OrchestrationStatus.COMPLETE
    assert all(p.status is PhaseStatus.COMPLETE for p in state.phases.values())
    assert _journal_types(repo) == [
        "orchestration_started",
        "phase_started",
        *["phase_completed", "phase_started", "phase_completed", "phase_completed"],
        "phase_started",
        *["phase_completed", "phase_started", "phase_completed", "phase_completed"],
        "phase_completed",
    ]
    # a finished orchestration refuses further events and changes nothing
    before = _state_bytes(repo)
    refused = _advance(cli, "2", "review_pass")
    assert (
        refused.error == f"orchestration '{FEATURE}' is complete; event review_pass does not apply"
    )
    assert _state_bytes(repo) == before


def test_review_gaps_remediate_with_split_issues(cli: Cli, repo: Path) -> None:
    assert _init(cli, repo).code == 0
    worktree = _worktree(repo)
    _advance(cli, "validation", "validation_pass")
    _advance(cli, "1", "plan_complete", "--plan-path", str(_write_plan(worktree, "1")))
    _advance(cli, "1", "execute_complete", "--git-range", "a1..b2")
    gaps = _advance(cli, "1", "review_gaps", "--issues", "missing tests, no docs ,")
    assert gaps.stdout == (
        '{"action":"remediate","phase":"1","remediation_phase":"1.5",'
        '"issues":["missing tests","no docs"]}\n'
    )
    assert _next(cli) == {
        "action": "spawn_planner",
        "phase": "1.5",
        "issues": ["missing tests", "no docs"],
    }


def test_blocked_phase_and_its_retry(cli: Cli, repo: Path) -> None:
    assert _init(cli, repo).code == 0
    worktree = _worktree(repo)
    _advance(cli, "validation", "validation_pass")
    plan = _write_plan(worktree, "1")
    _advance(cli, "1", "plan_complete", "--plan-path", str(plan))
    _advance(cli, "1", "execute_started")
    error = _advance(cli, "1", "error", "--issues", "executor session died")
    assert error.stdout == (
        '{"action":"error","phase":"1","reason":"executor session died",'
        '"retry_count":0,"can_retry":true}\n'
    )
    assert _next(cli)["action"] == "error"
    assert _advance(cli, "1", "retry").action == {
        "action": "spawn_executor",
        "phase": "1",
        "plan_path": str(plan),
    }
    state = read_supervisor_state(paths.state_path(worktree))
    assert state.status is OrchestrationStatus.EXECUTING
    assert state.phases["1"].retry_count == 1 and state.phases["1"].blocked_reason is None
    assert _advance(cli, "1", "retry").error == (
        "Unexpected state: Phase 1 is not blocked (status: executing)"
    )
    assert _journal_types(repo)[-2:] == ["error", "retry"]


def test_pause_resume_and_plan_approval_gate(cli: Cli, repo: Path) -> None:
    assert _init(cli, repo, "--require-plan-approval").code == 0
    worktree = _worktree(repo)
    _advance(cli, "validation", "validation_pass")
    plan = _write_plan(worktree, "1")
    waiting = _advance(cli, "1", "plan_complete", "--plan-path", str(plan)).action
    assert waiting == {"action": "wait", "reason": "phase 1 plan awaiting approval"}
    assert _advance(cli, "1", "pause").action == {
        "action": "wait",
        "reason": "phase 1 paused by operator",
    }
    shown = json.loads(run(cli, "state", "show", "--feature", FEATURE, "--format", "json").stdout)
    assert shown["status"] == "blocked" and shown["paused_from"] == "planning"
    assert shown["phases"]["1"]["paused_from"] == "planned"
    assert "paused" in _advance(cli, "1", "plan_approved").error
    assert _advance(cli, "1", "resume").action == waiting
    rejected = _advance(cli, "1", "plan_rejected", "--issues", "split the migration, then test")
    assert rejected.action == {
        "action": "spawn_planner",
        "phase": "1",
        "issues": ["split the migration, then test"],
    }
    assert _advance(cli, "1", "plan_complete", "--plan-path", str(plan)).action == waiting
    assert _advance(cli, "1", "plan_approved").action == {
        "action": "spawn_executor",
        "phase": "1",
        "plan_path": str(plan),
    }
    assert _journal_types(repo)[-1] == "plan_approved"


def test_refused_input_changes_nothing(cli: Cli, repo: Path) -> None:
    assert _init(cli, repo).code == 0
    _advance(cli, "validation", "validation_pass")
    before = _state_bytes(repo)

    unknown = run(cli, "orchestrate", "advance", "--feature", "nope", "--phase", "1", "--event",
                  "retry")  # fmt: skip
    assert unknown.error == "Feature 'nope' not initialized. Run 'tina-session init' first."
    retry_suffix = _advance(cli, "1-retry", "retry").error.split("\n")
    assert retry_suffix[0] == "Invalid phase '1-retry': do not add a '-retry' suffix."
    assert retry_suffix[1] == "" and "'1.5'" in retry_suffix[-1]
    assert _advance(cli, "1", "pass").error == (
        "Unknown event 'pass'. Valid events: plan_complete, execute_complete, execute_started, "
        "review_pass, review_gaps, retry, validation_pass, validation_warning, validation_stop, "
        "error, pause, resume, plan_approved, plan_rejected"
    )
    assert _advance(cli, "1", "review_pass").error == (
        "cannot apply review_pass to phase 1: its status is planning (needs reviewing)"
    )
    assert _advance(cli, "7", "error").error == "Phase '7' not found in supervisor state"
    assert _advance(cli, "1", "plan_complete").error == (
        "--plan-path is required for plan_complete event"
    )
    assert _advance(cli, "1", "execute_complete").error == (
        "--git-range is required for execute_complete event"
    )
    ghost = _advance(cli, "1", "plan_complete", "--plan-path", "/no/such/plan.md")
    assert ghost.error == "File not found: /no/such/plan.md"
    assert _advance(cli, "1", "execute_complete", "--git-range", "HEAD").error == (
        "Invalid git range 'HEAD': expected <rev>..<rev>, e.g. 4e1a9c0..b7d2f31"
    )
    assert _advance(cli, "1", "plan_rejected").error.startswith("--issues is required")
    assert _state_bytes(repo) == before


def test_relative_plan_path_is_found_in_the_worktree_then_the_cwd(
    cli: Cli, repo: Path, tmp_path: Path
) -> None:
    assert _init(cli, repo).code == 0
    worktree = _worktree(repo)
    _advance(cli, "validation", "validation_pass")
    plan = _write_plan(worktree, "1")
    relative = str(plan.relative_to(worktree))
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "docs" / "plans").mkdir(parents=True)
    (elsewhere / relative).write_text("# a decoy in the caller's directory\n")
    (elsewhere / "mine.md").write_text("# only here\n")
    out = run(cli, "orchestrate", "advance", "--feature", FEATURE, "--phase", "1",
              "--event", "plan_complete", "--plan-path", relative, cwd=elsewhere)  # fmt: skip
    assert out.action["plan_path"] == str(plan)
    run(cli, "state", "blocked", "--feature", FEATURE, "--phase", "1", "--reason", "redo")
    run(cli, "state", "update", "--feature", FEATURE, "--phase", "1", "--status", "planning")
    out = run(cli, "orchestrate", "advance", "--feature", FEATURE, "--phase", "1",
              "--event", "plan_complete", "--plan-path", "mine.md", cwd=elsewhere)  # fmt: skip
    assert out.action["plan_path"] == str(elsewhere / "mine.md")


# --------------------------------------------------------------------------------------------
# state


def test_manual_state_commands(cli: Cli, repo: Path) -> None:
    assert _init(cli, repo, phases=1).code == 0
    worktree = _worktree(repo)
    plan = _write_plan(worktree, "1")
    base = ("--feature", FEATURE, "--phase", "1")
    update = run(cli, "state", "update", *base, "--status", "PLANNED", "--plan-path", str(plan))
    assert (update.code, update.stdout, update.stderr) == (
        0,
        "Updated phase 1 status to 'planned'\n",
        "",
    )
    assert _next(cli) == {"action": "spawn_executor", "phase": "1", "plan_path": str(plan)}
    assert run(cli, "state", "update", *base, "--status", "reviewing").error == (
        "Invalid status transition: cannot go from 'planned' to 'reviewing'"
    )
    assert run(cli, "state", "update", *base, "--status", "done").error == (
        "Invalid status value: done. Valid values: "
        "planning, planned, executing, reviewing, complete, blocked"
    )
    assert run(cli, "state", "update", *base, "--status", "Executing").code == 0
    blocked = run(cli, "state", "blocked", *base, "--reason", "disk full")
    assert (blocked.code, blocked.stdout) == (0, "Phase 1 blocked: disk full\n")
    assert run(cli, "state", "update", *base, "--status", "reviewing").code == 0
    assert run(cli, "state", "update", *base, "--status", "complete").error == (
        "Use 'state phase-complete' to mark a phase complete"
    )
    done = run(cli, "state", "phase-complete", *base, "--git-range", "abc..def")
    assert (done.code, done.stdout, done.stderr) == (
        0,
        "Phase 1 complete. Git range: abc..def\n",
        "",
    )
    assert _next(cli) == {"action": "complete"}
    beyond = run(cli, "state", "blocked", "--feature", FEATURE, "--phase", "2", "--reason", "x")
    assert beyond.error == (
        "Phase 2 does not exist (total phases: 1).\n\nValid phases: 1-1\n"
        "Remediation phases (e.g., 1.5, 2.5) are created dynamically."
    )
    assert _journal_types(repo)[1:] == [
        "status_changed",
        "status_changed",
        "error",
        "status_changed",
        "phase_completed",
    ]


def test_state_show_text_and_json(cli: Cli, repo: Path) -> None:
    assert _init(cli, repo, phases=3).code == 0
    worktree = _worktree(repo)
    _advance(cli, "validation", "validation_pass")
    plan = _write_plan(worktree, "1")
    _advance(cli, "1", "plan_complete", "--plan-path", str(plan))
    _advance(cli, "1", "execute_complete", "--git-range", "a1..b2")
    _advance(cli, "1", "review_gaps", "--issues", "tests")
    show = run(cli, "state", "show", "--feature", FEATURE)
    assert (show.code, show.stderr) == (0, "")
    assert show.stdout == (
        f"Orchestration: {FEATURE}\n"
        f"  Design: {repo / DESIGN}\n"
        f"  Worktree: {worktree}\n"
        f"  Branch: tina/{FEATURE}\n"
        "  Status: Planning\n"
        "  Phase: 1/3\n"
        "\n"
        "Phases:\n"
        "  ✓ Phase 1: complete\n"
        "  ○ Phase 2: pending\n"
        "  ○ Phase 3: pending\n"
        "  ○ Phase 1.5 (remediation): planning\n"
    )
    phase = run(cli, "state", "show", "--feature", FEATURE, "--phase", "1")
    assert phase.stdout == (
        f"Phase 1\n  Status: complete\n  Plan: {plan}\n  Git range: a1..b2\n  Duration: 0 mins\n"
    )
    assert run(cli, "state", "show", "--feature", FEATURE, "--phase", "2").stdout == (
        "Phase 2 (not started)\n"
    )
    whole = run(cli, "state", "show", "--feature", FEATURE, "--format", "json")
    assert whole.stdout == paths.state_path(worktree).read_text()
    one = run(cli, "state", "show", "--feature", FEATURE, "--phase", "1.5", "--format", "json")
    assert json.loads(one.stdout) == json.loads(whole.stdout)["phases"]["1.5"]
    assert one.stdout.startswith('{\n  "status": "planning",\n')
    absent = run(cli, "state", "show", "--feature", FEATURE, "--phase", "2.5", "--format", "json")
    assert (absent.code, absent.stdout) == (0, "{}\n")
    assert run(cli, "state", "show", "--feature", FEATURE, "--phase", "4").error.startswith(
        "Phase 4 does not exist (total phases: 3).\n\n"
    )
    assert run(cli, "state", "show", "--feature", FEATURE, "--phase", "x").code == 1
    assert run(cli, "state", "show", "--feature", FEATURE, "--format", "yaml").code == 2


# --------------------------------------------------------------------------------------------
# list, cleanup


def test_list_and_cleanup(cli: Cli, repo: Path, home: Path) -> None:
    assert run(cli, "list").stdout == "No active orchestrations.\n"
    assert _init(cli, repo).code == 0
    assert _init(cli, repo, feature="a-first").code == 0
    sessions = home / ".claude" / "tina-sessions"
    (sessions / "broken.json").write_text('{"feature": ')
    paths.state_path(repo / ".worktrees" / "a-first").write_text("{")
    listed = run(cli, "list")
    assert listed.code == 0
    assert listed.stderr.startswith("Warning: skipped an unreadable session lookup: ")
    assert "broken.json" in listed.stderr

    def short(path: Path) -> str:
        text = str(path)
        return text if len(text) <= 38 else "..." + text[-35:]

    header = f"{'FEATURE':<20} {'CWD':<40} {'PHASE':<10} {'STATUS':<10}"
    assert header == "FEATURE              CWD" + " " * 38 + "PHASE      STATUS    "
    assert listed.stdout.split("\n") == [
        header,
        "-" * 80,
        f"{'a-first':<20} {short(repo / '.worktrees' / 'a-first'):<40} {'?':<10} {'unknown':<10}",
        f"{FEATURE:<20} {short(_worktree(repo)):<40} {'1/2':<10} {'planning':<10}",
        "",
    ]

    cleaned = run(cli, "cleanup", "--feature", FEATURE)
    assert (cleaned.code, cleaned.stdout, cleaned.stderr) == (
        0,
        f"Removed lookup file for '{FEATURE}'\n",
        "",
    )
    assert not (sessions / f"{FEATURE}.json").exists()
    assert _journal_types(repo)[-1] == "cleanup"
    assert _worktree(repo).is_dir()  # the worktree itself is left alone
    assert _next_missing(cli)
    gone = run(cli, "cleanup", "--feature", FEATURE)
    assert (gone.code, gone.stdout, gone.stderr) == (1, f"Feature '{FEATURE}' not found.\n", "")
    # the feature can be started again once the old worktree is out of the way
    git(repo, "worktree", "remove", "--force", str(_worktree(repo)))
    assert _init(cli, repo).code == 0


def _next_missing(cli: Cli) -> bool:
    out = run(cli, "orchestrate", "next", "--feature", FEATURE)
    return out.error == f"Feature '{FEATURE}' not initialized. Run 'tina-session init' first."


def test_list_shortens_long_worktree_paths(cli: Cli, home: Path, tmp_path: Path) -> None:
    sessions = home / ".claude" / "tina-sessions"
    sessions.mkdir(parents=True)
    exact = "/w/" + "x" * 35  # 38 characters: shown whole
    longer = "/w/" + "y" * 36  # 39: the last 35 after "..."
    for feature, worktree in (("exact", exact), ("longer", longer)):
        lookup = {"feature": feature, "cwd": worktree, "created_at": "2026-02-07T16:00:00Z"}
        (sessions / f"{feature}.json").write_text(json.dumps(lookup))
    rows = run(cli, "list").stdout.split("\n")[2:4]
    assert rows[0] == f"{'exact':<20} {exact:<40} {'?':<10} {'unknown':<10}"
    assert rows[1] == f"{'longer':<20} {'...' + 'y' * 35:<40} {'?':<10} {'unknown':<10}"


def test_cleanup_refuses_an_unsafe_feature_name(cli: Cli, home: Path) -> None:
    target = home / ".claude" / "victim.json"
    target.parent.mkdir(parents=True)
    target.write_text("{}")
    out = run(cli, "cleanup", "--feature", "../victim")
    assert out.error.startswith("Invalid feature name '../victim'")
    assert target.exists()


# --------------------------------------------------------------------------------------------
# usage


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["orchestrate"],
        ["orchestrate", "advance", "--feature", FEATURE],
        ["state", "show"],
        ["init", "--feature", "x", "--cwd", ".", "--design-doc", "d", "--total-phases", "two"],
        ["list", "--feature", "x"],
    ],
)
def test_usage_errors_exit_2_on_stderr(cli: Cli, argv: list[str]) -> None:
    out = run(cli, *argv, real=not argv)
    assert (out.code, out.stdout) == (2, "")
    assert out.stderr.startswith("usage: tina-session")
    assert "error: " in out.stderr


def test_glued_issues_that_look_like_options(cli: Cli, repo: Path) -> None:
    """The daemon passes `--issues=<text>`: `-h`, `--` or `--event=x` stay text."""
    assert _init(cli, repo, "--require-plan-approval").code == 0
    worktree = _worktree(repo)
    _advance(cli, "validation", "validation_pass")
    plan = _write_plan(worktree, "1")
    for feedback in ("--", "-h", "--event=retry"):
        _advance(cli, "1", "plan_complete", "--plan-path", str(plan))
        out = _advance(cli, "1", "plan_rejected", f"--issues={feedback}")
        assert out.action == {"action": "spawn_planner", "phase": "1", "issues": [feedback]}
    assert os.path.exists(plan)
